"""High-risk users and services: conservation of people, treatment levers, determinism, levels."""

from __future__ import annotations

import numpy as np
import pytest

from dapsim.demand.users import OAT, TREAT, HighRiskUsers
from dapsim.harms.prison import Prison
from tests.demand_helpers import cached_run, component, run, total


@pytest.fixture(scope="module")
def base():
    return cached_run()


def test_people_are_conserved_every_month(base):
    """alive(t) - alive(t-1) = entered - recovered - other deaths - overdose deaths, in every month."""
    table = base.state.people
    alive = table.alive_end
    before = np.concatenate([[table.initial_alive], alive[:-1]])
    flows = table.entered - table.recovered - table.died_other - table.died_overdose
    np.testing.assert_array_equal(alive - before, flows)
    # and the log is not trivially empty: people enter, recover and die every month
    assert table.entered.min() > 0 and table.died_overdose.sum() > 0 and table.recovered.sum() > 0
    # the table's own count agrees with a recount of the rows
    assert alive[-1] == int(np.count_nonzero(table.view("loc") < 4))


def test_initial_population_matches_the_first_month_log(base):
    table = base.state.people
    hrou0 = float(base.ds.high_risk_opioid_users.isel(time=0).sum())
    assert hrou0 == pytest.approx(table.alive_end[0] * table.scale)
    assert 0.75e6 < hrou0 < 1.0e6  # EDR 2024: 860 000 high-risk opioid users


def test_treatment_starts_at_the_balance_of_its_own_flows(base):
    """With policy as in 2020, OAT and other treatment of high-risk users neither fill up nor drain in five years.

    Before the start was the flows' balance, OAT clients fell 12% from the first month to 2022 in the Member
    States without binding places, which distorted the overdose hazard scaled on the first month.
    """
    ds = base.ds
    oat = ds.oat_clients.sum("member_state")
    assert float(oat.sel(time="2019").mean()) == pytest.approx(float(oat.isel(time=0)), rel=0.03)
    table = base.state.people
    assert table.people(TREAT).sum() > 0  # high-risk users in other treatment, at the end
    # only people who prefer OAT are in OAT (the preference is permanent)
    loc, prefer = table.view("loc"), table.view("u_prefer_oat")
    p = component(base, HighRiskUsers).params
    assert np.all(prefer[loc == OAT] < p["users.oat_preference"])
    assert np.all(prefer[loc == TREAT] >= p["users.oat_preference"])


def test_oat_entrants_are_the_admissions_to_oat(base):
    """OAT entrants are part of all treatment entrants, and with no OAT places nobody starts OAT.

    The calibration counts the people who received OAT during a year (the EUDA's definition) as the stock plus
    the year's entrants, so the entrants must be admissions to OAT only, in people (not agents).
    """
    ds = base.ds
    entrants, everyone = ds.oat_entrants, ds.treatment_entrants
    assert entrants.attrs["units"] == "people" and entrants.dims == ("time", "member_state")
    assert bool((entrants <= everyone).all()) and float(entrants.sum()) < float(everyone.sum())
    # people leave OAT every month, so at a steady stock about as many start it: a year's entrants are a sizeable
    # share of the stock, and the stock plus entrants (people treated during the year) exceeds the stock
    year = entrants.sel(time="2019").sum()
    stock = ds.oat_clients.sel(time="2019").mean("time").sum()
    assert 0.1 * float(stock) < float(year) < float(stock)
    closed = cached_run(levers=(("oat_capacity", 0.0),))
    assert float(closed.ds.oat_entrants.sel(time=slice("2016", None)).sum()) == 0.0


def test_oat_capacity_raises_clients_and_lowers_deaths(base):
    more = cached_run(levers=(("oat_capacity", 1.0),))
    oat_base = base.ds.oat_clients.sel(time="2019").mean("time")
    oat_more = more.ds.oat_clients.sel(time="2019").mean("time")
    assert float(oat_more.sum()) > 1.1 * float(oat_base.sum())
    # Italy's places cover 30% of its high-risk opioid users at baseline: clients rise the most there
    assert float(oat_more.sel(member_state="IT")) > 1.5 * float(oat_base.sel(member_state="IT"))
    assert total(more, "drug_induced_deaths") < total(base, "drug_induced_deaths")


def test_alternatives_to_sanctions_divert_more_and_imprison_fewer(base):
    more = cached_run(levers=(("alternatives_to_sanctions", 0.8),))
    assert total(more, "offenders_diverted") > 2.5 * total(base, "offenders_diverted")
    p_base, p_more = component(base, Prison), component(more, Prison)
    assert p_more.entries.sum() < 0.5 * p_base.entries.sum()
    # people in prison at the end
    assert p_more.prisoners.sum() < p_base.prisoners.sum()


def test_outreach_and_stigma_reduction_fill_treatment_faster(base):
    more = cached_run(levers=(("outreach", 1.0), ("stigma_reduction", 1.0), ("oat_capacity", 1.0)))
    oat = cached_run(levers=(("oat_capacity", 1.0),))
    waiting_more = component(more, HighRiskUsers).waiting.sum()
    waiting_oat = component(oat, HighRiskUsers).waiting.sum()
    assert waiting_more > waiting_oat  # more people ask for treatment
    assert float(more.ds.oat_clients.sel(time="2017").sum()) >= float(oat.ds.oat_clients.sel(time="2017").sum())


def test_same_seed_identical_other_seed_different():
    a = run(scale=50, horizon={"start": "2015-01", "end": "2016-06"})
    b = run(scale=50, horizon={"start": "2015-01", "end": "2016-06"})
    c = run(scale=50, seed=1, horizon={"start": "2015-01", "end": "2016-06"})
    for var in ("drug_induced_deaths", "oat_clients", "hcv_new_infections_pwid", "nps_harm_events"):
        np.testing.assert_array_equal(a.ds[var].values, b.ds[var].values)
    assert not np.array_equal(a.ds.drug_induced_deaths.values, c.ds.drug_induced_deaths.values)


def test_demand_kg_is_written_for_the_market(base):
    demand = base.state.demand_kg
    assert demand.shape == (27, 7) and np.all(demand >= 0)
    assert demand.sum() > 0 and np.all(demand.sum(axis=0) > 0)


def test_programme_costs_are_booked_every_month_for_every_wired_lever(base):
    cost = base.ds.programme_cost_eur
    for lever in ("oat_capacity", "treatment_capacity", "nsp_coverage", "naloxone_coverage",
                  "hcv_test_and_treat", "alternatives_to_sanctions", "prison_oat", "universal_prevention"):
        assert float(cost.sel(lever=lever).min()) > 0, lever
