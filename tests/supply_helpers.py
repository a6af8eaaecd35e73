"""Helpers shared by the supply-side tests: short supply-only runs under common random numbers."""

from __future__ import annotations

from dapsim import supply
from dapsim.model import ActionPlanModel
from dapsim.scenario import Scenario

HORIZON = {"start": "2015-01", "end": "2019-12"}


def scenario(levers: dict | None = None, shocks: list | None = None, horizon: dict | None = None) -> Scenario:
    """A scenario with lever changes applied from the first month without ramp (supply-only tests)."""
    raw = {"name": "supply test", "horizon": horizon or HORIZON, "levers": {}}
    for key, value in (levers or {}).items():
        entry = value if isinstance(value, dict) else {"target": value}
        raw["levers"][key] = {"from": (horizon or HORIZON)["start"], "ramp_months": 0, **entry}
    if shocks:
        raw["shocks"] = shocks
    return Scenario.from_dict(raw)


def run(sc: Scenario, seed: int = 0):
    """Run the supply side alone; return (model, dataset)."""
    model = ActionPlanModel(sc, seed=seed, components=[*supply.COMPONENTS])
    return model, model.run()
