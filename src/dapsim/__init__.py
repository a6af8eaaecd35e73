"""dapsim: simulate the EU Drugs Action Plan 2021-2025.

Public API (see INTERFACE.md)::

    import dapsim
    sc = dapsim.load_scenario("scenarios/baseline.toml")
    ds = dapsim.simulate(sc, seed=0)
    yr = dapsim.annual(ds)
    ens = dapsim.run_ensemble([sc, other], draws=20, seeds=5)   # adds scenario/draw/seed dims
    cmp = dapsim.compare([sc, other], runs=20)                   # tables, fan charts, cost per outcome
"""

__version__ = "0.1.0"

from .errors import InputError, ScenarioError  # noqa: E402
from .indicators import INDICATORS, annual  # noqa: E402
from .levers import LEVERS  # noqa: E402
from .params import PARAMETERS  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .model import ActionPlanModel, simulate  # noqa: E402
from .ensemble import run_ensemble  # noqa: E402
from .analysis.compare import compare  # noqa: E402

__all__ = [
    "ActionPlanModel", "INDICATORS", "InputError", "LEVERS", "PARAMETERS", "Scenario", "ScenarioError",
    "annual", "compare", "load_scenario", "run_ensemble", "simulate", "__version__",
]
