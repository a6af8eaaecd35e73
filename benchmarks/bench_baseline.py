"""Benchmark 2: a full default baseline run (EU-27, 2015-2030, monthly).

Reports the median wall time over repeated runs, and the share of each component's ``step`` + ``record`` in
it, measured by timing each call of the monthly loop (the same loop ``ActionPlanModel.run`` performs).
"""

from __future__ import annotations

import argparse
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


def timed_run(scenario, seed: int) -> tuple[float, dict[str, float], float]:
    """One run; returns wall time, seconds per component, and the rest (set-up, costs, dataset assembly)."""
    per_component: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    model = ActionPlanModel(scenario, seed=seed)
    for c in model.components:
        name = type(c).__name__
        c.step = _timed(c.step, name, per_component)
        c.record = _timed(c.record, name, per_component)
    model.run()
    wall = time.perf_counter() - start
    return wall, dict(per_component), wall - sum(per_component.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    scenario = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    timed_run(scenario, seed=0)  # warm-up: imports, caches
    walls, shares, overheads = [], defaultdict(list), []
    for seed in range(args.repeats):
        wall, per, overhead = timed_run(scenario, seed)
        walls.append(wall)
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
        f"(min {min(walls):.2f} s, max {max(walls):.2f} s); {len(scenario.months)} months, default scale.",
    )


if __name__ == "__main__":
    main()
