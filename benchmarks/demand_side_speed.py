"""Speed of the demand and harms side (issue 4): a default baseline run, and one million person-agents.

Run: ``.venv/bin/python benchmarks/demand_side_speed.py [--million]``. Times only the monthly steps (wall clock and this process's CPU time) of the
demand and harms components (``dapsim.demand.COMPONENTS``), on one core, 2015-01 to 2030-12 (192 months).
The million-agent run sets ``scale`` so that the 860 000 high-risk opioid users are about 1 000 000 rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dapsim
from dapsim import demand
from dapsim.model import ActionPlanModel

ROOT = Path(__file__).resolve().parents[1]


def time_run(scale: float, seed: int = 0) -> dict:
    sc = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    t0 = time.perf_counter()
    model = ActionPlanModel(sc, seed=seed, scale=scale, components=demand.COMPONENTS)
    t1 = time.perf_counter()
    c1 = time.process_time()
    per_component = {type(c).__name__: 0.0 for c in model.components}
    n = len(model.months)
    while model.t < n:
        t = model.t
        for c in model.components:
            a = time.process_time()
            c.step(t)
            c.record(t, model.recorder)
            per_component[type(c).__name__] += time.process_time() - a
        model.t += 1
    t2 = time.perf_counter()
    c2 = time.process_time()
    table = model.state.people
    return {"scale": scale, "agents_start": int(table.initial_alive), "agents_end": int(table.alive_end[-1]),
            "months": n, "init_s": t1 - t0, "steps_s": t2 - t1, "steps_cpu_s": c2 - c1,
            "per_component_s": per_component}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--million", action="store_true", help="also run one million person-agents")
    args = ap.parse_args()
    runs = [10.0] + ([0.86] if args.million else [])
    for scale in runs:
        r = time_run(scale)
        print(f"scale {r['scale']:g}: {r['agents_start']:,} agents at start, {r['agents_end']:,} at end; "
              f"{r['months']} months; init {r['init_s']:.2f} s, monthly steps {r['steps_s']:.2f} s wall, "
              f"{r['steps_cpu_s']:.2f} s CPU (per component, CPU:)")
        for name, s in r["per_component_s"].items():
            print(f"    {name:28s} {s:6.2f} s")


if __name__ == "__main__":
    main()
