"""General-population cohorts: the baseline reproduces the published prevalence; prevention and shocks act."""

from __future__ import annotations

import numpy as np
import pytest

from dapsim.demand.population import GeneralPopulation, steady_state_rates
from dapsim.model import ActionPlanModel
from tests.demand_helpers import scenario


def _run(levers=None, shocks=None):
    model = ActionPlanModel(scenario(levers, shocks), seed=0, components=[GeneralPopulation])
    return model.run()


@pytest.fixture(scope="module")
def base():
    return _run()


def test_baseline_matches_published_prevalence_and_is_stationary(base):
    prev = base.prevalence_last_year.sel(age_group="15-64")
    users = base.users_last_year.sel(age_group="15-64").sum("sex")
    cannabis = users.sel(substance="cannabis")
    cocaine = users.sel(substance="cocaine")
    assert 20e6 < float(cannabis.isel(time=0)) < 25e6   # EDR 2024: 22.8 m (8%)
    assert 3.3e6 < float(cocaine.isel(time=0)) < 4.5e6  # EDR 2024: 4.0 m (1.4%)
    np.testing.assert_allclose(cannabis.values, cannabis.values[0], rtol=1e-6)
    assert float(prev.sel(member_state="CZ", substance="cannabis").isel(time=0)) > \
        float(prev.sel(member_state="RO", substance="cannabis").isel(time=0))
    young = base.prevalence_last_year.sel(age_group="15-34", substance="cannabis").isel(time=0)
    assert np.all(young.values > prev.sel(substance="cannabis").isel(time=0).values)


def test_steady_state_rates_hold_a_cell_still():
    i, e, r, c = steady_state_rates(np.array(0.1), np.array(0.3), np.array(0.2), 0.03, 0.02, 1 / 240)
    x = np.array([0.7, 0.2, 0.08, 0.02])  # never, past, occasional, regular
    a = 1 / 240
    for _ in range(600):
        n, p, o, g = x
        x = np.array([n - i * n + a * (1 - n), p + c * o - r * p - a * p,
                      o + i * n - c * o - e * o + 0.02 * g + r * p - a * o, g + e * o - 0.02 * g - a * g])
    np.testing.assert_allclose(x, [0.7, 0.2, 0.08, 0.02], atol=1e-9)


def test_universal_prevention_lowers_prevalence(base):
    more = _run({"universal_prevention": 0.9})
    sel = dict(age_group="15-34", substance="cannabis")
    end_base = float(base.prevalence_last_year.sel(**sel).isel(time=-1).mean())
    end_more = float(more.prevalence_last_year.sel(**sel).isel(time=-1).mean())
    assert end_more < end_base
    assert float(more.mean_age_first_use.sel(substance="cannabis").isel(time=-1)) > \
        float(base.mean_age_first_use.sel(substance="cannabis").isel(time=-1))


def test_selective_prevention_lowers_regular_use():
    model_base = ActionPlanModel(scenario(), seed=0, components=[GeneralPopulation])
    model_more = ActionPlanModel(scenario({"selective_prevention": 0.9}), seed=0, components=[GeneralPopulation])
    model_base.run(), model_more.run()
    assert model_more.state.regular_users.sum() < model_base.state.regular_users.sum()


def test_covid_disruption_cuts_nightlife_drugs(base):
    shocked = _run(shocks=[{"kind": "covid_disruption", "at": "2016-03"}])
    sel = dict(age_group="15-64", substance="mdma")
    during = "2017-03"
    assert float(shocked.users_last_year.sel(**sel).sel(time=during).sum()) < \
        float(base.users_last_year.sel(**sel).sel(time=during).sum())
    sel = dict(age_group="15-64", substance="heroin")
    np.testing.assert_allclose(shocked.users_last_year.sel(**sel).values, base.users_last_year.sel(**sel).values)


def test_cocaine_starts_below_the_latest_survey_level_and_later_starts_are_closer():
    from dapsim import params
    from dapsim.demand import baseline
    from dapsim.demand.population import cocaine_start_level
    from dapsim.memberstates import POPULATION_15_64

    level = params.ParameterSet.defaults()["population.cocaine_2015_level"]
    assert cocaine_start_level(level, np.datetime64("2015-01")) == level
    assert cocaine_start_level(level, np.datetime64("2019-01")) == pytest.approx(level + (1 - level) / 2)
    assert cocaine_start_level(level, np.datetime64("2024-06")) == 1.0
    survey = float(np.sum(baseline.COCAINE_LAST_YEAR * POPULATION_15_64))  # people, latest surveys (4.0 m)
    first = {}
    for start in ("2015-01", "2023-01"):
        model = ActionPlanModel(scenario(horizon={"start": start, "end": f"{start[:4]}-03"}), seed=0,
                                components=[GeneralPopulation])
        ds = model.run()
        first[start] = float(ds.users_last_year.sel(substance="cocaine", age_group="15-64").isel(time=0).sum())
    assert first["2015-01"] == pytest.approx(level * survey, rel=0.01)
    assert first["2023-01"] == pytest.approx(survey, rel=0.01)
