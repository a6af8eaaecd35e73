"""dapsim: simulate the EU Drugs Action Plan 2021-2025.

Public API (see INTERFACE.md)::

    import dapsim
    sc = dapsim.load_scenario("scenarios/baseline.toml")
    ds = dapsim.simulate(sc, seed=0)
    yr = dapsim.annual(ds)
"""

__version__ = "0.1.0"

from .errors import InputError, ScenarioError  # noqa: E402
from .indicators import INDICATORS, annual  # noqa: E402
from .levers import LEVERS  # noqa: E402
from .params import PARAMETERS  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .model import ActionPlanModel, simulate  # noqa: E402

__all__ = [
    "ActionPlanModel", "INDICATORS", "InputError", "LEVERS", "PARAMETERS", "Scenario", "ScenarioError",
    "annual", "load_scenario", "simulate", "__version__",
]
