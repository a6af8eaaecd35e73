"""Supply side: mass balance, determinism, the route network, the groups and the cooperation network."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from dapsim.dims import MS_INDEX, SUBSTANCES
from dapsim.enforcement.cooperation import build_cooperation_graph, reach_matrices
from dapsim.supply.ocg import LEADER
from dapsim.supply.routes import ENTRY_KINDS, load_network

from dapsim import supply
from dapsim.model import ActionPlanModel

from .supply_helpers import run, scenario


@pytest.fixture(scope="module")
def baseline():
    return run(scenario())


def test_drug_mass_is_conserved_every_month(baseline):
    model, _ = baseline
    ledger = model.components[2].ledger
    assert len(ledger) == len(model.months)
    for month, e in enumerate(ledger):
        inflow = e["produced"] + e["cut_added"]
        outflow = e["seized"] + e["upstream_lost"] + e["consumed"] + e["onward"] + e["lab_exports"] + e["stock_change"]
        np.testing.assert_allclose(inflow, outflow, rtol=1e-9, atol=1e-6, err_msg=f"month {month}")
        assert np.all(e["seized"] >= 0) and np.all(e["consumed"] >= 0) and np.all(e["onward"] >= -1e-9)
    # the ledger is not trivially zero: every substance is produced and consumed
    assert all(sum(e["produced"][i] for e in ledger) > 0 for i in range(len(SUBSTANCES)))


def test_same_seed_gives_identical_output_and_another_seed_differs():
    sc = scenario(horizon={"start": "2015-01", "end": "2016-06"})
    _, a = run(sc, seed=3)
    _, b = run(sc, seed=3)
    _, c = run(sc, seed=4)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert not np.array_equal(a["seizures_kg"].values, c["seizures_kg"].values)


def test_route_network_has_the_required_entry_points_and_routes():
    net = load_network()
    kinds = [ENTRY_KINDS[k] for k in net.entry_kind]
    assert kinds.count("container_port") >= 10
    assert kinds.count("hub_airport") >= 5
    assert kinds.count("postal_hub") >= 3
    assert kinds.count("land_border") >= 4
    assert kinds.count("secondary_port") >= 5
    g = net.graph
    assert isinstance(g, nx.DiGraph)
    assert sum(1 for _, d in g.nodes(data=True) if d["layer"] == "market") == 27
    # cocaine reaches Antwerp from South America by container; heroin the Balkan land border from Turkiye
    assert g.has_edge("ecuador_brazil", "antwerp") and g["ecuador_brazil"]["antwerp"]["modality"] == "container"
    assert g["turkiye_balkans"]["kapitan_andreevo"]["modality"] == "land"
    assert g["morocco"]["andalusian_coast"]["substance"] == "cannabis"
    assert net.cocaine_manufacture_t(2020.5) > 1.8 * net.cocaine_manufacture_t(2014.5)


def test_baseline_reproduces_published_orders_of_magnitude(baseline):
    _, ds = baseline
    import dapsim
    yr = dapsim.annual(ds)
    coke = yr.seizures_kg.sel(substance="cocaine").sum("member_state") / 1000
    assert 40 < float(coke.sel(year=2016)) < 160
    assert float(coke.sel(year=2019)) > float(coke.sel(year=2016)) * 1.2
    assert 300 < float(yr.seizures_kg.sel(substance="cannabis", year=2017).sum()) / 1000 < 1300
    assert 2 < float(yr.seizures_kg.sel(substance="heroin", year=2017).sum()) / 1000 < 25
    value = yr.retail_market_value_eur.sel(year=2017)
    assert float(value.sum()) > 25e9
    share = value / value.sum()
    assert float(share.sel(substance="cannabis")) == pytest.approx(0.39, abs=0.08)
    assert float(share.sel(substance="cocaine")) == pytest.approx(0.31, abs=0.1)
    ep = yr.entry_point_seizures_kg.sel(substance="cocaine", year=2019)
    top2 = set(ep.sortby(ep, ascending=False).entry_point.values[:2])
    assert top2 == {"antwerp", "rotterdam"}
    assert 200 < float(yr.labs_dismantled.sel(year=2019).sum()) < 600


def test_member_networks_recover_after_arrests_without_rebuilding(baseline):
    model, ds = baseline
    g = model.state.trafficking.groups
    assert float(ds.ocg_members_arrested.sum()) > 0
    # fixed slots: the arrays are the ones allocated at set-up, and most groups keep a leader
    assert g.m_alive.shape == (g.n * 64,)
    leaders = g.m_alive[::64] & g.alive
    assert leaders.sum() > 0.9 * g.alive.sum()
    graph = g.member_graph(int(np.flatnonzero(g.alive)[0]))
    assert nx.is_connected(graph)
    assert sum(1 for _, d in graph.nodes(data=True) if d["role"] == "leader") == 1
    assert LEADER == 0


def test_cooperation_network_carries_intelligence_to_other_agencies():
    g = build_cooperation_graph(0.8, 0.6, 0.5, 0.6)
    reach, partner = reach_matrices(g)
    be, nl, fi = MS_INDEX["BE"], MS_INDEX["NL"], MS_INDEX["FI"]
    assert np.all(np.diag(reach) == 0)
    assert reach[be, nl] > reach[be, fi] > 0      # neighbours with bilateral links share more
    assert np.all(partner > 0)
    weaker, _ = reach_matrices(build_cooperation_graph(0.8, 0.3, 0.5, 0.3))
    assert weaker[be, fi] < reach[be, fi]


def test_intelligence_from_seizures_raises_detection_elsewhere():
    """Sharing raises exposure of groups in Member States other than the one that seized."""
    _, lo = run(scenario({"intel_sharing": 0.0}, horizon={"start": "2015-01", "end": "2016-12"}))
    m_hi, hi = run(scenario({"intel_sharing": 1.0}, horizon={"start": "2015-01", "end": "2016-12"}))
    m_lo, _ = run(scenario({"intel_sharing": 0.0}, horizon={"start": "2015-01", "end": "2016-12"}))
    assert m_hi.state.trafficking.exposure_shared.sum() > 1.5 * m_lo.state.trafficking.exposure_shared.sum()
    assert float(hi.cross_border_operations.sum()) > float(lo.cross_border_operations.sum())
    assert float(hi.entry_point_seizures_kg.sum()) > float(lo.entry_point_seizures_kg.sum())


def test_groups_and_agencies_are_mesa_agents(baseline):
    from dapsim.enforcement.agencies import Agency
    from dapsim.supply.ocg import OrganisedCrimeGroup

    model, _ = baseline
    groups = [a for a in model.agents if isinstance(a, OrganisedCrimeGroup)]
    agencies = [a for a in model.agents if isinstance(a, Agency)]
    assert len(groups) == 800
    assert {a.kind for a in agencies} >= {"customs", "police", "europol", "eurojust", "frontex", "maoc_n", "partner"}
    assert sum(a.kind == "customs" for a in agencies) == 27
    assert all(g.members >= 0 for g in groups) and any(g.capital_eur > 0 for g in groups)


def test_cocaine_eu_bound_share_steps_up_around_its_midpoint_and_stops_growing():
    """The share is the 2015 share times the growth times (1 + step x logistic); flat after the growth ends."""
    from dapsim.supply.production import cocaine_eu_bound_share

    p = {"supply.cocaine_eu_bound_share": 0.1, "supply.cocaine_eu_share_growth": 0.0,
         "supply.cocaine_eu_share_growth_until": 2022.0, "supply.cocaine_eu_share_step": 0.8,
         "supply.cocaine_eu_share_step_midpoint": 2017.0, "supply.cocaine_eu_share_step_width_years": 0.25}
    assert cocaine_eu_bound_share(2017.0, p) == pytest.approx(0.1 * 1.4, rel=1e-12)  # half the step at the midpoint
    assert cocaine_eu_bound_share(2014.0, p) == pytest.approx(0.1, rel=1e-4)  # before: the 2015 share
    assert cocaine_eu_bound_share(2020.0, p) == pytest.approx(0.18, rel=1e-4)  # after: the whole step
    wider = {**p, "supply.cocaine_eu_share_step_width_years": 1.0}
    assert cocaine_eu_bound_share(2016.5, wider) > cocaine_eu_bound_share(2016.5, p)  # a wider step starts earlier
    growing = {**p, "supply.cocaine_eu_share_growth": 0.1}
    assert cocaine_eu_bound_share(2022.0, growing) == pytest.approx(0.18 * 1.1 ** 7, rel=1e-4)
    assert cocaine_eu_bound_share(2030.0, growing) == pytest.approx(cocaine_eu_bound_share(2025.0, growing), rel=1e-12)


def test_cocaine_arrival_lag_shifts_the_manufacture_path_later():
    """With a 12-month lag, what leaves for the EU in a month of 2016 is what leaves without lag a year earlier."""
    from dapsim.supply.production import pool_departures_kg

    model = ActionPlanModel(scenario(), seed=0, components=[*supply.COMPONENTS])
    net = model.state.trafficking.net
    cocaine = net.pools.index("cocaine")
    params = dict(next(c for c in model.components if "supply.cocaine_arrival_lag_months" in c.params).params)
    params["supply.cocaine_eu_share_growth"] = 0.0  # the same EU-bound share in both years
    params["supply.cocaine_eu_share_step"] = 0.0

    def departures_kg(month, lag):
        model.t = month
        return pool_departures_kg(model, net, {**params, "supply.cocaine_arrival_lag_months": lag}, 1.0)[cocaine]

    for month in (12, 18, 23):  # 2016-01, 2016-07, 2016-12
        assert departures_kg(month, 12.0) == pytest.approx(departures_kg(month - 12, 0.0), rel=1e-12)
    # the UNODC path rises from 2014 to 2016, so a lag lowers what arrives in 2016
    assert departures_kg(18, 6.0) < departures_kg(18, 0.0)
