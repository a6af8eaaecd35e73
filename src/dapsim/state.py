"""The shared state: the few signals components pass to each other each month.

Data flows one way through the month (supply -> enforcement -> market -> demand -> harms). A component writes
only the fields it owns and reads the others; a signal written late in month ``t`` (demand, deaths) reaches the
components that run earlier in the month in ``t + 1``. Arrays are indexed ``[member_state, substance]`` in the
order of :mod:`dapsim.dims`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dims import N_MS, N_SUBSTANCES


def _ms_sub(fill: float = 0.0) -> np.ndarray:
    return np.full((N_MS, N_SUBSTANCES), fill)


@dataclass
class SharedState:
    """Signals between components. Owner and readers are named per field."""

    retail_price_eur_per_g: np.ndarray = field(default_factory=_ms_sub)
    """Market writes; demand reads (price elasticity of use). EUR per gram at retail."""

    retail_purity: np.ndarray = field(default_factory=_ms_sub)
    """Market writes; harms read (overdose hazard). Fraction of active substance at retail."""

    adulteration: np.ndarray = field(default_factory=_ms_sub)
    """Market writes; harms add nitazene shocks and read it (overdose hazard). Share of retail units of the
    substance containing an unexpected potent synthetic opioid."""

    availability: np.ndarray = field(default_factory=lambda: _ms_sub(1.0))
    """Market writes; demand reads. Retail supply relative to what users sought (1 = market satisfied)."""

    consumed_kg: np.ndarray = field(default_factory=_ms_sub)
    """Market writes (drug mass balance); harms read (wastewater residues). Kilograms consumed this month."""

    demand_kg: np.ndarray = field(default_factory=_ms_sub)
    """Demand writes at the end of month t; market and supply read it in t + 1. Kilograms users seek per month."""
