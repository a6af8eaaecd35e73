"""Shared helpers for the demand and harms tests: short runs of the demand/harms components alone."""

from __future__ import annotations

import functools

import numpy as np

from dapsim import demand
from dapsim.model import ActionPlanModel
from dapsim.scenario import Scenario

HORIZON = {"start": "2015-01", "end": "2019-12"}


def scenario(levers: dict | None = None, shocks: list | None = None, horizon: dict | None = None) -> Scenario:
    """A baseline scenario (policy as in 2020) with some levers moved from 2016-01 in one month."""
    raw = {"name": "test", "horizon": horizon or HORIZON, "levers": {}, "shocks": shocks or []}
    for key, target in (levers or {}).items():
        raw["levers"][key] = {"target": target, "from": "2016-01", "ramp_months": 1}
    return Scenario.from_dict(raw)


def run(levers: dict | None = None, shocks: list | None = None, scale: float = 20.0, seed: int = 0,
        horizon: dict | None = None) -> ActionPlanModel:
    """Run the demand/harms components on a scenario; returns the finished model (dataset in ``model.ds``)."""
    model = ActionPlanModel(scenario(levers, shocks, horizon), seed=seed, scale=scale, components=demand.COMPONENTS)
    model.ds = model.run()
    return model


@functools.lru_cache(maxsize=None)
def cached_run(levers: tuple = (), shocks: tuple = (), scale: float = 20.0, seed: int = 0) -> ActionPlanModel:
    """``run`` cached per process, with levers and shocks given as tuples of items (hashable)."""
    return run(dict(levers), [dict(s) for s in shocks], scale, seed)


def total(model: ActionPlanModel, var: str, since: str = "2016-06") -> float:
    """Sum of a flow over every dimension from ``since`` to the end of the run."""
    da = model.ds[var].sel(time=slice(since, None))
    return float(np.nansum(da.values))


def component(model: ActionPlanModel, cls):
    return next(c for c in model.components if isinstance(c, cls))
