"""The dashboard's logic without a browser: sliders -> scenario, charts present or absent, networks found.

Synthetic datasets and graphs are used so these tests do not depend on what the model records today.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import xarray as xr

from dapsim.dims import MEMBER_STATES
from dapsim.levers import LEVERS
from dapsim.scenario import Scenario
from dapsim.viz import dashboard_charts as charts
from dapsim.viz.dashboard_runs import (
    DASHBOARD_LEVERS, apply_sliders, lever_default, moved_levers, scenario_files, slider_step,
)
from dapsim.viz.network_views import cooperation_figure, find_graphs, route_layout, routes_figure

PNG = b"\x89PNG"
YEARS = np.arange(2019, 2027)


def _scenario(**levers) -> Scenario:
    return Scenario.from_dict({"name": "t", "horizon": {"start": "2019-01", "end": "2026-12"}, "levers": levers})


def _yearly(deaths_scale: float = 1.0, entry: bool = False) -> xr.Dataset:
    deaths = np.full((len(YEARS), len(MEMBER_STATES), 2), 10.0) * deaths_scale
    data = {"drug_induced_deaths": (("year", "member_state", "sex"), deaths,
                                    {"units": "count per year", "aggregation": "sum"})}
    coords = {"year": YEARS, "member_state": list(MEMBER_STATES), "sex": ["female", "male"]}
    if entry:
        flow = np.zeros((len(YEARS), 3, 2))
        flow[:, 0, 0], flow[:, 1, 1], flow[:, 2, 0] = 5000.0, 2000.0, 300.0
        data["entry_point_flow_kg"] = (("year", "entry_point", "substance"), flow, {"aggregation": "sum"})
        data["entry_point_seizures_kg"] = (("year", "entry_point", "substance"), flow * 0.1, {"aggregation": "sum"})
        coords.update(entry_point=["antwerp", "rotterdam", "schiphol"], substance=["cocaine", "heroin"])
    return xr.Dataset(data, coords=coords)


def test_the_eight_dashboard_levers_exist_with_a_sensible_step():
    for key in DASHBOARD_LEVERS:
        spec = LEVERS[key]
        step = slider_step(key)
        assert 0 < step <= (spec.max - spec.min) / 50
        assert spec.min <= lever_default(key) <= spec.max


def test_scenario_files_list_the_baseline_first():
    files = scenario_files()
    assert files and files[0].name == "baseline.toml"


def test_only_moved_sliders_change_the_scenario():
    resting = {k: lever_default(k) for k in DASHBOARD_LEVERS}
    assert moved_levers(resting) == {}
    assert moved_levers({**resting, "naloxone_coverage": 0.6}) == {"naloxone_coverage": 0.6}


def test_a_slider_sets_the_target_from_its_month_with_the_lever_ramp():
    base = _scenario()
    sc = apply_sliders(base, {"naloxone_coverage": 0.6}, "2022-01")
    path = sc.lever_schedule("naloxone_coverage")
    months = sc.months
    before = np.flatnonzero(months == np.datetime64("2021-12"))[0]
    ramped = np.flatnonzero(months == np.datetime64("2022-01") + LEVERS["naloxone_coverage"].ramp_months - 1)[0]
    np.testing.assert_allclose(path[before], base.lever_schedule("naloxone_coverage")[before])
    np.testing.assert_allclose(path[ramped:], 0.6)
    assert np.all(np.diff(path[before:ramped + 1], axis=0) >= 0)  # a ramp, not a jump
    # other levers untouched
    np.testing.assert_allclose(sc.lever_schedule("oat_capacity"), base.lever_schedule("oat_capacity"))


def test_a_slider_replaces_the_files_later_change_of_the_same_lever():
    base = _scenario(naloxone_coverage={"target": 0.9, "from": "2024-01", "ramp_months": 0})
    sc = apply_sliders(base, {"naloxone_coverage": 0.3}, "2022-01")
    assert sc.lever_schedule("naloxone_coverage")[-1] == pytest.approx(np.full(27, 0.3))


def test_a_slider_month_outside_the_horizon_is_refused():
    with pytest.raises(ValueError, match="outside the horizon"):
        apply_sliders(_scenario(), {"naloxone_coverage": 0.5}, "2030-01")


def test_headline_chart_is_absent_without_data_and_changes_with_the_data():
    empty = xr.Dataset(coords={"year": YEARS})
    assert charts.headline_figure(empty, empty, "t") is None
    a = charts.headline_figure(_yearly(), _yearly(), "t")
    b = charts.headline_figure(_yearly(0.8), _yearly(), "t")
    assert a.startswith(PNG) and b.startswith(PNG) and a != b
    again = charts.headline_figure(_yearly(), _yearly(), "t")
    assert again == a  # same data, same picture: the browser test relies on it


def test_difference_table_gives_scenario_minus_baseline():
    rows = charts.difference_rows(_yearly(0.8), _yearly(), [2025])
    deaths = [r for r in rows if r["label"] == "Drug-induced deaths"]
    assert len(deaths) == 1
    assert deaths[0]["baseline"] == pytest.approx(27 * 2 * 10)
    assert deaths[0]["difference"] == pytest.approx(-0.2 * 27 * 2 * 10)
    assert "-20.0%" in charts.difference_markdown(rows)


def test_lever_chart_differs_when_a_lever_moves():
    base = _scenario()
    moved = apply_sliders(base, {"port_scanning": 0.5}, "2022-01")
    keys = charts.lever_keys(moved, base, DASHBOARD_LEVERS)
    assert keys == list(DASHBOARD_LEVERS)
    assert charts.lever_figure(moved, base, keys) != charts.lever_figure(base, base, keys)


def _route_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node("andean", layer="region", label="Andean region: coca")
    for ep, ms in (("antwerp", "BE"), ("rotterdam", "NL"), ("schiphol", "NL")):
        g.add_node(ep, layer="entry_point", member_state=ms, label=ep.title())
        g.add_edge("andean", ep, weight=1.0)
        for code in MEMBER_STATES:
            g.add_node(f"market_{code}", layer="market", member_state=code)
            g.add_edge(ep, f"market_{code}", home=(code == ms))
    return g


def test_routes_view_draws_the_network_or_bars_or_nothing():
    g = _route_graph()
    pos, layer = route_layout(g, {"antwerp", "rotterdam", "schiphol"})
    assert layer["andean"] == 0 and layer["antwerp"] == 1 and layer["market_BE"] == 2
    png, kind = routes_figure(_yearly(entry=True), g)
    assert kind == "network" and png.startswith(PNG)
    png, kind = routes_figure(_yearly(entry=True), None)
    assert kind == "bars" and png.startswith(PNG)
    assert routes_figure(_yearly(), g) == (None, "absent")


def test_cooperation_view_is_absent_without_a_graph():
    assert cooperation_figure(None) is None
    g = nx.Graph()
    g.add_edge("police_BE", "europol", weight=0.8)
    g.add_edge("customs_BE", "police_BE", weight=0.5)
    assert cooperation_figure(g).startswith(PNG)


def test_graphs_are_found_on_the_models_components():
    class Holder:  # stands in for a component of the model
        pass

    supply, enforcement = Holder(), Holder()
    supply.__class__.__module__ = "dapsim.supply.fake"
    route = _route_graph()
    coop = nx.Graph([("police_BE", "europol")])
    supply.graph = route

    class Enforcement:
        pass

    Enforcement.__module__ = "dapsim.enforcement"
    enforcement = Enforcement()
    enforcement.graph = coop

    class Model:
        components = [supply, enforcement]

    found_route, found_coop = find_graphs(Model())
    assert found_route is route and found_coop is coop
