"""High-risk opioid users: one numpy row per person-agent (``model.scale`` people each), vectorised.

The :class:`PersonTable` holds every person-agent's state in preallocated columns that grow geometrically
when needed. :class:`HighRiskUsers` owns it and each month

1. ages the time counters (months in state, since leaving treatment, since release, since the last HCV test);
2. adds new high-risk users escalating from the general-population cohorts of regular opioid users;
3. removes people who recover or die of other causes, and ends treatment episodes (competing risks drawn
   from one uniform per person);
4. lets out-of-treatment users seek treatment (outreach and stigma reduction raise the rate; people diverted
   from the justice system are referred with priority) and admits them while places are free (waiting list
   otherwise): OAT places from ``oat_capacity``, other places from ``treatment_capacity``, shared with the
   general-population clients of non-OAT treatment;
5. writes the high-risk users' demand into ``state.demand_kg``.

The harms components (prison, overdose, infections) then update the same rows. Every flow in or out is logged
in the table (``entered``, ``recovered``, ``died_other``, ``died_overdose``), so people are conserved:
alive(t) - alive(t-1) = entered - recovered - died_other - died_overdose, every month.

Random numbers are counter-based (:meth:`PersonTable.uniforms`): a hash of the person's id, the purpose, the
month and a key drawn from the component's stream, so a person gets the same uniform in every scenario with the
same seed and two scenarios differ only where their levers act (common random numbers).
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS, SUBSTANCE_INDEX
from ..levers import LEVERS
from . import baseline

OUT, OAT, TREAT, PRISON, DEAD = 0, 1, 2, 3, 4
N_LOC = 5
NEVER = 999  # "months since" value for events that never happened
HCV_SUSCEPTIBLE, HCV_UNDIAGNOSED, HCV_DIAGNOSED, HCV_CURED = 0, 1, 2, 3
HEROIN, SYNTHETIC = SUBSTANCE_INDEX["heroin"], SUBSTANCE_INDEX["synthetic_opioids"]

_COLUMNS = {
    "id": np.uint64, "ms": np.int64, "male": bool, "synthetic": bool, "inject": bool, "loc": np.int8,
    "t_state": np.int16, "t_exit": np.int16, "t_release": np.int16, "t_test": np.int16,
    "prison_oat": bool, "release_kit": bool, "referred": bool,
    "hcv": np.int8, "hiv": bool, "u_naloxone": np.float32, "u_prison_oat": np.float32, "u_prefer_oat": np.float32,
    "rng": np.uint32,
    "group": np.int16, "code": np.intp,
}
_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective, well-mixing hash of 64-bit integers."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class PersonTable:
    """Columns of person-agents; rows ``[0, n)`` are in use. Dead rows have ``loc == DEAD`` until the table
    is compacted (when more than a quarter of the rows are dead).

    Random numbers are counter-based: :meth:`uniforms` hashes each person's permanent ``id`` with a key made
    from the run's seed, the purpose and the month, so a person gets the same uniform in every scenario run
    with the same seed, whatever the row order (common random numbers survive compaction).

    Attributes:
        scale: people per row.
        n: rows in use.
        entered, recovered, died_other, died_overdose, alive_end: agents per month (the conservation log).
    """

    def __init__(self, capacity: int, scale: float, n_months: int, seed_key: int):
        self.scale = scale
        self.n = 0
        self.next_id = 0
        self.seed_key = np.uint64(seed_key)
        self.capacity = max(int(capacity), 16)
        for name, dtype in _COLUMNS.items():
            setattr(self, name, np.zeros(self.capacity, dtype=dtype))
        self.entered = np.zeros(n_months, dtype=np.int64)
        self.recovered = np.zeros(n_months, dtype=np.int64)
        self.died_other = np.zeros(n_months, dtype=np.int64)
        self.died_overdose = np.zeros(n_months, dtype=np.int64)
        self.alive_end = np.zeros(n_months, dtype=np.int64)
        self.initial_alive = 0
        self.entered_ms = np.zeros(N_MS)
        """Agents entering this month per Member State (demand.users writes)."""
        self.released_ms = np.zeros(N_MS)
        """Agents released from prison this month per Member State (harms.prison writes)."""
        self.release_kits_ms = np.zeros(N_MS)
        """Agents given a naloxone kit at release this month per Member State (harms.prison writes)."""
        self._counts: np.ndarray | None = None
        self._flat: np.ndarray | None = None
        """Rows per group code, kept current by add/set_groups/move (None: recount at the next census)."""
        self._scratch = np.empty(0, dtype=np.uint32)

    def _grow(self, needed: int) -> None:
        new = max(needed, int(self.capacity * 1.5))
        for name in _COLUMNS:
            old = getattr(self, name)
            col = np.zeros(new, dtype=old.dtype)
            col[: self.n] = old[: self.n]
            setattr(self, name, col)
        self.capacity = new

    def compact(self) -> None:
        """Drop dead rows if they are more than a quarter of the table (keeps the living in order)."""
        n = self.n
        if int(self.census()[:, DEAD].sum()) <= n // 4:  # the census knows the dead: no pass over the rows
            return
        keep = np.flatnonzero(self.loc[:n] != DEAD)
        for name in _COLUMNS:
            col = getattr(self, name)
            col[: keep.size] = col[keep]
        self.n = keep.size
        self._flat = None
        self._counts = None

    def add(self, k: int) -> slice:
        """Append ``k`` rows (alive, out of treatment, nothing happened yet); return their slice."""
        if self.n + k > self.capacity:
            self._grow(self.n + k)
        rows = slice(self.n, self.n + k)
        self.id[rows] = np.arange(self.next_id, self.next_id + k, dtype=np.uint64)
        with np.errstate(over="ignore"):
            self.rng[rows] = (_mix(self.id[rows] * _GOLDEN + self.seed_key) >> np.uint64(32)).astype(np.uint32) | np.uint32(1)
        self.next_id += k
        self.loc[rows] = OUT
        self.t_state[rows] = 0
        for col in ("t_exit", "t_release", "t_test"):
            getattr(self, col)[rows] = NEVER
        for col in ("prison_oat", "release_kit", "referred", "hiv"):
            getattr(self, col)[rows] = False
        self.hcv[rows] = HCV_SUSCEPTIBLE
        self.code[rows] = 0  # group code 0 until set_groups assigns the row's group (the census counts it meanwhile)
        if self._flat is not None:
            self._flat[0] += k
        self.n += k
        self._counts = None
        return rows

    def changed(self) -> None:
        """Call after changing ``loc`` or ``synthetic`` of rows directly (recomputes every code and the counts)."""
        n = self.n
        self.code[:n] = (self.group[:n].astype(np.intp) * N_LOC + self.loc[:n]) * 2 + self.synthetic[:n]
        self._flat = None
        self._counts = None

    def view(self, name: str) -> np.ndarray:
        """Column ``name`` over the rows in use (a view, writable)."""
        return getattr(self, name)[: self.n]

    def set_groups(self, rows: slice) -> None:
        """Fix the permanent part of the group code, ((ms x 2 + male) x 2 + inject), for new rows."""
        self.group[rows] = (self.ms[rows] * 2 + self.male[rows]) * 2 + self.inject[rows]
        old = self.code[rows].copy()
        self.code[rows] = (self.group[rows].astype(np.intp) * N_LOC + self.loc[rows]) * 2 + self.synthetic[rows]
        self._recode(old, self.code[rows])

    def move(self, rows: np.ndarray, loc: int) -> None:
        """Put ``rows`` (distinct row indices) in place ``loc`` (OUT, OAT, TREAT, PRISON or DEAD), keeping codes
        and the census current."""
        self.loc[rows] = loc
        old = self.code[rows].copy()  # (a view if rows is a slice)
        new = (self.group[rows].astype(np.intp) * N_LOC + loc) * 2 + self.synthetic[rows]
        self.code[rows] = new
        self._recode(old, new)

    def _recode(self, old: np.ndarray, new: np.ndarray) -> None:
        """Update the census for rows whose code went from ``old`` to ``new`` (two small bincounts instead of a
        recount of the whole table, which several components would otherwise redo every month)."""
        if self._flat is not None and old.size:
            self._flat -= np.bincount(old, minlength=self._flat.size)
            self._flat += np.bincount(new, minlength=self._flat.size)
        self._counts = None

    def code_view(self) -> np.ndarray:
        """Group code per row: (group x 5 + loc) x 2 + synthetic, i.e. [ms, male, inject, loc, synthetic].

        Kept current by :meth:`move` and :meth:`set_groups`; :meth:`changed` recomputes it for all rows.
        """
        return self.code[: self.n]

    def census(self) -> np.ndarray:
        """Agents per [member_state, loc, male, inject, synthetic] (a fresh array, safe to keep).

        One bincount of the codes, then kept current by :meth:`add`, :meth:`set_groups` and :meth:`move`
        (only the rows that change are counted); recounted after :meth:`changed` or :meth:`compact`.
        """
        if self._counts is None:
            if self._flat is None:
                self._flat = np.bincount(self.code[: self.n], minlength=N_MS * 4 * N_LOC * 2)
            c = self._flat.reshape(N_MS, 2, 2, N_LOC, 2)
            self._counts = c.transpose(0, 3, 1, 2, 4).copy()
        return self._counts

    def counts(self) -> np.ndarray:
        """Agents per [member_state, loc]."""
        return self.census().sum(axis=(2, 3, 4))

    def people(self, loc: int | None = None) -> np.ndarray:
        """People (agents x scale) per Member State, alive (``loc=None``) or in one place."""
        c = self.counts()
        return (c[:, :DEAD].sum(axis=1) if loc is None else c[:, loc]) * self.scale

    def bincount(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """People per Member State among rows where ``mask`` (over rows in use) is true."""
        ms = self.ms[: self.n][mask]
        w = None if weights is None else weights[mask]
        return np.bincount(ms, weights=w, minlength=N_MS).astype(float) * self.scale

    def count_by_ms(self) -> np.ndarray:
        return self.people()

    def alive_count(self) -> int:
        return int(self.counts()[:, :DEAD].sum())

    def pwid_by_ms(self) -> np.ndarray:
        """People who inject, living in the community (not in prison)."""
        return self.census()[:, :PRISON, :, 1, :].sum(axis=(1, 2, 3)) * self.scale

    def out_of_treatment_by_ms(self) -> np.ndarray:
        return self.people(OUT)

    def uniforms(self, purpose: str, t: int, n_streams: int = 1) -> np.ndarray:
        """Uniforms on [0, 1) per row in use, float32, shape (n,) or (n_streams, n).

        Each person carries their own xorshift32 generator (seeded from the run's key and their id), advanced
        once per uniform. Every component asks for the same uniforms every month whatever the levers, so a
        person's draws are the same in every scenario run with the same seed (common random numbers), and they
        move with the person when the table is compacted. ``purpose`` and ``t`` document the call.
        """
        x = self.rng[: self.n]
        out = np.empty((n_streams, self.n), dtype=np.float32)
        if self._scratch.size < self.capacity:
            self._scratch = np.empty(self.capacity, dtype=np.uint32)
        tmp = self._scratch[: self.n]  # the shifted copies go here: no temporary arrays per step
        for j in range(n_streams):
            np.left_shift(x, 13, out=tmp)
            x ^= tmp
            np.right_shift(x, 17, out=tmp)
            x ^= tmp
            np.left_shift(x, 5, out=tmp)
            x ^= tmp
            np.right_shift(x, 8, out=tmp)
            # a 24-bit integer times 2**-24 is exact in float32 (computed in float64, stored without rounding)
            np.multiply(tmp, np.float32(1.0 / 16777216.0), out=out[j], casting="unsafe")
        return out[0] if n_streams == 1 else out


def _start_treatment_shares(p, oat_places: np.ndarray, treatment_places: np.ndarray) -> np.ndarray:
    """Where high-risk users are at the start: in OAT, in other treatment, or out of treatment.

    The preference for OAT is permanent, so the two groups settle separately. People who prefer OAT seek it at
    ``seek_treatment_per_month`` and leave it at the exit, recovery and other-cause death rates; the balance of those
    two flows is their share in OAT, unless the places (filled to the initial occupancy) are fewer. The same holds
    for the others and non-OAT treatment episodes. The general-population clients fill the treatment places left.

    Returns:
        Shares of the preferring and non-preferring people, [member state, (OAT, other treatment)].
    """
    seek = p["users.seek_treatment_per_month"]
    leave_oat = p["users.oat_exit_per_month"] + p["users.recovery_per_month"] + p["users.other_mortality_per_month"]
    leave_treatment = (1.0 / p["users.treatment_episode_months"] + p["users.other_mortality_per_month"]
                       + p["users.recovery_per_month"] * p["users.recovery_rr_other_treatment"])
    prefer = p["users.oat_preference"]
    users = baseline.HIGH_RISK_OPIOID_USERS
    occupancy = p["users.initial_occupancy"]
    oat_room = np.clip(oat_places * occupancy / users, 0, 1) / max(prefer, 1e-9)
    treatment_room = np.clip(treatment_places * occupancy / users, 0, 1) / max(1 - prefer, 1e-9)
    return np.stack([np.minimum(seek / (seek + leave_oat), oat_room),
                     np.minimum(seek / (seek + leave_treatment), treatment_room)], axis=1)


class HighRiskUsers(Component):
    """High-risk opioid users as person-agents: entry, treatment, recovery, other-cause death, demand."""

    name = "users"
    parameters = (
        "users.male_share", "users.synthetic_share", "users.injecting_share", "users.hcv_chronic_share_pwid",
        "users.hcv_chronic_share_new_injectors", "users.hcv_cured_share_pwid", "users.hiv_prevalence_pwid",
        "users.recovery_per_month", "users.recovery_rr_other_treatment", "users.other_mortality_per_month",
        "users.oat_exit_per_month", "users.treatment_episode_months", "users.seek_treatment_per_month",
        "users.oat_preference", "users.outreach_effect", "users.stigma_effect",
        "users.initial_occupancy", "users.previously_treated_share", "users.previously_imprisoned_share",
        "users.substitution_per_month", "users.cohort_seek_treatment_per_month",
        "users.oat_use_factor", "users.treatment_use_factor", "users.prison_use_factor",
        "population.grams_per_month_regular.heroin", "population.grams_per_month_regular.synthetic_opioids",
        "population.male_share_of_users",
    )
    levers = ("oat_capacity", "treatment_capacity", "outreach", "stigma_reduction")
    fills = ("high_risk_opioid_users", "people_who_inject", "oat_clients", "oat_entrants", "treatment_clients",
             "treatment_entrants", "oat_coverage", "sdg_3_5_treatment_coverage")

    def __init__(self, model, params):
        super().__init__(model, params)
        p = self.params
        scale = model.scale
        agents = np.round(baseline.HIGH_RISK_OPIOID_USERS / scale).astype(int)
        total = int(agents.sum())
        rng = self.rng
        table = PersonTable(int(total * 1.3) + 64, scale, len(model.months), int(rng.integers(2**63)))
        self.table = table
        rows = table.add(total)
        table.initial_alive = total
        table.ms[rows] = np.repeat(np.arange(N_MS), agents)
        self._init_people(rows, total, rng, start=True)
        sv = model.state.services
        # Treatment at the start: everyone is where the monthly flows would keep them, so the first years do not
        # drift towards the model's own balance (and the overdose hazard, scaled on the first month, stays right).
        share = _start_treatment_shares(p, sv["oat_places"], sv["treatment_places"])  # [ms, (OAT, TREAT)]
        prefers_oat = table.u_prefer_oat[rows] < p["users.oat_preference"]
        ms = table.ms[rows]
        u = rng.random(total)
        in_oat = prefers_oat & (u < share[ms, 0])
        in_treatment = ~prefers_oat & (u < share[ms, 1])
        table.loc[rows] = np.where(in_oat, OAT, np.where(in_treatment, TREAT, OUT))
        table.t_state[rows] = (rng.random(total) * 60).astype(np.int16)
        # Some of those out of treatment were treated or imprisoned before (spread over the previous years).
        out = np.flatnonzero(table.loc[: table.n] == OUT)
        tx = rng.random(out.size) < p["users.previously_treated_share"]
        table.t_exit[out[tx]] = (1 + rng.random(int(tx.sum())) * 119).astype(np.int16)
        pr = rng.random(out.size) < p["users.previously_imprisoned_share"]
        table.t_release[out[pr]] = (1 + rng.random(int(pr.sum())) * 59).astype(np.int16)
        table.changed()
        model.state.people = table

        # Entries balance the expected exits at the start (recovery, other deaths, opioid-induced deaths).
        opioid_deaths_rate = baseline.DRUG_INDUCED_DEATHS / 12 / baseline.HIGH_RISK_OPIOID_USERS * 0.75
        self.entry_rate = p["users.recovery_per_month"] + p["users.other_mortality_per_month"] + opioid_deaths_rate
        self.regular_opioid0 = model.state.regular_users[:, [HEROIN, SYNTHETIC]].sum(axis=1).copy()
        self.entry_carry = np.zeros(N_MS)
        self.outreach0 = np.asarray(model.lever("outreach"), dtype=float)
        self.stigma0 = np.asarray(model.lever("stigma_reduction"), dtype=float)

        # General-population clients of non-OAT treatment, [ms, sex], people.
        free = np.maximum(sv["treatment_places"] * p["users.initial_occupancy"] - table.people(TREAT), 0)
        male = p["population.male_share_of_users"]
        self.cohort_clients = free[:, None] * np.array([1 - male, male])[None, :]
        self.waiting = np.zeros(N_MS)
        self.oat_entries = np.zeros(N_MS)
        self.treatment_entries = np.zeros(N_MS)
        self.cohort_entries = np.zeros(N_MS)
        self.treatment_entries_log = np.zeros(len(model.months))
        """People starting a treatment episode (OAT or other, high-risk users and cohort clients) per month."""
        self._add_demand()

    # ------------------------------------------------------------------ helpers

    def _init_people(self, rows: slice, k: int, rng: np.random.Generator, start: bool) -> None:
        p, table = self.params, self.table
        u = rng.random((6, k), dtype=np.float32)
        table.male[rows] = u[0] < p["users.male_share"]
        table.synthetic[rows] = u[1] < p["users.synthetic_share"]
        table.inject[rows] = u[2] < p["users.injecting_share"]
        chronic = p["users.hcv_chronic_share_pwid"] if start else p["users.hcv_chronic_share_new_injectors"]
        cured = p["users.hcv_cured_share_pwid"] if start else 0.0
        hcv = np.where(u[3] < chronic, HCV_UNDIAGNOSED, np.where(u[3] < chronic + cured, HCV_CURED, HCV_SUSCEPTIBLE))
        table.hcv[rows] = np.where(table.inject[rows], hcv, HCV_SUSCEPTIBLE).astype(np.int8)
        table.set_groups(rows)
        if start:
            table.hiv[rows] = table.inject[rows] & (u[4] < p["users.hiv_prevalence_pwid"])
        table.u_naloxone[rows] = u[5]
        table.u_prison_oat[rows] = rng.random(k, dtype=np.float32)
        table.u_prefer_oat[rows] = rng.random(k, dtype=np.float32)

    def _non_opioid_regular(self) -> np.ndarray:
        reg = self.model.state.regular_users.copy()
        reg[:, [HEROIN, SYNTHETIC]] = 0
        return reg.sum(axis=1)

    def _add_demand(self) -> None:
        """Add the high-risk users' street grams to ``state.demand_kg`` (the cohorts wrote theirs first)."""
        p, table = self.params, self.table
        factor = np.array([1.0, p["users.oat_use_factor"], p["users.treatment_use_factor"], p["users.prison_use_factor"], 0.0])
        c = table.census().sum(axis=(2, 3))  # [ms, loc, synthetic]
        agents = np.einsum("mls,l->ms", c, factor) * table.scale
        demand = self.model.state.demand_kg.copy()
        demand[:, HEROIN] += agents[:, 0] * p["population.grams_per_month_regular.heroin"] / 1000.0
        demand[:, SYNTHETIC] += agents[:, 1] * p["population.grams_per_month_regular.synthetic_opioids"] / 1000.0
        self.model.state.demand_kg = demand

    # ------------------------------------------------------------------ the month

    def step(self, t: int) -> None:
        model, p, table = self.model, self.params, self.table
        sv = model.state.services
        table.compact()
        # 1. time passes
        # (never-happened events start at NEVER = 999; 999 + the months of any horizon stays far below the
        # int16 limit, and every rule compares with small numbers, so no cap is needed)
        for col in ("t_state", "t_exit", "t_release", "t_test"):
            c = table.view(col)
            np.add(c, 1, out=c)

        # 2. recovery, other-cause death, end of treatment episodes, heroin -> synthetic substitution
        #    (competing risks drawn from one uniform per person; only the few with an event are touched)
        u = table.uniforms("life", t)
        loc = table.view("loc")
        p_die = np.array([1, 1, 1, 1, 0], dtype=float) * p["users.other_mortality_per_month"]
        rec = p["users.recovery_per_month"]
        p_rec = np.array([rec, rec, rec * p["users.recovery_rr_other_treatment"], 0.0, 0.0])
        p_exit = np.array([0.0, p["users.oat_exit_per_month"], 1.0 / p["users.treatment_episode_months"], 0.0, 0.0])
        c1, c2 = p_die, p_die + p_rec
        c3 = (c2 + p_exit).astype(np.float32)
        idx = np.flatnonzero(u < c3[loc])
        e_loc, e_u = loc[idx], u[idx]
        die = idx[e_u < c1[e_loc]]
        recover = idx[(e_u >= c1[e_loc]) & (e_u < c2[e_loc])]
        leave = idx[e_u >= c2[e_loc]]
        shortage = np.clip(1 - model.state.availability[:, HEROIN], 0, 1) * p["users.substitution_per_month"]
        if shortage.max() > 0:
            ms = table.view("ms")
            switch = (loc < DEAD) & ~table.view("synthetic") & (1 - u < shortage[ms])
            table.view("synthetic")[switch] = True
            table.changed()
        table.move(leave, OUT)
        table.t_exit[leave] = 0
        table.t_state[leave] = 0
        table.move(die, DEAD)
        table.move(recover, DEAD)
        table.died_other[t] = die.size
        table.recovered[t] = recover.size

        # 3. new high-risk users from the cohorts' regular opioid users
        regular = model.state.regular_users[:, [HEROIN, SYNTHETIC]].sum(axis=1)
        growth = np.where(self.regular_opioid0 > 0, regular / np.maximum(self.regular_opioid0, 1e-9), 1.0)
        expected = self.entry_rate * baseline.HIGH_RISK_OPIOID_USERS * growth / table.scale + self.entry_carry
        k_ms = np.floor(expected).astype(int)
        self.entry_carry = expected - k_ms
        k = int(k_ms.sum())
        if k:
            rows = table.add(k)
            table.ms[rows] = np.repeat(np.arange(N_MS), k_ms)
            self._init_people(rows, k, model.stream(f"users.entry:{t}"), start=False)
        table.entered[t] = k
        table.entered_ms = k_ms.astype(float)

        # 4. treatment seeking and admission, limited by places
        self._admit(t, sv)
        self._cohort_treatment(sv)
        model.spend("oat_capacity", table.people(OAT) * LEVERS["oat_capacity"].unit_cost_eur / 12.0)
        self._add_demand()

    def _admit(self, t: int, sv: dict) -> None:
        """Out-of-treatment users seek treatment; places go first to people referred by the justice system."""
        p, table = self.params, self.table
        loc_all = table.view("loc")
        u = table.uniforms("seek", t)
        mult = ((1 + p["users.outreach_effect"] * (sv["outreach"] - self.outreach0))
                * (1 + p["users.stigma_effect"] * (sv["stigma_reduction"] - self.stigma0)))
        p_seek_ms = np.maximum(p["users.seek_treatment_per_month"] * mult, 1e-9).astype(np.float32)
        # candidates: out of treatment and either referred or below the highest seeking probability
        cand = np.flatnonzero((loc_all == OUT) & ((u < p_seek_ms.max()) | table.view("referred")))
        ms = table.ms[cand]
        p_seek = p_seek_ms[ms]
        u0 = u[cand]
        referred = table.referred[cand]
        seek = referred | (u0 < p_seek)
        cand, ms, p_seek, u0, referred = cand[seek], ms[seek], p_seek[seek], u0[seek], referred[seek]
        wants_oat = table.u_prefer_oat[cand] < p["users.oat_preference"]  # a permanent preference
        # Among seekers, u0 / p_seek is again uniform on [0, 1): it is the place in the queue.
        rank = np.where(referred, u0, u0 / p_seek)
        self.waiting = np.zeros(N_MS)
        counts = table.counts()
        free_oat = np.maximum(sv["oat_places"] / table.scale - counts[:, OAT], 0)
        free_tx = np.maximum((sv["treatment_places"] - self.cohort_clients.sum(axis=1)) / table.scale - counts[:, TREAT], 0)
        for kind, want, free in ((OAT, wants_oat, free_oat), (TREAT, ~wants_oat, free_tx)):
            s_ref = want & referred
            s_oth = want & ~referred
            n_ref = np.bincount(ms[s_ref], minlength=N_MS)
            n_oth = np.bincount(ms[s_oth], minlength=N_MS)
            acc_ref = np.minimum(1.0, free / np.maximum(n_ref, 1))
            acc_oth = np.minimum(1.0, np.maximum(free - n_ref, 0) / np.maximum(n_oth, 1))
            admit = (s_ref & (rank < acc_ref[ms])) | (s_oth & (rank < acc_oth[ms]))
            rows = cand[admit]
            table.move(rows, kind)
            table.t_state[rows] = 0
            table.referred[rows] = False
            entries = np.bincount(ms[admit], minlength=N_MS) * table.scale
            if kind == OAT:
                self.oat_entries = entries
            else:
                self.treatment_entries = entries
            self.waiting += np.bincount(ms[want & ~admit], minlength=N_MS) * table.scale
        # referred people without a place stay referred (first in the queue next month)

    def _cohort_treatment(self, sv: dict) -> None:
        """Non-OAT treatment of general-population regular users (cannabis, cocaine, ...), in people."""
        p = self.params
        exits = self.cohort_clients / p["users.treatment_episode_months"]
        stay = self.cohort_clients - exits
        free = np.maximum(sv["treatment_places"] - self.table.people(TREAT) - stay.sum(axis=1), 0)
        seekers = (p["users.cohort_seek_treatment_per_month"] * self._non_opioid_regular()
                   * (1 + p["users.stigma_effect"] * (sv["stigma_reduction"] - self.stigma0)))
        entries = np.minimum(seekers, free)
        male = p["population.male_share_of_users"]
        self.cohort_clients = stay + entries[:, None] * np.array([1 - male, male])[None, :]
        self.cohort_entries = entries

    # ------------------------------------------------------------------ outputs

    def record(self, t: int, out) -> None:
        table = self.table
        table.alive_end[t] = table.alive_count()
        entrants = self.oat_entries + self.treatment_entries + self.cohort_entries
        self.treatment_entries_log[t] = entrants.sum()
        hrou = table.people()
        oat = table.people(OAT)
        out["high_risk_opioid_users"][t] = hrou
        out["people_who_inject"][t] = table.pwid_by_ms()
        out["oat_clients"][t] = oat
        out["oat_coverage"][t] = oat / np.maximum(hrou, 1e-9)
        by_sex = table.census()[:, [OAT, TREAT]].sum(axis=(1, 3, 4)) * table.scale  # [ms, sex]
        clients = by_sex + self.cohort_clients
        out["treatment_clients"][t] = clients
        out["treatment_entrants"][t] = entrants
        out["oat_entrants"][t] = self.oat_entries
        need = hrou.sum() + self._non_opioid_regular().sum()
        out["sdg_3_5_treatment_coverage"][t] = clients.sum() / max(need, 1e-9)
