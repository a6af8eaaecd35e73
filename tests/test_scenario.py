"""Scenario files: parsing, extends, lever schedules, and one clear line for every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dapsim import LEVERS, ScenarioError, load_scenario
from dapsim.dims import MS_INDEX
from dapsim.scenario import Scenario

from .conftest import SCENARIOS


def test_baseline_loads_with_default_horizon_and_no_changes():
    sc = load_scenario(SCENARIOS / "baseline.toml")
    assert sc.name == "Baseline: policy as in 2020"
    assert str(sc.start) == "2015-01" and str(sc.end) == "2030-12"
    assert len(sc.months) == 192
    assert sc.levers == () and sc.shocks == ()


def test_extends_inherits_and_child_lever_replaces_parent(write_scenario):
    write_scenario('extends = "baseline.toml"\n[levers.naloxone_coverage]\ntarget = 0.3\nfrom = "2020-01"\n', "a.toml")
    child = write_scenario(
        'extends = "a.toml"\nname = "child"\n[levers.naloxone_coverage]\ntarget = 0.6\nfrom = "2022-01"\nramp_months = 0\n'
        '[levers.oat_capacity]\ntarget = 0.7\nfrom = "2023-01"\n'
    )
    sc = load_scenario(child)
    assert sc.name == "child"
    assert str(sc.start) == "2015-01"
    assert {c.key: c.target for c in sc.levers} == {"naloxone_coverage": 0.6, "oat_capacity": 0.7}
    assert len(sc.extends) == 2


def test_lever_schedule_ramps_linearly_from_previous_value_only_where_asked(write_scenario):
    path = write_scenario(
        '[levers.naloxone_coverage]\ntarget = 0.5\nfrom = "2020-01"\nramp_months = 10\nwhere = ["IE", "FR"]\n'
    )
    sc = load_scenario(path)
    sched = sc.lever_schedule("naloxone_coverage")
    base = LEVERS["naloxone_coverage"].baseline_values()
    months = sc.months
    t0 = int(np.flatnonzero(months == np.datetime64("2020-01"))[0])
    ie, de = MS_INDEX["IE"], MS_INDEX["DE"]
    assert np.all(sched[:t0, ie] == base[ie])  # unchanged before
    assert sched[t0, ie] == pytest.approx(base[ie] + (0.5 - base[ie]) * 0.1)  # first month: 1/10 of the way
    assert sched[t0 + 4, ie] == pytest.approx(base[ie] + (0.5 - base[ie]) * 0.5)
    assert np.all(sched[t0 + 9:, ie] == pytest.approx(0.5))  # reached after ramp_months
    assert np.all(sched[:, de] == base[de])  # not in `where`


def test_successive_changes_ramp_from_the_value_in_force(write_scenario):
    path = write_scenario(
        '[[levers.oat_capacity]]\ntarget = 0.6\nfrom = "2020-01"\nramp_months = 0\n'
        '[[levers.oat_capacity]]\ntarget = 0.8\nfrom = "2022-01"\nramp_months = 2\n'
    )
    sc = load_scenario(path)
    sched = sc.lever_schedule("oat_capacity")[:, MS_INDEX["AT"]]
    t1 = int(np.flatnonzero(sc.months == np.datetime64("2022-01"))[0])
    assert sched[t1 - 1] == pytest.approx(0.6)
    assert sched[t1] == pytest.approx(0.7)
    assert sched[t1 + 1] == pytest.approx(0.8)


# -------------------------------------------------------------------------------------- bad input

BAD = [
    ("unknown lever", '[levers.free_drugs]\ntarget = 1\nfrom = "2020-01"\n',
     "s.toml: levers.free_drugs: expected a lever listed by `dapsim levers`, got unknown lever 'free_drugs'"),
    ("out of range", '[levers.naloxone_coverage]\ntarget = 1.5\nfrom = "2020-01"\n',
     "s.toml: levers.naloxone_coverage.target: expected a value in [0, 1] fraction, got 1.5"),
    ("unknown member state", '[levers.naloxone_coverage]\ntarget = 0.5\nfrom = "2020-01"\nwhere = ["XX"]\n',
     "levers.naloxone_coverage.where: expected Member State codes"),
    ("bad date", '[levers.naloxone_coverage]\ntarget = 0.5\nfrom = "2020-13"\n',
     "s.toml: levers.naloxone_coverage.from: expected a month \"YYYY-MM\", got '2020-13'"),
    ("date outside horizon", '[levers.naloxone_coverage]\ntarget = 0.5\nfrom = "2040-01"\n',
     "s.toml: levers.naloxone_coverage.from: expected a month within the horizon 2015-01..2030-12, got '2040-01'"),
    ("unknown top-level key", 'nmae = "typo"\n', "s.toml: nmae: expected one of the keys"),
    ("unknown lever key", '[levers.naloxone_coverage]\ntarget = 0.5\nfrom = "2020-01"\nramp = 3\n',
     "s.toml: levers.naloxone_coverage.ramp: expected one of the keys target, from, ramp_months, where, note, got unknown key 'ramp'"),
    ("missing target", '[levers.naloxone_coverage]\nfrom = "2020-01"\n',
     "s.toml: levers.naloxone_coverage.target: expected a number, got nothing"),
    ("target not a number", '[levers.naloxone_coverage]\ntarget = "high"\nfrom = "2020-01"\n',
     "s.toml: levers.naloxone_coverage.target: expected a number, got 'high'"),
    ("where on an EU lever", '[levers.early_warning]\ntarget = 3\nfrom = "2020-01"\nwhere = ["DE"]\n',
     "s.toml: levers.early_warning.where: expected no where: this lever has one EU-wide value"),
    ("unknown shock", '[[shocks]]\nkind = "alien_invasion"\nat = "2020-01"\n',
     "s.toml: shocks[0].kind: expected one of the shocks"),
    ("shock magnitude", '[[shocks]]\nkind = "afghan_opium_ban"\nat = "2022-04"\nmagnitude = 2\n',
     "s.toml: shocks[0].magnitude: expected a value in [0, 1]"),
    ("horizon reversed", 'horizon = { start = "2020-01", end = "2019-12" }\n',
     "s.toml: horizon.end: expected an end month not before the start 2020-01, got 2019-12"),
    ("syntax", 'name = \n', "s.toml: expected valid TOML, got a syntax error"),
]


@pytest.mark.parametrize("label,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_raise_one_line_naming_file_key_expected_got(write_scenario, label, text, message):
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    line = info.value.line()
    assert "\n" not in line
    assert line.startswith(str(path))
    assert message.split("s.toml: ", 1)[-1] in line


def test_unknown_override_parameter(write_scenario):
    path = write_scenario('[overrides]\n"no.such.parameter" = 1.0\n')
    with pytest.raises(ScenarioError, match=r"overrides.no.such.parameter: expected a parameter listed by `dapsim params`"):
        load_scenario(path)


def test_missing_file():
    with pytest.raises(ScenarioError, match=r"nowhere.toml: expected an existing scenario file, got no such file"):
        load_scenario("nowhere.toml")


def test_missing_extends_target(write_scenario):
    path = write_scenario('extends = "ghost.toml"\n')
    with pytest.raises(ScenarioError, match=r"s.toml: extends: expected an existing scenario file, got 'ghost.toml', which does not exist"):
        load_scenario(path)


def test_extends_cycle(write_scenario):
    write_scenario('extends = "b.toml"\n', "a.toml")
    write_scenario('extends = "a.toml"\n', "b.toml")
    with pytest.raises(ScenarioError, match=r"extends: expected a chain of scenarios without a cycle, got the cycle a.toml -> b.toml -> a.toml"):
        load_scenario(write_scenario('extends = "b.toml"\n', "a.toml").parent / "a.toml")


def test_from_dict_validates_too():
    with pytest.raises(ScenarioError, match="unknown lever"):
        Scenario.from_dict({"levers": {"nope": {"target": 1, "from": "2020-01"}}})
    sc = Scenario.from_dict({"horizon": {"start": "2019-01", "end": "2019-12"}})
    assert len(sc.months) == 12


def test_the_readme_scenario_example_is_valid(write_scenario):
    readme = (SCENARIOS.parent / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    sc = load_scenario(write_scenario(block))
    assert {c.key for c in sc.levers} == {"port_scanning"}
    assert [s.kind for s in sc.shocks] == ["afghan_opium_ban"]
    assert dict(sc.overrides) == {"overdose.case_fatality": 0.05}


def test_scenarios_pickle_for_workers():
    import pickle

    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = load_scenario(path)
        back = pickle.loads(pickle.dumps(sc))
        assert back == sc and back.to_json() == sc.to_json()
