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

    trafficking: object = None
    """Supply side only: the trafficking world (:class:`dapsim.supply.trafficking.TraffickingWorld`) -- routes,
    organised crime groups, labs and this month's shipments. The supply component creates it and writes
    shipments; enforcement writes interdiction, intelligence and arrests; the market reads arrivals and writes
    wholesale prices back. Demand and harms never read it (they use the market fields above)."""

    # ---- demand and harms side (added by the demand/harms engineer, issue 4) ----------------------------

    regular_users: np.ndarray = field(default_factory=_ms_sub)
    """demand.population writes each month; demand.services, demand.users and the harms read it. People aged
    15-64 who use the substance regularly (general-population cohorts), per Member State and substance."""

    drug_induced_deaths: np.ndarray = field(default_factory=lambda: np.zeros(N_MS))
    """harms.overdose writes at the end of month t; demand.population reads it in t + 1 (perceived risk of
    opioids). Drug-induced deaths this month per Member State (people)."""

    services: dict = field(default_factory=dict)
    """demand.services writes at the start of the demand step; demand.users and the harms read it. Service
    capacity and coverage this month by service name, each a (27,) array (e.g. ``oat_places`` in people)."""

    people: object = None
    """The high-risk opioid users as a person table (:class:`dapsim.demand.users.PersonTable`), owned and
    created by demand.users. The harms components (prison, overdose, infections) update its rows in place
    (deaths, imprisonment, infection) and log their flows in it, so people are conserved across components."""
