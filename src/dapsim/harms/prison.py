"""Prison: arrest of high-risk users, diversion to alternatives, OAT inside, release with or without naloxone.

Each month every high-risk user in the community faces an arrest hazard (lower in treatment). A share of those
arrested — the ``alternatives_to_sanctions`` lever — is diverted to treatment instead of prison: they are
referred and get the next free treatment place. The others go to prison, where a share receives OAT
(``prison_oat``; a person's place in the queue is a permanent propensity, so raising the lever adds people
without reshuffling who is treated). Prisoners are released at a constant hazard; at release a share gets a
take-home naloxone kit (``prison_release_naloxone``). The weeks after release are the overdose window that
harms.overdose applies (Merrall 2010; prison OAT cuts it, Marsden 2017).

Prison population and drug use inside: people who are not high-risk opioid users make up the rest of the
prison population (a rate per inhabitant), with their own share using drugs inside.
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS
from ..levers import LEVERS
from ..memberstates import POPULATION_TOTAL
from ..demand.users import OUT, PRISON


class Prison(Component):
    """Arrest, diversion, imprisonment and release of high-risk users."""

    name = "prison"
    parameters = (
        "prison.arrest_per_month", "prison.arrest_rr_in_treatment", "prison.stay_months",
        "prison.prisoners_per_inhabitant", "prison.drug_use_inside_hru", "prison.drug_use_inside_oat_rr",
        "prison.drug_use_inside_others",
    )
    levers = ("alternatives_to_sanctions", "prison_oat", "prison_release_naloxone")
    fills = ("offenders_diverted", "prison_oat_coverage", "prison_drug_use_share")

    def __init__(self, model, params):
        super().__init__(model, params)
        table = model.state.people
        p = self.params
        # Start with the steady-state share in prison: arrests x stay / (1 + arrests x stay).
        loc = table.view("loc")
        arrest = np.where(loc == OUT, p["prison.arrest_per_month"], p["prison.arrest_per_month"] * p["prison.arrest_rr_in_treatment"])
        share = arrest * p["prison.stay_months"] / (1 + arrest * p["prison.stay_months"])
        u = self.rng.random(table.n)
        jailed = (u < share) & (loc < PRISON)
        loc[jailed] = PRISON
        table.view("t_state")[jailed] = (self.rng.random(int(jailed.sum())) * p["prison.stay_months"]).astype(np.int16)
        table.changed()
        self.diverted = np.zeros(N_MS)
        self.entries = np.zeros(N_MS)
        self.releases = np.zeros(N_MS)
        self.release_kits = np.zeros(N_MS)

    def step(self, t: int) -> None:
        model, p = self.model, self.params
        table = model.state.people
        sv = model.state.services
        loc = table.view("loc")
        ms = table.view("ms")
        u = table.uniforms("prison", t)[None, :]
        # arrests in the community and releases from prison share one uniform (disjoint groups)
        rr = p["prison.arrest_rr_in_treatment"]
        p_event = np.array([1.0, rr, rr, 0.0, 0.0]) * p["prison.arrest_per_month"]
        p_event[PRISON] = 1.0 / p["prison.stay_months"]
        idx = np.flatnonzero(u[0] < p_event[loc])
        e_loc, e_ms, e_u = loc[idx], ms[idx], u[0][idx]
        arrested = e_loc < PRISON
        # the conditional uniform u/p decides diversion, so raising the lever diverts more of the same people
        divert = arrested & (e_u / p_event[e_loc] < sv["alternatives_to_sanctions"][e_ms])
        jail = idx[arrested & ~divert]
        diverted = idx[divert]
        release = idx[~arrested]
        # among the released, u / p_release is uniform again: it decides who gets a kit
        kit = release[u[0][release] * p["prison.stay_months"] < sv["prison_release_naloxone"][ms[release]]]
        table.view("referred")[diverted] = True
        table.move(release, OUT)
        table.view("t_release")[release] = 0
        table.view("t_state")[release] = 0
        table.view("release_kit")[release] = False
        table.view("release_kit")[kit] = True
        in_tx = jail[loc[jail] != OUT]
        table.view("t_exit")[in_tx] = 0
        table.move(jail, PRISON)
        table.view("t_state")[jail] = 0
        table.view("prison_oat")[jail] = False
        # OAT inside: a permanent propensity against this month's coverage
        inside = np.flatnonzero(loc == PRISON)
        poat = table.view("u_prison_oat")[inside] < sv["prison_oat"][ms[inside]]
        table.view("prison_oat")[inside] = poat

        scale = table.scale
        count = lambda rows: np.bincount(ms[rows], minlength=N_MS) * scale  # noqa: E731
        self.diverted = count(diverted)
        self.entries = count(jail)
        self.releases = count(release)
        self.release_kits = count(kit)
        table.released_ms = self.releases / scale
        table.release_kits_ms = self.release_kits / scale
        self.prisoners = count(inside)
        self.prisoners_oat = count(inside[poat])
        model.spend("alternatives_to_sanctions", self.diverted * LEVERS["alternatives_to_sanctions"].unit_cost_eur)
        model.spend("prison_oat", self.prisoners_oat * LEVERS["prison_oat"].unit_cost_eur / 12.0)
        model.spend("prison_release_naloxone", self.release_kits * LEVERS["prison_release_naloxone"].unit_cost_eur)

    def record(self, t: int, out) -> None:
        p = self.params
        out["offenders_diverted"][t] = self.diverted
        out["prison_oat_coverage"][t] = self.prisoners_oat / np.maximum(self.prisoners, 1e-9)
        total = np.maximum(POPULATION_TOTAL * p["prison.prisoners_per_inhabitant"], self.prisoners)
        others = total - self.prisoners
        using = (self.prisoners - self.prisoners_oat) * p["prison.drug_use_inside_hru"] \
            + self.prisoners_oat * p["prison.drug_use_inside_hru"] * p["prison.drug_use_inside_oat_rr"] \
            + others * p["prison.drug_use_inside_others"]
        out["prison_drug_use_share"][t] = using / total
