"""Organised crime groups: Mesa agents backed by numpy arrays, with member networks that never rebuild.

One agent stands for one high-threat network (Europol mapped 821 "most threatening networks" in 2024); where
volumes need it an agent stands for several real networks that share routes, which is why the default is about
800 agents although more than 5 000 groups are active in the EU. Each group has a home Member State, a primary
drug, capital, a violence propensity, use of encrypted phones, the channels it uses (``links``) with its
perceived risk of each, insiders it has corrupted at entry points, and a member network.

The member network is a hierarchy stored in fixed slots: each member has a role (leader, broker, logistics,
insider, distributor) and a *handler* (``parent``, the member it reports to). Degree (number of members a
person handles, plus one) is the network position investigators aim at. Arrests free slots; recruits fill
them and are attached to a surviving broker or the leader; orphans are rewired to the group's most central
survivor. The arrays are allocated once, so nothing is rebuilt month by month. :meth:`CrimeGroups.member_graph`
returns a networkx view of one group for inspection.
"""

from __future__ import annotations

import mesa
import networkx as nx
import numpy as np

ROLES: tuple[str, ...] = ("leader", "broker", "logistics", "insider", "distributor")
LEADER, BROKER, LOGISTICS, INSIDER, DISTRIBUTOR = range(5)
MAX_MEMBERS = 64
"""Member slots per group."""


class OrganisedCrimeGroup(mesa.Agent):
    """A Mesa view of one group: its attributes live in :class:`CrimeGroups` arrays (index ``gid``)."""

    def __init__(self, model: mesa.Model, groups: "CrimeGroups", gid: int):
        super().__init__(model)
        self.groups = groups
        self.gid = gid

    @property
    def home_member_state(self) -> int:
        return int(self.groups.home[self.gid])

    @property
    def members(self) -> int:
        return int(self.groups.size()[self.gid])

    @property
    def capital_eur(self) -> float:
        return float(self.groups.capital[self.gid])

    @property
    def active(self) -> bool:
        return bool(self.groups.alive[self.gid])


class CrimeGroups:
    """All groups, their members and their channel links, as arrays.

    Args:
        n: number of groups.
        rng: the supply component's generator (used only at set-up and for monthly draws of fixed size).
        substance_share: (n_substances,) share of groups whose primary drug is each substance.
        home_weight: (n_ms,) weights for a group's home Member State.
        ch_substance, ch_weight, ch_entry_ms: channel arrays from the route network.
        links_per_group, median_members, median_capital_eur, encrypted_share, home_bias: set-up parameters.
    """

    def __init__(self, n, rng, substance_share, home_weight, ch_substance, ch_weight, ch_entry_ms,
                 links_per_group, median_members, median_capital_eur, encrypted_share, home_bias, n_entries):
        self.n = n
        self.rng = rng
        self.home = rng.choice(len(home_weight), size=n, p=home_weight / home_weight.sum())
        self.substance = rng.choice(len(substance_share), size=n, p=substance_share / substance_share.sum())
        self.capital = median_capital_eur * np.exp(rng.normal(0.0, 1.0, n))
        self.violence = rng.beta(2.0, 5.0, n)
        self.encrypted = rng.random(n) < encrypted_share
        self.alive = np.ones(n, dtype=bool)
        self.dormant_months = np.zeros(n)
        self.target_size = np.clip(np.rint(median_members * np.exp(rng.normal(0.0, 0.5, n))), 6, MAX_MEMBERS)
        # members (fixed slots)
        m = n * MAX_MEMBERS
        self.m_group = np.repeat(np.arange(n), MAX_MEMBERS)
        self.m_slot = np.tile(np.arange(MAX_MEMBERS), n)
        self.m_alive = self.m_slot < self.target_size[self.m_group]
        self.m_recruitable = (self.m_slot < self.target_size[self.m_group]) & (self.m_slot > 0)
        """Slots a recruit may fill (below the group's target size, not the leader's): fixed for the run."""
        self.m_role = np.full(m, DISTRIBUTOR)
        self.m_parent = np.full(m, -1)
        self._assign_roles(np.arange(m))
        # links: each group uses several channels of its primary drug, biased to entry points near home
        link_group, link_channel = [], []
        for g in range(n):
            cand = np.flatnonzero(ch_substance == self.substance[g])
            if cand.size == 0:
                continue
            w = ch_weight[cand] * np.where(ch_entry_ms[cand] == self.home[g], home_bias, 1.0)
            k = min(cand.size, int(links_per_group))
            pick = rng.choice(cand, size=k, replace=False, p=w / w.sum())
            link_group.extend([g] * k)
            link_channel.extend(pick.tolist())
        self.link_group = np.array(link_group, dtype=int)
        self.link_channel = np.array(link_channel, dtype=int)
        self.link_risk = np.zeros(len(self.link_group))
        self.insider = np.zeros((n, n_entries), dtype=bool)

    # ------------------------------------------------------------------ members
    def _assign_roles(self, idx: np.ndarray) -> None:
        """Give the members in ``idx`` roles by slot: slot 0 leader, 1-3 brokers, then a mix, and handlers."""
        slot = self.m_slot[idx]
        role = np.where(slot == 0, LEADER, np.where(slot <= 3, BROKER,
                        np.where(slot % 5 == 0, LOGISTICS, np.where(slot % 7 == 0, INSIDER, DISTRIBUTOR))))
        self.m_role[idx] = role
        base = idx - slot  # index of slot 0 in the group
        # brokers report to the leader; others to a broker chosen by slot (deterministic, tree-shaped)
        self.m_parent[idx] = np.where(role == LEADER, -1, np.where(role == BROKER, base, base + 1 + slot % 3))

    def size(self) -> np.ndarray:
        """Members per group."""
        return self.m_alive.reshape(self.n, MAX_MEMBERS).sum(axis=1).astype(float)

    def degree(self) -> np.ndarray:
        """Each member's degree in its group network (members it handles + its own handler tie)."""
        par = self.m_parent[self.m_alive & (self.m_parent >= 0)]
        deg = np.bincount(par, minlength=len(self.m_group)).astype(float)
        return (deg + (self.m_parent >= 0)) * self.m_alive

    def member_graph(self, gid: int) -> nx.Graph:
        """A networkx graph of one group's current members (for inspection; not used in the monthly loop)."""
        idx = np.flatnonzero((self.m_group == gid) & self.m_alive)
        g = nx.Graph()
        for i in idx:
            g.add_node(int(i), role=ROLES[self.m_role[i]])
        for i in idx:
            p = self.m_parent[i]
            if p >= 0 and self.m_alive[p]:
                g.add_edge(int(i), int(p))
        return g

    def rewire_and_recruit(self, recruit_rate: float, u: np.ndarray) -> None:
        """Promote a new leader where the leader was lost, rewire orphans and fill empty slots with recruits.

        ``u`` is one uniform per member slot (drawn every month whatever happens, for common random numbers).
        """
        alive_g = np.repeat(self.alive, MAX_MEMBERS)  # == alive[m_group]: members are stored group by group
        # promotion: a group without a live leader promotes its live member of highest degree (brokers first)
        lead_alive = self.m_alive[np.arange(self.n) * MAX_MEMBERS]
        for g in np.flatnonzero(~lead_alive & self.alive):
            base = g * MAX_MEMBERS
            cand = base + np.flatnonzero(self.m_alive[base:base + MAX_MEMBERS])
            if cand.size == 0:
                continue
            deg = self.degree_cache[cand] if self.degree_cache is not None else np.ones(cand.size)
            best = cand[np.argmax(deg + (self.m_role[cand] == BROKER))]
            # the promoted member moves into the leader slot
            self.m_alive[best] = False
            self.m_alive[base] = True
            self.m_role[base] = LEADER
            self.m_parent[base] = -1
        # orphans: handler gone -> report to the leader slot
        orphan = self.m_alive & (self.m_parent >= 0)
        orphan &= ~self.m_alive[np.maximum(self.m_parent, 0)]
        self.m_parent[orphan] = self.m_group[orphan] * MAX_MEMBERS
        # recruits fill empty slots below the target size
        empty = ~self.m_alive & self.m_recruitable & alive_g
        new = empty & (u < recruit_rate)
        idx = np.flatnonzero(new)
        if idx.size:
            self.m_alive[idx] = True
            self._assign_roles(idx)
            bad = ~self.m_alive[np.maximum(self.m_parent[idx], 0)]
            self.m_parent[idx[bad]] = self.m_group[idx[bad]] * MAX_MEMBERS

    degree_cache: np.ndarray | None = None

    def respawn(self, g: int, home: int, capital: float) -> None:
        """A dismantled group's niche is taken over by a successor (fragment of the old one or a rival)."""
        base = g * MAX_MEMBERS
        idx = np.arange(base, base + MAX_MEMBERS)
        self.m_alive[idx] = self.m_slot[idx] < max(6, self.target_size[g] // 2)
        self._assign_roles(idx)
        self.alive[g] = True
        self.home[g] = home
        self.capital[g] = capital
        self.dormant_months[g] = 0
        self.link_risk[self.link_group == g] *= 0.5
        self.insider[g] = False
