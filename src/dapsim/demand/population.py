"""General population: vectorised cohorts of people aged 15-64 and their use of each substance.

Cells are ``[member_state, sex, band, substance]`` (bands 15-34 and 35-64) and each holds the fractions of
people in four use states::

    never --initiation--> occasional <--escalation / de-escalation--> regular
                              |   ^
                     cessation v   | relapse
                             past (lifetime, not last year)

"Last year" users are occasional + regular; "lifetime" users are everyone but never. Each band is treated as a
stationary population with turnover (people leave at 1/width per month and are replaced by never-users), so
that the baseline can be set exactly at the published prevalence: the initiation, escalation and relapse rates
of each cell are *derived* at start-up from its target last-year prevalence, lifetime prevalence and regular
share, given the cessation and de-escalation rates (see :func:`steady_state_rates`). Ageing from one band into
the other is therefore not modelled (cohort effects are ignored; a simplification to revisit).

Each month the derived initiation and escalation rates are multiplied by the drivers the Plan acts on:
retail price and availability from the market (participation price elasticity), prevention coverage
(universal: initiation of the young; selective: escalation of the young), perceived risk of opioids (recent
drug-induced deaths), and the COVID-19 closure of nightlife. The cohorts are deterministic (expected values).
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS, N_SUBSTANCES, SUBSTANCES, SUBSTANCE_INDEX
from ..memberstates import POPULATION
from . import baseline

NEVER, PAST, OCCASIONAL, REGULAR = range(4)
OPIOIDS = (SUBSTANCE_INDEX["heroin"], SUBSTANCE_INDEX["synthetic_opioids"])
BAND_WIDTH_MONTHS = np.array([20 * 12, 30 * 12])
"""Width of the bands 15-34 and 35-64 in months: the turnover rate of a band is its inverse."""

_PER_SUBSTANCE = ("price_elasticity", "grams_per_month_occasional", "grams_per_month_regular",
                  "young_to_all_last_year_ratio", "lifetime_to_last_year_ratio", "regular_share",
                  "covid_nightlife_share")
_EU_LAST_YEAR = ("heroin", "synthetic_opioids", "amphetamines", "mdma", "nps")


def steady_state_rates(last_year, lifetime, regular_share, cessation, deescalation, turnover):
    """Monthly rates that keep a cell at the given prevalence.

    Args:
        last_year: target last-year prevalence L (fraction).
        lifetime: target lifetime prevalence T >= L.
        regular_share: share s of last-year users who use regularly.
        cessation: occasional -> past rate c (per month).
        deescalation: regular -> occasional rate d (per month).
        turnover: rate a at which people leave the band, replaced by never-users (per month).

    Returns:
        (initiation, escalation, relapse, cessation) per month. Cessation is lowered where the lifetime target
        would otherwise need a negative relapse rate.
    """
    occasional = (1 - regular_share) * last_year
    regular = regular_share * last_year
    past = np.maximum(lifetime - last_year, 1e-9)
    never = 1 - lifetime
    initiation = turnover * lifetime / never
    escalation = (deescalation + turnover) * regular / np.maximum(occasional, 1e-12)
    cessation = np.maximum(cessation, turnover * past / np.maximum(occasional, 1e-12))
    relapse = np.maximum(cessation * occasional / past - turnover, 0.0)
    return initiation, escalation, relapse, cessation


def cocaine_start_level(level_2015: float, start_month: np.datetime64) -> float:
    """Cocaine use at the first month of a run as a fraction of the latest (2023) survey level.

    The 2015 level is calibrated; a run that starts later starts on the straight line from it to the survey
    level in January 2023, and at the survey level from then on.
    """
    calibrated, survey = np.datetime64("2015-01", "M"), np.datetime64("2023-01", "M")
    progress = (np.datetime64(start_month, "M") - calibrated) / (survey - calibrated)
    return level_2015 + (1.0 - level_2015) * float(np.clip(progress, 0.0, 1.0))


class GeneralPopulation(Component):
    """Cohorts of the general population by Member State, sex, age band and substance.

    Fills last-year prevalence (15-64 and 15-34), users by sex, mean age at first use; writes
    ``state.regular_users`` and the general-population part of ``state.demand_kg``.
    """

    name = "population"
    parameters = (
        *(f"population.{p}.{s}" for p in _PER_SUBSTANCE for s in SUBSTANCES),
        *(f"population.eu_last_year.{s}" for s in _EU_LAST_YEAR),
        "population.male_share_of_users",
        "population.occasional_cessation_per_month",
        "population.regular_deescalation_per_month",
        "population.participation_share_of_elasticity",
        "population.availability_elasticity",
        "population.universal_prevention_initiation_rr",
        "population.adolescent_share_of_young_initiation",
        "population.prevention_memory_months",
        "population.selective_prevention_escalation_rr",
        "population.perceived_risk_elasticity",
        "population.mean_age_initiation_young",
        "population.mean_age_initiation_old",
        "population.cocaine_2015_level",
    )
    levers = ("universal_prevention", "selective_prevention")
    shocks = ("covid_disruption",)
    fills = ("prevalence_last_year", "users_last_year", "mean_age_first_use")

    def __init__(self, model, params):
        super().__init__(model, params)
        p = self.params
        sub = lambda key: np.array([p[f"population.{key}.{s}"] for s in SUBSTANCES])  # noqa: E731
        self.elasticity = sub("price_elasticity")
        self.grams_occasional = sub("grams_per_month_occasional")
        self.grams_regular = sub("grams_per_month_regular")
        self.nightlife = sub("covid_nightlife_share")
        self.participation = p["population.participation_share_of_elasticity"]

        # Targets per cell [ms, sex, band, substance].
        all_ages = np.zeros((N_MS, N_SUBSTANCES))
        all_ages[:, SUBSTANCE_INDEX["cannabis"]] = baseline.CANNABIS_LAST_YEAR
        # The cocaine surveys are of 2023; use rose towards them, so the cohorts start lower.
        all_ages[:, SUBSTANCE_INDEX["cocaine"]] = baseline.COCAINE_LAST_YEAR * cocaine_start_level(
            p["population.cocaine_2015_level"], model.months[0])
        for s in _EU_LAST_YEAR:
            all_ages[:, SUBSTANCE_INDEX[s]] = p[f"population.eu_last_year.{s}"]
        share_young = baseline.SHARE_15_34[:, None]
        ratio = sub("young_to_all_last_year_ratio")[None, :]
        young = np.minimum(all_ages * ratio, 0.9)
        old = np.maximum((all_ages - share_young * young) / (1 - share_young), 1e-5)
        by_band = np.stack([young, old], axis=1)  # [ms, band, sub]
        male = p["population.male_share_of_users"]
        sex_factor = np.array([2 * (1 - male), 2 * male])  # female, male (equal-sized sexes assumed)
        last_year = np.minimum(by_band[:, None, :, :] * sex_factor[None, :, None, None], 0.9)
        lifetime = np.minimum(last_year * sub("lifetime_to_last_year_ratio"), 0.95)
        regular_share = np.broadcast_to(sub("regular_share"), last_year.shape)
        turnover = (1.0 / BAND_WIDTH_MONTHS)[None, None, :, None]
        self.turnover = turnover
        self.deescalation = p["population.regular_deescalation_per_month"]
        (self.initiation0, self.escalation0, self.relapse, self.cessation) = steady_state_rates(
            last_year, lifetime, regular_share, p["population.occasional_cessation_per_month"],
            self.deescalation, turnover)

        self.state = np.zeros((N_MS, 2, 2, N_SUBSTANCES, 4))
        self.state[..., OCCASIONAL] = (1 - regular_share) * last_year
        self.state[..., REGULAR] = regular_share * last_year
        self.state[..., PAST] = lifetime - last_year
        self.state[..., NEVER] = 1 - lifetime
        self.people = POPULATION[:, :, :, None]  # [ms, sex, band, 1]

        self.universal0 = np.asarray(model.lever("universal_prevention"), dtype=float)
        self.selective0 = np.asarray(model.lever("selective_prevention"), dtype=float)
        self.universal_memory = self.universal0.copy()
        self.price_ref: np.ndarray | None = None
        self.deaths_smoothed = None
        self.deaths_ref = None
        self.initiations = np.zeros((N_MS, 2, 2, N_SUBSTANCES))
        self._publish()

    # ------------------------------------------------------------------ drivers

    def _market_factor(self) -> np.ndarray:
        """Price and availability multiplier of initiation and escalation, per [ms, substance]."""
        st = self.model.state
        price = st.retail_price_eur_per_g
        if self.price_ref is None and np.all(price > 0):
            self.price_ref = price.copy()
        if self.price_ref is None:
            price_factor = np.ones((N_MS, N_SUBSTANCES))
        else:
            ratio = np.clip(price / self.price_ref, 0.1, 10.0)
            price_factor = ratio ** (self.elasticity * self.participation)
        avail = np.clip(st.availability, 0.05, 2.0) ** self.params["population.availability_elasticity"]
        return price_factor * avail

    def _risk_factor(self) -> np.ndarray:
        """Perceived risk of opioids: initiation falls when drug-induced deaths rise, per [ms]."""
        deaths = self.model.state.drug_induced_deaths
        if self.deaths_smoothed is None:
            if deaths.sum() <= 0:
                return np.ones(N_MS)
            self.deaths_smoothed = deaths.astype(float).copy()
            self.deaths_ref = np.maximum(self.deaths_smoothed, 1e-9)
        self.deaths_smoothed += (deaths - self.deaths_smoothed) / 12.0
        ratio = np.clip((self.deaths_smoothed + 1.0) / (self.deaths_ref + 1.0), 0.2, 5.0)
        return ratio ** (-self.params["population.perceived_risk_elasticity"])

    # ------------------------------------------------------------------ the month

    def step(self, t: int) -> None:
        p = self.params
        model = self.model
        # Universal prevention acts on the cohorts that were pupils: a slowly moving average of coverage.
        universal = np.asarray(model.lever("universal_prevention"), dtype=float)
        self.universal_memory += (universal - self.universal_memory) / p["population.prevention_memory_months"]
        eff_u = (1 - p["population.universal_prevention_initiation_rr"]) * p["population.adolescent_share_of_young_initiation"]
        prevention_young = (1 - eff_u * self.universal_memory) / (1 - eff_u * self.universal0)
        selective = np.asarray(model.lever("selective_prevention"), dtype=float)
        eff_s = 1 - p["population.selective_prevention_escalation_rr"]
        selective_young = (1 - eff_s * selective) / (1 - eff_s * self.selective0)

        market = self._market_factor()  # [ms, sub]
        covid = model.shock_magnitude("covid_disruption")[:, None] * self.nightlife[None, :]
        driver = market * (1 - covid)
        driver[:, list(OPIOIDS)] *= self._risk_factor()[:, None]

        init = self.initiation0 * driver[:, None, None, :]
        init[:, :, 0, :] *= prevention_young[:, None, None]
        esc = self.escalation0 * driver[:, None, None, :]
        esc[:, :, 0, :] *= selective_young[:, None, None]

        x = self.state
        a = self.turnover
        n, pa, o, r = x[..., NEVER], x[..., PAST], x[..., OCCASIONAL], x[..., REGULAR]
        f_init = np.minimum(init, 0.5) * n
        f_cess = self.cessation * o
        f_esc = np.minimum(esc, 0.5) * o
        f_deesc = self.deescalation * r
        f_rel = self.relapse * pa
        self.initiations = f_init * self.people
        new = np.empty_like(x)
        new[..., NEVER] = n - f_init + a * (1 - n)
        new[..., PAST] = pa + f_cess - f_rel - a * pa
        new[..., OCCASIONAL] = o + f_init - f_cess - f_esc + f_deesc + f_rel - a * o
        new[..., REGULAR] = r + f_esc - f_deesc - a * r
        self.state = new
        self._publish()

    def _publish(self) -> None:
        """Write regular users and the general-population part of demand to the shared state."""
        people = self.state * self.people[..., None]  # [ms, sex, band, sub, state]
        by_ms = people.sum(axis=(1, 2))  # [ms, sub, state]
        self.model.state.regular_users = by_ms[..., REGULAR].copy()
        covid = self.model.shock_magnitude("covid_disruption")[:, None] * self.nightlife[None, :]
        grams = (by_ms[..., OCCASIONAL] * self.grams_occasional + by_ms[..., REGULAR] * self.grams_regular)
        # Regular opioid users are the high-risk users: demand.users adds their demand person by person.
        grams[:, list(OPIOIDS)] = by_ms[:, list(OPIOIDS), OCCASIONAL] * self.grams_occasional[list(OPIOIDS)]
        intensity = 1.0
        if self.price_ref is not None:
            ratio = np.clip(self.model.state.retail_price_eur_per_g / self.price_ref, 0.1, 10.0)
            intensity = ratio ** (self.elasticity * (1 - self.participation))
        self.model.state.demand_kg = grams * intensity * (1 - covid) / 1000.0

    def record(self, t: int, out) -> None:
        last_year = self.state[..., OCCASIONAL] + self.state[..., REGULAR]  # [ms, sex, band, sub]
        users = last_year * self.people  # people
        pop = self.people[..., 0]  # [ms, sex, band]
        prev = np.empty((N_MS, N_SUBSTANCES, 2))
        prev[:, :, 0] = users.sum(axis=(1, 2)) / pop.sum(axis=(1, 2))[:, None]
        prev[:, :, 1] = users[:, :, 0].sum(axis=1) / pop[:, :, 0].sum(axis=1)[:, None]
        out["prevalence_last_year"][t] = prev
        by = np.empty((N_SUBSTANCES, 2, 2))  # [sub, age_group, sex]
        by[:, 0, :] = users.sum(axis=(0, 2)).T
        by[:, 1, :] = users[:, :, 0].sum(axis=0).T
        out["users_last_year"][t] = by
        p = self.params
        ini = self.initiations.sum(axis=(0, 1))  # [band, sub]
        ages = np.array([p["population.mean_age_initiation_young"], p["population.mean_age_initiation_old"]])
        out["mean_age_first_use"][t] = (ages[:, None] * ini).sum(axis=0) / np.maximum(ini.sum(axis=0), 1e-12)
