"""Production: how much of each drug leaves the source regions for the EU, and what EU labs and growers make.

Plant-based drugs are exogenous pools (UNODC and EUDA figures in the registry and ``data/trafficking.toml``)
moved by shocks and the alternative-development lever. Synthetic drugs come from labs inside the EU (a count
per Member State that enforcement dismantles and profit re-opens), limited by the precursors that get through
pre-export checks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..dims import SUBSTANCE_INDEX
from ..levers import LEVERS
from ..memberstates import POPULATION_15_64
from .routes import TraffickingNetwork

COCAINE = SUBSTANCE_INDEX["cocaine"]
HEROIN = SUBSTANCE_INDEX["heroin"]
CANNABIS = SUBSTANCE_INDEX["cannabis"]
AMPHETAMINES = SUBSTANCE_INDEX["amphetamines"]
MDMA = SUBSTANCE_INDEX["mdma"]
SYNTHETIC_OPIOIDS = SUBSTANCE_INDEX["synthetic_opioids"]
NPS = SUBSTANCE_INDEX["nps"]


def ramp(x: float) -> float:
    """Linear ramp clipped to [0, 1]."""
    return float(min(1.0, max(0.0, x)))


def months_since(model, shock) -> int:
    return int((model.month - shock.at).astype(int))


def cocaine_eu_bound_share(year: float, p) -> float:
    """Share of global cocaine manufacture shipped towards the EU in a (fractional) year.

    Two documented movements, neither of whose size is published, so both are calibrated: a steady growth of
    Europe's share of the trade (UNODC, Global Report on Cocaine 2023), held flat after the last year the data
    show it, and a step when the routes moved to the northern container ports in 2016-2017 (sources in the
    registry, ``supply.cocaine_eu_share_step``). The step is a logistic in time, so its midpoint and width say
    when and how fast the routes moved.

    Args:
        year: calendar year with the month as a fraction (2017.5 is mid-2017).
        p: the supply component's parameters.
    """
    years_of_growth = min(year, p["supply.cocaine_eu_share_growth_until"]) - 2015.0
    growth = (1.0 + p["supply.cocaine_eu_share_growth"]) ** years_of_growth
    moved = expit((year - p["supply.cocaine_eu_share_step_midpoint"]) / p["supply.cocaine_eu_share_step_width_years"])
    return float(p["supply.cocaine_eu_bound_share"] * growth * (1.0 + p["supply.cocaine_eu_share_step"] * moved))


def pool_departures_kg(model, net: TraffickingNetwork, p, ad_multiplier: float) -> np.ndarray:
    """Kilograms (product, wholesale purity) leaving each production pool for the EU this month.

    Args:
        model: the running model (clock and shocks).
        net: the route network (pool names, cocaine production path).
        p: the supply component's parameters.
        ad_multiplier: production multiplier from alternative development (<= 1 when funding rises).
    """
    month = model.month
    year = int(str(month)[:4]) + (int(str(month)[5:7]) - 0.5) / 12.0
    out = np.zeros(len(net.pools))
    # cocaine: global manufacture x EU-bound share, at wholesale purity
    coke_t = net.cocaine_manufacture_t(year - p["supply.cocaine_arrival_lag_months"] / 12.0)
    surge = 0.0
    for s in model.shocks("cocaine_production_surge"):
        if s.active(month):
            surge = max(surge, s.magnitude * ramp((months_since(model, s) + 1) / 12.0))
    coke_kg = coke_t * 1000.0 * (1.0 + surge) * cocaine_eu_bound_share(year, p) / p["supply.cocaine_wholesale_purity"]
    # heroin: EU-bound flow, cut by the Afghan ban once stockpiles run down
    ban = 0.0
    for s in model.shocks("afghan_opium_ban"):
        if s.active(month):
            since = months_since(model, s) - p["supply.heroin_stockpile_months"]
            ban = max(ban, s.magnitude * ramp((since + 1) / 12.0))
    heroin_kg = p["supply.heroin_eu_bound_t"] * 1000.0 * (1.0 - ban)
    for i, pool in enumerate(net.pools):
        if pool == "cocaine":
            out[i] = coke_kg * ad_multiplier / 12.0
        elif pool == "heroin":
            out[i] = heroin_kg * ad_multiplier / 12.0
        elif pool == "cannabis_morocco":
            out[i] = p["supply.resin_morocco_t"] * 1000.0 / 12.0
        elif pool == "cannabis_albania_balkans_herb":
            out[i] = p["supply.herb_import_t"] * 1000.0 / 12.0
        elif pool == "synthetic_opioids":
            out[i] = p["supply.synthetic_opioids_import_t"] * 1000.0 / 12.0
        elif pool == "nps":
            out[i] = p["supply.nps_import_t"] * 1000.0 / 12.0
    return out


def domestic_cannabis_kg(p) -> np.ndarray:
    """Herbal cannabis grown inside each Member State this month (kg), spread by population aged 15-64."""
    share = POPULATION_15_64 / POPULATION_15_64.sum()
    return p["supply.herb_domestic_t"] * 1000.0 / 12.0 * share


class Labs:
    """Synthetic-drug production sites per Member State (amphetamine/methamphetamine and MDMA).

    Labs open at a rate that keeps the 2020 count in equilibrium under baseline enforcement (scaled by the
    synthetic wholesale price signal) and close when enforcement dismantles them. Output per lab is limited by
    the precursors that get through.
    """

    def __init__(self, weights: np.ndarray, p, baseline_hazard: np.ndarray):
        self.weights = weights / weights.sum()
        self.count = p["supply.labs_active_2020"] * self.weights
        self.births_base = self.count * baseline_hazard
        self.output_kg = p["supply.lab_output_kg_per_month"]
        self.mdma_share = p["supply.lab_mdma_share"]

    def output(self, precursor_factor: float) -> np.ndarray:
        """(n_ms, 2) kg of amphetamines and MDMA made this month."""
        total = self.count * self.output_kg * precursor_factor
        return np.stack([total * (1.0 - self.mdma_share), total * self.mdma_share], axis=1)

    def open_new(self, price_signal: float) -> None:
        self.count = self.count + self.births_base * max(price_signal, 0.0)

    def dismantle(self, n: np.ndarray) -> None:
        self.count = np.maximum(self.count - n, 0.0)


def alternative_development_multiplier(model, p) -> float:
    """Production multiplier for coca and opium from EU alternative-development funding, with a lag.

    Funding above the 2020 level lowers production with a small elasticity (evidence is weak: the prior is
    wide); the effect is read from the lever's value ``lag`` months earlier.
    """
    path = model.lever_path("alternative_development")[:, 0]
    lag = int(p["supply.alt_dev_lag_months"])
    value = path[max(model.t - lag, 0)]
    base = LEVERS["alternative_development"].baseline
    return float(((value + 1.0) / (base + 1.0)) ** (-p["supply.alt_dev_elasticity"]))


__all__ = ["pool_departures_kg", "domestic_cannabis_kg", "Labs", "alternative_development_multiplier"]
