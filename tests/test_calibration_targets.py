"""Calibration targets: the shipped CSVs load, cite the reference sources, and bad files fail with one line."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dapsim.calibration.targets import COLUMNS, load_targets
from dapsim.dims import MEMBER_STATES
from dapsim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets"
HEADER = ",".join(COLUMNS)
GOOD = "5,drug_induced_deaths,EU-27,2021,6150,5228,7073,count per year,https://example.org/d,note"


def _reference_dir() -> Path | None:
    for candidate in (ROOT.parent / "shared" / "reference", Path("/work/shared/reference")):
        if (candidate / "indicator-data.md").is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def shipped():
    return load_targets(TARGETS)


def test_shipped_targets_cover_the_done_criteria_series(shipped):
    per_variable = collections.Counter(t.variable for t in shipped)
    assert per_variable["drug_induced_deaths"] == 4  # 2019-2022
    assert {t.year for t in shipped if t.variable == "seizures_kg[substance=cocaine]"} == set(range(2016, 2023))
    for needed in ("oat_clients+oat_entrants", "high_risk_opioid_users", "hiv_new_infections_pwid", "nps_new_notified",
                   "users_last_year[substance=cannabis,age_group=15-64]",
                   "users_last_year[substance=cocaine,age_group=15-64]", "treatment_clients+treatment_entrants",
                   "labs_dismantled"):
        assert per_variable[needed] >= 1, needed
    assert all(t.lower <= t.value <= t.upper for t in shipped)


def test_member_state_sums_use_the_eu27_vintage_from_2019(shipped):
    # Before 2019 the published EU totals include the UK: only cocaine seizures (documented) and the EU early
    # warning system's notifications (not split by country) are used for earlier years.
    early = {t.variable for t in shipped if t.year < 2019}
    assert early <= {"seizures_kg[substance=cocaine]", "nps_new_notified"}
    assert all("EU-28" in t.note for t in shipped if t.year < 2019 and t.variable.startswith("seizures_kg"))


def test_every_target_without_a_published_range_says_so(shipped):
    for t in shipped:
        assert t.note, t.id
        assert re.search(r"documented|published|vintage|Poisson|rounding", t.note), t.id


def test_source_urls_are_the_reference_source_keys(shipped):
    ref = _reference_dir()
    if ref is None:
        pytest.skip("shared/reference not available")
    text = (ref / "indicator-data.md").read_text() + (ref / "member-states.md").read_text()
    listed = set(re.findall(r"https?://[^\s;)]+", text))
    for t in shipped:
        assert t.source_url in listed, t.id


def _write(tmp_path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + body + "\n")
    return path


@pytest.mark.parametrize("body, header, key, fragment", [
    (GOOD, "indicator,variable,year", "header", "indicator,variable,geography"),
    (GOOD.replace("count per year", "count"), HEADER, "line 2: unit", "'count per year'"),
    (GOOD.replace("drug_induced_deaths", "overdoses"), HEADER, "line 2: variable", "dapsim indicators"),
    (GOOD.replace(",6150,", ",9999,"), HEADER, "line 2: lower/upper", "lower <= value <= upper"),
    (GOOD.replace("EU-27", "UK"), HEADER, "line 2: geography", "Member State code"),
    (GOOD.replace("https://example.org/d", "see report"), HEADER, "line 2: source_url", "URL"),
    (GOOD.replace("2021", "twenty"), HEADER, "line 2: year", "calendar year"),
    (GOOD.replace("5,drug", "6,drug"), HEADER, "line 2: indicator", "5 (the indicator of drug_induced_deaths)"),
    ("6,users_last_year,EU-27,2021,1,0.5,2,people,https://x.org,n", HEADER, "line 2: variable", "selection of substance"),
    ("3,seizures_kg[substance=crack],EU-27,2021,1,0.5,2,kg per year,https://x.org,n", HEADER, "line 2: variable",
     "substance one of"),
    ("3,retail_price_eur_per_g[substance=cocaine],EU-27,2021,1,0.5,2,EUR/g,https://x.org,n", HEADER,
     "line 2: variable", "additive units"),
    ("7,treatment_clients+seizures_kg[substance=cocaine],EU-27,2021,1,0.5,2,people,https://x.org,n", HEADER,
     "line 2: variable", "terms in the units of treatment_clients ('people')"),
    (GOOD + "\n" + GOOD, HEADER, "line 3", "one row per target"),
    (GOOD + ",extra", HEADER, "line 2", "10 fields"),
])
def test_bad_target_files_name_file_key_expected_and_got(tmp_path, body, header, key, fragment):
    path = _write(tmp_path, body, header)
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert err.value.source == str(path)
    assert err.value.key == key
    assert fragment in err.value.line()


def test_missing_or_empty_target_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_targets(tmp_path / "nope")
    with pytest.raises(InputError, match="no \\*.csv"):
        load_targets(tmp_path)


def test_statistic_sums_member_states_and_sexes_and_selects_substance(tmp_path):
    path = _write(tmp_path, "\n".join([
        GOOD,
        "5,drug_induced_deaths,DE,2021,10,5,20,count per year,https://x.org,n",
        "3,seizures_kg[substance=cocaine],EU-27,2021,10,5,20,kg per year,https://x.org,n",
        "3,retail_market_value_eur[substance=all],EU-27,2021,10,5,20,EUR per year,https://x.org,n",
        "6,\"users_last_year[substance=cannabis,age_group=15-34]\",EU-27,2021,10,5,20,people,https://x.org,n",
    ]))
    targets = load_targets(path)
    ms, subs = list(MEMBER_STATES), ["cannabis", "cocaine", "heroin", "synthetic_opioids", "amphetamines", "mdma", "nps"]
    yearly = xr.Dataset({
        "drug_induced_deaths": (("year", "member_state", "sex"), np.ones((2, 27, 2))),
        "seizures_kg": (("year", "member_state", "substance"), np.arange(2 * 27 * 7, dtype=float).reshape(2, 27, 7)),
        "retail_market_value_eur": (("year", "substance"), np.full((2, 7), 3.0)),
        "users_last_year": (("year", "substance", "age_group", "sex"), np.ones((2, 7, 2, 2))),
    }, coords={"year": [2020, 2021], "member_state": ms, "substance": subs, "age_group": ["15-64", "15-34"],
               "sex": ["female", "male"]})
    stats = targets.statistics(yearly)
    assert stats["drug_induced_deaths|EU-27|2021"] == 54.0
    assert stats["drug_induced_deaths|DE|2021"] == 2.0
    expected = float(np.arange(2 * 27 * 7).reshape(2, 27, 7)[1, :, 1].sum())
    assert stats["seizures_kg[substance=cocaine]|EU-27|2021"] == expected
    assert stats["retail_market_value_eur[substance=all]|EU-27|2021"] == 21.0
    assert stats["users_last_year[substance=cannabis,age_group=15-34]|EU-27|2021"] == 2.0
    t = targets[0]
    assert t.z(t.upper) == pytest.approx(2.0) and t.z(t.lower) == pytest.approx(-2.0)
    assert np.isnan(t.statistic(yearly.drop_vars("drug_induced_deaths")))


def test_a_target_may_add_variables_in_the_same_units(tmp_path):
    """People treated during a year = the stock (annual mean) plus the year's entrants."""
    path = _write(tmp_path, "7,treatment_clients+treatment_entrants,EU-27,2021,10,5,20,people,https://x.org,n")
    target = load_targets(path)[0]
    assert target.names == {"treatment_clients", "treatment_entrants"}
    ms = list(MEMBER_STATES)
    yearly = xr.Dataset({
        "treatment_clients": (("year", "member_state", "sex"), np.full((1, 27, 2), 2.0)),
        "treatment_entrants": (("year", "member_state"), np.full((1, 27), 0.5)),
    }, coords={"year": [2021], "member_state": ms, "sex": ["female", "male"]})
    assert target.statistic(yearly) == 27 * 2 * 2.0 + 27 * 0.5
    assert np.isnan(target.statistic(yearly.drop_vars("treatment_entrants")))  # every term is needed
    usable, pending = load_targets(path).split_by_variables({"treatment_clients"})
    assert len(usable) == 0 and len(pending) == 1
