"""Benchmark 3: an ensemble of 64 baseline runs (seeds 0-63) on a Dask LocalCluster of 1 and of 2 workers.

Each cluster (single-threaded worker processes, as ``run_ensemble`` starts by default) is started and warmed up
(every worker imports dapsim and runs one short simulation) before the clock starts, so the time is the
ensemble itself: ``run_ensemble(..., executor=client)`` from submission to the assembled dataset, including
the driver's work (receiving runs, stacking them). Throughput = runs per second; the ratio is the throughput on
2 workers over the throughput on 1. Both ensembles must give identical datasets (checked). Dask's nanny starts
workers with ``MALLOC_TRIM_THRESHOLD_=65536``; ``run_batch`` undoes it in each worker (``tune_allocator``),
without which a run took about 60 % longer in a worker than in a plain process.

Run: ``python bench_ensemble.py [--runs 64] [--workers 1 2]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import xarray as xr
from common import markdown_table, record

import dapsim
from dapsim.ensemble import run_ensemble

ROOT = Path(__file__).resolve().parents[1]


def _warm_up() -> bool:
    """In a worker: import the model and run two months, so imports and registries are loaded before timing."""
    import dapsim as d
    from dapsim.scenario import Scenario

    sc = Scenario.from_dict({"name": "warm-up", "horizon": {"start": "2015-01", "end": "2015-02"}})
    d.simulate(sc, seed=0)
    return True


def timed_ensemble(n_workers: int, runs: int) -> tuple[float, xr.Dataset, tuple[float, float, float]]:
    """Seconds for ``runs`` baseline runs on a warmed-up LocalCluster of ``n_workers`` workers."""
    from distributed import Client, LocalCluster

    scenario = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster, set_as_default=False) as client:
        client.run(_warm_up)
        load = os.getloadavg()
        start = time.perf_counter()
        ens = run_ensemble([scenario], seeds=runs, executor=client)
        seconds = time.perf_counter() - start
    return seconds, ens, load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()
    results = {}
    for w in args.workers:
        seconds, ens, load = timed_ensemble(w, args.runs)
        results[w] = (seconds, ens, load)
        print(f"{w} worker(s): {seconds:.1f} s, {args.runs / seconds:.2f} runs/s, load {load}")
    base_w = min(results)
    base = args.runs / results[base_w][0]
    for w, (_, ens, _) in results.items():
        xr.testing.assert_identical(ens.drop_attrs(), results[base_w][1].drop_attrs())
    rows = [[w, f"{s:.1f}", f"{args.runs / s:.2f}", f"{(args.runs / s) / base:.2f}", f"{s / args.runs:.2f}",
             f"{load[0]:.2f}"] for w, (s, _, load) in sorted(results.items())]
    table = markdown_table(["Dask workers", "seconds for the ensemble", "runs per second",
                            f"throughput vs {base_w} worker", "seconds per run", "load avg (1 min) at start"], rows)
    record(f"Ensemble of {args.runs} baseline runs on 1 and 2 Dask workers", table,
           f"`run_ensemble([baseline], seeds={args.runs}, executor=client)` on a warmed-up LocalCluster "
           "(single-threaded worker processes); annual output; time from submission to the assembled dataset, "
           "driver included. The ensembles on every worker count are identical (xarray.testing.assert_identical).")


if __name__ == "__main__":
    main()
