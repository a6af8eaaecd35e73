"""The lever registry: the Plan's actions as dials a scenario can turn.

Each lever has a unit a policy officer would recognise (share of containers scanned, kits per user, places
per 100 000 people), the value it had in 2020 (the baseline), a valid range, a typical ramp-up time and an
annual cost per unit. Components read a lever's value per Member State and month through
``ActionPlanModel.lever``; they never see the scenario file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._toml import load_data
from .dims import MEMBER_STATES, MS_INDEX


@dataclass(frozen=True)
class LeverSpec:
    """One lever of the registry (``data/levers.toml``)."""

    key: str
    title: str
    actions: tuple[int, ...]
    scope: str  # "ms": one value per Member State; "eu": one EU-wide value
    unit: str
    symbol: str
    baseline: float
    baseline_by_member_state: Mapping[str, float]
    min: float
    max: float
    ramp_months: int
    lower_is_better: bool
    unit_cost_eur: float
    cost_driver: str
    acts_on: str
    source: str
    assumption: str

    def baseline_values(self) -> np.ndarray:
        """The 2020 value in each Member State (the EU baseline where no country value is known)."""
        values = np.full(len(MEMBER_STATES), float(self.baseline))
        for code, value in self.baseline_by_member_state.items():
            values[MS_INDEX[code]] = float(value)
        return values


def _load() -> Mapping[str, LeverSpec]:
    raw = load_data("levers.toml")
    levers = {}
    for key, d in raw.items():
        by_ms = dict(d.get("baseline_by_member_state", {}))
        unknown = set(by_ms) - set(MEMBER_STATES)
        if unknown:
            raise ValueError(f"levers.toml: {key}.baseline_by_member_state: unknown Member States {sorted(unknown)}")
        levers[key] = LeverSpec(
            key=key,
            title=d["title"],
            actions=tuple(d["actions"]),
            scope=d["scope"],
            unit=d["unit"],
            symbol=d["symbol"],
            baseline=float(d["baseline"]),
            baseline_by_member_state=MappingProxyType(by_ms),
            min=float(d["min"]),
            max=float(d["max"]),
            ramp_months=int(d["ramp_months"]),
            lower_is_better=bool(d["lower_is_better"]),
            unit_cost_eur=float(d["unit_cost_eur"]),
            cost_driver=d["cost_driver"],
            acts_on=d["acts_on"],
            source=d["source"],
            assumption=d["assumption"],
        )
    return MappingProxyType(levers)


LEVERS: Mapping[str, LeverSpec] = _load()
"""Every lever, by key, in the order of ``data/levers.toml``."""
