"""HIV and HCV among people who inject: transmission, testing and cure.

HCV: each month a susceptible (or cured) person who injects is infected with probability
``beta x viraemic prevalence among people who inject in their country x protection``, where protection
multiplies the needle-and-syringe programme effect (Platt 2017, Europe RR 0.44 at high coverage, linear in
syringes per person up to the WHO target of 200) and the OAT effect (Platt 2017, RR 0.50). Testing
(``hcv_test_and_treat``: share tested a year) finds chronic infections; a share of them starts
direct-acting antivirals and is cured, which lowers viraemic prevalence and so onward transmission.

HIV: infections are rarer and dominated by local outbreaks, so the hazard is calibrated per Member State to the
sourced new diagnoses attributed to injecting (data/baseline_demand.toml) at the start, and then moves with the
same protection factors relative to the start. HIV prevalence does not feed back (no outbreak dynamics).
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS
from ..levers import LEVERS
from ..demand import baseline
from ..demand.users import HCV_CURED, HCV_DIAGNOSED, HCV_UNDIAGNOSED, PRISON


class Infections(Component):
    """HIV and HCV transmission among people who inject; HCV test and treat."""

    name = "infections"
    parameters = (
        "infections.hcv_transmission_per_month", "infections.nsp_full_coverage_syringes",
        "infections.nsp_high_coverage_rr", "infections.oat_rr", "infections.prison_rr",
        "infections.hcv_treatment_uptake", "infections.daa_cure",
    )
    levers = ("nsp_coverage", "hcv_test_and_treat", "oat_capacity")
    fills = ("hiv_new_infections_pwid", "hcv_new_infections_pwid", "hcv_tested_share")

    def __init__(self, model, params):
        super().__init__(model, params)
        table = model.state.people
        protect = self._protection(table)
        susceptible = table.view("inject") & (table.view("loc") < 4) & ~table.view("hiv")
        weight = np.bincount(table.view("ms"), weights=protect * susceptible, minlength=N_MS) * table.scale
        self.hiv_base = baseline.HIV_IDU_NEW_DIAGNOSES / 12 / np.maximum(weight, 1e-9)
        self.hiv_new = np.zeros(N_MS)
        self.hcv_new = np.zeros(N_MS)
        self.tested_share = np.zeros(N_MS)

    def _protection(self, table, rows: np.ndarray | None = None) -> np.ndarray:
        """Relative infection risk per row (or per row in ``rows``) from syringe coverage, OAT and prison."""
        p, sv = self.params, self.model.state.services
        coverage = np.clip(sv["syringes_per_pwid"] / p["infections.nsp_full_coverage_syringes"], 0, 1)
        nsp = 1 - (1 - p["infections.nsp_high_coverage_rr"]) * coverage
        by_loc = np.array([1.0, p["infections.oat_rr"], 1.0, p["infections.prison_rr"], 0.0])
        tab = (nsp[:, None] * by_loc[None, :]).ravel()
        ms, loc = table.view("ms"), table.view("loc")
        if rows is not None:
            ms, loc = ms[rows], loc[rows]
        return tab[ms * 5 + loc]

    def step(self, t: int) -> None:
        model, p = self.model, self.params
        table = model.state.people
        sv = model.state.services
        # One uniform per person, in three disjoint bands: HCV infection [0, p_hcv), HCV test [0.5, 0.5 + p_test),
        # HIV infection (1 - p_hiv, 1]. Probabilities stay far below 0.5, so the bands never overlap, and a
        # lever moves only the edge of its own band (common random numbers).
        u = table.uniforms("infection", t)
        loc_all = table.view("loc")
        inject_all = table.view("inject")
        hcv_all = table.view("hcv")
        ms_all = table.view("ms")
        alive_inj = inject_all & (loc_all < 4)
        # viraemic prevalence among people who inject, per Member State (census gives the denominator)
        viraemic_all = alive_inj & ((hcv_all == HCV_UNDIAGNOSED) | (hcv_all == HCV_DIAGNOSED))
        n_inj = table.census()[:, :4, :, 1, :].sum(axis=(1, 2, 3))
        # (counting the selected rows' Member States is several times faster than a weighted bincount over the
        # whole table, whose rows are mostly in Member State order; the counts are the same integers)
        prev = np.bincount(ms_all[np.flatnonzero(viraemic_all)], minlength=N_MS) / np.maximum(n_inj, 1)
        beta = p["infections.hcv_transmission_per_month"] * prev
        coverage = np.clip(sv["hcv_testing"], 0, 0.999)
        p_test_ms = np.minimum(1 - (1 - coverage) ** (1 / 12), 0.45)
        # only people who inject and drew a uniform inside a band can have an event
        p0 = max(float(beta.max()), 1e-12)
        p_hiv_max = float(self.hiv_base.max())
        band = (u < p0) | (u > 1 - p_hiv_max) | ((u >= 0.5) & (u < 0.5 + p_test_ms.max()))
        idx = np.flatnonzero(alive_inj & band)
        ms, loc, hcv, hiv = ms_all[idx], loc_all[idx], hcv_all[idx], table.view("hiv")[idx]
        u0 = u[idx]
        protect = self._protection(table, idx)
        viraemic = (hcv == HCV_UNDIAGNOSED) | (hcv == HCV_DIAGNOSED)
        new_hcv = ~viraemic & (u0 < beta[ms] * protect)
        new_hiv = ~hiv & (1 - u0 < self.hiv_base[ms] * protect)
        hcv[new_hcv] = HCV_UNDIAGNOSED
        # HCV testing (annual coverage -> monthly probability) and DAA treatment of those found positive
        p_test = p_test_ms[ms]
        v = (u0 - 0.5) / np.maximum(p_test, 1e-12)  # uniform on [0, 1) among the tested
        tested = (loc != PRISON) & (u0 >= 0.5) & (v < 1.0)
        found = tested & (hcv == HCV_UNDIAGNOSED)
        hcv[found] = HCV_DIAGNOSED
        start = tested & (hcv == HCV_DIAGNOSED) & (v < p["infections.hcv_treatment_uptake"])
        cured = start & (v < p["infections.hcv_treatment_uptake"] * p["infections.daa_cure"])
        hcv[cured] = HCV_CURED
        hcv_all[idx] = hcv
        table.view("hiv")[idx[new_hiv]] = True
        table.view("t_test")[idx[tested]] = 0
        scale = table.scale
        courses = np.bincount(ms[start], minlength=N_MS) * scale
        model.spend("hcv_test_and_treat", courses * LEVERS["hcv_test_and_treat"].unit_cost_eur)
        self.hcv_new = np.bincount(ms[new_hcv], minlength=N_MS) * scale
        self.hiv_new = np.bincount(ms[new_hiv], minlength=N_MS) * scale
        # tested in the last 12 months among people who inject in the community (t_test is set only for them)
        recent = (table.view("t_test") < 12) & (loc_all < PRISON)
        community = table.census()[:, :PRISON, :, 1, :].sum(axis=(1, 2, 3))
        self.tested_share = np.bincount(ms_all[np.flatnonzero(recent)], minlength=N_MS) / np.maximum(community, 1)

    def record(self, t: int, out) -> None:
        out["hiv_new_infections_pwid"][t] = self.hiv_new
        out["hcv_new_infections_pwid"][t] = self.hcv_new
        out["hcv_tested_share"][t] = self.tested_share
