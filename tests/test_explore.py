"""Exploratory modelling: the Latin hypercube over uncertainties and levers, the experiment dataset, the CLI."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dapsim
from dapsim.analysis.explore import design, experiments, explore
from dapsim.ensemble import read_netcdf, uncertain_parameters
from dapsim.errors import InputError
from dapsim.levers import LEVERS
from dapsim.params import PARAMETERS
from dapsim.scenario import Scenario
from dapsim.timeline import parse_month

from .test_ensemble import SCALE, TOY, short_scenarios

LEVER_KEYS = ["naloxone_coverage", "early_warning"]


def test_design_is_a_reproducible_latin_hypercube_within_priors_and_lever_ranges():
    sc = short_scenarios()[0]
    n = 10
    unc, lev, values = design(sc, n, LEVER_KEYS)
    assert unc == uncertain_parameters() and lev == LEVER_KEYS
    assert values.shape == (n, len(unc) + 2)
    np.testing.assert_array_equal(values, design(sc, n, LEVER_KEYS)[2])
    for j, key in enumerate(LEVER_KEYS):
        spec = LEVERS[key]
        col = values[:, len(unc) + j]
        strata = np.floor((col - spec.min) / (spec.max - spec.min) * n).astype(int)
        assert sorted(strata) == list(range(n)), key  # one experiment per stratum of the lever's range
    for j, key in enumerate(unc):
        lo, hi = PARAMETERS[key].prior.support()
        assert np.all((values[:, j] >= lo) & (values[:, j] <= hi)), key


def test_parameters_the_scenario_overrides_are_not_uncertainties():
    if not uncertain_parameters():
        pytest.skip("no uncertain parameter registered yet")
    key = uncertain_parameters()[0]
    sc = Scenario.from_dict({"horizon": {"start": "2019-01", "end": "2020-12"},
                             "overrides": {key: PARAMETERS[key].value}})
    unc, _, _ = design(sc, 3)
    assert key not in unc and len(unc) == len(uncertain_parameters()) - 1


def test_bad_design_requests_are_input_errors():
    sc = short_scenarios()[0]
    with pytest.raises(InputError, match="no_such_lever"):
        design(sc, 3, ["no_such_lever"])
    with pytest.raises(InputError, match="--samples"):
        design(sc, 0)
    with pytest.raises(InputError, match="--start"):
        explore(sc, 2, ["naloxone_coverage"], start="2031-01", executor=ThreadPoolExecutor(1))


def test_each_experiment_moves_its_levers_from_the_start_month_with_the_usual_ramp():
    sc = short_scenarios()[0]
    unc, lev, values = design(sc, 4, LEVER_KEYS)
    start = parse_month("2019-06")
    for (experiment, params), row in zip(experiments(sc, unc, lev, values, start), values):
        assert params == {k: row[j] for j, k in enumerate(unc)}
        for j, key in enumerate(lev):
            path = experiment.lever_schedule(key)[:, 0]
            months = experiment.months
            before = months < start
            assert np.all(path[before] == LEVERS[key].baseline_values()[0])
            ramp = LEVERS[key].ramp_months
            done = np.flatnonzero(months >= start + np.timedelta64(ramp - 1, "M"))
            if done.size:
                assert path[done[0]] == pytest.approx(row[len(unc) + j])


def test_explore_returns_experiments_with_uncertainties_levers_and_outcomes(tmp_path):
    ds = explore(short_scenarios()[0], 8, ["naloxone_coverage"], start="2019-03", executor=ThreadPoolExecutor(2),
                 store=tmp_path / "st", scale=SCALE, components=TOY)
    assert ds.sizes["experiment"] == 8 and not ds["run_failed"].any()
    assert json.loads(ds.attrs["levers"]) == ["naloxone_coverage"]
    assert json.loads(ds.attrs["uncertainties"]) == uncertain_parameters()
    assert set(json.loads(ds.attrs["outcomes"])) == {"drug_induced_deaths", "seizures_kg", "programme_cost_eur"}
    assert ds["naloxone_coverage"].dims == ("experiment",) and ds["naloxone_coverage"].attrs["role"] == "lever"
    for key in uncertain_parameters():
        assert ds[key].attrs["role"] == "uncertainty"
    assert ds["drug_induced_deaths"].dims[:2] == ("experiment", "year")
    # same model seed in every experiment: deaths fall with the naloxone lever, monotonically (toy model)
    deaths = ds["drug_induced_deaths"].sel(year=2020).sum(["member_state", "sex"]).values
    order = np.argsort(ds["naloxone_coverage"].values)
    assert np.all(np.diff(deaths[order]) < 0)
    path = tmp_path / "x.nc"
    dapsim.storage.write_netcdf(ds, path)
    back = read_netcdf(path)
    np.testing.assert_array_equal(back["naloxone_coverage"].values, ds["naloxone_coverage"].values)


def test_cli_explore_writes_the_dataset_and_resumes_without_rerunning(tmp_path, capsys):
    from dapsim.cli import main

    (tmp_path / "base.toml").write_text('name = "Short"\nhorizon = { start = "2019-01", end = "2020-12" }\n')
    out = tmp_path / "out"
    args = ["explore", str(tmp_path / "base.toml"), "--samples", "3", "--levers", "naloxone_coverage,oat_capacity",
            "--start", "2019-06", "--scale", "1000", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    ds = read_netcdf(out / "base_explore.nc")
    assert ds.sizes["experiment"] == 3 and json.loads(ds.attrs["levers"]) == ["naloxone_coverage", "oat_capacity"]
    index = out / "base_explore_store" / "index.jsonl"
    before = [json.loads(line) for line in index.read_text().splitlines()]
    assert sorted(r["run"] for r in before) == ["x00000", "x00001", "x00002"]
    assert main([*args, "--resume"]) == 0
    after = [json.loads(line) for line in index.read_text().splitlines()]
    # finished experiments are not run again; failed ones (if the model fails) are retried and recorded again
    assert after[:3] == before
    assert sorted(r["run"] for r in after[3:]) == sorted(r["run"] for r in before if r["status"] == "failed")
    again = read_netcdf(out / "base_explore.nc")
    if not ds["run_failed"].any():
        assert again.equals(ds)
