"""Overdoses: fatal and non-fatal, among high-risk opioid users (person by person) and regular stimulant users.

Opioid overdose hazard per person-month::

    h = h_ms x purity_factor x adulteration_factor x (injecting RR) x (synthetic RR) x state multiplier

The state multipliers come from the evidence (relative to people out of treatment, in the community):

- in OAT: 1 / 4.80 (Sordo 2017, methadone overdose mortality out vs in); first month of OAT: induction risk
  (Cornish 2010: first 2 weeks 3.1 x the rest of treatment), averaged over the month;
- first month after leaving OAT: Cornish 2010 weeks 1-2 after stopping 9.0 x in treatment, weeks 3-4 back to
  the out-of-treatment level, averaged over the month;
- after release from prison (Merrall 2010): weeks 1-2 7.5 x weeks 3-12 and weeks 3-4 1.7 x weeks 5-12 give the
  first month 5.1 x months 2-3; OAT in prison cuts the first month by HR 0.25 (Marsden 2017);
- in prison: a low multiplier.

Fatality given an overdose: the case fatality without help, cut by naloxone in the hands of a bystander
(coverage of the person's peers, or their own kit from prison release) and, for people who inject with access,
by supervised consumption in a drug consumption room.

``h_ms`` is calibrated at start-up so that each Member State's expected drug-induced deaths match the sourced
pattern (data/baseline_demand.toml) — the opioid share of them from the high-risk users, the rest from the
regular users of stimulants and NPS in the general-population cohorts. That pattern is the mean of 2019-2022,
so it is the level of mid-2020. The published EU-27 series rose by about 7 % a year over those years, faster
than the modelled mechanisms (treatment, prison, market purity) explain; the remainder is an explicit drift of
both hazards, ``overdose.unexplained_trend_per_year`` (the ageing of people who use opioids, polysubstance use,
better reporting), relative to mid-2020 and held flat after ``overdose.unexplained_trend_until``.

Coverage of naloxone, drug consumption rooms and drug checking is read from the services (``state.services``),
which follow the levers with a build-up time.

Naloxone kits: a person holds a kit when their permanent propensity is below this month's coverage; kits are
distributed to new holders, to replace expired or lost kits, and to replace kits used in a reversal.
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import MS_INDEX, N_MS, N_SUBSTANCES, SUBSTANCE_INDEX
from ..levers import LEVERS
from ..demand import baseline
from ..demand.users import DEAD, OAT, OUT, PRISON

HEROIN, SYNTHETIC = SUBSTANCE_INDEX["heroin"], SUBSTANCE_INDEX["synthetic_opioids"]
NON_OPIOIDS = [SUBSTANCE_INDEX[s] for s in ("cocaine", "amphetamines", "mdma", "nps")]
REFERENCE_YEAR = 2020.5
"""Mid-point of 2019-2022, whose mean deaths the hazards are calibrated to (see the module docstring)."""


def state_multipliers(p) -> dict[str, float]:
    """Overdose hazard multipliers relative to out of treatment, from the evidence parameters (monthly)."""
    in_oat = 1.0 / p["overdose.oat_out_vs_in_rr"]
    induction = in_oat * (p["overdose.oat_first_two_weeks_rr"] + 1.0) / 2.0
    after_exit = 0.5 * in_oat * p["overdose.oat_exit_two_weeks_rr"] + 0.5 * 1.0
    late = p["overdose.post_release_late_rr"]  # weeks 5-12 vs community
    w34 = p["overdose.release_weeks_3_4_vs_5_12"]
    w12 = p["overdose.release_weeks_1_2_vs_3_12"] * (2 * w34 + 8) / 10  # weeks 1-2 vs weeks 5-12
    first_month = late * (w12 + w34) / 2
    return {"in_oat": in_oat, "induction": induction, "after_exit": after_exit, "release_first_month": first_month,
            "release_months_2_3": late, "in_treatment": p["overdose.other_treatment_rr"],
            "in_prison": p["overdose.in_prison_rr"]}


class Overdose(Component):
    """Fatal and non-fatal overdoses; naloxone; drug consumption rooms; the nitazene shock."""

    name = "overdose"
    parameters = (
        "overdose.opioid_share_of_deaths", "overdose.case_fatality", "overdose.injecting_rr", "overdose.synthetic_rr",
        "overdose.oat_out_vs_in_rr", "overdose.oat_first_two_weeks_rr", "overdose.oat_exit_two_weeks_rr",
        "overdose.release_weeks_1_2_vs_3_12", "overdose.release_weeks_3_4_vs_5_12", "overdose.post_release_late_rr",
        "overdose.prison_oat_release_hr", "overdose.other_treatment_rr", "overdose.in_prison_rr",
        "overdose.purity_elasticity", "overdose.adulterant_rr", "overdose.naloxone_witnessed",
        "overdose.naloxone_effect", "overdose.own_kit_at_hand", "overdose.kit_replacement_per_month",
        "overdose.dcr_supervised_share", "overdose.drug_checking_use", "overdose.drug_checking_avoidance",
        "overdose.male_share_nonopioid_deaths", "overdose.calibration_months",
        "overdose.unexplained_trend_per_year", "overdose.unexplained_trend_until",
    )
    levers = ("naloxone_coverage", "drug_consumption_rooms", "drug_checking", "prison_release_naloxone", "prison_oat")
    shocks = ("nitazene_emergence",)
    fills = ("drug_induced_deaths", "nonfatal_overdoses", "naloxone_kits_distributed", "post_release_deaths")

    def __init__(self, model, params):
        super().__init__(model, params)
        p = self.params
        self.mult = state_multipliers(p)
        st = model.state
        self.purity_ref = st.retail_purity.copy() if np.all(st.retail_purity[:, [HEROIN, SYNTHETIC]] > 0) else None
        table = st.people
        # calibrate the opioid hazard per Member State to the sourced deaths
        opioid_deaths = baseline.DRUG_INDUCED_DEATHS / 12 * p["overdose.opioid_share_of_deaths"]
        self.h_ms = np.ones(N_MS)
        risk = self._risk(table, 0)  # hazard x fatality per row with h_ms = 1
        expected = np.bincount(table.view("ms"), weights=risk.astype(float), minlength=N_MS) * table.scale
        self.h_ms = opioid_deaths / np.maximum(expected, 1e-12)
        self.opioid_deaths_target = opioid_deaths
        # non-opioid deaths among regular users of stimulants and NPS in the cohorts
        regular = st.regular_users[:, NON_OPIOIDS].sum(axis=1)
        other_deaths = baseline.DRUG_INDUCED_DEATHS / 12 * (1 - p["overdose.opioid_share_of_deaths"])
        self.stimulant_hazard = other_deaths / np.maximum(regular, 1e-9)
        # kits held at the start (not counted as distributed this month)
        self.cov_prev = model.state.services["naloxone_coverage"].copy()
        self.holders = np.zeros(N_MS)
        self.deaths = np.zeros((N_MS, 2))
        self.nonfatal = np.zeros(N_MS)
        self.kits = np.zeros(N_MS)
        self.post_release = np.zeros(N_MS)
        self.log = {k: np.zeros(N_MS, dtype=np.int64) for k in (
            "deaths_in_oat", "pm_in_oat", "deaths_out", "pm_out",
            "deaths_release_1", "pm_release_1", "deaths_release_2_3", "pm_release_2_3")}
        """Agent deaths and person-months per Member State in the evidence windows (see rate_ratio)."""

    # ------------------------------------------------------------------ hazard and fatality per row

    def drift(self) -> float:
        """This month's unexplained trend factor on both overdose hazards (1 in mid-2020, the reference)."""
        p = self.params
        month = self.model.month.astype("datetime64[M]").astype(int)  # months since January 1970
        year = 1970.0 + (month + 0.5) / 12.0
        return float((1.0 + p["overdose.unexplained_trend_per_year"])
                     ** (min(year, p["overdose.unexplained_trend_until"] + 1.0) - REFERENCE_YEAR))

    def _adulteration(self) -> np.ndarray:
        """Share of retail units with an unexpected potent opioid, [ms, sub], after drug checking."""
        model, p = self.model, self.params
        adult = model.state.adulteration.copy()
        for s in model.shocks("nitazene_emergence"):
            if s.active(model.month):
                months = int(model.month - s.at)
                cols = slice(None) if s.where is None else [MS_INDEX[m] for m in s.where]
                ramp = s.magnitude * min(1.0, (months + 1) / 12.0)
                adult[cols, HEROIN] = np.maximum(adult[cols, HEROIN], ramp)
        checking = model.state.services["drug_checking_access"]
        avoid = checking * p["overdose.drug_checking_use"] * p["overdose.drug_checking_avoidance"]
        return np.clip(adult, 0, 1) * (1 - avoid)[:, None]

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Hazard and fatality per group code ((((ms, loc), male), inject), synthetic) for this month."""
        p, m, model = self.params, self.mult, self.model
        by_loc = np.array([1.0, m["in_oat"], m["in_treatment"], m["in_prison"], 0.0])
        market = np.ones((N_MS, N_SUBSTANCES))
        purity = model.state.retail_purity
        if self.purity_ref is None and np.all(purity[:, [HEROIN, SYNTHETIC]] > 0):
            self.purity_ref = purity.copy()
        if self.purity_ref is not None:
            market *= np.clip(purity / np.maximum(self.purity_ref, 1e-9), 0.1, 10) ** p["overdose.purity_elasticity"]
        market *= 1 + self._adulteration() * (p["overdose.adulterant_rr"] - 1)
        opioid = market[:, [HEROIN, SYNTHETIC]] * np.array([1.0, p["overdose.synthetic_rr"]])  # [ms, syn]
        inject = np.array([1.0, p["overdose.injecting_rr"]])
        hazard = (self.h_ms[:, None, None, None, None] * self.drift() * by_loc[None, :, None, None, None]
                  * inject[None, None, None, :, None] * opioid[:, None, None, None, :])
        hazard = np.broadcast_to(hazard, (N_MS, 5, 2, 2, 2))
        cov = model.state.services["naloxone_coverage"]
        community = np.array([1.0, 1.0, 1.0, 0.0, 0.0])
        naloxone = 1 - p["overdose.naloxone_effect"] * p["overdose.naloxone_witnessed"] * cov[:, None] * community[None, :]
        dcr = model.state.services["dcr_access"] * p["overdose.dcr_supervised_share"]
        supervised = 1 - dcr[:, None, None] * community[None, :, None] * np.array([0.0, 1.0])[None, None, :]  # [ms, loc, inject]
        fatal = p["overdose.case_fatality"] * naloxone[:, :, None, None, None] * supervised[:, :, None, :, None]
        fatal = np.broadcast_to(fatal, (N_MS, 5, 2, 2, 2))
        # reorder [ms, loc, male, inject, syn] -> the table's code order [ms, male, inject, loc, syn]
        order = (0, 2, 3, 1, 4)
        return (np.ascontiguousarray(hazard.transpose(order)).astype(np.float32).ravel(),
                np.ascontiguousarray(fatal.transpose(order)).astype(np.float32).ravel())

    def _risk(self, table, t: int, fatality_only: bool = False):
        """Overdose hazard and fatality per row (or, when ``fatality_only`` is False, their product).

        Month windows (counters are 0 in the month the event happened): first month of OAT ``t_state == 0``;
        first month after leaving OAT ``t_exit == 0``; after release ``t_release == 0`` (weeks 1-4) and 1-2
        (weeks 5-12).
        """
        p, m = self.params, self.mult
        h_tab, f_tab = self._tables()
        code = table.code_view()
        hazard = h_tab[code]
        fatal = f_tab[code]
        loc = table.view("loc")
        # induction: first month of OAT
        idx = np.flatnonzero(table.view("t_state") == 0)
        idx = idx[loc[idx] == OAT]
        hazard[idx] *= np.float32(m["induction"] / m["in_oat"])
        # first month after leaving OAT (the rows that left in the last 3 months are kept for the evidence log)
        recent = np.flatnonzero(table.view("t_exit") <= 2)
        recent = recent[loc[recent] == OUT]
        idx = recent[table.view("t_exit")[recent] == 0]
        hazard[idx] *= np.float32(m["after_exit"])
        self._recent_exit = recent
        # after release: first month, months 2-3, and the own naloxone kit for a year
        t_rel = table.view("t_release")
        rel = np.flatnonzero(t_rel <= 11)
        rel = rel[loc[rel] == OUT]
        months = t_rel[rel]
        first = m["release_first_month"] * np.where(table.view("prison_oat")[rel], p["overdose.prison_oat_release_hr"], 1.0)
        window = np.where(months == 0, first, np.where(months <= 2, m["release_months_2_3"], 1.0))
        hazard[rel] *= window.astype(np.float32)
        own = table.view("release_kit")[rel]
        if own.any():
            ms = table.view("ms")[rel]
            cov = self.model.state.services["naloxone_coverage"][ms]
            at_hand = 1 - (1 - cov) * (1 - own * p["overdose.own_kit_at_hand"])
            eff = p["overdose.naloxone_effect"] * p["overdose.naloxone_witnessed"]
            fatal[rel] *= ((1 - eff * at_hand) / (1 - eff * cov)).astype(np.float32)
        self._release_rows = (rel, months)
        return (hazard, fatal) if fatality_only else hazard * fatal

    # ------------------------------------------------------------------ the month

    def step(self, t: int) -> None:
        model, p = self.model, self.params
        table = model.state.people
        hazard, fatal = self._risk(table, t, fatality_only=True)
        if t < self.params["overdose.calibration_months"]:
            # burn-in: the windows after treatment exit and release fill up over the first months, so the
            # hazard scale is re-fitted to the sourced deaths each month until the population has settled
            risk = hazard * fatal
            expected = np.bincount(table.view("ms"), weights=risk, minlength=N_MS) * table.scale
            factor = self.opioid_deaths_target * self.drift() / np.maximum(expected, 1e-12)
            self.h_ms = self.h_ms * factor
            hazard = hazard * factor[table.view("ms")].astype(np.float32)
        u = table.uniforms("overdose", t)
        od = np.flatnonzero(u < hazard)  # everyone who overdoses this month (about 1 in 100)
        dies_od = u[od] < hazard[od] * fatal[od]
        dead = od[dies_od]
        nonfatal = od[~dies_od]
        ms = table.view("ms")
        loc = table.view("loc")
        male = table.view("male")
        scale = table.scale
        # evidence checks, per Member State: deaths and person-months in OAT, out of treatment (outside the
        # windows after treatment and release), and after release without OAT in prison
        lg = self.log
        census = table.counts()
        t_exit, t_rel = table.view("t_exit"), table.view("t_release")
        rel, months = self._release_rows
        d_loc, d_exit, d_rel, d_ms = loc[dead], t_exit[dead], t_rel[dead], ms[dead]
        count = lambda mask, at=d_ms: np.bincount(at[mask], minlength=N_MS)  # noqa: E731
        lg["deaths_in_oat"] += count(d_loc == OAT)
        lg["pm_in_oat"] += census[:, OAT]
        # out of treatment inside a window (left OAT or prison in the last 3 months): the two sets by inclusion-
        # exclusion on their small index arrays (a set union would sort them, which cost more than the rest here)
        exit_recent = self._recent_exit
        in_both = exit_recent[t_rel[exit_recent] <= 2]
        in_window = (np.bincount(ms[exit_recent], minlength=N_MS) + np.bincount(ms[rel[months <= 2]], minlength=N_MS)
                     - np.bincount(ms[in_both], minlength=N_MS))
        lg["deaths_out"] += count((d_loc == OUT) & (d_exit > 2) & (d_rel > 2))
        lg["pm_out"] += census[:, OUT] - in_window
        poat = table.view("prison_oat")
        d_np = ~poat[dead]
        r_ms, r_np = ms[rel], ~poat[rel]
        lg["deaths_release_1"] += count((d_loc == OUT) & (d_rel == 0) & d_np)
        lg["pm_release_1"] += count((months == 0) & r_np, r_ms)
        lg["deaths_release_2_3"] += count((d_loc == OUT) & (d_rel >= 1) & (d_rel <= 2) & d_np)
        lg["pm_release_2_3"] += count((months >= 1) & (months <= 2) & r_np, r_ms)
        post = dead[(d_loc == OUT) & (d_rel <= 11)]
        self.post_release = np.bincount(ms[post], minlength=N_MS) * scale
        d_male = male[dead]
        opioid_deaths = np.stack([np.bincount(ms[dead[~d_male]], minlength=N_MS),
                                  np.bincount(ms[dead[d_male]], minlength=N_MS)], axis=1) * scale
        table.move(dead, DEAD)
        table.died_overdose[t] = dead.size
        self.nonfatal = np.bincount(ms[nonfatal], minlength=N_MS) * scale

        # naloxone kits. A person in the community holds a kit while their permanent propensity u_naloxone is
        # below the country's coverage, so holders are coverage x people in the community. Kits go to new
        # holders (people arriving in the community, or everyone newly covered when coverage rises), replace
        # expired or lost kits, and replace kits used on people who survived an overdose.
        cov = model.state.services["naloxone_coverage"]
        community = table.counts()[:, :PRISON].sum(axis=1) * scale
        arrivals = (table.entered_ms + table.released_ms) * scale
        new_kits = cov * arrivals + np.maximum(cov - self.cov_prev, 0) * community
        self.cov_prev = cov.copy()
        used = nonfatal[table.view("u_naloxone")[nonfatal] < cov.astype(np.float32)[ms[nonfatal]]]
        community_kits = (new_kits + np.bincount(ms[used], minlength=N_MS) * scale
                          + cov * community * p["overdose.kit_replacement_per_month"])
        self.kits = community_kits + table.release_kits_ms * scale
        # prison-release kits are costed by harms.prison; community kits here
        model.spend("naloxone_coverage", community_kits * LEVERS["naloxone_coverage"].unit_cost_eur)

        # deaths among regular stimulant/NPS users in the cohorts (expected value, Poisson draw)
        regular = model.state.regular_users[:, NON_OPIOIDS].sum(axis=1)
        purity_factor = 1.0
        if self.purity_ref is not None:
            ratio = model.state.retail_purity[:, NON_OPIOIDS] / np.maximum(self.purity_ref[:, NON_OPIOIDS], 1e-9)
            purity_factor = np.clip(ratio.mean(axis=1), 0.1, 10) ** p["overdose.purity_elasticity"]
        expected = self.stimulant_hazard * regular * purity_factor * self.drift()
        other = model.stream(f"overdose.stimulants:{t}").poisson(expected).astype(float)
        ms_male = p["overdose.male_share_nonopioid_deaths"]
        self.deaths = opioid_deaths + other[:, None] * np.array([1 - ms_male, ms_male])[None, :]
        model.state.drug_induced_deaths = self.deaths.sum(axis=1)

    def record(self, t: int, out) -> None:
        out["drug_induced_deaths"][t] = self.deaths
        out["nonfatal_overdoses"][t] = self.nonfatal
        out["naloxone_kits_distributed"][t] = self.kits
        out["post_release_deaths"][t] = self.post_release


def rate_ratio(log: dict, exposed: str, reference: str) -> float:
    """Mantel-Haenszel rate ratio of overdose deaths, ``exposed`` vs ``reference`` window, over Member States.

    The windows are the keys of :attr:`Overdose.log` without their ``deaths_``/``pm_`` prefix (``in_oat``,
    ``out``, ``release_1``, ``release_2_3``). Stratifying by country compares like with like, as the cohort
    studies the multipliers come from do (a pooled ratio mixes countries with very different death rates).
    """
    d1, t1 = log[f"deaths_{exposed}"].astype(float), log[f"pm_{exposed}"].astype(float)
    d0, t0 = log[f"deaths_{reference}"].astype(float), log[f"pm_{reference}"].astype(float)
    total = np.maximum(t1 + t0, 1.0)
    return float(np.sum(d1 * t0 / total) / max(np.sum(d0 * t1 / total), 1e-12))
