"""Each harm-reduction lever lowers its own target outcome under common random numbers."""

from __future__ import annotations

import pytest

from dapsim.harms.overdose import Overdose, rate_ratio
from dapsim import demand
from dapsim.model import ActionPlanModel
from dapsim.scenario import Scenario
from tests.demand_helpers import cached_run, component, run, total


@pytest.fixture(scope="module")
def base():
    return cached_run()


def test_naloxone_coverage_lowers_deaths_not_overdoses(base):
    more = cached_run(levers=(("naloxone_coverage", 0.8),))
    assert total(more, "drug_induced_deaths") < 0.85 * total(base, "drug_induced_deaths")
    # naloxone reverses overdoses; it does not prevent them
    assert total(more, "nonfatal_overdoses") >= total(base, "nonfatal_overdoses")
    assert total(more, "naloxone_kits_distributed") > 5 * total(base, "naloxone_kits_distributed")


def test_drug_consumption_rooms_lower_deaths(base):
    more = cached_run(levers=(("drug_consumption_rooms", 0.8),))
    assert total(more, "drug_induced_deaths") < total(base, "drug_induced_deaths")


def test_nsp_coverage_lowers_hcv_and_hiv(base):
    more = cached_run(levers=(("nsp_coverage", 400.0),))
    assert total(more, "hcv_new_infections_pwid") < 0.9 * total(base, "hcv_new_infections_pwid")
    assert total(more, "hiv_new_infections_pwid") < total(base, "hiv_new_infections_pwid")


def test_hcv_test_and_treat_lowers_hcv_infections(base):
    more = cached_run(levers=(("hcv_test_and_treat", 0.9),))
    assert total(more, "hcv_new_infections_pwid") < 0.9 * total(base, "hcv_new_infections_pwid")
    assert float(more.ds.hcv_tested_share.sel(time="2019").mean()) > 2 * float(base.ds.hcv_tested_share.sel(time="2019").mean())


def test_prison_release_naloxone_lowers_post_release_deaths(base):
    more = cached_run(levers=(("prison_release_naloxone", 1.0),))
    assert total(more, "post_release_deaths") < total(base, "post_release_deaths")


def test_prison_oat_lowers_post_release_deaths(base):
    more = cached_run(levers=(("prison_oat", 1.0),))
    assert total(more, "post_release_deaths") < 0.9 * total(base, "post_release_deaths")
    assert float(more.ds.prison_oat_coverage.sel(time="2019").mean()) > 0.9


def test_early_warning_lowers_nps_harms(base):
    faster = cached_run(levers=(("early_warning", 1.0),))
    assert total(faster, "nps_harm_events") < total(base, "nps_harm_events")


def test_nitazene_emergence_raises_deaths(base):
    shock = cached_run(shocks=((("kind", "nitazene_emergence"), ("at", "2017-01")),))
    assert total(shock, "drug_induced_deaths", since="2018-01") > 1.2 * total(base, "drug_induced_deaths", since="2018-01")


def test_in_treatment_vs_out_of_treatment_mortality_matches_sordo():
    """Overdose deaths per person-month out of vs in OAT, from a run, near Sordo 2017's RR 4.80 (2.90-7.96)."""
    model = cached_run(scale=5.0)
    ratio = rate_ratio(component(model, Overdose).log, "out", "in_oat")
    assert 2.9 < ratio < 7.96


def test_post_release_spike_matches_merrall():
    """First month after release vs months 2-3 (no OAT in prison): Merrall 2010's 7.5 (weeks 1-2 vs 3-12) and
    1.7 (weeks 3-4 vs 5-12) imply 5.1 for weeks 1-4 vs 5-12."""
    model = cached_run(scale=5.0)
    ratio = rate_ratio(component(model, Overdose).log, "release_1", "release_2_3")
    assert 3.5 < ratio < 7.5


def test_the_unexplained_overdose_drift_is_one_in_mid_2020_and_held_after_2022():
    """The drift multiplies both overdose hazards relative to mid-2020 and stops compounding after 2022."""
    model = run(horizon={"start": "2015-01", "end": "2030-12"})
    od = component(model, Overdose)
    g = model.params["overdose.unexplained_trend_per_year"]
    months = [str(m) for m in model.months]

    def drift_in(month: str) -> float:
        model.t = months.index(month)
        return od.drift()

    assert drift_in("2020-06") == pytest.approx((1 + g) ** (-1 / 24))
    assert drift_in("2022-12") == pytest.approx((1 + g) ** (2022 + 11.5 / 12 - 2020.5))
    assert drift_in("2023-01") == drift_in("2030-12") == pytest.approx((1 + g) ** 2.5)  # flat in projections
    assert drift_in("2015-01") < drift_in("2019-01") < drift_in("2022-12")


def test_deaths_rise_2019_to_2022_with_the_drift_and_not_without_it():
    horizon = {"start": "2015-01", "end": "2022-12"}
    drift = run(horizon=horizon).ds.drug_induced_deaths.sum(("member_state", "sex"))
    flat_scenario = Scenario.from_dict({"name": "no drift", "horizon": horizon,
                                        "overrides": {"overdose.unexplained_trend_per_year": 0.0}})
    flat = ActionPlanModel(flat_scenario, seed=0, scale=20.0, components=demand.COMPONENTS).run()
    flat = flat.drug_induced_deaths.sum(("member_state", "sex"))
    rise = lambda d: float(d.sel(time="2022").sum() / d.sel(time="2019").sum())  # noqa: E731
    assert rise(drift) > rise(flat) + 0.05  # the drift adds about 1.05^3 - 1 = 16%, less the noise of a run
