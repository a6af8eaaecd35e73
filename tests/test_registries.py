"""The registries: levers, the Plan's 85 actions, parameters, shocks and indicator variables."""

from __future__ import annotations

import math

from dapsim import INDICATORS, LEVERS, PARAMETERS
from dapsim.actions import ACTIONS
from dapsim.dims import AGE_GROUPS, MEMBER_STATES, SEXES, SUBSTANCES
from dapsim.memberstates import POPULATION, POPULATION_15_64
from dapsim.shocks import SHOCKS


def test_every_action_of_the_plan_is_mapped_or_has_a_reason():
    assert [a.number for a in ACTIONS] == list(range(1, 86))
    for a in ACTIONS:
        assert bool(a.levers) != bool(a.out_of_scope), a.number
        assert set(a.levers) <= set(LEVERS), a.number
        if a.levers:
            assert a.mechanism, a.number
    assert next(a for a in ACTIONS if a.number == 69).out_of_scope  # opposition to the death penalty


def test_every_lever_models_at_least_one_action_and_is_well_formed():
    used = {k for a in ACTIONS for k in a.levers}
    assert set(LEVERS) <= used
    assert 25 <= len(LEVERS) <= 35
    for spec in LEVERS.values():
        assert spec.scope in ("ms", "eu")
        assert spec.min <= spec.baseline <= spec.max
        assert all(spec.min <= v <= spec.max for v in spec.baseline_by_member_state.values())
        assert spec.unit_cost_eur >= 0 and spec.cost_driver
        assert spec.source or spec.assumption, spec.key
        assert spec.baseline_values().shape == (27,)


def test_every_parameter_has_unit_prior_and_evidence():
    for p in PARAMETERS.values():
        assert p.unit, p.key
        assert p.source.startswith("http") or p.assumption, p.key
        lo, hi = p.prior.support()
        assert lo <= p.value <= hi, p.key
        if p.uncertain:
            q = p.prior.ppf([0.05, 0.5, 0.95], p.value)
            assert all(math.isfinite(x) for x in q) and q[0] <= q[1] <= q[2], p.key


def test_shocks_have_defaults_inside_their_range():
    assert {"afghan_opium_ban", "cocaine_production_surge", "encrochat_takedown", "covid_disruption",
            "nitazene_emergence"} <= set(SHOCKS)
    for s in SHOCKS.values():
        lo, hi = s.magnitude_range
        assert lo <= s.magnitude <= hi
        assert s.source or s.assumption


def test_indicator_registry_covers_interface_with_known_dims_and_units():
    known_dims = {"time", "member_state", "substance", "entry_point", "age_group", "sex", "lever"}
    for v in INDICATORS.values():
        assert v.dims[0] == "time" and set(v.dims) <= known_dims
        assert v.units and v.long_name and v.aggregation in ("sum", "mean")
        assert v.indicator is None or 1 <= v.indicator <= 11
    assert {v.indicator for v in INDICATORS.values() if v.indicator} == set(range(1, 12))


def test_dimensions_and_population():
    assert len(MEMBER_STATES) == 27 and "EL" in MEMBER_STATES and "GR" not in MEMBER_STATES
    assert SUBSTANCES[:3] == ("cannabis", "cocaine", "heroin") and AGE_GROUPS == ("15-64", "15-34")
    assert SEXES == ("female", "male")
    assert POPULATION.shape == (27, 2, 2)
    # Eurostat-derived EU-27 population aged 15-64 on 1 January 2022: about 285 million
    assert 280e6 < POPULATION_15_64.sum() < 290e6
