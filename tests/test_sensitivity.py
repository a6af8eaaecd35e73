"""Sobol and Morris sensitivity (SALib) on the toy with a known answer, failed runs, outputs and the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from dapsim.analysis.sensitivity import sensitivity, write_outputs
from dapsim.calibration.cli import cmd_sensitivity, register
from dapsim.errors import InputError
from dapsim.storage import read_netcdf

from .test_calibration_toy import TOY_PARAMETERS, FragileToy, ToyHarms, toy_registry, toy_scenario

KEYS = list(TOY_PARAMETERS)
OUTCOMES = ["drug_induced_deaths", "seizures_kg[substance=cocaine]"]
DEATH, GROWTH = KEYS


def _index(result, outcome, parameter, key):
    return next(r[key] for r in result.indices if r["outcome"] == outcome and r["parameter"] == parameter)


@pytest.fixture(scope="module")
def sobol():
    with toy_registry():
        return sensitivity(toy_scenario("2020-12"), method="sobol", samples=32, outcomes=OUTCOMES, year=2020,
                           parameters=KEYS, components=[ToyHarms])


def test_sobol_finds_what_drives_each_outcome(sobol):
    assert len(sobol.errors) == 32 * (len(KEYS) + 2)
    assert _index(sobol, "drug_induced_deaths", DEATH, "ST") > 0.8
    assert _index(sobol, "drug_induced_deaths", GROWTH, "ST") < 0.1
    assert _index(sobol, "seizures_kg[substance=cocaine]", GROWTH, "S1") > 0.8
    assert _index(sobol, "seizures_kg[substance=cocaine]", DEATH, "ST") < 0.05
    assert all(r["blocks_dropped"] == 0 for r in sobol.indices)


def test_morris_ranks_the_driver_first():
    with toy_registry():
        res = sensitivity(toy_scenario("2020-12"), method="morris", samples=10, outcomes=OUTCOMES, year=2020,
                          parameters=KEYS, components=[ToyHarms])
    assert len(res.errors) == 10 * (len(KEYS) + 1)
    assert _index(res, "drug_induced_deaths", DEATH, "mu_star") > 10 * _index(res, "drug_induced_deaths", GROWTH, "mu_star")
    assert _index(res, "seizures_kg[substance=cocaine]", DEATH, "mu_star") == 0.0


def test_failed_runs_are_recorded_and_their_blocks_left_out(tmp_path):
    with toy_registry():
        res = sensitivity(toy_scenario("2020-12"), method="sobol", samples=16, outcomes=OUTCOMES[:1], year=2020,
                          parameters=KEYS, components=[FragileToy])
        paths = write_outputs(res, tmp_path)
    failed = res.failed
    assert failed.any() and not failed.all()
    # every failure is a run whose death rate exceeded the toy's breaking point, with its error
    assert np.all(res.values[failed, 0] > 30.0)
    rows = list(csv.DictReader(open(paths["failures"])))
    assert len(rows) == int(failed.sum())
    assert all("FloatingPointError: toy model diverged" in r["error"] for r in rows)
    blocks_with_failure = len({int(r["block"]) for r in rows})
    row = next(r for r in res.indices if r["parameter"] == DEATH)
    assert row["blocks_dropped"] == blocks_with_failure and row["blocks_used"] == 16 - blocks_with_failure
    runs = read_netcdf(paths["runs"])
    assert int(runs["failed"].sum()) == int(failed.sum())
    assert paths["plot"].stat().st_size > 10_000


def test_outputs_and_cli(tmp_path, capsys, write_scenario):
    from dapsim.cli import _ArgumentParser

    scenario = write_scenario('name = "toy"\nhorizon = { start = "2016-01", end = "2020-12" }\n')
    parser = _ArgumentParser(prog="dapsim")
    register(parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser))
    args = parser.parse_args(["sensitivity", str(scenario), "--method", "morris", "--samples", "4", "--year", "2020",
                              "--params", "toy.*", "--outcomes", "drug_induced_deaths", "--out", str(tmp_path / "sa")])
    with toy_registry():
        assert cmd_sensitivity(args, components=[ToyHarms]) == 0
    out = tmp_path / "sa"
    for name in ("sensitivity_morris.csv", "sensitivity_morris_failures.csv", "sensitivity_morris_runs.nc",
                 "sensitivity_morris.png"):
        assert (out / name).is_file(), name
    table = list(csv.DictReader(open(out / "sensitivity_morris.csv")))
    assert {r["parameter"] for r in table} == set(KEYS)
    assert "Most influential parameters (morris, 2020)" in capsys.readouterr().out


def test_bad_sensitivity_input():
    with toy_registry():
        with pytest.raises(InputError, match="--year"):
            sensitivity(toy_scenario("2020-12"), year=2026, parameters=KEYS, components=[ToyHarms],
                        outcomes=OUTCOMES)
        with pytest.raises(InputError, match="--outcomes"):
            sensitivity(toy_scenario("2020-12"), year=2020, parameters=KEYS, components=[ToyHarms],
                        outcomes=["oat_clients"])
        with pytest.raises(InputError, match="selection of substance"):
            sensitivity(toy_scenario("2020-12"), year=2020, parameters=KEYS, components=[ToyHarms],
                        outcomes=["seizures_kg"])
