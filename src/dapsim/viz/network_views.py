"""The dashboard's network views: trafficking routes with flows and seizures, and the cooperation network.

Both networks belong to other parts of the model (``supply/routes.py`` builds the trafficking ``DiGraph``,
``enforcement/cooperation.py`` the cooperation ``Graph``). The dashboard finds them without depending on their
internals: first on the components of the model it just ran (any attribute that is a networkx graph), then in
those modules (a module-level graph, or a function without required arguments that returns one). When a
build has no such graph, the routes view falls back to a bar chart of the entry points and the cooperation view
says it is not available, instead of drawing something invented.

Figures are drawn with matplotlib's object API (no pyplot state), so several dashboard sessions can draw at
the same time, and returned as PNG bytes.
"""

from __future__ import annotations

import importlib
import inspect
import io

import matplotlib
import networkx as nx
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..dims import MEMBER_STATES

ENTRY_KINDS = {"container_port", "secondary_port", "hub_airport", "postal_hub", "land_border", "airport",
               "entry_point", "port", "border"}
REGION_KINDS = {"source", "transit", "region", "origin", "production"}
MARKET_KINDS = {"market", "consumer_market", "member_state", "destination"}
_ROUTE_WORDS = ("route", "trafficking", "network", "graph")
_COOP_WORDS = ("cooperation", "coop", "intel", "siena", "network", "graph")


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (deterministic for the same figure)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------------------------- finding


def _rank(name: str, words: tuple[str, ...]) -> int:
    name = name.lower()
    for i, w in enumerate(words):
        if w in name:
            return i
    return len(words)


def _graphs_on(obj, depth: int = 3, path: str = "", seen: set | None = None) -> list[tuple[str, nx.Graph]]:
    """Networkx graphs reachable from ``obj`` through attributes of dapsim objects, with their attribute paths.

    Only attributes of objects defined in dapsim (components, the shared state, the trafficking world) are
    followed, to a small depth, so the search is cheap and never walks into numpy arrays or Mesa internals.
    """
    seen = set() if seen is None else seen
    found: list[tuple[str, nx.Graph]] = []
    if id(obj) in seen:
        return found
    seen.add(id(obj))
    try:
        items = list(vars(obj).items())
    except TypeError:
        return found
    for name, value in items:
        here = f"{path}.{name}" if path else name
        if isinstance(value, nx.Graph):
            if value.number_of_nodes() > 0:
                found.append((here, value))
        elif depth > 1 and type(value).__module__.startswith("dapsim") and not isinstance(value, type):
            found.extend(_graphs_on(value, depth - 1, here, seen))
    return found


def _graphs_in_module(module_name: str) -> list[tuple[str, nx.Graph]]:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - the module may not exist yet in this build, or fail to import
        return []
    found = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, nx.Graph) and value.number_of_nodes() > 0:
            found.append((name, value))
        elif (inspect.isfunction(value) and value.__module__ == module.__name__
              and _rank(name, ("graph", "network")) < 2):
            try:
                sig = inspect.signature(value)
                if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                       for p in sig.parameters.values()):
                    continue
                result = value()
            except Exception:  # noqa: BLE001 - a builder that needs more than defaults is not ours to call
                continue
            result = getattr(result, "graph", result)  # e.g. a network object that carries its DiGraph
            if isinstance(result, nx.Graph) and result.number_of_nodes() > 0:
                found.append((name, result))
    return found


def find_graphs(model=None) -> tuple[nx.DiGraph | None, nx.Graph | None]:
    """The trafficking-route graph (directed) and the cooperation network (undirected), or None each.

    Looks at the run's components first (the graphs as the run left them), then at the modules
    ``dapsim.supply.routes`` and ``dapsim.enforcement.cooperation``.
    """
    directed: list[tuple[str, nx.Graph]] = []
    undirected: list[tuple[str, nx.Graph]] = []
    if model is not None:
        owners = [(type(c).__module__, c) for c in getattr(model, "components", [])]
        state = getattr(model, "state", None)
        if state is not None:
            owners.append(("dapsim.state", state))
        for module, owner in owners:
            for name, g in _graphs_on(owner):
                # only graphs that say what they are: an organised crime group's member network is not the
                # cooperation network, even though both are undirected graphs
                if g.is_directed() and (module.startswith("dapsim.supply") or _rank(name, _ROUTE_WORDS) < 2):
                    directed.append((name, g))
                elif not g.is_directed() and (_rank(name, _COOP_WORDS) < 4 or module.startswith("dapsim.enforcement")):
                    undirected.append((name, g))
    if not directed:
        directed = [(n, g) for n, g in _graphs_in_module("dapsim.supply.routes") if g.is_directed()]
    if not undirected:
        undirected = [(n, g) for n, g in _graphs_in_module("dapsim.enforcement.cooperation") if not g.is_directed()]
    route = min(directed, key=lambda item: _rank(item[0], _ROUTE_WORDS))[1] if directed else None
    coop = min(undirected, key=lambda item: _rank(item[0], _COOP_WORDS))[1] if undirected else None
    return route, coop


# --------------------------------------------------------------------------------------------- routes


def _years(yearly: xr.Dataset, first: int = 2021, last: int = 2025) -> list[int]:
    years = [int(y) for y in yearly["year"].values] if "year" in yearly.coords else []
    plan = [y for y in years if first <= y <= last]
    return plan or years


def entry_point_totals(yearly: xr.Dataset) -> tuple[xr.DataArray | None, xr.DataArray | None, list[int]]:
    """Mean yearly flow and seizures per entry point (kg per year, all substances), over the Plan years.

    Returns (flow, seized, years); each array is None when the run does not record it.
    """
    years = _years(yearly)
    out = []
    for var in ("entry_point_flow_kg", "entry_point_seizures_kg"):
        if var in yearly and years:
            da = yearly[var].sel(year=years)
            others = [d for d in da.dims if d not in ("entry_point",)]
            out.append(da.sum([d for d in others if d != "year"]).mean("year"))
        else:
            out.append(None)
    return out[0], out[1], years


def _label(g: nx.Graph | None, node) -> str:
    if g is not None and node in g.nodes:
        name = g.nodes[node].get("name") or g.nodes[node].get("label")
        if name:
            text = str(name).split(":")[0]
            return text if len(text) <= 28 else text[:26] + "…"
    return str(node).replace("_", " ")


def _year_span(years: list[int]) -> str:
    if not years:
        return ""
    return f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}"


def entry_point_bars(yearly: xr.Dataset, graph: nx.Graph | None = None, top: int = 15) -> bytes | None:
    """Horizontal bars: the busiest entry points, flow through each and the part seized (t per year)."""
    flow, seized, years = entry_point_totals(yearly)
    if flow is None and seized is None:
        return None
    base = flow if flow is not None else seized
    order = np.argsort(-np.nan_to_num(base.values))[:top][::-1]
    names = [str(base["entry_point"].values[i]) for i in order]
    fig = Figure(figsize=(8.5, 0.35 * len(names) + 1.6))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    if flow is not None:
        ax.barh(y, flow.values[order] / 1e3, color="#9dc3e6", label="shipped through (seized or not)")
    if seized is not None:
        ax.barh(y, seized.values[order] / 1e3, color="#c0504d", label="seized", height=0.5)
    ax.set_yticks(y, [_label(graph, n) for n in names], fontsize=8)
    ax.set_xlabel("tonnes per year (all substances, street weight)")
    ax.set_title(f"Entry points: drugs shipped and seized, yearly mean {_year_span(years)}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return png_bytes(fig)


def _layer(g: nx.Graph, node, entry_names: set[str]) -> int | None:
    declared = str(g.nodes[node].get("layer", "")).lower()
    if declared in ("region", "origin", "source"):
        return 0
    if declared in ("entry_point", "entry"):
        return 1
    if declared in ("market", "consumer_market"):
        return 2
    kind = str(g.nodes[node].get("kind", g.nodes[node].get("type", ""))).lower()
    if str(node) in entry_names or kind in ENTRY_KINDS:
        return 1
    if str(node) in MEMBER_STATES or kind in MARKET_KINDS:
        return 2
    if kind in REGION_KINDS:
        return 0
    return None


def _sort_key(g: nx.Graph, node) -> tuple:
    """Order within a column: by Member State (EU order of dims.py), then by name."""
    code = g.nodes[node].get("member_state") or g.nodes[node].get("ms")
    if code not in MEMBER_STATES:
        code = str(node) if str(node) in MEMBER_STATES else None
    return (MEMBER_STATES.index(code) if code else -1, _label(g, node).lower())


def route_layout(g: nx.DiGraph, entry_names: set[str]) -> tuple[dict, dict]:
    """Positions in three columns: origin regions, EU entry points, consumer markets.

    Nodes the graph does not label are placed by their neighbours (before an entry point: origins; after:
    markets). Returns (positions, layer per node).
    """
    layer = {n: _layer(g, n, entry_names) for n in g.nodes}
    for n in g.nodes:
        if layer[n] is None:
            succ = {layer.get(s) for s in g.successors(n)}
            pred = {layer.get(p) for p in g.predecessors(n)}
            layer[n] = 0 if (1 in succ or g.in_degree(n) == 0) else (2 if 1 in pred else 0)
    pos = {}
    for lay in (0, 1, 2):
        nodes = sorted((n for n in g.nodes if layer[n] == lay), key=lambda n: _sort_key(g, n))
        k = len(nodes)
        for i, n in enumerate(nodes):
            pos[n] = (lay, 1 - (i + 0.5) / max(k, 1))
    return pos, layer


def _by_entry(da: xr.DataArray | None) -> dict[str, float]:
    if da is None:
        return {}
    return {str(n): float(v) for n, v in zip(da["entry_point"].values, da.values)}


def _market_code(g: nx.Graph, node) -> str | None:
    code = g.nodes[node].get("member_state") or g.nodes[node].get("ms")
    if code in MEMBER_STATES:
        return str(code)
    text = str(node)
    return text if text in MEMBER_STATES else (text[-2:] if text[-2:] in MEMBER_STATES else None)


def _per_year(yearly: xr.Dataset, var: str, dim: str, years: list[int]) -> dict[str, float]:
    if var not in yearly or not years:
        return {}
    da = yearly[var].sel(year=years)
    da = da.sum([d for d in da.dims if d not in (dim, "year")]).mean("year")
    return {str(k): float(v) for k, v in zip(da[dim].values, da.values)}


def route_network(yearly: xr.Dataset, g: nx.DiGraph) -> bytes | None:
    """The trafficking network in three columns: origin regions, entry points, consumer markets.

    Entry points are sized by the tonnes shipped through them and coloured by the share seized there; markets
    are sized by the tonnes delivered to retail (when the run records it). Lines from regions are the
    trafficking channels (darker: more attractive to traffickers); of the lines from entry points to markets
    (every entry point can supply every market) only those to the entry point's own country are drawn.
    """
    flow, seized, years = entry_point_totals(yearly)
    ref = flow if flow is not None else seized
    entry_names = {str(n) for n in ref["entry_point"].values} if ref is not None else set()
    pos, layer = route_layout(g, entry_names)
    flow_of = _by_entry(flow)
    seized_of = _by_entry(seized)
    delivered = _per_year(yearly, "delivered_kg", "member_state", years)
    entries = [n for n in g.nodes if layer[n] == 1]
    fig = Figure(figsize=(12, max(7.0, 0.2 * max(len(entries), 27) + 1.8)))
    ax = fig.add_subplot()
    max_flow = max([flow_of.get(str(n), 0.0) for n in entries] + [1e-9])
    max_delivered = max(list(delivered.values()) + [1e-9])
    channel_weight: dict[tuple, float] = {}
    for u, v, d in g.edges(data=True):
        if layer[u] == 0 and layer[v] == 1:
            channel_weight[(u, v)] = channel_weight.get((u, v), 0.0) + float(d.get("weight", 1.0))
    top_weight = max(list(channel_weight.values()) + [1e-9])
    for (u, v), w in channel_weight.items():
        share = w / top_weight
        ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], color="#1f4e79", alpha=0.06 + 0.5 * share,
                lw=0.3 + 2.2 * share, zorder=1)
    for u, v, d in g.edges(data=True):
        if layer[u] == 1 and layer[v] == 2:
            home = d.get("home")
            if home is None:
                home = _market_code(g, v) == (g.nodes[u].get("member_state") or g.nodes[u].get("ms"))
            if home:
                share = flow_of.get(str(u), 0.0) / max_flow if flow_of else 0.2
                ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], color="#4f9a55",
                        alpha=0.1 + 0.5 * share, lw=0.3 + 2.0 * share, zorder=1)
    cmap = matplotlib.colormaps["YlOrRd"]
    for n in g.nodes:
        x, y = pos[n]
        if layer[n] == 1:
            f = flow_of.get(str(n), 0.0)
            s = seized_of.get(str(n), 0.0)
            share_seized = s / f if f > 0 else 0.0
            ax.scatter([x], [y], s=15 + 500 * (f / max_flow), color=cmap(min(share_seized * 3, 1.0)),
                       edgecolor="#333", lw=0.5, zorder=3)
            ax.text(x + 0.05, y, f"{_label(g, n)}  {f / 1e3:,.1f} t", fontsize=6.5, va="center", zorder=4)
        elif layer[n] == 2:
            code = _market_code(g, n) or str(n)
            size = 15 + 400 * delivered.get(code, 0.0) / max_delivered if delivered else 35
            ax.scatter([x], [y], s=size, color="#4f9a55", edgecolor="#333", lw=0.4, zorder=3)
            extra = f"  {delivered[code] / 1e3:,.0f} t" if code in delivered else ""
            ax.text(x + 0.05, y, code + extra, fontsize=7, va="center", zorder=4)
        else:
            ax.scatter([x], [y], s=40, color="#7f7f7f", zorder=3)
            ax.text(x - 0.05, y, _label(g, n), fontsize=7, va="center", ha="right", zorder=4)
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, 1 / 3))
    fig.colorbar(sm, ax=ax, fraction=0.02, pad=0.01, label="share of the flow seized at the entry point")
    ax.set_xlim(-1.0, 2.5)
    ax.set_xticks([0, 1, 2], ["origin and transit regions", "EU entry points\n(t per year shipped through)",
                              "consumer markets\n(t per year delivered to retail)"])
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"Trafficking routes into the EU, yearly mean {_year_span(years)}: dot size = tonnes "
                 "(all substances, street weight), entry-point colour = share seized", fontsize=9.5)
    fig.tight_layout()
    return png_bytes(fig)


def routes_figure(yearly: xr.Dataset, graph: nx.DiGraph | None) -> tuple[bytes | None, str]:
    """The routes view: the network when the build has one, else the entry-point bars; with a caption."""
    has_data = "entry_point_flow_kg" in yearly or "entry_point_seizures_kg" in yearly
    if graph is not None and has_data:
        return route_network(yearly, graph), "network"
    if has_data:
        return entry_point_bars(yearly, graph), "bars"
    return None, "absent"


# --------------------------------------------------------------------------------------------- cooperation


def _agency_kind(g: nx.Graph, node) -> str:
    """What a node is: its ``kind`` attribute, else the prefix of its name (customs_BE -> customs)."""
    kind = g.nodes[node].get("kind") or g.nodes[node].get("type")
    if kind:
        return str(kind)
    text = str(node)
    if "_" in text:
        prefix = text.split("_")[0]
        return {"partner": "partner agency (third country)", "customs": "national customs",
                "police": "national police"}.get(prefix, "EU agency")
    return "EU agency"


def cooperation_figure(g: nx.Graph | None) -> bytes | None:
    """The cooperation network: agencies as dots, links as lines as thick as their information-sharing weight."""
    if g is None or g.number_of_nodes() == 0:
        return None
    pos = nx.spring_layout(g, seed=0, weight="weight")
    fig = Figure(figsize=(9, 7))
    ax = fig.add_subplot()
    weights = np.array([float(d.get("weight", 1.0)) for _, _, d in g.edges(data=True)] or [1.0])
    top = weights.max() if weights.max() > 0 else 1.0
    for (u, v, d) in g.edges(data=True):
        w = float(d.get("weight", 1.0)) / top
        ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], color="#1f4e79", alpha=0.15 + 0.6 * w,
                lw=0.3 + 2.5 * w, zorder=1)
    kind_of = {n: _agency_kind(g, n) for n in g.nodes}
    kinds = sorted(set(kind_of.values()))
    palette = ("#1f4e79", "#c0504d", "#4f9a55", "#8064a2", "#f79646", "#2c9fb0", "#7f7f7f", "#b5a642")
    colour = {k: palette[i % len(palette)] for i, k in enumerate(kinds)}
    degree = dict(g.degree(weight=None))
    dmax = max(degree.values()) or 1
    for k in kinds:
        nodes = [n for n in g.nodes if kind_of[n] == k]
        ax.scatter([pos[n][0] for n in nodes], [pos[n][1] for n in nodes],
                   s=[25 + 200 * degree[n] / dmax for n in nodes], color=colour[k], label=k.replace("_", " "),
                   edgecolor="white", lw=0.5, zorder=3)
    for n in g.nodes:
        text = _label(g, n)
        national = kind_of[n] in ("national customs", "national police") and text.split()[-1] in MEMBER_STATES
        text = text.split()[-1] if national else text.replace("partner ", "")
        big = degree[n] >= 0.5 * dmax
        ax.text(pos[n][0], pos[n][1] + 0.03, text.upper() if big else text, fontsize=8 if big else 6,
                ha="center", zorder=4, fontweight="bold" if big else "normal")
    ax.set_axis_off()
    if len(kinds) > 1:
        ax.legend(fontsize=8, loc="lower left", frameon=False)
    ax.set_title(f"Cooperation network: {g.number_of_nodes()} agencies, {g.number_of_edges()} links "
                 "(line width: information-sharing intensity; dot size: number of partners)", fontsize=9.5)
    fig.tight_layout()
    return png_bytes(fig)
