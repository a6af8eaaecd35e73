"""Each supply lever moves its own outcome in the expected direction under common random numbers,
and books its programme cost every month; the supply shocks act as described."""

from __future__ import annotations

import numpy as np
import pytest

from dapsim.supply.routes import ENTRY_KINDS, load_network

from .supply_helpers import run, scenario

NET = load_network()
KIND = np.array([ENTRY_KINDS[k] for k in NET.entry_kind])


@pytest.fixture(scope="module")
def base():
    return run(scenario())


def total(ds, var, **sel):
    return float(ds[var].sel(**sel).sum())


def at_kind(ds, kind, substance=None, var="entry_point_seizures_kg"):
    names = [n for n, k in zip(NET.entry_names, KIND) if k == kind]
    da = ds[var].sel(entry_point=names)
    if substance:
        da = da.sel(substance=substance)
    return float(da.sum())


def test_port_scanning_seizes_more_cocaine_at_container_ports_and_less_is_delivered(base):
    _, b = base
    _, s = run(scenario({"port_scanning": 0.3}))
    assert at_kind(s, "container_port", "cocaine") > 1.3 * at_kind(b, "container_port", "cocaine")
    assert total(s, "delivered_kg", substance="cocaine") < total(b, "delivered_kg", substance="cocaine")


def test_scanning_at_the_big_two_ports_displaces_flows_to_other_ports(base):
    _, b = base
    _, s = run(scenario({"port_scanning": {"target": 0.5, "where": ["BE", "NL"]}}))
    big = ["antwerp", "rotterdam"]
    others = [n for n, k in zip(NET.entry_names, KIND) if k == "container_port" and n not in big]
    flow = lambda ds, names: float(ds.entry_point_flow_kg.sel(entry_point=names, substance="cocaine").sum())  # noqa: E731
    assert flow(s, big) < 0.9 * flow(b, big)
    assert flow(s, others) > flow(b, others)


def test_port_integrity_cuts_corrupted_insiders(base):
    _, b = base
    _, s = run(scenario({"port_integrity": 1.0}))
    assert s.corrupted_insiders.values[12:].mean() < 0.7 * b.corrupted_insiders.values[12:].mean()


@pytest.mark.parametrize("lever,kind,substance", [
    ("small_ports_monitoring", "secondary_port", "cannabis"),
    ("airport_screening", "hub_airport", "cocaine"),
    ("postal_screening", "postal_hub", "nps"),
])
def test_screening_levers_raise_the_seizure_rate_where_they_act_and_displace_flows(base, lever, kind, substance):
    _, b = base
    _, s = run(scenario({lever: 0.6}))

    def rate(ds):
        return at_kind(ds, kind, substance) / at_kind(ds, kind, substance, var="entry_point_flow_kg")

    assert rate(s) > 1.3 * rate(b)
    # traffickers learn the risk and move part of their flows elsewhere: a smaller share goes through this kind
    def share(ds):
        return at_kind(ds, kind, substance, var="entry_point_flow_kg") / float(
            ds.entry_point_flow_kg.sel(substance=substance).sum())

    assert share(s) < share(b)


def test_darknet_monitoring_lowers_the_darknet_share(base):
    _, b = base
    _, s = run(scenario({"darknet_monitoring": 40.0}))
    assert float(s.darknet_share.isel(time=-1).sum()) < 0.8 * float(b.darknet_share.isel(time=-1).sum())


def test_third_country_cooperation_reduces_cocaine_delivered(base):
    _, b = base
    _, s = run(scenario({"third_country_cooperation": 1.0}))
    assert total(s, "delivered_kg", substance="cocaine") < 0.97 * total(b, "delivered_kg", substance="cocaine")


def test_hvt_investigations_disrupt_more_groups(base):
    _, b = base
    _, s = run(scenario({"hvt_investigations": 0.8}))
    assert total(s, "ocgs_disrupted") > total(b, "ocgs_disrupted")


def test_financial_investigations_confiscate_more_assets(base):
    _, b = base
    _, s = run(scenario({"financial_investigations": 0.9}))
    assert total(s, "assets_confiscated_eur") > 1.3 * total(b, "assets_confiscated_eur")


def test_encrypted_comms_capability_leads_to_more_arrests(base):
    _, b = base
    _, s = run(scenario({"encrypted_comms_capability": 5.0}))
    assert total(s, "ocg_members_arrested") > total(b, "ocg_members_arrested")


def test_lab_dismantling_dismantles_more_labs(base):
    _, b = base
    _, s = run(scenario({"lab_dismantling": 40.0}))
    assert total(s, "labs_dismantled") > 1.5 * total(b, "labs_dismantled")
    assert total(s, "delivered_kg", substance="amphetamines") < total(b, "delivered_kg", substance="amphetamines")


def test_precursor_control_seizes_more_precursors_and_cuts_synthetic_output(base):
    _, b = base
    _, s = run(scenario({"precursor_control": 1.0}))
    assert total(s, "precursors_seized_kg") > 1.3 * total(b, "precursors_seized_kg")
    assert total(s, "delivered_kg", substance="mdma") < 0.95 * total(b, "delivered_kg", substance="mdma")


def test_alternative_development_reduces_cocaine_supply_after_its_lag(base):
    _, b = base
    _, s = run(scenario({"alternative_development": 400.0}))
    assert total(s, "delivered_kg", substance="cocaine") < 0.98 * total(b, "delivered_kg", substance="cocaine")


def test_every_supply_lever_books_its_cost_every_month_and_more_when_raised(base):
    model, b = base
    levers = ("port_scanning", "port_integrity", "small_ports_monitoring", "airport_screening", "postal_screening",
              "darknet_monitoring", "intel_sharing", "third_country_cooperation", "hvt_investigations",
              "financial_investigations", "encrypted_comms_capability", "lab_dismantling", "precursor_control",
              "alternative_development")
    assert set(levers) <= set(model.wired_levers)
    cost = b.programme_cost_eur
    for key in levers:
        assert np.all(cost.sel(lever=key).values > 0), key
    _, s = run(scenario({"port_scanning": 0.3, "lab_dismantling": 40.0}))
    for key in ("port_scanning", "lab_dismantling"):
        assert float(s.programme_cost_eur.sel(lever=key).sum()) > 2 * float(cost.sel(lever=key).sum())


# ------------------------------------------------------------------------------------------ shocks

def test_afghan_opium_ban_cuts_heroin_and_raises_its_price():
    h = {"start": "2021-01", "end": "2024-12"}
    _, b = run(scenario(horizon=h))
    _, s = run(scenario(horizon=h, shocks=[{"kind": "afghan_opium_ban", "at": "2022-04"}]))
    late = slice("2024-01", "2024-12")
    assert total(s.sel(time=late), "delivered_kg", substance="heroin") < 0.5 * total(b.sel(time=late), "delivered_kg", substance="heroin")
    assert float(s.retail_price_eur_per_g.sel(time=late, substance="heroin").mean()) > \
        float(b.retail_price_eur_per_g.sel(time=late, substance="heroin").mean())
    before = slice("2021-01", "2022-03")
    np.testing.assert_array_equal(s.seizures_kg.sel(time=before).values, b.seizures_kg.sel(time=before).values)


def test_cocaine_surge_raises_seizures_and_encrochat_raises_arrests(base):
    _, b = base
    _, s = run(scenario(shocks=[{"kind": "cocaine_production_surge", "at": "2016-01"}]))
    assert total(s, "seizures_kg", substance="cocaine") > 1.1 * total(b, "seizures_kg", substance="cocaine")
    _, e = run(scenario(shocks=[{"kind": "encrochat_takedown", "at": "2016-06", "magnitude": 0.8}]))
    after = slice("2016-06", "2017-12")
    assert total(e.sel(time=after), "ocg_members_arrested") > total(b.sel(time=after), "ocg_members_arrested")


def test_covid_disruption_cuts_air_and_land_trafficking(base):
    _, b = base
    _, s = run(scenario(shocks=[{"kind": "covid_disruption", "at": "2017-01"}]))
    during = slice("2017-01", "2018-03")
    assert at_kind(s.sel(time=during), "hub_airport", var="entry_point_flow_kg") < \
        0.7 * at_kind(b.sel(time=during), "hub_airport", var="entry_point_flow_kg")


# ------------------------------------------------------------------------------------------ scanner capacity

def test_scan_allocation_saturates_when_flags_exceed_capacity():
    from dapsim.enforcement.interdiction import scan_allocation

    containers = np.array([1e5, 1e5])
    capacity = np.array([500.0, 20000.0])          # 0.5% and 20% of arrivals scanned
    none = np.zeros(2)
    _, p0 = scan_allocation(capacity, containers, none, 0.1, 5.0)
    np.testing.assert_allclose(p0[0], 5.0 * 0.005)   # the uncapacitated rule below the risk-flag share
    q1, p1 = scan_allocation(capacity, containers, np.array([400.0, 400.0]), 0.1, 5.0)
    q2, p2 = scan_allocation(capacity, containers, np.array([800.0, 800.0]), 0.1, 5.0)
    # low capacity: doubling the flags does not double the flagged containers scanned, and crowds out risk scans
    assert q1[0] == 1.0 and 2 * 400 * q2[0] < 1.5 * 400 * q1[0]
    assert p2[0] == 0.0 < p1[0] < p0[0]
    # high capacity: every flagged container is scanned
    assert q1[1] == q2[1] == 1.0 and p2[1] == pytest.approx(p0[1], rel=0.05)


def _scanner_run(port_scanning, intel_sharing):
    from dapsim import supply
    from dapsim.model import ActionPlanModel

    sc = scenario({"port_scanning": port_scanning, "intel_sharing": intel_sharing},
                  horizon={"start": "2015-01", "end": "2016-12"})
    model = ActionPlanModel(sc, seed=0, components=[*supply.COMPONENTS])
    scanners = model.components[1].scanners
    months = []
    original = scanners.detection_probability

    def recorded(*args):
        out = original(*args)
        months.append({k: v.copy() for k, v in scanners.last.items()})
        return out

    scanners.detection_probability = recorded
    model.run()
    return {k: np.array([m[k] for m in months]) for k in months[0]}


def test_scanner_capacity_binds_at_low_scanning_with_high_intelligence_sharing():
    low_hi = _scanner_run(0.002, 1.0)
    low_lo = _scanner_run(0.002, 0.0)
    high_hi = _scanner_run(0.1, 1.0)
    high_lo = _scanner_run(0.1, 0.0)
    # low capacity, high intelligence: flagged containers exceed the scans in most port-months
    assert (low_hi["intel_flags"] > low_hi["capacity"]).mean() > 0.5
    assert low_hi["intel_detections"].sum() < 0.7 * low_hi["intel_leads"].sum()
    # more intelligence gives fewer extra detections than extra leads (saturation) ...
    gain_leads = low_hi["intel_leads"].sum() / low_lo["intel_leads"].sum()
    gain_found = low_hi["intel_detections"].sum() / low_lo["intel_detections"].sum()
    assert gain_leads > 1.2 and gain_found < 0.9 * gain_leads
    # ... while with ample capacity every lead is scanned and detections rise in proportion
    assert np.all(high_hi["intel_flags"] <= high_hi["capacity"])
    np.testing.assert_allclose(high_hi["intel_detections"].sum(), high_hi["intel_leads"].sum())
    assert high_hi["intel_detections"].sum() / high_lo["intel_detections"].sum() == pytest.approx(
        high_hi["intel_leads"].sum() / high_lo["intel_leads"].sum())
