"""New psychoactive substances: emergence, notification by the EU Early Warning System, harms.

New substances appear on the EU market as a Poisson process. Its rate is the end of the 2013-2015 wave (about
100 a year in 2015) falling towards a long-run rate (about 50 a year, the EWS's first notifications 2017-2022),
the excess halving every ``nps.wave_half_life_years``. Each is notified after a delay drawn from an exponential distribution whose mean is the
``early_warning`` lever (median months to notification) at the month it appears, divided by ln 2; it stays on
the market for an exponentially distributed time. Until it is notified, a substance on the market causes serious
harm events at a base rate scaled by the number of regular NPS users; after notification (alerts, risk
communication, control) harms fall by the response effect, and drug checking lowers them further.

Common random numbers: the uniforms of each substance's delay and market life are drawn at its appearance
whatever the lever, and the month's harm count is the Poisson quantile of one uniform, so a faster early
warning can only lower harm counts.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..component import Component
from ..dims import SUBSTANCE_INDEX
from ..levers import LEVERS

NPS = SUBSTANCE_INDEX["nps"]


class NewPsychoactiveSubstances(Component):
    """NPS emergence, EWS notification and harm events (EU level)."""

    name = "nps"
    parameters = ("nps.appearances_per_year", "nps.appearances_2015_per_year", "nps.wave_half_life_years",
                  "nps.market_life_months", "nps.harm_events_per_substance_month",
                  "nps.response_effect", "overdose.drug_checking_use", "overdose.drug_checking_avoidance")
    levers = ("early_warning", "drug_checking")
    fills = ("nps_new_notified", "nps_harm_events")

    def __init__(self, model, params):
        super().__init__(model, params)
        self.appeared = np.zeros(0)   # month index of appearance (float)
        self.notified = np.zeros(0)   # month index of notification
        self.leaves = np.zeros(0)     # month index it leaves the market
        self.users0 = max(float(model.state.regular_users[:, NPS].sum()), 1e-9)
        self.baseline_delay = float(LEVERS["early_warning"].baseline)
        self.new_notified = 0
        self.harms = 0
        self.start_offset = int((model.months[0].astype("datetime64[M]") - np.datetime64("2015-01", "M")).astype(int))
        # substances that appeared in the years before the start are already on the market or in the pipeline
        for back in range(-60, 0):
            self._appear(back, self.baseline_delay)

    def appearance_rate(self, t: int) -> float:
        """New substances appearing per year in month ``t`` (months from the start; negative before it).

        The wave is dated from January 2015 whatever month the run starts in, so a run from 2019 sees the
        rate of 2019, not of 2015. Before 2015 the rate is held at the 2015 level (the EWS notified 101 in
        2014 and 100 in 2015: the plateau of the wave).
        """
        p = self.params
        years_since_2015 = max((self.start_offset + t + 0.5) / 12.0, 0.0)
        excess = p["nps.appearances_2015_per_year"] - p["nps.appearances_per_year"]
        return p["nps.appearances_per_year"] + excess * 0.5 ** (years_since_2015 / p["nps.wave_half_life_years"])

    def _appear(self, t: int, median: float) -> None:
        """New substances appearing in month ``t`` with their notification delay and market life."""
        p, rng = self.params, self.rng
        k = int(rng.poisson(max(self.appearance_rate(t), 0.0) / 12.0))
        u = rng.random((3, k))
        delay = -np.log1p(-u[0]) * median / np.log(2.0)
        life = -np.log1p(-u[1]) * p["nps.market_life_months"]
        when = t + u[2]
        self.appeared = np.concatenate([self.appeared, when])
        self.notified = np.concatenate([self.notified, when + delay])
        self.leaves = np.concatenate([self.leaves, when + life])

    def step(self, t: int) -> None:
        model, p = self.model, self.params
        rng = self.rng
        median = float(model.lever("early_warning"))
        self._appear(t, median)
        self.new_notified = int(((self.notified >= t) & (self.notified < t + 1)).sum())
        on_market = (self.appeared < t + 1) & (self.leaves >= t)
        unnotified = on_market & (self.notified >= t + 1)
        notified = on_market & ~unnotified
        users = float(model.state.regular_users[:, NPS].sum()) / self.users0
        checking = float(np.mean(model.state.services["drug_checking_access"]))
        reduce = 1 - checking * p["overdose.drug_checking_use"] * p["overdose.drug_checking_avoidance"]
        lam = p["nps.harm_events_per_substance_month"] * users * reduce * (
            unnotified.sum() + notified.sum() * (1 - p["nps.response_effect"]))
        u = rng.random()  # drawn every month, so the stream does not depend on whether any harm was possible
        self.harms = int(stats.poisson.ppf(u, lam)) if lam > 0 else 0
        # forget substances gone from the market and notified
        keep = (self.leaves >= t) | (self.notified >= t)
        self.appeared, self.notified, self.leaves = self.appeared[keep], self.notified[keep], self.leaves[keep]
        cut = max(0.0, self.baseline_delay - median)
        model.spend("early_warning", cut * LEVERS["early_warning"].unit_cost_eur / 12.0)

    def record(self, t: int, out) -> None:
        out["nps_new_notified"][t] = self.new_notified
        out["nps_harm_events"][t] = self.harms
