"""PRIM scenario discovery on an explore-like result built from real (toy-component) simulation runs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import xarray as xr
from scipy.stats import qmc

from dapsim.analysis.discover import discover, load_explore, outcome_values, write_outputs
from dapsim.calibration.cli import cmd_discover, register
from dapsim.calibration.simulator import TargetSimulator
from dapsim.calibration.targets import TargetSet
from dapsim.errors import InputError
from dapsim.memberstates import POPULATION_15_64
from dapsim.storage import write_netcdf

from .test_calibration_toy import TOY_PARAMETERS, ToyHarms, toy_registry, toy_scenario

N = 48
THRESHOLD_RATE = 24.0  # deaths per million: the outcome threshold below corresponds to this rate


@pytest.fixture(scope="module")
def explore_file(tmp_path_factory):
    """The layout of `dapsim explore`: inputs on experiment with a role, outcomes on (experiment, year, ...)."""
    keys = list(TOY_PARAMETERS)
    unit = qmc.LatinHypercube(d=3, seed=7).random(N)
    values = {k: TOY_PARAMETERS[k].prior.ppf(np.clip(unit[:, j], 0.001, 0.999), 0.0) for j, k in enumerate(keys)}
    lever = 0.1 + 0.8 * unit[:, 2]
    runs = []
    with toy_registry():
        sim = TargetSimulator(toy_scenario("2020-12"), TargetSet(()), components=(ToyHarms,))
        for i in range(N):
            runs.append(sim.yearly({k: values[k][i] for k in keys}, seed=0)[["drug_induced_deaths", "seizures_kg"]])
    ds = xr.concat(runs, dim="experiment").assign_coords(experiment=np.arange(N))
    for k in keys:
        ds[k] = ("experiment", values[k], {"role": "uncertainty", "units": TOY_PARAMETERS[k].unit})
    ds["naloxone_coverage"] = ("experiment", lever, {"role": "lever", "units": "share"})
    failed = np.zeros(N, dtype=bool)
    failed[[3, 11]] = True
    ds["drug_induced_deaths"] = ds["drug_induced_deaths"].where(~xr.DataArray(failed, dims="experiment"))
    ds["run_failed"] = ("experiment", failed)
    ds.attrs.update({"uncertainties": json.dumps(keys), "levers": json.dumps(["naloxone_coverage"]),
                     "outcomes": json.dumps(["drug_induced_deaths", "seizures_kg"])})
    path = tmp_path_factory.mktemp("explore") / "explore.nc"
    write_netcdf(ds, path)
    return path


def _threshold():
    return THRESHOLD_RATE * POPULATION_15_64.sum() / 1e6


def test_prim_box_restricts_the_driver_of_the_outcome(explore_file):
    ds = load_explore(explore_file)
    result = discover(ds, "drug_induced_deaths", _threshold(), year=2020)
    assert result.n_failed == 2 and result.year == 2020
    box = result.boxes[0]
    assert box.meets_threshold and box.density >= 0.8 and box.coverage >= 0.6
    dims = {lim["dimension"]: lim for lim in box.limits}
    assert "toy.death_rate_per_million" in dims
    assert dims["toy.death_rate_per_million"]["lower"] == pytest.approx(THRESHOLD_RATE, rel=0.2)
    assert "naloxone_coverage" not in dims


def test_below_direction_and_selection(explore_file):
    ds = load_explore(explore_file)
    values, year = outcome_values(ds, "seizures_kg[substance=cocaine]", None)
    assert year == 2020 and values.shape == (N,) and np.all(values > 0)
    result = discover(ds, "seizures_kg[substance=cocaine]", float(np.median(values)), direction="below")
    dims = {lim["dimension"]: lim for lim in result.boxes[0].limits}
    growth = dims["toy.cocaine_seizure_growth"]
    assert growth["upper"] < growth["initial_upper"] and growth["lower"] == growth["initial_lower"]
    assert "naloxone_coverage" not in dims


def test_cli_writes_boxes_trajectory_and_plot(explore_file, tmp_path, capsys):
    from dapsim.cli import _ArgumentParser

    parser = _ArgumentParser(prog="dapsim")
    register(parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser))
    args = parser.parse_args(["discover", str(explore_file), "--outcome", "drug_induced_deaths", "--threshold",
                              f"{_threshold():.0f}", "--year", "2020", "--out", str(tmp_path)])
    assert cmd_discover(args) == 0
    rows = list(csv.DictReader(open(tmp_path / "discover_drug_induced_deaths_boxes.csv")))
    assert rows[0]["box"] == "1" and float(rows[0]["coverage"]) > 0 and float(rows[0]["density"]) > 0
    assert (tmp_path / "discover_drug_induced_deaths_trajectory.csv").is_file()
    assert (tmp_path / "discover_drug_induced_deaths.png").stat().st_size > 10_000
    assert "coverage" in capsys.readouterr().out


def test_bad_discovery_input(explore_file, tmp_path):
    ds = load_explore(explore_file)
    with pytest.raises(InputError, match="some but not all"):
        discover(ds, "drug_induced_deaths", 1e12)
    with pytest.raises(InputError, match="outcome variable"):
        discover(ds, "no_such_outcome", 1.0)
    with pytest.raises(InputError, match="selection of substance"):
        discover(ds, "seizures_kg", 1.0)
    with pytest.raises(InputError, match="year"):
        discover(ds, "drug_induced_deaths", 1.0, year=2031)
    (tmp_path / "flat.nc").write_bytes(b"")
    with pytest.raises(InputError):
        load_explore(tmp_path / "flat.nc")
    with pytest.raises(InputError, match="no such file"):
        load_explore(tmp_path / "missing.nc")
