"""ABC-SMC calibration end to end: on a toy with a known truth, and a small run of the real model."""

from __future__ import annotations

import argparse
import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from dapsim.calibration.abc import TargetDistance, calibrate
from dapsim.calibration.cli import cmd_calibrate, register
from dapsim.calibration.posterior import load_posterior, posterior_dataset, read_posterior, write_posterior
from dapsim.calibration.simulator import uncertain_parameters
from dapsim.calibration.targets import load_targets
from dapsim.errors import InputError

from .test_calibration_toy import (TOY_PARAMETERS, TRUE_DEATH_RATE, FragileToy, ToyHarms, toy_registry, toy_scenario,
                                   write_toy_targets)

ROOT = Path(__file__).resolve().parents[1]
TOY_KEYS = list(TOY_PARAMETERS)


def _parser():
    from dapsim.cli import _ArgumentParser

    parser = _ArgumentParser(prog="dapsim")
    register(parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser))
    return parser


@pytest.fixture(scope="module")
def toy_fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toyfit")
    with toy_registry():
        targets = load_targets(write_toy_targets(folder / "targets"))
        np.random.seed(20211231)  # the single-core sampler draws from numpy's global stream: a reproducible fit
        post = calibrate(targets, toy_scenario(), parameters=TOY_KEYS, particles=40, generations=3, workers=1,
                         db=folder / "history.db", components=[ToyHarms])
    return post, folder, targets


def _weighted_quantiles(post, key, qs):
    x, w = post[key].values, post["weight"].values
    order = np.argsort(x)
    cdf = np.cumsum(w[order])
    return [x[order][min(np.searchsorted(cdf, q), x.size - 1)] for q in qs]


def test_posterior_concentrates_near_the_truth(toy_fit):
    post, _, _ = toy_fit
    lo, med, hi = _weighted_quantiles(post, "toy.death_rate_per_million", (0.05, 0.5, 0.95))
    assert abs(med - TRUE_DEATH_RATE) / TRUE_DEATH_RATE < 0.15
    prior = TOY_PARAMETERS["toy.death_rate_per_million"].prior.frozen()
    assert hi - lo < 0.5 * (prior.ppf(0.95) - prior.ppf(0.05))
    eps = json.loads(post.attrs["epsilons"])
    assert len(eps) == 3 and eps[-1] < eps[0]
    assert np.isclose(post["weight"].sum(), 1.0)
    assert post.attrs["targets_not_used"] == "[]"
    ess = json.loads(post.attrs["effective_sample_sizes"])
    assert len(ess) == 3 and ess[0] == pytest.approx(40.0)
    assert min(ess) > 0.3 * 40  # the weights stay spread over the particles


def test_kernel_covariance_is_twice_the_weighted_particle_covariance():
    import pandas as pd

    from dapsim.calibration.abc import effective_sample_size, make_transition

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)) * [1.0, 2.0, 0.5], columns=["a", "b", "c"])
    w = rng.uniform(0.5, 1.5, 60)
    w /= w.sum()
    mean = (X.to_numpy() * w[:, None]).sum(axis=0)
    centred = X.to_numpy() - mean
    weighted_cov = (centred * w[:, None]).T @ centred / (1.0 - np.sum(w ** 2))  # unbiased weighted covariance
    full = make_transition(3, 60)
    full.fit(X, w)
    np.testing.assert_allclose(full.cov, 2.0 * weighted_cov, rtol=1e-6)
    diagonal = make_transition(3, 5)
    diagonal.fit(X, w)
    np.testing.assert_allclose(diagonal.cov, np.diag(np.diag(2.0 * weighted_cov)), rtol=1e-6)
    assert effective_sample_size(np.ones(10)) == pytest.approx(10.0)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)


def test_posterior_netcdf_round_trip_and_ensemble_draws(toy_fit, tmp_path):
    post, _, _ = toy_fit
    path = write_posterior(post, tmp_path / "posterior.nc")
    back = read_posterior(path)
    assert list(back.data_vars) == TOY_KEYS and back.sizes["draw"] == 40
    np.testing.assert_allclose(back["weight"].values, post["weight"].values)
    with toy_registry():
        draws = load_posterior(path, n=25, seed=3)
        again = load_posterior(path, n=25, seed=3)
    assert draws.dims == ("draw", "parameter") and draws.shape == (25, 2)
    np.testing.assert_array_equal(draws.values, again.values)
    # every resampled draw is one of the particles
    particles = set(np.round(post["toy.death_rate_per_million"].values, 12))
    assert set(np.round(draws.sel(parameter="toy.death_rate_per_million").values, 12)) <= particles


def test_load_posterior_respects_weights_and_drops_stale_parameters(tmp_path):
    with toy_registry():
        ds = posterior_dataset({"toy.death_rate_per_million": np.array([10.0, 20.0, 30.0]),
                                "toy.cocaine_seizure_growth": np.array([1.1, 1.2, 1.3])}, np.array([0.0, 0.0, 1.0]))
        ds["gone.parameter"] = ("draw", np.ones(3))
        path = write_posterior(ds, tmp_path / "p.nc")
        with pytest.warns(UserWarning, match="gone.parameter"):
            draws = load_posterior(path, n=7)
    assert list(draws["parameter"].values) == TOY_KEYS
    assert np.all(draws.sel(parameter="toy.death_rate_per_million").values == 30.0)


def test_load_posterior_without_a_shipped_file(tmp_path, monkeypatch):
    from dapsim.calibration import posterior as P

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(P, "_REPOSITORY", tmp_path)  # nor in the checkout the package runs from
    assert load_posterior() is None
    with pytest.raises(InputError, match="no such file"):
        load_posterior(required=True)


def test_resume_continues_the_sqlite_history(toy_fit):
    post, folder, targets = toy_fit
    with toy_registry():
        more = calibrate(targets, toy_scenario(), parameters=TOY_KEYS, particles=40, generations=1, workers=1,
                         db=folder / "history.db", resume=True, components=[ToyHarms])
    assert more.attrs["history_run_id"] == post.attrs["history_run_id"]
    assert more.attrs["generations"] == post.attrs["generations"] + 1


def test_a_stopped_calibration_writes_its_latest_generation_without_running_more(toy_fit, tmp_path):
    import pyabc

    post, folder, targets = toy_fit
    history = pyabc.History(f"sqlite:///{(folder / 'history.db').resolve()}", create=False)
    with toy_registry():
        latest = calibrate(targets, toy_scenario(), parameters=TOY_KEYS, particles=40, generations=0, workers=1,
                           db=folder / "history.db", resume=True, components=[ToyHarms])
        with pytest.raises(InputError, match="0 only with --resume"):
            calibrate(targets, toy_scenario(), parameters=TOY_KEYS, particles=40, generations=0, workers=1,
                      db=tmp_path / "new.db", components=[ToyHarms])
    assert latest.attrs["generations"] == history.max_t + 1
    assert latest.attrs["total_simulations"] == history.total_nr_simulations  # nothing was simulated
    df, w = history.get_distribution(m=0, t=history.max_t)
    np.testing.assert_allclose(np.sort(latest["weight"].values), np.sort(np.asarray(w)))


def test_dask_sampler_when_a_client_is_given(tmp_path):
    from distributed import Client, LocalCluster

    with toy_registry():
        targets = load_targets(write_toy_targets(tmp_path / "t", years=(2017, 2018)))
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            post = calibrate(targets, toy_scenario("2018-12"), parameters=TOY_KEYS, particles=8, generations=1,
                             scheduler=client, db=tmp_path / "h.db", components=[ToyHarms])
    assert post.sizes["draw"] == 8 and np.all(np.isfinite(post["toy.death_rate_per_million"].values))


def test_failed_runs_are_never_accepted(tmp_path):
    with toy_registry():
        targets = load_targets(write_toy_targets(tmp_path / "t", years=(2017, 2018)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = calibrate(targets, toy_scenario("2018-12"), parameters=TOY_KEYS, particles=30, generations=1,
                             workers=1, db=tmp_path / "h.db", components=[FragileToy])
    assert post["toy.death_rate_per_million"].values.max() <= 30.0


def test_distance_is_standardised_and_infinite_for_failures():
    targets = load_targets(ROOT / "calibration" / "targets")
    d = TargetDistance(targets)
    exact = {t.id: t.value for t in targets}
    assert d(exact) == 0.0
    at_upper = {t.id: t.upper for t in targets}
    assert d(at_upper) == pytest.approx(4.0)  # two standard deviations on every target
    assert d({**exact, targets[0].id: float("nan")}) == float("inf")
    assert d({**exact, "_failed": 1.0}) == float("inf")


def test_targets_on_unfilled_variables_are_left_out_and_listed(tmp_path):
    folder = write_toy_targets(tmp_path / "t", years=(2017, 2018))
    with open(folder / "extra.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["indicator", "variable", "geography", "year", "value", "lower", "upper", "unit", "source_url", "note"])
        w.writerow([7, "oat_clients", "EU-27", 2018, 500000, 450000, 550000, "people", "https://example.org", "n"])
    with toy_registry():
        post = calibrate(load_targets(folder), toy_scenario("2018-12"), parameters=TOY_KEYS, particles=6,
                         generations=1, workers=1, db=tmp_path / "h.db", components=[ToyHarms])
    assert json.loads(post.attrs["targets_not_used"]) == ["oat_clients|EU-27|2018"]


def test_cli_calibrate_writes_the_posterior_and_history(tmp_path, capsys):
    """Also exercises pyabc's multicore sampler (two forked workers)."""
    folder = write_toy_targets(tmp_path / "t", years=(2017, 2018))
    args = _parser().parse_args(["calibrate", "--targets", str(folder), "--particles", "6", "--generations", "1",
                                 "--workers", "2", "--params", "toy.*", "--out", str(tmp_path / "out" / "post.nc")])
    with toy_registry():
        assert cmd_calibrate(args, components=[ToyHarms], scenario=toy_scenario("2018-12")) == 0
    assert (tmp_path / "out" / "post.nc").is_file() and (tmp_path / "out" / "post_history.db").is_file()
    printed = capsys.readouterr().out
    assert "Posterior (6 particles" in printed and "simulations in" in printed


def test_bad_calibration_input_is_one_line(tmp_path):
    with pytest.raises(InputError, match="--params"):
        uncertain_parameters(["no_such_parameter.*"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["calibrate", "--particles", "0"])
    args = _parser().parse_args(["calibrate", "--targets", str(tmp_path / "missing")])
    with pytest.raises(InputError, match="does not exist"):
        cmd_calibrate(args)


def test_real_model_small_calibration_end_to_end(tmp_path):
    """The CI calibration: the real model, targets up to 2017 (short horizon), few particles, large scale."""
    from dapsim.calibration.simulator import filled_variables

    targets = load_targets(ROOT / "calibration" / "targets").up_to(2017)
    usable, _ = targets.split_by_variables(filled_variables())
    keys = uncertain_parameters()
    if not keys or not len(usable):
        pytest.skip("the model has no uncertain parameters or fills no target variable yet")
    folder = tmp_path / "targets"
    folder.mkdir()
    with open(folder / "to2017.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["indicator", "variable", "geography", "year", "value", "lower", "upper", "unit", "source_url", "note"])
        for t in targets:
            w.writerow([t.indicator, t.variable, t.geography, t.year, t.value, t.lower, t.upper, t.unit, t.source_url, t.note])
    out = tmp_path / "posterior.nc"
    chosen = keys[:6]  # a few parameters keep CI fast; the full calibration varies all of them
    args = _parser().parse_args(["calibrate", "--targets", str(folder), "--particles", "4", "--generations", "2",
                                 "--scale", "1000", "--workers", "2", "--params", ",".join(chosen), "--out", str(out)])
    assert cmd_calibrate(args) == 0
    post = read_posterior(out)
    assert post.sizes["draw"] == 4 and list(post.data_vars) == chosen
    assert json.loads(post.attrs["epsilons"])[-1] <= json.loads(post.attrs["epsilons"])[0]
    draws = load_posterior(out, n=4)
    assert draws.shape == (4, len(chosen))
