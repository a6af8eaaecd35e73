"""Investigations: capacity-limited, targeting groups opportunistically or by threat score; arrests by role.

Each Member State opens a fixed number of organised-crime drug investigations a month (proportional to its
population). The ``hvt_investigations`` share goes to high-value targets chosen by threat score among the
groups its agencies know about; the rest follow the evidence (groups whose shipments were seized or whose
members were arrested, by exposure). Success depends on the evidence held. Arrests fall on members by role and
network position: high-value-target work reaches leaders, brokers and central members; opportunistic work
mostly distributors and logistics. Investigations with a parallel financial investigation confiscate a larger
share of the group's capital.
"""

from __future__ import annotations

import numpy as np

from ..supply.ocg import BROKER, DISTRIBUTOR, INSIDER, LEADER, LOGISTICS

ROLE_WEIGHT_HVT = np.zeros(5)
ROLE_WEIGHT_HVT[[LEADER, BROKER, LOGISTICS, INSIDER, DISTRIBUTOR]] = [1.0, 0.8, 0.4, 0.3, 0.2]
ROLE_WEIGHT_OPP = np.zeros(5)
ROLE_WEIGHT_OPP[[LEADER, BROKER, LOGISTICS, INSIDER, DISTRIBUTOR]] = [0.05, 0.15, 0.4, 0.2, 0.8]
"""Relative chance of arrest by role (assumption: the literature on network disruption, e.g. Duijn et al. 2014,
describes low-level members as the usual catch and central brokers as the HVT aim)."""


SMALL_K = 32
"""Up to this many selections per row, :func:`top_k_rows` takes maxima one by one instead of partitioning."""


def top_k_rows(keys: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-``k[row]`` columns of ``keys`` (finite keys only), vectorised over rows.

    Returns the selected column indices and their row indices, row by row, largest key first.
    """
    kmax = int(k.max()) if k.size else 0
    if kmax <= 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    kmax = min(kmax, keys.shape[1])
    if kmax <= SMALL_K:
        # a few investigations per Member State (the usual case): take the row maxima one after the other,
        # several times faster than a partition of every row (same selection and order: keys are continuous)
        n_rows = keys.shape[0]
        work = keys.copy()
        at = np.arange(n_rows)
        part = np.empty((n_rows, kmax), dtype=np.intp)
        vals = np.empty((n_rows, kmax), dtype=keys.dtype)
        for j in range(kmax):
            best = np.argmax(work, axis=1)
            part[:, j] = best
            vals[:, j] = work[at, best]
            work[at, best] = -np.inf
    else:
        part = np.argpartition(-keys, kmax - 1, axis=1)[:, :kmax]
        vals = np.take_along_axis(keys, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
    keep = (np.arange(kmax)[None, :] < k[:, None]) & np.isfinite(vals)
    rows = np.broadcast_to(np.arange(keys.shape[0])[:, None], part.shape)
    return part[keep], rows[keep]


def arrest_probability(role: np.ndarray, degree_ratio: np.ndarray, n_hvt: np.ndarray, n_opp: np.ndarray,
                       q_hvt: float, q_opp: float) -> np.ndarray:
    """Per member: chance of arrest this month from the successful investigations into their group."""
    ph = np.clip(q_hvt * ROLE_WEIGHT_HVT[role] * np.sqrt(degree_ratio), 0, 1)
    po = np.clip(q_opp * ROLE_WEIGHT_OPP[role], 0, 1)
    return 1.0 - (1.0 - ph) ** n_hvt * (1.0 - po) ** n_opp
