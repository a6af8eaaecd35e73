"""Per-Member-State starting levels for demand and harms (``data/baseline_demand.toml``).

The country figures set the pattern across the 27 Member States and a sourced EU total sets the level, by the
fill rules written in the data file. Everything here is a plain ``(27,)`` array in the order of
:data:`dapsim.dims.MEMBER_STATES`.
"""

from __future__ import annotations

import numpy as np

from .._toml import load_data
from ..dims import MEMBER_STATES
from ..memberstates import POPULATION, POPULATION_15_64

_raw = load_data("baseline_demand.toml")
EU_TOTALS = {k: float(v["value"]) for k, v in _raw["eu_totals"].items()}
_SHARE_YOUNG = POPULATION[:, :, 0].sum(axis=1) / POPULATION_15_64


def _table(name: str) -> np.ndarray:
    """A country table as a (27,) array with NaN where the file has no figure."""
    table = _raw
    for part in name.split("."):
        table = table[part]
    return np.array([float(table.get(m, np.nan)) for m in MEMBER_STATES])


def _high_risk_opioid_users() -> np.ndarray:
    known = _table("high_risk_opioid_users")
    have = ~np.isnan(known)
    rest = EU_TOTALS["high_risk_opioid_users"] - known[have].sum()
    rate = rest / POPULATION_15_64[~have].sum()
    return np.where(have, known, rate * POPULATION_15_64)


def _prevalence(substance: str, young_to_adult: float) -> np.ndarray:
    adult = _table(f"{substance}_last_year.adult")
    young = _table(f"{substance}_last_year.young")
    eu = EU_TOTALS[f"{substance}_last_year_15_64"]
    value = np.where(~np.isnan(adult), adult, np.where(~np.isnan(young), young * young_to_adult, eu))
    return value * eu / (np.sum(value * POPULATION_15_64) / POPULATION_15_64.sum())


HIGH_RISK_OPIOID_USERS = _high_risk_opioid_users()
"""High-risk opioid users per Member State (people), summing to the EU total of EDR 2024."""

DRUG_INDUCED_DEATHS = _table("drug_induced_deaths_rate_per_million") * POPULATION_15_64 / 1e6
DRUG_INDUCED_DEATHS *= EU_TOTALS["drug_induced_deaths"] / DRUG_INDUCED_DEATHS.sum()
"""Drug-induced deaths per year per Member State (the c.2010 pattern scaled to the EU-27 2019-2022 mean)."""

CANNABIS_LAST_YEAR = _prevalence("cannabis", 8.0 / 15.0)
"""Cannabis last-year prevalence 15-64 per Member State (fraction)."""
COCAINE_LAST_YEAR = _prevalence("cocaine", 1.4 / 2.5)
"""Cocaine last-year prevalence 15-64 per Member State (fraction)."""


def _hiv() -> np.ndarray:
    known = _table("hiv_idu_new_diagnoses")
    have = ~np.isnan(known)
    rate = known[have].sum() / HIGH_RISK_OPIOID_USERS[have].sum()
    value = np.where(have, known, rate * HIGH_RISK_OPIOID_USERS)
    return value * EU_TOTALS["hiv_idu_new_diagnoses"] / value.sum()


HIV_IDU_NEW_DIAGNOSES = _hiv()
"""New HIV diagnoses attributed to injecting per year per Member State (scaled to the EU total)."""

SHARE_15_34 = _SHARE_YOUNG
"""Share of 15-64 year-olds who are 15-34, per Member State."""
