"""Ensembles: scenarios × parameter draws × seeds, run on any executor, stored as they finish.

Foresight users never trust one run. An ensemble runs every scenario with every parameter draw and every seed
and returns one ``xarray.Dataset`` with three added dimensions:

* ``scenario`` — one label per scenario (the file stem, made unique), with the full name in the coordinate
  ``scenario_name``;
* ``draw`` — parameter draws ``0..n-1``. Draw *k* uses the same parameter values in every scenario (the values
  are in the variable ``parameter_value[draw, parameter]``);
* ``seed`` — the run seeds. The same seed in two scenarios shares its random streams (the model derives each
  component's stream from the seed and the component's name), so a difference between two scenarios at the
  same draw and seed is a *paired* difference: common random numbers.

Time resolution: **annual by default** (``dapsim.annual``: sums for flows, means for stocks and rates; complete
calendar years only) because the policy questions are asked in years and the ensemble is 12 times smaller;
``monthly=True`` keeps the model's monthly ``time`` axis.

Parameter draws (the ``draws=`` hook):

* ``None`` — one draw, the registry's point values;
* an ``int`` *n* — *n* draws from the shipped calibration posterior (``calibration/posterior.nc``, resampled
  by weight; parameters it does not name keep their point values) or, when none is shipped, from the priors
  of the uncertain parameters, a scrambled Latin hypercube (``scipy.stats.qmc``). Either way the draw seed is
  fixed (``DRAW_SEED`` unless ``draw_seed=`` says otherwise), so the same *n* gives the same draws on every
  machine. ``prior_draws(n)`` asks for the priors explicitly;
* an ``xarray.Dataset`` with one variable per parameter key along a ``draw`` dimension, an
  ``xarray.DataArray`` with dimensions ``(draw, parameter)``, or the path of a NetCDF file holding either —
  this is where a calibrated posterior (``calibration/posterior.nc``) plugs in. Parameters it does not name
  keep their registry values. A scenario's ``[overrides]`` win over the draw for the keys they set.

Execution: any ``concurrent.futures.Executor`` (a ``ThreadPoolExecutor`` or ``ProcessPoolExecutor``, Dask's
``Client.get_executor()``), a ``distributed.Client``, or the address of a Dask scheduler (``"tcp://host:8786"``).
Without one, an embedded Dask ``LocalCluster`` with one single-threaded worker process per CPU is started and
closed again (as with any process pool, a script that starts it must guard its entry point with
``if __name__ == "__main__":``). Runs are batched per task to amortise the per-task overhead: the first tasks
hold one run each, then each task gets enough runs for about ``TARGET_TASK_SECONDS`` (at most ``MAX_BATCH``),
with about two tasks per worker in flight — quick runs are batched, slow runs still reach the store one by
one, and memory stays bounded for large ensembles; ``batch_size=`` fixes the size. Every run is a pure
function of its scenario, parameter values, seed and scale, and results are placed by their labels, never by
the order they finish in, so the ensemble is identical on 1 or 100 workers. Workers that Dask started with
eager heap trimming get glibc's thresholds raised again before their first run (:func:`tune_allocator`; runs
were about 60 % slower without it).

Store (``store=DIR``): one NetCDF file per finished run in ``DIR/runs/<run-id>.nc`` (written atomically by the
driver, so it also works when the workers share no file system) and an append-only index ``DIR/index.jsonl``,
one JSON object per finished or failed run (run id, labels, a fingerprint of the run's inputs, status, error,
seconds). With ``resume=True`` runs whose fingerprint is recorded as ``ok`` and whose file exists are loaded
instead of run; failed runs are tried again. Without ``resume`` an existing store is emptied first. A failed
run is recorded with its error, reported in the result's ``failed_runs`` attribute and ``run_failed`` variable,
and its values are NaN — never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__
from .errors import InputError
from .params import PARAMETERS, ParameterSet
from .scenario import Scenario, load_scenario
from .storage import prepare_output_dir, read_netcdf, write_netcdf
from .timeline import format_month

DRAW_SEED = 20210101
"""Seed of the Latin hypercube that draws parameter sets from the priors (fixed: same draws everywhere)."""

MAX_BATCH = 8
"""Most runs sent to a worker in one task."""

TARGET_TASK_SECONDS = 2.0
"""Automatic batching aims at tasks of about this many seconds (Dask's overhead is about 1 ms per task)."""

SCHEDULER_TIMEOUT = float(os.environ.get("DAPSIM_SCHEDULER_TIMEOUT", "10"))
"""Seconds to wait for a Dask scheduler given by address before calling the address bad."""


# --------------------------------------------------------------------------------------------- run specs


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run, in plain picklable values.

    ``scenario`` is the scenario as a TOML-shaped table (``Scenario`` itself holds mapping proxies, which do
    not pickle); the worker rebuilds it with :meth:`Scenario.from_dict`. ``params`` holds only the values that
    differ from the registry. ``labels`` place the run in the assembled result (e.g. scenario, draw, seed).
    """

    run_id: str
    scenario: dict
    params: dict
    seed: int
    scale: float | None
    monthly: bool
    labels: dict = field(default_factory=dict)
    components: tuple[str, ...] | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of the run's inputs: a stored run is reused only if nothing that shapes it changed."""
        values = {k: float(v) for k, v in ParameterSet.defaults().updated(self.params).items()}
        blob = json.dumps(
            {"scenario": self.scenario, "params": values, "seed": self.seed, "scale": self.scale,
             "monthly": self.monthly, "version": __version__,
             "components": list(self.components) if self.components is not None else _component_names()},
            sort_keys=True, default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _component_names() -> list[str]:
    from .model import default_components

    return [component_path(c) for c in default_components()]


def component_path(cls) -> str:
    """``"module:QualName"`` of a component class (how a worker finds it), or the string itself."""
    return cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"


def _import_component(path: str):
    import importlib

    module, _, name = path.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def scenario_payload(scenario: Scenario) -> dict:
    """The scenario as a TOML-shaped table that :meth:`Scenario.from_dict` turns back into the same scenario."""
    levers: dict[str, list[dict]] = {}
    for c in scenario.levers:
        entry = {"target": c.target, "from": format_month(c.start), "ramp_months": c.ramp_months}
        if c.where:
            entry["where"] = list(c.where)
        levers.setdefault(c.key, []).append(entry)
    shocks = []
    for s in scenario.shocks:
        entry = {"kind": s.kind, "at": format_month(s.at), "duration_months": s.duration_months, "magnitude": s.magnitude}
        if s.where:
            entry["where"] = list(s.where)
        shocks.append(entry)
    return {
        "name": scenario.name,
        "description": scenario.description,
        "horizon": {"start": format_month(scenario.start), "end": format_month(scenario.end)},
        "levers": levers,
        "shocks": shocks,
        "overrides": dict(scenario.overrides),
    }


def run_one(spec: RunSpec) -> xr.Dataset:
    """Run one spec (in a worker): rebuild the scenario, simulate, aggregate to years unless monthly."""
    from .indicators import annual
    from .model import simulate

    scenario = Scenario.from_dict(spec.scenario, source=spec.labels.get("scenario", spec.run_id))
    params = ParameterSet.defaults().updated(spec.params)
    if spec.components is None:
        ds = simulate(scenario, seed=spec.seed, scale=spec.scale, params=params)
    else:
        from .model import ActionPlanModel

        classes = [_import_component(c) for c in spec.components]
        ds = ActionPlanModel(scenario, seed=spec.seed, scale=spec.scale, params=params, components=classes).run()
    if not spec.monthly:
        ds = annual(ds)
    ds.attrs["run_id"] = spec.run_id
    ds.attrs["fingerprint"] = spec.fingerprint
    return ds


@dataclass
class RunResult:
    """What a worker sends back for one run."""

    run_id: str
    dataset: xr.Dataset | None
    error: str | None
    seconds: float


_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """Undo eager heap trimming in this process (glibc only); return whether it was needed and done.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand memory back to the system
    quickly). Setting that fixes glibc's mmap threshold at 128 kB, so every person-table temporary (a few
    hundred kB at the default scale) is mapped, zero-filled and unmapped again: a run then takes about 60 %
    longer in a worker than in a plain process (measured in benchmarks/bench_ensemble.py). Raising both
    thresholds again (arrays up to 64 MB reuse heap memory; at most 128 MB of free heap is kept) restores the
    plain-process speed. Results do not change; only where numpy's buffers come from.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    _ALLOCATOR_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 64 * 2**20)) and bool(libc.mallopt(m_trim_threshold, 128 * 2**20))
    except (OSError, AttributeError):  # not glibc: nothing to undo
        return False


def run_batch(specs: Sequence[RunSpec]) -> list[RunResult]:
    """Run a batch of specs in order; a run that raises is returned as a failure, the batch goes on."""
    tune_allocator()
    out = []
    for spec in specs:
        started = time.perf_counter()
        try:
            ds = run_one(spec)
            out.append(RunResult(spec.run_id, ds, None, time.perf_counter() - started))
        except Exception as exc:  # noqa: BLE001 - recorded with its traceback, never dropped
            tb = traceback.format_exc(limit=-8)  # the innermost frames: where it broke
            out.append(RunResult(spec.run_id, None, f"{type(exc).__name__}: {exc}\n{tb}", time.perf_counter() - started))
    return out


# --------------------------------------------------------------------------------------------- the store


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_label(text: str) -> str:
    """A label usable in file names and run ids."""
    return _SAFE.sub("-", text).strip("-") or "scenario"


class RunStore:
    """One NetCDF file per finished run plus an append-only JSON-lines index.

    One process writes a store at a time (the driver; workers only compute). A run's file is written
    atomically before its index line, so after a crash every ``ok`` line points at a whole file; a file without
    a line is simply run again on resume (and replaced atomically), so each run ends up stored exactly once.

    Args:
        path: the store folder (created if needed; must be writable).
        resume: keep what is there (finished runs are reused); otherwise empty the store first.
    """

    def __init__(self, path: str | Path, resume: bool = False, option: str = "--out"):
        self.path = prepare_output_dir(path, option)
        self.runs_dir = self.path / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.index = self.path / "index.jsonl"
        for f in self.runs_dir.glob(".*.tmp"):  # left by a process killed while writing a run
            f.unlink(missing_ok=True)
        if not resume:
            for f in self.runs_dir.glob("*.nc"):
                f.unlink()
            self.index.unlink(missing_ok=True)
        self.index.touch()

    def file(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.nc"

    def records(self) -> list[dict]:
        """Every index line that parses (a line cut short by a crash is ignored)."""
        out = []
        with open(self.index, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "run" in rec:
                    out.append(rec)
        return out

    def latest(self) -> dict[str, dict]:
        """The last record of each run."""
        return {rec["run"]: rec for rec in self.records()}

    def finished(self) -> dict[str, str]:
        """Run id -> fingerprint of runs stored as ok whose file is present."""
        return {rid: rec["fingerprint"] for rid, rec in self.latest().items()
                if rec.get("status") == "ok" and self.file(rid).is_file()}

    def _append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.index, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def record_ok(self, spec: RunSpec, ds: xr.Dataset, seconds: float) -> None:
        """Write the run's file (atomically), then its index line: a line always points at a whole file."""
        write_netcdf(ds, self.file(spec.run_id))
        self._append({"run": spec.run_id, "labels": spec.labels, "fingerprint": spec.fingerprint, "status": "ok",
                      "seconds": round(seconds, 3), "file": f"runs/{spec.run_id}.nc", "error": None})

    def record_failure(self, spec: RunSpec, error: str, seconds: float) -> None:
        self.file(spec.run_id).unlink(missing_ok=True)
        self._append({"run": spec.run_id, "labels": spec.labels, "fingerprint": spec.fingerprint,
                      "status": "failed", "seconds": round(seconds, 3), "file": None, "error": error})

    def load(self, run_id: str) -> xr.Dataset:
        return read_netcdf(self.file(run_id))


# --------------------------------------------------------------------------------------------- executors


def _scheduler_error(address: str, reason: str) -> InputError:
    return InputError("--scheduler", "", "the address of a running Dask scheduler, e.g. tcp://HOST:8786",
                      f"{address!r} ({reason})")


def check_scheduler_address(address: str) -> str:
    """Check the form of a scheduler address (reaching it is checked when work starts)."""
    if not re.match(r"^(tcp|tls|inproc|ws|wss|ucx)://\S+$", address):
        raise _scheduler_error(address, "not an address of the form tcp://HOST:PORT")
    return address


@contextmanager
def open_executor(executor=None, n_workers: int | None = None):
    """Yield ``(executor, workers)`` for ``executor`` (see module docstring), closing what it started.

    Raises:
        InputError: if a scheduler address cannot be reached (one line, for ``--scheduler``).
    """
    if isinstance(executor, Executor):
        client = getattr(executor, "_client", None)  # Dask's ClientExecutor
        workers = getattr(executor, "_max_workers", None)
        if client is not None and hasattr(client, "scheduler_info"):
            workers = len(client.scheduler_info().get("workers", {}))
        yield executor, max(1, workers or 1)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise RuntimeError("dask[distributed] is needed for the default executor") from exc
    if isinstance(executor, Client):
        yield executor.get_executor(pure=False), max(1, len(executor.scheduler_info().get("workers", {})))
        return
    if isinstance(executor, str):
        check_scheduler_address(executor)
        try:
            client = Client(executor, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise _scheduler_error(executor, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        try:
            workers = max(1, len(client.scheduler_info().get("workers", {})))
            yield client.get_executor(pure=False), workers
        finally:
            client.close()
        return
    if executor is not None:
        raise TypeError(f"executor must be a concurrent.futures.Executor, a distributed.Client or an address, got {executor!r}")
    import logging

    n = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    try:
        yield client.get_executor(pure=False), n
    finally:
        client.close()
        cluster.close()


def execute(
    specs: Sequence[RunSpec],
    executor=None,
    store: RunStore | None = None,
    batch_size: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
    description: str = "runs",
) -> dict[str, RunResult]:
    """Run every spec not already finished in the store; return a result per run id (loaded or fresh)."""
    results: dict[str, RunResult] = {}
    finished = store.finished() if store is not None else {}
    todo = []
    for spec in specs:
        if finished.get(spec.run_id) == spec.fingerprint:
            results[spec.run_id] = RunResult(spec.run_id, None, None, 0.0)  # loaded lazily below
        else:
            todo.append(spec)
    by_id = {s.run_id: s for s in specs}
    total, done = len(specs), len(specs) - len(todo)

    bar = None
    if progress is True:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True)
        task = bar.add_task(description, total=total, completed=done, failed=0)
        bar.start()
    failed = 0

    def advance(result: RunResult) -> None:
        nonlocal done, failed
        spec = by_id[result.run_id]
        if result.error is None:
            if store is not None:
                store.record_ok(spec, result.dataset, result.seconds)
        else:
            failed += 1
            if store is not None:
                store.record_failure(spec, result.error, result.seconds)
        results[result.run_id] = result
        done += 1
        if bar is not None:
            bar.update(task, completed=done, failed=failed)
        elif callable(progress):
            progress(done, total)

    try:
        if todo:
            with open_executor(executor) as (pool, workers):
                queue = list(todo)
                in_flight: dict = {}
                run_seconds: list[float] = []

                def next_size() -> int:
                    # fixed if asked; otherwise one run per task until run times are known, then enough runs
                    # for about TARGET_TASK_SECONDS per task (batching only pays for quick runs)
                    if batch_size:
                        return batch_size
                    if not run_seconds:
                        return 1
                    mean = max(sum(run_seconds) / len(run_seconds), 1e-3)
                    fair = max(1, len(queue) // (2 * workers))  # leave work for every worker
                    return int(max(1, min(MAX_BATCH, TARGET_TASK_SECONDS // mean, fair)))

                def submit_more() -> None:
                    while queue and len(in_flight) < 2 * workers + 1:
                        size = next_size()
                        batch, queue[:size] = queue[:size], []
                        in_flight[pool.submit(run_batch, batch)] = batch

                try:
                    submit_more()
                    while in_flight:
                        finished_now, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                        for fut in finished_now:
                            batch = in_flight.pop(fut)
                            try:
                                batch_results = fut.result()
                            except Exception as exc:  # the task itself died (worker lost, pickling, ...)
                                batch_results = [RunResult(s.run_id, None, f"task failed: {type(exc).__name__}: {exc}",
                                                           0.0) for s in batch]
                            for r in batch_results:
                                if r.error is None:
                                    run_seconds.append(r.seconds)
                                advance(r)
                        submit_more()
                finally:
                    for fut in in_flight:
                        fut.cancel()
    finally:
        if bar is not None:
            bar.stop()
    for rid, r in results.items():
        if r.dataset is None and r.error is None:  # finished in an earlier session
            r.dataset = store.load(rid)
    return results


# --------------------------------------------------------------------------------------------- draws


def _lhs(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    try:
        sampler = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed))
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed))
    return sampler.random(n)


def uncertain_parameters() -> list[str]:
    """Keys of the parameters whose prior is not fixed, in sorted order (the order of the hypercube's axes)."""
    return sorted(k for k, p in PARAMETERS.items() if p.uncertain)


def prior_draws(n: int, seed: int = DRAW_SEED, keys: Sequence[str] | None = None) -> xr.DataArray:
    """``n`` parameter sets from the priors: a Latin hypercube mapped through each prior's quantile function."""
    keys = list(uncertain_parameters() if keys is None else keys)
    values = np.empty((n, len(keys)))
    if keys:
        q = _lhs(len(keys), n, seed)
        for j, key in enumerate(keys):
            p = PARAMETERS[key]
            values[:, j] = p.prior.ppf(q[:, j], p.value)
    return xr.DataArray(values, dims=("draw", "parameter"),
                        coords={"draw": np.arange(n), "parameter": np.array(keys, dtype=str)},
                        name="parameter_value",
                        attrs={"long_name": "Parameter value of each draw",
                               "source": f"priors, Latin hypercube, draw seed {seed}"})


def resolve_draws(draws, draw_seed: int = DRAW_SEED, n: int | None = None) -> xr.DataArray:
    """Turn the ``draws=`` argument into parameter values ``[draw, parameter]`` (see module docstring).

    A NetCDF file with a ``weight`` variable is a calibration posterior: it is resampled by weight into ``n``
    equally weighted draws (all particles if ``n`` is None) by :func:`dapsim.calibration.posterior.load_posterior`.
    """
    if draws is None:
        da = xr.DataArray(np.empty((1, 0)), dims=("draw", "parameter"),
                          coords={"draw": [0], "parameter": np.array([], dtype=str)}, name="parameter_value",
                          attrs={"source": "registry point values"})
        return da
    if isinstance(draws, bool):
        raise InputError("draws", "", "a number of draws >= 1, a Dataset or a NetCDF file", repr(draws))
    if isinstance(draws, int | np.integer):
        if draws < 1:
            raise InputError("draws", "", "a number of draws >= 1", str(draws))
        from .calibration.posterior import load_posterior

        posterior = load_posterior(n=int(draws), seed=draw_seed)
        return posterior if posterior is not None else prior_draws(int(draws), draw_seed)
    source = "draws"
    if isinstance(draws, str | Path):
        source = str(draws)
        if not Path(draws).is_file():
            raise InputError(source, "", "a NetCDF file of parameter draws", "no such file")
        path = draws
        draws = read_netcdf(path)
        if "weight" in draws and "parameter_value" not in draws:
            from .calibration.posterior import load_posterior

            draws = load_posterior(path, n=n, seed=draw_seed, required=True)
        elif "parameter_value" in draws:
            draws = draws["parameter_value"]
    if isinstance(draws, xr.Dataset):
        keys = [k for k in draws.data_vars]
        for k in keys:
            if draws[k].dims != ("draw",):
                raise InputError(source, k, "a variable with the single dimension draw", f"dims {draws[k].dims}")
        da = draws[keys].to_array("parameter").transpose("draw", "parameter") if keys else \
            xr.DataArray(np.empty((draws.sizes.get("draw", 1), 0)), dims=("draw", "parameter"))
    elif isinstance(draws, xr.DataArray):
        if set(draws.dims) != {"draw", "parameter"}:
            raise InputError(source, "", "a DataArray with dims (draw, parameter)", f"dims {draws.dims}")
        da = draws.transpose("draw", "parameter")
    else:
        raise InputError(source, "", "None, a number of draws, an xarray Dataset/DataArray or a NetCDF path",
                         type(draws).__name__)
    values = np.asarray(da.values, dtype=float)
    keys = [str(k) for k in da["parameter"].values] if "parameter" in da.coords else []
    for j, key in enumerate(keys):
        if key not in PARAMETERS:
            raise InputError(source, key, "a parameter listed by `dapsim params`", f"unknown parameter {key!r}")
        lo, hi = PARAMETERS[key].prior.support()
        col = values[:, j]
        if not np.all(np.isfinite(col)) or col.min() < lo or col.max() > hi:
            raise InputError(source, key, f"values in the prior's support [{lo:g}, {hi:g}]",
                             f"values from {np.nanmin(col):g} to {np.nanmax(col):g}")
    n = values.shape[0]
    if n < 1:
        raise InputError(source, "draw", "at least one draw", "none")
    return xr.DataArray(values, dims=("draw", "parameter"),
                        coords={"draw": np.arange(n), "parameter": np.array(keys, dtype=str)},
                        name="parameter_value", attrs={"source": source if source != "draws" else "given draws"})


def resolve_seeds(seeds) -> list[int]:
    """``int`` n -> seeds 0..n-1; a sequence -> those seeds (distinct, non-negative)."""
    if isinstance(seeds, bool):
        raise InputError("seeds", "", "a number of seeds >= 1 or a list of seeds", repr(seeds))
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise InputError("seeds", "", "a number of seeds >= 1", str(seeds))
        return list(range(int(seeds)))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise InputError("seeds", "", "distinct non-negative seeds", repr(out))
    return out


# --------------------------------------------------------------------------------------------- assembly


def _scenario_labels(scenarios: Sequence[Scenario]) -> list[str]:
    labels, seen = [], {}
    for sc in scenarios:
        base = safe_label(sc.stem if sc.path else sc.name)
        n = seen.get(base, 0)
        seen[base] = n + 1
        labels.append(base if n == 0 else f"{base}-{n + 1}")
    return labels


def _without_attrs(ds: xr.Dataset) -> xr.Dataset:
    return ds.drop_attrs() if hasattr(ds, "drop_attrs") else ds


def stack_runs(grid: Mapping[tuple, xr.Dataset | None], dims: Sequence[str], coords: Mapping[str, Sequence]) -> xr.Dataset:
    """Stack run datasets on a labelled grid; a missing (failed) run becomes NaN of the same shape.

    Args:
        grid: key = one label per dim, in ``dims`` order; value = the run's dataset or None.
        dims: the new leading dimensions, e.g. ``("scenario", "draw", "seed")``.
        coords: the labels of each new dimension, in order.
    """
    present = [ds for ds in grid.values() if ds is not None]
    if not present:
        return xr.Dataset(coords={d: list(coords[d]) for d in dims})
    # a common time axis over all runs (scenarios may differ in horizon): outer join, NaN where absent.
    # When every run has the same axes (one horizon: the usual case) nothing needs aligning, and only the template
    # (whose coordinates the result takes) needs its attributes dropped: dropping them from every run cost the
    # driver about 0.15 s a run, time the workers then waited for.
    first = present[0].indexes
    if all(ds.indexes.keys() == first.keys() and all(ds.indexes[k].equals(first[k]) for k in first)
           for ds in present[1:]):
        aligned = [_without_attrs(present[0]), *present[1:]]
    else:
        aligned = xr.align(*[_without_attrs(ds) for ds in present], join="outer", fill_value=np.nan)
    template = aligned[0]
    filled: dict[tuple, xr.Dataset] = {}
    it = iter(aligned)
    for key, ds in grid.items():
        filled[key] = next(it) if ds is not None else xr.full_like(template, np.nan, dtype=float)
    names = list(template.data_vars)
    shape = [len(coords[d]) for d in dims]
    where = {key: tuple(list(coords[d]).index(k) for d, k in zip(dims, key)) for key in filled}
    data_vars = {}
    for name in names:
        da0 = template.variables[name]
        arr = np.full(shape + list(da0.shape), np.nan)
        for key, ds in filled.items():
            arr[where[key]] = ds.variables[name].transpose(*da0.dims).values
        attrs = dict(present[0][name].attrs)
        data_vars[name] = (tuple(dims) + da0.dims, arr, attrs)
    out_coords = {d: list(coords[d]) for d in dims}
    for c, v in template.coords.items():
        out_coords[c] = v
    return xr.Dataset(data_vars, coords=out_coords)


def run_ensemble(
    scenarios: Sequence[Scenario | str | Path],
    draws=None,
    seeds=1,
    executor=None,
    store: str | Path | RunStore | None = None,
    *,
    scale: float | None = None,
    monthly: bool = False,
    resume: bool = False,
    batch_size: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
    draw_seed: int = DRAW_SEED,
    components: Sequence | None = None,
) -> xr.Dataset:
    """Run scenarios × parameter draws × seeds and return one dataset with ``scenario``, ``draw``, ``seed`` dims.

    Args:
        scenarios: ``Scenario`` objects or scenario file paths.
        draws: ``None`` (registry values), an int (prior Latin-hypercube draws), or parameter values per draw
            (``xarray`` Dataset/DataArray or a NetCDF path: the hook for a calibrated posterior).
        seeds: an int n (seeds 0..n-1) or a list of seeds.
        executor: a ``concurrent.futures.Executor``, a ``distributed.Client``, a scheduler address, or None for
            an embedded Dask ``LocalCluster`` sized to the machine.
        store: a folder (or ``RunStore``) where each run is saved as it finishes; see ``resume``.
        scale: people per high-risk-user agent (model default if None).
        monthly: keep monthly ``time`` instead of calendar years.
        resume: reuse the runs the store already holds (same inputs), run only the rest.
        batch_size: runs per task (automatic if None).
        progress: show a rich progress bar (True) or call ``progress(done, total)``.
        draw_seed: seed of the prior Latin hypercube.
        components: component classes (or ``"module:Class"`` paths importable by the workers) to run instead
            of the full model, e.g. to swap a sub-model.

    Returns:
        Dataset with the model's variables on ``(scenario, draw, seed, year|time, ...)``, plus
        ``parameter_value[draw, parameter]`` and ``run_failed[scenario, draw, seed]``; attributes record the
        scenarios, draws, seeds, scale and any failed run with its error.
    """
    scs = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    if not scs:
        raise InputError("scenarios", "", "at least one scenario", "none")
    labels = _scenario_labels(scs)
    values = resolve_draws(draws, draw_seed)
    seed_list = resolve_seeds(seeds)
    keys = [str(k) for k in values["parameter"].values]
    draw_params = [{k: float(values.values[d, j]) for j, k in enumerate(keys)} for d in range(values.sizes["draw"])]

    comps = None if components is None else tuple(component_path(c) for c in components)
    specs = []
    for label, sc in zip(labels, scs):
        payload = scenario_payload(sc)
        for d, params in enumerate(draw_params):
            for s in seed_list:
                specs.append(RunSpec(f"{label}__d{d:04d}__s{s}", payload, params, s, scale, monthly,
                                     {"scenario": label, "draw": d, "seed": s}, comps))
    run_store = store if isinstance(store, RunStore) or store is None else RunStore(store, resume=resume, option="store")
    results = execute(specs, executor, run_store, batch_size, progress, description="ensemble")

    grid = {(sp.labels["scenario"], sp.labels["draw"], sp.labels["seed"]): results[sp.run_id].dataset for sp in specs}
    ens = stack_runs(grid, ("scenario", "draw", "seed"),
                     {"scenario": labels, "draw": list(range(len(draw_params))), "seed": seed_list})
    failures = [{"run": sp.run_id, **sp.labels, "error": results[sp.run_id].error.splitlines()[0]}
                for sp in specs if results[sp.run_id].error is not None]
    failed = np.zeros((len(labels), len(draw_params), len(seed_list)), dtype=bool)
    for sp in specs:
        if results[sp.run_id].error is not None:
            failed[labels.index(sp.labels["scenario"]), sp.labels["draw"], seed_list.index(sp.labels["seed"])] = True
    ens["run_failed"] = (("scenario", "draw", "seed"), failed, {"long_name": "The run failed (its values are NaN)"})
    ens = ens.assign_coords(scenario_name=("scenario", [sc.name for sc in scs]))
    ens["parameter_value"] = values
    ens.attrs.update({
        "title": "dapsim ensemble",
        "scenarios": json.dumps([sc.to_dict() for sc in scs], sort_keys=True),
        "draws": json.dumps({"n": len(draw_params), "source": values.attrs.get("source", ""), "draw_seed": draw_seed}),
        "seeds": json.dumps(seed_list),
        "scale_people_per_agent": "model default" if scale is None else float(scale),
        "time_resolution": "monthly" if monthly else "annual",
        "n_runs": len(specs),
        "failed_runs": json.dumps(failures),
        "dapsim_version": __version__,
        "common_random_numbers": "the same seed shares its random streams in every scenario; draw k uses the "
                                 "same parameter values in every scenario",
    })
    return ens


def split_runs(n: int) -> tuple[int, int]:
    """How ``--runs N`` splits into ``(draws, seeds)`` with ``draws × seeds == N`` exactly.

    Seeds = the largest divisor of N not above √N/2 (at least 1), draws = N / seeds: most runs go to parameter
    uncertainty, usually the larger source, while each draw still gets replicate seeds once N is large enough to
    afford them (20 -> 10 draws × 2 seeds, 100 -> 20 × 5, 7 -> 7 × 1).
    """
    if n < 1:
        raise InputError("--runs", "", "a number of runs >= 1", str(n))
    limit = max(1, math.isqrt(n) // 2)
    seeds = max(d for d in range(1, limit + 1) if n % d == 0)
    return n // seeds, seeds


def summary_lines(ens: xr.Dataset) -> list[str]:
    """Short text on failed runs, for the command line and the report."""
    failures = json.loads(ens.attrs.get("failed_runs", "[]"))
    if not failures:
        return []
    lines = [f"{len(failures)} of {ens.attrs.get('n_runs', '?')} runs failed:"]
    lines += [f"  {f['run']}: {f['error']}" for f in failures[:20]]
    if len(failures) > 20:
        lines.append(f"  ... and {len(failures) - 20} more (see the store's index.jsonl)")
    return lines


__all__ = ["DRAW_SEED", "RunSpec", "RunStore", "execute", "open_executor", "prior_draws", "resolve_draws",
           "resolve_seeds", "run_ensemble", "scenario_payload", "split_runs", "stack_runs", "summary_lines",
           "uncertain_parameters"]

