"""The cooperation network: who passes intelligence to whom (networkx Graph, built once).

Edges are weighted by information-sharing intensity (0-1): customs and police of the same country, SIENA links
to Europol, Eurojust's judicial links, MAOC-N with maritime Member States, Frontex with land-border services,
bilateral links between neighbouring hubs, and partner agencies in source and transit countries linked to
Europol and MAOC-N. Intelligence from a seizure or an arrest travels along the strongest path; its strength
is the product of the edge weights, so it decays with distance. The reach matrix between Member States is
computed once at set-up (the network does not change during a run); the ``intel_sharing`` lever then scales
what each Member State sends, month by month.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from ..dims import MEMBER_STATES, MS_INDEX, N_MS
from .agencies import EU_AGENCIES, MARITIME_MS, PARTNERS

BILATERAL = (("BE", "NL"), ("NL", "DE"), ("BE", "FR"), ("ES", "PT"), ("ES", "FR"), ("FR", "IT"), ("DE", "PL"),
             ("DE", "AT"), ("IT", "SI"), ("BG", "EL"), ("HR", "SI"), ("HU", "AT"), ("DK", "SE"), ("FI", "EE"))
LAND_BORDER_MS = ("BG", "EL", "HR", "HU", "PL", "RO", "LT", "ES")


def build_cooperation_graph(w_national: float, w_siena: float, w_bilateral: float, w_eu: float) -> nx.Graph:
    """The agencies and their sharing links, weighted 0-1 (registry parameters give the weights)."""
    g = nx.Graph()
    for ms in MEMBER_STATES:
        g.add_edge(f"customs_{ms}", f"police_{ms}", weight=w_national)
        g.add_edge(f"police_{ms}", "europol", weight=w_siena)
        g.add_edge(f"customs_{ms}", "europol", weight=w_siena * 0.8)
        g.add_edge(f"police_{ms}", "eurojust", weight=w_eu * 0.8)
    for a, b in BILATERAL:
        g.add_edge(f"police_{a}", f"police_{b}", weight=w_bilateral)
        g.add_edge(f"customs_{a}", f"customs_{b}", weight=w_bilateral)
    for ms in MARITIME_MS:
        g.add_edge(f"customs_{ms}", "maoc_n", weight=w_eu)
    for ms in LAND_BORDER_MS:
        g.add_edge(f"customs_{ms}", "frontex", weight=w_eu * 0.8)
    g.add_edge("europol", "eurojust", weight=w_eu)
    g.add_edge("europol", "maoc_n", weight=w_eu)
    g.add_edge("europol", "frontex", weight=w_eu)
    for key in PARTNERS:
        g.add_edge(f"partner_{key}", "europol", weight=w_eu)
        g.add_edge(f"partner_{key}", "maoc_n", weight=w_eu * 0.8)
    assert all(a in g for a in EU_AGENCIES)
    return g


def reach_matrices(g: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
    """Strongest-path reach between Member States (27 x 27, zero diagonal) and from partners to each MS (27,).

    Reach from agency a to b is the maximum over paths of the product of edge weights (a shortest path on
    ``-log(weight)``); a Member State's reach is the best over its customs and police.
    """
    h = nx.Graph()
    for a, b, d in g.edges(data=True):
        h.add_edge(a, b, cost=-math.log(max(d["weight"], 1e-9)))
    dist = dict(nx.all_pairs_dijkstra_path_length(h, weight="cost"))
    reach = np.zeros((N_MS, N_MS))
    for a in MEMBER_STATES:
        for b in MEMBER_STATES:
            if a == b:
                continue
            best = max(dist[f"{x}_{a}"].get(f"{y}_{b}", math.inf) * -1 for x in ("customs", "police")
                       for y in ("customs", "police"))
            reach[MS_INDEX[a], MS_INDEX[b]] = math.exp(best)
    partner = np.zeros(N_MS)
    for b in MEMBER_STATES:
        best = max(-dist[f"partner_{k}"].get(f"{y}_{b}", math.inf) for k in PARTNERS for y in ("customs", "police"))
        partner[MS_INDEX[b]] = math.exp(best)
    return reach, partner
