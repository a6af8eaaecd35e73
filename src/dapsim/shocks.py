"""The shock registry: named exogenous events (``data/shocks.toml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._toml import load_data


@dataclass(frozen=True)
class ShockSpec:
    """A kind of shock and its defaults."""

    kind: str
    title: str
    handled_by: str
    duration_months: int
    magnitude: float
    magnitude_range: tuple[float, float]
    magnitude_unit: str
    source: str
    assumption: str


SHOCKS: Mapping[str, ShockSpec] = MappingProxyType({
    kind: ShockSpec(
        kind=kind,
        title=d["title"],
        handled_by=d["handled_by"],
        duration_months=int(d["duration_months"]),
        magnitude=float(d["magnitude"]),
        magnitude_range=(float(d["magnitude_range"][0]), float(d["magnitude_range"][1])),
        magnitude_unit=d["magnitude_unit"],
        source=d["source"],
        assumption=d["assumption"],
    )
    for kind, d in load_data("shocks.toml").items()
})
"""Every shock kind, by name."""
