"""Ensembles: parameter draws, common random numbers, determinism across workers, the store, failures, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xarray as xr

import dapsim
import dapsim.ensemble as E
from dapsim.component import Component
from dapsim.errors import InputError
from dapsim.params import PARAMETERS
from dapsim.scenario import Scenario

from .conftest import ROOT, SCENARIOS

SHORT = {"start": "2019-01", "end": "2020-12"}
SCALE = 200.0


class ToyHarms(Component):
    """A small stochastic stand-in for the harms side, so these tests check the ensemble machinery itself,
    quickly and whatever state the full model is in: it draws from its own stream (the same number of
    uniforms every month whatever the lever), reads a lever and a shock, books the lever's cost."""

    name = "toy_harms"
    levers = ("naloxone_coverage",)
    shocks = ("nitazene_emergence",)
    fills = ("drug_induced_deaths", "seizures_kg")

    def step(self, t):
        cover = self.model.lever("naloxone_coverage")[:, None]
        nitazenes = self.model.shock_magnitude("nitazene_emergence")[:, None]
        u = self.rng.random((27, 2))
        self.deaths = 20.0 * (0.5 + u) * (1 + 5 * nitazenes) * (1 - 0.5 * cover)
        self.seized = 100.0 * self.rng.random((27, 7))
        self.model.spend("naloxone_coverage", cover[:, 0] * 1000 * 30.0 / 12)

    def record(self, t, out):
        out["drug_induced_deaths"][t] = self.deaths
        out["seizures_kg"][t] = self.seized


TOY = ("tests.test_ensemble:ToyHarms",)


def short_scenarios() -> list[Scenario]:
    base = Scenario.from_dict({"name": "Base", "horizon": SHORT}, source="base.toml")
    alt = Scenario.from_dict({
        "name": "Naloxone and nitazenes", "horizon": SHORT,
        "levers": {"naloxone_coverage": {"target": 0.5, "from": "2019-06", "ramp_months": 6}},
        "shocks": [{"kind": "nitazene_emergence", "at": "2019-09"}],
    }, source="alt.toml")
    return [base, alt]


def _data(ens: xr.Dataset) -> xr.Dataset:
    """The ensemble without attributes that legitimately differ (none should) and sorted by its labels."""
    return ens.sortby(["scenario", "seed"])


# ------------------------------------------------------------------------------------------------ draws


def test_prior_draws_are_a_reproducible_latin_hypercube_inside_each_prior():
    n = 8
    a, b = E.prior_draws(n), E.prior_draws(n)
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a["parameter"].values) == E.uncertain_parameters()
    assert not np.array_equal(a.values, E.prior_draws(n, seed=E.DRAW_SEED + 1).values) or a.sizes["parameter"] == 0
    for j, key in enumerate(a["parameter"].values):
        prior = PARAMETERS[str(key)].prior
        lo, hi = prior.support()
        col = a.values[:, j]
        assert np.all((col >= lo) & (col <= hi))
        # Latin hypercube: exactly one draw in each of the n equal-probability strata of the prior
        strata = np.floor(prior.frozen().cdf(col) * n).astype(int)
        assert sorted(strata) == list(range(n)), key


def test_draws_hook_accepts_parameter_values_per_draw_and_rejects_bad_ones():
    key = E.uncertain_parameters()[0] if E.uncertain_parameters() else next(iter(PARAMETERS))
    value = PARAMETERS[key].value
    posterior = xr.Dataset({key: ("draw", [value, value])})
    da = E.resolve_draws(posterior)
    assert da.dims == ("draw", "parameter") and da.sizes["draw"] == 2 and list(da["parameter"].values) == [key]
    assert E.resolve_draws(None).shape == (1, 0)
    with pytest.raises(InputError, match="unknown parameter"):
        E.resolve_draws(xr.Dataset({"no.such_parameter": ("draw", [1.0])}))
    lo, hi = PARAMETERS[key].prior.support()
    if np.isfinite(hi):
        with pytest.raises(InputError, match="support"):
            E.resolve_draws(xr.Dataset({key: ("draw", [hi + 1.0])}))
    with pytest.raises(InputError):
        E.resolve_draws(0)


def test_a_calibration_posterior_file_plugs_in_as_draws(tmp_path):
    posterior = pytest.importorskip("dapsim.calibration.posterior")
    posterior_dataset, write_posterior = posterior.posterior_dataset, posterior.write_posterior

    key = E.uncertain_parameters()[0] if E.uncertain_parameters() else pytest.skip("no uncertain parameter yet")
    particles = np.array([PARAMETERS[key].value, PARAMETERS[key].prior.ppf(np.array([0.9]), 0.0)[0]])
    path = write_posterior(posterior_dataset({key: particles}, np.array([0.0, 1.0])), tmp_path / "posterior.nc")
    draws = E.resolve_draws(path, n=4)
    assert draws.dims == ("draw", "parameter") and draws.shape == (4, 1)
    np.testing.assert_array_equal(draws.values[:, 0], particles[1])  # all the weight is on the second particle
    ens = E.run_ensemble(short_scenarios()[:1], draws=str(path), seeds=1, executor=ThreadPoolExecutor(1),
                         scale=SCALE, components=TOY)
    assert ens.sizes["draw"] == 2 and json.loads(ens.attrs["draws"])["source"] == str(path)


def test_a_number_of_draws_resamples_the_shipped_posterior_and_falls_back_to_the_priors(tmp_path, monkeypatch):
    from dapsim.calibration import posterior as P

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.setattr(P, "_REPOSITORY", empty)
    assert P.shipped_posterior() is None
    prior = E.resolve_draws(3)
    assert list(prior["parameter"].values) == E.uncertain_parameters()
    assert prior.attrs["source"].startswith("priors")

    key = "overdose.unexplained_trend_per_year"
    particles = np.array([0.01, 0.02, 0.03])
    shipped = empty / P.DEFAULT_POSTERIOR
    shipped.parent.mkdir()
    P.write_posterior(P.posterior_dataset({key: particles}, np.array([0.0, 0.0, 1.0])), shipped)
    assert P.shipped_posterior() == Path(P.DEFAULT_POSTERIOR)
    draws = E.resolve_draws(4)
    assert list(draws["parameter"].values) == [key]
    np.testing.assert_array_equal(draws.values[:, 0], 0.03)  # all the weight is on the third particle
    assert "posterior" in draws.attrs["source"]
    np.testing.assert_array_equal(E.prior_draws(3).values, prior.values)  # the priors stay one call away


def test_runs_split_into_draws_times_seeds_exactly():
    assert E.split_runs(20) == (10, 2)
    assert E.split_runs(100) == (20, 5)
    assert E.split_runs(7) == (7, 1)
    for n in range(1, 200):
        d, s = E.split_runs(n)
        assert d * s == n and d >= s


def test_every_shipped_scenario_survives_the_trip_to_a_worker():
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = dapsim.load_scenario(path)
        back = Scenario.from_dict(E.scenario_payload(sc), source=str(path))
        for key in dapsim.LEVERS:
            np.testing.assert_array_equal(back.lever_schedule(key), sc.lever_schedule(key))
        assert [(s.kind, s.at, s.duration_months, s.magnitude, s.where) for s in back.shocks] == \
            [(s.kind, s.at, s.duration_months, s.magnitude, s.where) for s in sc.shocks]
        assert dict(back.overrides) == dict(sc.overrides) and (back.start, back.end) == (sc.start, sc.end)


# ------------------------------------------------------------------------------------------------ runs


@pytest.fixture(scope="module")
def sequential():
    """The reference ensemble: one worker thread, one run per task."""
    return E.run_ensemble(short_scenarios(), draws=2, seeds=2, executor=ThreadPoolExecutor(1), scale=SCALE, components=TOY,
                          batch_size=1)


def test_ensemble_has_scenario_draw_seed_dims_and_records_its_design(sequential):
    ens = sequential
    assert list(ens["scenario"].values) == ["base", "alt"]
    assert list(ens["draw"].values) == [0, 1] and list(ens["seed"].values) == [0, 1]
    assert list(ens["scenario_name"].values) == ["Base", "Naloxone and nitazenes"]
    assert ens.attrs["time_resolution"] == "annual" and ens.attrs["n_runs"] == 8
    assert json.loads(ens.attrs["seeds"]) == [0, 1] and json.loads(ens.attrs["failed_runs"]) == []
    assert [s["name"] for s in json.loads(ens.attrs["scenarios"])] == ["Base", "Naloxone and nitazenes"]
    assert ens["parameter_value"].dims == ("draw", "parameter")
    assert not ens["run_failed"].any()
    for name in ens.data_vars:
        if name in dapsim.INDICATORS:
            assert ens[name].dims[:3] == ("scenario", "draw", "seed")
            assert "year" in ens[name].dims and list(ens["year"].values) == [2019, 2020]
            assert np.isfinite(ens[name].values).all(), name


def test_draw_k_has_the_same_parameters_and_seed_s_the_same_streams_in_every_scenario(sequential):
    """Common random numbers: the two scenarios differ only from the month the lever or shock acts."""
    ens = E.run_ensemble(short_scenarios(), draws=None, seeds=[3], executor=ThreadPoolExecutor(1), scale=SCALE, components=TOY,
                         monthly=True)
    assert "time" in ens.dims
    before = ens.sel(time=slice("2019-01", "2019-05"))  # the lever starts 2019-06, the shock 2019-09
    for name in before.data_vars:
        if name in dapsim.INDICATORS and name != "programme_cost_eur":
            np.testing.assert_array_equal(before[name].sel(scenario="base").values,
                                          before[name].sel(scenario="alt").values)


@pytest.fixture(scope="module")
def dask_cluster():
    """A real two-worker Dask cluster (separate processes), shared by the tests of this module."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def test_same_results_on_one_or_two_dask_workers_and_in_any_order(sequential, dask_cluster):
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        two = E.run_ensemble(short_scenarios(), draws=2, seeds=2, executor=client, scale=SCALE, components=TOY, batch_size=1)
    reordered = E.run_ensemble(short_scenarios()[::-1], draws=2, seeds=[1, 0], executor=ThreadPoolExecutor(2),
                               scale=SCALE, components=TOY, batch_size=3)
    xr.testing.assert_identical(_data(two), _data(sequential))
    xr.testing.assert_equal(_data(reordered.drop_vars("scenario_name")), _data(sequential.drop_vars("scenario_name")))


def test_failed_run_is_recorded_with_its_error_and_left_as_nan(tmp_path, monkeypatch):
    real = E.run_one

    def flaky(spec):
        if spec.labels.get("seed") == 1 and spec.labels.get("scenario") == "alt":
            raise RuntimeError("synthetic failure for the test")
        return real(spec)

    monkeypatch.setattr(E, "run_one", flaky)
    ens = E.run_ensemble(short_scenarios(), draws=None, seeds=2, executor=ThreadPoolExecutor(2), store=tmp_path / "st",
                         scale=SCALE, components=TOY)
    failures = json.loads(ens.attrs["failed_runs"])
    assert [f["run"] for f in failures] == ["alt__d0000__s1"]
    assert "synthetic failure" in failures[0]["error"]
    assert ens["run_failed"].sel(scenario="alt", seed=1).item() and ens["run_failed"].sum() == 1
    for name in ens.data_vars:
        if name in dapsim.INDICATORS:
            assert np.isnan(ens[name].sel(scenario="alt", seed=1)).all()
            assert np.isfinite(ens[name].sel(scenario="base")).all()
    records = [json.loads(line) for line in (tmp_path / "st" / "index.jsonl").read_text().splitlines()]
    failed = [r for r in records if r["status"] == "failed"]
    assert len(records) == 4 and len(failed) == 1 and "synthetic failure" in failed[0]["error"]
    assert any("alt__d0000__s1" in line for line in E.summary_lines(ens))

    # resume: the failed run is tried again, the finished ones are not
    calls = []
    monkeypatch.setattr(E, "run_one", lambda spec: calls.append(spec.run_id) or real(spec))
    again = E.run_ensemble(short_scenarios(), draws=None, seeds=2, executor=ThreadPoolExecutor(1),
                           store=tmp_path / "st", resume=True, scale=SCALE, components=TOY)
    assert calls == ["alt__d0000__s1"] and not again["run_failed"].any()


def test_resume_reruns_only_runs_whose_inputs_changed(tmp_path, monkeypatch):
    real = E.run_one
    calls = []
    monkeypatch.setattr(E, "run_one", lambda spec: calls.append(spec.run_id) or real(spec))
    scs = short_scenarios()
    E.run_ensemble(scs, draws=None, seeds=1, executor=ThreadPoolExecutor(1), store=tmp_path, scale=SCALE, components=TOY)
    assert len(calls) == 2
    calls.clear()
    E.run_ensemble(scs, draws=None, seeds=1, executor=ThreadPoolExecutor(1), store=tmp_path, scale=SCALE, components=TOY, resume=True)
    assert calls == []
    E.run_ensemble(scs, draws=None, seeds=1, executor=ThreadPoolExecutor(1), store=tmp_path, scale=SCALE * 2,
                   components=TOY,
                   resume=True)
    assert sorted(calls) == ["alt__d0000__s0", "base__d0000__s0"]  # another scale: another fingerprint


DRIVER = textwrap.dedent("""
    import sys, time
    from concurrent.futures import ThreadPoolExecutor
    import dapsim.ensemble as E
    from tests.test_ensemble import short_scenarios, SCALE, TOY

    real = E.run_one
    def slow(spec):
        time.sleep(0.2)
        return real(spec)
    E.run_one = slow
    E.run_ensemble(short_scenarios(), draws=3, seeds=2, executor=ThreadPoolExecutor(1), store=sys.argv[1],
                   scale=SCALE, components=TOY, batch_size=1, resume=True)
""")


def test_an_ensemble_killed_part_way_and_resumed_has_every_run_exactly_once(tmp_path, monkeypatch):
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(store)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    index = store / "index.jsonl"
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if index.is_file() and len(index.read_text().splitlines()) >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"driver ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.02)
        else:
            pytest.fail("driver stored no runs within 60 s")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished_before = {json.loads(line)["run"] for line in index.read_text().splitlines() if line.strip()}
    assert 3 <= len(finished_before) < 12

    real = E.run_one
    calls = []
    monkeypatch.setattr(E, "run_one", lambda spec: calls.append(spec.run_id) or real(spec))
    resumed = E.run_ensemble(short_scenarios(), draws=3, seeds=2, executor=ThreadPoolExecutor(2), store=store,
                             scale=SCALE, components=TOY, resume=True)
    assert not set(calls) & finished_before and len(calls) == 12 - len(finished_before)

    records = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    ok = [r["run"] for r in records if r["status"] == "ok"]
    assert len(ok) == len(set(ok)) == 12  # every run exactly once
    assert sorted(p.stem for p in (store / "runs").glob("*.nc")) == sorted(ok)
    assert not list((store / "runs").glob(".*"))  # no half-written file left behind
    fresh = E.run_ensemble(short_scenarios(), draws=3, seeds=2, executor=ThreadPoolExecutor(1), scale=SCALE, components=TOY)
    xr.testing.assert_identical(resumed.drop_attrs(), fresh.drop_attrs())


def test_a_bad_scheduler_address_is_an_input_error(monkeypatch):
    monkeypatch.setattr(E, "SCHEDULER_TIMEOUT", 1.0)
    with pytest.raises(InputError, match="--scheduler"):
        E.run_ensemble(short_scenarios()[:1], executor="tcp://127.0.0.1:1")
    with pytest.raises(InputError, match="tcp://HOST:PORT"):
        E.run_ensemble(short_scenarios()[:1], executor="localhost:8786")


def test_cli_bad_input_gives_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from dapsim.cli import main

    monkeypatch.setattr(E, "SCHEDULER_TIMEOUT", 1.0)
    base = str(SCENARIOS / "baseline.toml")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cases = [
        (["compare", base, "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o1")], "--scheduler"),
        (["compare", base, str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o2")], "missing.toml"),
        (["compare", base, "--out", str(blocker / "out")], "--out"),
        (["compare", base, "--years", "2045", "--out", str(tmp_path / "o5")], "--years"),
        (["compare", base, "--posterior", str(tmp_path / "nope.nc"), "--out", str(tmp_path / "o8")], "--posterior"),
        (["explore", base, "--samples", "2", "--out", str(blocker / "out")], "--out"),
        (["explore", str(tmp_path / "missing.toml"), "--samples", "2", "--out", str(tmp_path / "o3")], "missing.toml"),
        (["explore", base, "--samples", "2", "--scheduler", "nowhere", "--out", str(tmp_path / "o4")], "--scheduler"),
        (["explore", base, "--samples", "2", "--levers", "no_such_lever", "--out", str(tmp_path / "o6")], "no_such_lever"),
    ]
    for args, needle in cases:
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, (args, err)
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 9))  # bad input writes nothing, not even a folder

    # the same through the installed entry point, in a separate process
    env = {**os.environ, "DAPSIM_SCHEDULER_TIMEOUT": "1"}
    proc = subprocess.run([sys.executable, "-m", "dapsim.cli", "compare", base, "--scheduler", "tcp://127.0.0.1:1",
                           "--out", str(tmp_path / "o7")], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--scheduler" in proc.stderr


def test_cli_compare_on_a_dask_scheduler_writes_the_report(tmp_path, capsys, dask_cluster):
    """End to end with the full model on a real two-worker Dask cluster given by address."""
    from dapsim.cli import main

    (tmp_path / "base.toml").write_text('name = "Short baseline"\nhorizon = { start = "2019-01", end = "2020-12" }\n')
    (tmp_path / "nal.toml").write_text((SCENARIOS / "naloxone_scaleup.toml").read_text()
                                       .replace('extends = "baseline.toml"', 'extends = "base.toml"')
                                       .replace('from = "2022-01"', 'from = "2019-06"'))
    out = tmp_path / "out"
    code = main(["compare", str(tmp_path / "base.toml"), str(tmp_path / "nal.toml"), "--runs", "2", "--years", "2020",
                 "--scale", "1000", "--out", str(out), "--scheduler", dask_cluster.scheduler_address])
    assert code == 0, capsys.readouterr().err
    for name in ("report.html", "indicators.csv", "costs.csv", "cost_per_outcome.csv", "failed_runs.csv", "ensemble.nc"):
        assert (out / name).is_file(), name
    ens = dapsim.ensemble.read_netcdf(out / "ensemble.nc")
    assert list(ens["scenario"].values) == ["base", "nal"] and ens.sizes["draw"] * ens.sizes["seed"] == 2
    index = [json.loads(line) for line in (out / "store" / "index.jsonl").read_text().splitlines()]
    assert sorted(r["run"] for r in index) == sorted(f"{s}__d000{d}__s0" for s in ("base", "nal") for d in (0, 1))
    assert "report.html" in capsys.readouterr().out
    # the full model gives the same numbers in this process as in the cluster's worker processes (which have
    # other hash seeds): nothing in a run may depend on the process it runs in
    here = E.run_ensemble([dapsim.load_scenario(tmp_path / "base.toml"), dapsim.load_scenario(tmp_path / "nal.toml")],
                          draws=2, seeds=1, executor=ThreadPoolExecutor(1), scale=1000.0)
    if not here["run_failed"].any():
        xr.testing.assert_identical(here.drop_attrs(), ens.drop_attrs())
