"""NPS notifications and wastewater residues."""

from __future__ import annotations

import numpy as np

from dapsim.demand.population import GeneralPopulation
from dapsim.demand.services import Services
from dapsim.dims import MS_INDEX, SUBSTANCE_INDEX
from dapsim.harms.nps import NewPsychoactiveSubstances
from dapsim.harms.wastewater import Wastewater
from dapsim.memberstates import POPULATION_TOTAL
from dapsim.model import ActionPlanModel
from tests.demand_helpers import scenario

LONG = {"start": "2015-01", "end": "2030-12"}


def test_nps_notifications_match_the_early_warning_system_level():
    model = ActionPlanModel(scenario(horizon=LONG), seed=3, components=[GeneralPopulation, Services,
                                                                        NewPsychoactiveSubstances])
    ds = model.run()
    per_year = ds.nps_new_notified.values.reshape(-1, 12).sum(axis=1)  # 2015..2030
    assert 75 <= per_year[0] <= 125  # EWS 2015: 100, the end of the 2013-2015 wave
    assert 40 <= per_year[2:8].mean() <= 60  # EWS 2017-2022: 41-55 a year
    assert per_year[0] > per_year[2:8].max()  # the wave has passed by 2017
    assert ds.nps_harm_events.values.sum() > 0


def test_the_nps_wave_is_dated_from_2015_whatever_month_the_run_starts():
    late = ActionPlanModel(scenario(horizon={"start": "2019-01", "end": "2019-12"}), seed=0,
                           components=[GeneralPopulation, Services, NewPsychoactiveSubstances])
    early = ActionPlanModel(scenario(horizon=LONG), seed=0, components=[GeneralPopulation, Services,
                                                                          NewPsychoactiveSubstances])
    nps_late, nps_early = (m.components[-1] for m in (late, early))
    assert nps_late.appearance_rate(0) == nps_early.appearance_rate(48)  # January 2019 in both
    wave = early.params["nps.appearances_2015_per_year"]
    assert nps_early.appearance_rate(-12) == nps_early.appearance_rate(-1) == wave  # held before 2015
    assert wave > nps_early.appearance_rate(0) > nps_early.appearance_rate(24) > early.params["nps.appearances_per_year"]


def test_wastewater_residue_follows_consumption_purity_and_excretion():
    model = ActionPlanModel(scenario(), seed=0, components=[Wastewater])
    st = model.state
    # no market in the run: the variable stays empty rather than zero
    model.step()
    assert np.all(np.isnan(model.recorder["wastewater_mg_per_1000_per_day"][0]))
    st.consumed_kg[:] = 0.0
    st.retail_purity[:] = 0.5
    be, coc = MS_INDEX["BE"], SUBSTANCE_INDEX["cocaine"]
    st.consumed_kg[be, coc] = 100.0  # kg of street cocaine in a month (February 2015: 28 days)
    model.step()
    got = model.recorder["wastewater_mg_per_1000_per_day"][1][be, coc]
    expected = 100.0 * 0.5 * model.params["wastewater.excretion.cocaine"] * 1e6 / (POPULATION_TOTAL[be] / 1000) / 28
    assert np.isclose(got, expected)
    assert np.isnan(model.recorder["wastewater_mg_per_1000_per_day"][1][be, SUBSTANCE_INDEX["heroin"]])
