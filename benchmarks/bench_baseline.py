"""Benchmark 2: a full default baseline run (EU-27, 2015-2030, monthly).

Reports the median wall time over repeated runs, and the share of each component's ``step`` + ``record`` in
it, measured by timing each call of the monthly loop (the same loop ``ActionPlanModel.run`` performs). The
process's CPU time per run and the load average are reported too: on a machine shared with other work the CPU
time is what the run would take on an idle core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from common import markdown_table, record

import dapsim
from dapsim.model import ActionPlanModel

ROOT = Path(__file__).resolve().parents[1]


def _timed(method, name: str, seconds: dict[str, float]):
    """Wrap a bound method so that its time is added to ``seconds[name]``."""

    def wrapper(*args):
        t0 = time.perf_counter()
        method(*args)
        seconds[name] += time.perf_counter() - t0

    return wrapper


def timed_run(scenario, seed: int) -> tuple[float, dict[str, float], float, float]:
    """One run; returns wall time, seconds per component, the rest (set-up, costs, dataset assembly), CPU time."""
    per_component: dict[str, float] = defaultdict(float)
    cpu = time.process_time()
    start = time.perf_counter()
    model = ActionPlanModel(scenario, seed=seed)
    for c in model.components:
        name = type(c).__name__
        c.step = _timed(c.step, name, per_component)
        c.record = _timed(c.record, name, per_component)
    model.run()
    wall = time.perf_counter() - start
    return wall, dict(per_component), wall - sum(per_component.values()), time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    scenario = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    timed_run(scenario, seed=0)  # warm-up: imports, caches
    walls, shares, overheads, cpus = [], defaultdict(list), [], []
    load_before = os.getloadavg()
    for seed in range(args.repeats):
        wall, per, overhead, cpu = timed_run(scenario, seed)
        walls.append(wall)
        cpus.append(cpu)
        overheads.append(overhead)
        for name, sec in per.items():
            shares[name].append(sec)
    median = statistics.median(walls)
    rows = [[name, f"{statistics.median(secs):.3f}", f"{100 * statistics.median(secs) / median:.1f}%"]
            for name, secs in sorted(shares.items(), key=lambda kv: -statistics.median(kv[1]))]
    rows.append(["model set-up, costs and dataset assembly", f"{statistics.median(overheads):.3f}",
                 f"{100 * statistics.median(overheads) / median:.1f}%"])
    table = markdown_table(["component", "median seconds", "share of run"], rows)
    record(
        "Full default baseline run",
        table,
        f"Median wall time over {args.repeats} runs (seeds 0-{args.repeats - 1}): **{median:.2f} s** "
        f"(min {min(walls):.2f} s, max {max(walls):.2f} s); CPU time per run median {statistics.median(cpus):.2f} s; "
        f"{len(scenario.months)} months, default scale (10 people per person-agent, about 86 000 agents), one process. "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
    )


if __name__ == "__main__":
    main()
