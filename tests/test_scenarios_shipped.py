"""Every shipped scenario loads, says what it asks and which Plan actions it stands for, and changes something."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dapsim
from dapsim.levers import LEVERS
from dapsim.shocks import SHOCKS

from .conftest import SCENARIOS

ALL = sorted(SCENARIOS.glob("*.toml"))
WHAT_IFS = [p for p in ALL if p.name != "baseline.toml"]
REQUIRED = {
    "port_scanning.toml": {"port_scanning"},
    "postal_screening.toml": {"postal_screening"},
    "intel_sharing.toml": {"intel_sharing"},
    "hvt_focus.toml": {"hvt_investigations"},
    "naloxone_scaleup.toml": {"naloxone_coverage"},
    "oat_scaleup.toml": {"oat_capacity"},
    "harm_reduction_package.toml": {"oat_capacity", "naloxone_coverage", "nsp_coverage"},
    "prevention_scaleup.toml": {"universal_prevention", "selective_prevention"},
    "afghan_opium_ban.toml": {"afghan_opium_ban"},
    "nitazene_emergence.toml": {"nitazene_emergence"},
    "covid_replay.toml": {"covid_disruption"},
}


def test_at_least_ten_named_what_ifs_are_shipped():
    assert len(WHAT_IFS) >= 10
    assert set(REQUIRED) <= {p.name for p in WHAT_IFS}
    names = [dapsim.load_scenario(p).name for p in ALL]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("path", WHAT_IFS, ids=[p.stem for p in WHAT_IFS])
def test_what_if_extends_the_baseline_and_explains_itself(path):
    sc = dapsim.load_scenario(path)
    assert sc.extends and sc.extends[0].endswith("baseline.toml")
    assert len(sc.description.split()) >= 25
    assert re.search(r"Actions? \d+", sc.description), "name the Plan actions it stands for"
    assert sc.months[0] == np.datetime64("2015-01") and sc.months[-1] == np.datetime64("2030-12")
    moved = {c.key for c in sc.levers} | {s.kind for s in sc.shocks}
    assert moved, "a what-if must change a lever or place a shock"
    for key in moved:
        assert key in LEVERS or key in SHOCKS
    for change in sc.levers:
        # the schedule really departs from the 2020 baseline somewhere
        schedule, base = sc.lever_schedule(change.key), LEVERS[change.key].baseline_values()
        assert np.any(schedule != base)
    assert REQUIRED.get(path.name, set()) <= moved


def test_scale_ups_raise_every_member_state_they_touch():
    for path in WHAT_IFS:
        sc = dapsim.load_scenario(path)
        for change in sc.levers:
            spec = LEVERS[change.key]
            last = sc.lever_schedule(change.key)[-1]
            base = spec.baseline_values()
            better = last <= base if spec.lower_is_better else last >= base
            assert better.all(), f"{path.name}: {change.key} falls below its 2020 value somewhere"
