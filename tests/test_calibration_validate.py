"""Out-of-sample validation: fit up to a cut-off year, report the posterior-predictive error after it."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from dapsim.calibration.cli import cmd_validate, register
from dapsim.calibration.posterior import posterior_dataset, write_posterior
from dapsim.calibration.targets import load_targets
from dapsim.calibration.validate import split, validation_table
from dapsim.errors import InputError

from .test_calibration_toy import TOY_PARAMETERS, TRUE_DEATH_RATE, TRUE_GROWTH, ToyHarms, toy_registry, toy_scenario
from .test_calibration_toy import write_toy_targets


def _parser():
    from dapsim.cli import _ArgumentParser

    parser = _ArgumentParser(prog="dapsim")
    register(parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser))
    return parser


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validate")
    targets = write_toy_targets(folder / "targets")
    args = _parser().parse_args(["validate", "--cutoff", "2019", "--targets", str(targets), "--particles", "20",
                                 "--generations", "2", "--draws", "12", "--workers", "1", "--params", "toy.*",
                                 "--out", str(folder / "out")])
    with toy_registry():
        np.random.seed(2019)  # single-core sampler: reproducible
        assert cmd_validate(args, components=[ToyHarms], scenario=toy_scenario()) == 0
    return folder / "out"


def test_validation_reports_every_target_with_fit_and_test_sets(validated):
    rows = list(csv.DictReader(open(validated / "validation.csv")))
    assert len(rows) == 12
    assert {r["set"] for r in rows if int(r["year"]) <= 2019} == {"fit"}
    assert {r["set"] for r in rows if int(r["year"]) > 2019} == {"test"}
    deaths = [r for r in rows if r["variable"] == "drug_induced_deaths" and r["set"] == "test"]
    assert len(deaths) == 3
    for r in deaths:  # the toy's deaths do not trend, so a fit on 2017-2019 predicts 2020-2022 well
        assert abs(float(r["relative_error"])) < 0.2
        assert float(r["sim_q05"]) <= float(r["sim_median"]) <= float(r["sim_q95"])
        assert int(r["draws_ok"]) == 12
    summary = list(csv.DictReader(open(validated / "validation_summary.csv")))
    assert {(s["series"], s["set"]) for s in summary} >= {("drug_induced_deaths|EU-27", "test"),
                                                          ("seizures_kg[substance=cocaine]|EU-27", "test")}
    assert (validated / "validation.png").stat().st_size > 10_000
    assert (validated / "posterior_cutoff_2019.nc").is_file()


def test_validation_table_flags_errors_outside_the_range(tmp_path):
    with toy_registry():
        targets = load_targets(write_toy_targets(tmp_path / "t", years=(2018, 2020)))
    truth = np.array([t.value for t in targets])
    predictive = np.vstack([truth * 1.5, truth * 1.5, truth * 1.5])
    predictive[0, 0] = np.nan  # a failed draw
    rows = validation_table(targets, predictive, cutoff=2019)
    assert [r["set"] for r in rows] == ["fit", "fit", "test", "test"]
    assert all(not r["median_in_range"] for r in rows)
    assert rows[1]["relative_error"] == pytest.approx(0.5)
    assert rows[0]["draws_failed"] == 1 and rows[0]["draws_ok"] == 2


def test_given_posterior_skips_fitting(tmp_path):
    folder = write_toy_targets(tmp_path / "t", years=(2018, 2019, 2020))
    with toy_registry():
        post = posterior_dataset({"toy.death_rate_per_million": np.full(3, TRUE_DEATH_RATE),
                                  "toy.cocaine_seizure_growth": np.full(3, TRUE_GROWTH)}, np.ones(3))
        path = write_posterior(post, tmp_path / "p.nc")
        args = _parser().parse_args(["validate", "--cutoff", "2019", "--targets", str(folder), "--posterior", str(path),
                                     "--draws", "3", "--workers", "1", "--out", str(tmp_path / "out")])
        assert cmd_validate(args, components=[ToyHarms], scenario=toy_scenario("2020-12")) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "validation.csv")))
    assert all(r["median_in_range"] == "True" for r in rows)


def test_cutoff_must_leave_targets_on_both_sides(tmp_path):
    with toy_registry():
        targets = load_targets(write_toy_targets(tmp_path / "t", years=(2018, 2019)))
        with pytest.raises(InputError, match="--cutoff"):
            split(targets, 2019, components=[ToyHarms])
        with pytest.raises(InputError, match="--cutoff"):
            split(targets, 2010, components=[ToyHarms])
