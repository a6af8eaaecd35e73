"""Reference implementation of the high-risk users' monthly rules with one Mesa agent object per person.

This is the plain agent-based way of writing :class:`dapsim.demand.users.HighRiskUsers`: every person is a
``mesa.Agent`` with its own attributes and its own random generator, and each month every agent runs the
rules in Python. It exists only so that ``bench_users.py`` can compare the vectorised component against it;
it is not part of the package.

Same rules, same random draws:

* each agent carries the same per-person xorshift32 generator as its row in the person table
  (:meth:`dapsim.demand.users.PersonTable.uniforms`), seeded in the same way from the run's key and the
  person's permanent id, and advances it once per draw in the same order ("life", then "seek");
* the thresholds are compared at the same precision as the vectorised code (float32 where it uses float32:
  the uniforms, the seeking probability and the queue rank; float64 elsewhere), so both give the *same*
  people the same events, and the counts after any number of months are identical, not only statistically
  equal (``bench_users.py`` checks this);
* new users draw their attributes from the same component sub-stream (``users.entry:<month>``), in the same
  order (one block of draws per month, handed out agent by agent);
* aggregate rules that are not about persons (entries per Member State, the general-population clients of
  non-OAT treatment) use the component's own arithmetic on per-country numbers.

The reference is driven by the real model: each month the general population and the services step first
(in ``bench_users.py``) and the reference reads the same shared state (services, regular users, availability)
and parameters as the real component.
"""

from __future__ import annotations

import struct

import mesa
import numpy as np

from dapsim.demand import baseline
from dapsim.demand.users import DEAD, HEROIN, NEVER, OAT, OUT, SYNTHETIC, TREAT, HCV_CURED, HCV_SUSCEPTIBLE, \
    HCV_UNDIAGNOSED, HighRiskUsers
from dapsim.dims import N_MS

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
_M1, _M2, _GOLDEN = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x9E3779B97F4A7C15
_F32 = struct.Struct("f")


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (what numpy does when it stores a float32 result)."""
    return _F32.unpack(_F32.pack(x))[0]


def _mix(z: int) -> int:
    """splitmix64 finaliser, on Python ints (same as dapsim.demand.users._mix)."""
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def person_seed(pid: int, seed_key: int) -> int:
    """The person's xorshift32 state at creation (same as PersonTable.add)."""
    return ((_mix((pid * _GOLDEN + seed_key) & MASK64) >> 32) & MASK32) | 1


class UserAgent(mesa.Agent):
    """One high-risk opioid user (standing for ``model.scale`` people), with their own generator."""

    __slots__ = ()

    def __init__(self, model: "ReferenceUsers", pid: int, ms: int, male: bool, synthetic: bool, inject: bool,
                 loc: int, t_state: int, t_exit: int, t_release: int, t_test: int, referred: bool,
                 hcv: int, hiv: bool, u_prefer_oat: float, rng_state: int):
        super().__init__(model)
        self.pid = pid
        self.ms = ms
        self.male = male
        self.synthetic = synthetic
        self.inject = inject
        self.loc = loc
        self.t_state = t_state
        self.t_exit = t_exit
        self.t_release = t_release
        self.t_test = t_test
        self.referred = referred
        self.hcv = hcv
        self.hiv = hiv
        self.u_prefer_oat = u_prefer_oat
        self.rng_state = rng_state

    def uniform(self) -> float:
        """The next uniform of this person's xorshift32 generator (float32 value on [0, 1))."""
        x = self.rng_state
        x ^= (x << 13) & MASK32
        x ^= x >> 17
        x ^= (x << 5) & MASK32
        self.rng_state = x
        return (x >> 8) / 16777216.0  # exact: a 24-bit integer times 2**-24 is a float32

    def live_month(self) -> None:
        """Time passes; recovery, other-cause death or the end of a treatment episode (one uniform);
        heroin users switch to synthetic opioids in a heroin shortage."""
        m = self.model
        self.t_state += 1
        self.t_exit += 1
        self.t_release += 1
        self.t_test += 1
        u = self.uniform()
        loc = self.loc
        if not self.synthetic and 1.0 - u < m.shortage[self.ms]:
            self.synthetic = True
        if u < m.c3[loc]:
            if u < m.c1[loc]:
                self.loc = DEAD
                m.died_other += 1
            elif u < m.c2[loc]:
                self.loc = DEAD
                m.recovered += 1
            else:
                self.loc = OUT
                self.t_exit = 0
                self.t_state = 0

    def seek_treatment(self) -> None:
        """Out of treatment: seek a place (referred people always do); join the queue for OAT or other."""
        m = self.model
        u = self.uniform()
        if self.loc != OUT:
            return
        p_seek = m.p_seek[self.ms]
        if self.referred or u < p_seek:
            kind = OAT if self.u_prefer_oat < m.oat_preference else TREAT
            rank = u if self.referred else f32(u / p_seek)
            m.queue.append((self, kind, rank))


class ReferenceUsers(mesa.Model):
    """The high-risk users of one run as Mesa agents, built from the real component right after set-up.

    Args:
        model: the real ``ActionPlanModel`` (its shared state and random streams are the inputs).
        users: its ``HighRiskUsers`` component (copied person by person at construction).
    """

    def __init__(self, model, users: HighRiskUsers):
        super().__init__(rng=0)
        self.real = model
        self.p = users.params
        table = users.table
        self.scale = table.scale
        self.seed_key = int(table.seed_key)
        self.next_id = table.next_id
        cols = {c: table.view(c).tolist() for c in ("id", "ms", "male", "synthetic", "inject", "loc", "t_state",
                                                    "t_exit", "t_release", "t_test", "referred", "hcv", "hiv",
                                                    "u_prefer_oat", "rng")}
        for i in range(table.n):
            if cols["loc"][i] == DEAD:
                continue
            UserAgent(self, cols["id"][i], cols["ms"][i], cols["male"][i], cols["synthetic"][i], cols["inject"][i],
                      cols["loc"][i], cols["t_state"][i], cols["t_exit"][i], cols["t_release"][i], cols["t_test"][i],
                      cols["referred"][i], cols["hcv"][i], cols["hiv"][i], cols["u_prefer_oat"][i], cols["rng"][i])
        # aggregate state of the component (per Member State), copied as it is after set-up
        self.entry_rate = users.entry_rate
        self.regular_opioid0 = users.regular_opioid0.copy()
        self.entry_carry = users.entry_carry.copy()
        self.outreach0 = users.outreach0.copy()
        self.stigma0 = users.stigma0.copy()
        self.cohort_clients = users.cohort_clients.copy()
        self.oat_preference = f32(self.p["users.oat_preference"])
        self.census = np.zeros((N_MS, 5, 2, 2, 2), dtype=np.int64)

    # ------------------------------------------------------------------ helpers

    def _count(self) -> np.ndarray:
        """Agents per [ms, loc, male, inject, synthetic], by a pass over the agents."""
        c = np.zeros(N_MS * 5 * 8, dtype=np.int64).tolist()
        for a in self.agents:
            c[(((a.ms * 5 + a.loc) * 2 + a.male) * 2 + a.inject) * 2 + a.synthetic] += 1
        return np.array(c, dtype=np.int64).reshape(N_MS, 5, 2, 2, 2)

    def _new_users(self, k_ms: np.ndarray, t: int) -> None:
        """Add the month's new users with the component's entry draws (same sub-stream, same order)."""
        p = self.p
        k = int(k_ms.sum())
        rng = self.real.stream(f"users.entry:{t}")
        u = rng.random((6, k), dtype=np.float32).tolist()
        rng.random(k, dtype=np.float32)  # u_prison_oat (used by the prison component, not by these rules)
        prefer = rng.random(k, dtype=np.float32).tolist()
        male_share, syn_share, inj_share = (f32(p[key]) for key in ("users.male_share", "users.synthetic_share",
                                                                    "users.injecting_share"))
        chronic = f32(p["users.hcv_chronic_share_new_injectors"])
        cured = f32(p["users.hcv_chronic_share_new_injectors"] + 0.0)  # chronic + cured share (0 for new users)
        ms_of = np.repeat(np.arange(N_MS), k_ms).tolist()
        for j in range(k):
            pid = self.next_id + j
            inject = u[2][j] < inj_share
            hcv = HCV_SUSCEPTIBLE
            if inject:
                hcv = HCV_UNDIAGNOSED if u[3][j] < chronic else (HCV_CURED if u[3][j] < cured else HCV_SUSCEPTIBLE)
            UserAgent(self, pid, ms_of[j], u[0][j] < male_share, u[1][j] < syn_share, inject, OUT, 0, NEVER, NEVER,
                      NEVER, False, hcv, False, prefer[j], person_seed(pid, self.seed_key))
        self.next_id += k

    # ------------------------------------------------------------------ the month

    def step_month(self, t: int) -> None:
        """The users' rules for month ``t`` (the real model's services and population have stepped)."""
        p, st = self.p, self.real.state
        sv = st.services
        # 2. life events (thresholds as in the component: the event band in float32, the split in float64)
        p_die = np.array([1, 1, 1, 1, 0], dtype=float) * p["users.other_mortality_per_month"]
        rec = p["users.recovery_per_month"]
        p_rec = np.array([rec, rec, rec * p["users.recovery_rr_other_treatment"], 0.0, 0.0])
        p_exit = np.array([0.0, p["users.oat_exit_per_month"], 1.0 / p["users.treatment_episode_months"], 0.0, 0.0])
        self.c1, self.c2 = p_die.tolist(), (p_die + p_rec).tolist()
        self.c3 = (p_die + p_rec + p_exit).astype(np.float32).tolist()
        self.shortage = (np.clip(1 - st.availability[:, HEROIN], 0, 1) * p["users.substitution_per_month"]).tolist()
        self.died_other = self.recovered = 0
        self.agents.do("live_month")
        dead = [a for a in self.agents if a.loc == DEAD]
        for a in dead:
            a.remove()

        # 3. new users from the cohorts' regular opioid users
        regular = st.regular_users[:, [HEROIN, SYNTHETIC]].sum(axis=1)
        growth = np.where(self.regular_opioid0 > 0, regular / np.maximum(self.regular_opioid0, 1e-9), 1.0)
        expected = self.entry_rate * baseline.HIGH_RISK_OPIOID_USERS * growth / self.scale + self.entry_carry
        k_ms = np.floor(expected).astype(int)
        self.entry_carry = expected - k_ms
        if k_ms.sum():
            self._new_users(k_ms, t)
        self.entered = int(k_ms.sum())

        # 4. treatment seeking and admission while places are free
        mult = ((1 + p["users.outreach_effect"] * (sv["outreach"] - self.outreach0))
                * (1 + p["users.stigma_effect"] * (sv["stigma_reduction"] - self.stigma0)))
        self.p_seek = np.maximum(p["users.seek_treatment_per_month"] * mult, 1e-9).astype(np.float32).tolist()
        self.queue: list = []
        self.agents.do("seek_treatment")
        counts = self._count().sum(axis=(2, 3, 4))
        free = {OAT: np.maximum(sv["oat_places"] / self.scale - counts[:, OAT], 0),
                TREAT: np.maximum((sv["treatment_places"] - self.cohort_clients.sum(axis=1)) / self.scale
                                  - counts[:, TREAT], 0)}
        n_ref = {OAT: [0] * N_MS, TREAT: [0] * N_MS}
        n_oth = {OAT: [0] * N_MS, TREAT: [0] * N_MS}
        for a, kind, _ in self.queue:
            (n_ref if a.referred else n_oth)[kind][a.ms] += 1
        acc_ref, acc_oth = {}, {}
        for kind in (OAT, TREAT):
            nr, no = np.array(n_ref[kind]), np.array(n_oth[kind])
            acc_ref[kind] = np.minimum(1.0, free[kind] / np.maximum(nr, 1)).tolist()
            acc_oth[kind] = np.minimum(1.0, np.maximum(free[kind] - nr, 0) / np.maximum(no, 1)).tolist()
        entries = {OAT: [0] * N_MS, TREAT: [0] * N_MS}
        for a, kind, rank in self.queue:
            if rank < (acc_ref if a.referred else acc_oth)[kind][a.ms]:
                a.loc = kind
                a.t_state = 0
                a.referred = False
                entries[kind][a.ms] += 1
        self.oat_entries = np.array(entries[OAT]) * self.scale
        self.treatment_entries = np.array(entries[TREAT]) * self.scale

        # general-population clients of non-OAT treatment (per Member State, as in the component)
        self.census = self._count()
        people_tx = self.census[:, TREAT].sum(axis=(1, 2, 3)) * self.scale
        exits = self.cohort_clients / p["users.treatment_episode_months"]
        stay = self.cohort_clients - exits
        free_c = np.maximum(sv["treatment_places"] - people_tx - stay.sum(axis=1), 0)
        reg = st.regular_users.copy()
        reg[:, [HEROIN, SYNTHETIC]] = 0
        seekers = (p["users.cohort_seek_treatment_per_month"] * reg.sum(axis=1)
                   * (1 + p["users.stigma_effect"] * (sv["stigma_reduction"] - self.stigma0)))
        entries_c = np.minimum(seekers, free_c)
        male = p["population.male_share_of_users"]
        self.cohort_clients = stay + entries_c[:, None] * np.array([1 - male, male])[None, :]

        # demand of the high-risk users (street kg sought next month)
        factor = np.array([1.0, p["users.oat_use_factor"], p["users.treatment_use_factor"],
                           p["users.prison_use_factor"], 0.0])
        agents = np.einsum("mls,l->ms", self.census.sum(axis=(2, 3)), factor) * self.scale
        self.demand_kg = np.stack([agents[:, 0] * p["population.grams_per_month_regular.heroin"] / 1000.0,
                                   agents[:, 1] * p["population.grams_per_month_regular.synthetic_opioids"] / 1000.0],
                                  axis=1)

    def outputs(self) -> dict[str, np.ndarray]:
        """This month's outputs, as the component records them (people per Member State)."""
        c = self.census
        hrou = c[:, :DEAD].sum(axis=(1, 2, 3, 4)) * self.scale
        oat = c[:, OAT].sum(axis=(1, 2, 3)) * self.scale
        return {"high_risk_opioid_users": hrou, "people_who_inject": c[:, :3, :, 1, :].sum(axis=(1, 2, 3)) * self.scale,
                "oat_clients": oat, "oat_coverage": oat / np.maximum(hrou, 1e-9)}
