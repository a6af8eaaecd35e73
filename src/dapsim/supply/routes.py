"""Trafficking routes: the networkx DiGraph from source regions through named EU entry points to the 27 markets.

The network is read once from ``data/trafficking.toml`` and never rebuilt. Every edge from an origin region to
an entry point is a *channel* (one substance, one modality); the model keeps the channels in flat numpy arrays
(``ch_*``) so that the monthly route choice of hundreds of groups is vectorised, and keeps the DiGraph for
inspection, plots and tests (``graph``).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .._toml import load_data
from ..dims import MEMBER_STATES, MS_INDEX, SUBSTANCE_INDEX

MODALITIES: tuple[str, ...] = ("container", "vessel", "air", "postal", "land")
"""How a consignment crosses the EU border; decides which lever screens it."""

ENTRY_KINDS: tuple[str, ...] = ("container_port", "secondary_port", "hub_airport", "postal_hub", "land_border")

LEVER_OF_KIND: dict[str, str | None] = {
    "container_port": "port_scanning",
    "secondary_port": "small_ports_monitoring",
    "hub_airport": "airport_screening",
    "postal_hub": "postal_screening",
    "land_border": None,
}
"""The screening lever that acts at each kind of entry point (land borders have none in the lever set)."""

TRANSIT_MONTHS: dict[str, int] = {"container": 1, "vessel": 1, "air": 0, "postal": 0, "land": 0}
"""Months between departure and arrival at the EU border (sea legs take about a month)."""


def pool_of(substance: str, origin: str) -> str:
    """The production pool a channel draws from: one per substance, cannabis split by origin."""
    return f"cannabis_{origin}" if substance == "cannabis" else substance


@dataclass
class TraffickingNetwork:
    """The routes, as a DiGraph plus flat arrays of channels and entry points."""

    graph: nx.DiGraph
    entry_names: tuple[str, ...]
    entry_ms: np.ndarray  # (n_entry,) Member State index
    entry_kind: np.ndarray  # (n_entry,) index into ENTRY_KINDS
    entry_teu_m: np.ndarray  # (n_entry,) million TEU (container ports; 0 otherwise)
    ch_substance: np.ndarray  # (n_ch,) substance index
    ch_origin: tuple[str, ...]
    ch_entry: np.ndarray  # (n_ch,) entry-point index
    ch_modality: np.ndarray  # (n_ch,) index into MODALITIES
    ch_weight: np.ndarray  # (n_ch,) base attractiveness
    ch_pool: np.ndarray  # (n_ch,) production-pool index
    ch_transit: np.ndarray  # (n_ch,) months
    pools: tuple[str, ...]
    cocaine_years: np.ndarray
    cocaine_tonnes: np.ndarray

    @property
    def n_channels(self) -> int:
        return len(self.ch_weight)

    @property
    def n_entries(self) -> int:
        return len(self.entry_names)

    def cocaine_manufacture_t(self, year_fraction: float) -> float:
        """Global cocaine manufacture (t pure per year) at a fractional calendar year, from the data file."""
        return float(np.interp(year_fraction, self.cocaine_years + 0.5, self.cocaine_tonnes))


def load_network() -> TraffickingNetwork:
    """Build the trafficking network from ``data/trafficking.toml`` (regions, entry points, channels)."""
    raw = load_data("trafficking.toml")
    graph = nx.DiGraph()
    for key, region in raw["regions"].items():
        graph.add_node(key, layer="region", kind=region["kind"], label=region["name"])
    entry_names = tuple(raw["entry_points"])
    for key, ep in raw["entry_points"].items():
        if ep["ms"] not in MS_INDEX or ep["kind"] not in ENTRY_KINDS:
            raise ValueError(f"trafficking.toml: entry_points.{key}: bad ms or kind {ep!r}")
        graph.add_node(key, layer="entry_point", kind=ep["kind"], member_state=ep["ms"], label=ep["name"])
    for ms in MEMBER_STATES:
        graph.add_node(f"market_{ms}", layer="market", member_state=ms)
    # every entry point feeds every market (wholesale distribution inside the Schengen area)
    for key, ep in raw["entry_points"].items():
        for ms in MEMBER_STATES:
            graph.add_edge(key, f"market_{ms}", modality="distribution", home=(ms == ep["ms"]))

    e_index = {k: i for i, k in enumerate(entry_names)}
    rows = []
    for ch in raw["channels"]:
        if ch["substance"] not in SUBSTANCE_INDEX or ch["modality"] not in MODALITIES:
            raise ValueError(f"trafficking.toml: bad channel {ch!r}")
        for entry, weight in ch["entries"].items():
            rows.append((ch["substance"], ch["origin"], entry, ch["modality"], float(weight)))
            graph.add_edge(ch["origin"], entry, substance=ch["substance"], modality=ch["modality"],
                           weight=float(weight), transit_months=TRANSIT_MONTHS[ch["modality"]])
    pools = tuple(dict.fromkeys(pool_of(s, o) for s, o, *_ in rows))
    prod = raw["production"]["cocaine_global_manufacture_t"]
    return TraffickingNetwork(
        graph=graph,
        entry_names=entry_names,
        entry_ms=np.array([MS_INDEX[raw["entry_points"][k]["ms"]] for k in entry_names]),
        entry_kind=np.array([ENTRY_KINDS.index(raw["entry_points"][k]["kind"]) for k in entry_names]),
        entry_teu_m=np.array([float(raw["entry_points"][k].get("teu_m", 0.0)) for k in entry_names]),
        ch_substance=np.array([SUBSTANCE_INDEX[r[0]] for r in rows]),
        ch_origin=tuple(r[1] for r in rows),
        ch_entry=np.array([e_index[r[2]] for r in rows]),
        ch_modality=np.array([MODALITIES.index(r[3]) for r in rows]),
        ch_weight=np.array([r[4] for r in rows]),
        ch_pool=np.array([pools.index(pool_of(r[0], r[1])) for r in rows]),
        ch_transit=np.array([TRANSIT_MONTHS[r[3]] for r in rows]),
        pools=pools,
        cocaine_years=np.array(prod["years"], dtype=float),
        cocaine_tonnes=np.array(prod["values"], dtype=float),
    )


def crn_binomial(n: np.ndarray, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """A binomial count from a pre-drawn standard normal ``z`` (normal approximation, rounded, clipped).

    Used instead of ``rng.binomial`` so that the number of random numbers drawn does not depend on ``p``:
    under common random numbers a lever that raises ``p`` raises the count, draw for draw.
    """
    n = np.asarray(n, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    mean = n * p
    k = np.rint(mean + z * np.sqrt(np.maximum(mean * (1.0 - p), 0.0)))
    return np.clip(k, 0.0, n)


def crn_poisson(lam: np.ndarray, z: np.ndarray) -> np.ndarray:
    """A Poisson-like count from a pre-drawn standard normal (normal approximation, rounded, >= 0)."""
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    return np.maximum(np.rint(lam + z * np.sqrt(lam)), 0.0)


__all__ = ["MODALITIES", "ENTRY_KINDS", "LEVER_OF_KIND", "TraffickingNetwork", "load_network", "crn_binomial",
           "crn_poisson"]
