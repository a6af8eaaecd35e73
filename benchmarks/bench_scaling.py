"""Benchmark 4: how a full baseline run's time and memory scale with person-agents and with crime groups.

Each point is a full default baseline run (EU-27, 2015-2030, monthly, all components) in a fresh Python process,
so its peak resident memory (``ru_maxrss``) belongs to that run alone. Two series:

* person-agents (high-risk users at the start, set through ``scale``) from 10k to 1M, with the default groups;
* organised crime groups (``supply.n_groups``) from 200 to 6 400, at the default scale.

Writes ``benchmarks/scaling.png`` (run time and peak memory against each) and appends the table to
``results.md``. The 1M-agent point is the memory target of issue 8 (under 1.5 GB).

Run: ``python bench_scaling.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import markdown_table, record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOTAL_HROU = 860_000.0  # high-risk opioid users in data/baseline_demand.toml (checked in the child)

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import dapsim
from dapsim.demand import baseline
from dapsim.model import ActionPlanModel
from dapsim.params import ParameterSet
assert float(baseline.HIGH_RISK_OPIOID_USERS.sum()) == {total}
rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sc = dapsim.load_scenario({scenario!r})
params = ParameterSet.defaults().updated({{"supply.n_groups": {groups}}})
start = time.perf_counter()
model = ActionPlanModel(sc, seed=0, scale={scale}, params=params)
agents = int(model.state.people.initial_alive)
ds = model.run()
wall = time.perf_counter() - start
print(json.dumps({{"wall_s": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "imports_mb": rss_imports, "agents": agents, "agents_end": int(model.state.people.alive_end[-1]),
                  "groups": int(model.state.trafficking.groups.n)}}))
"""


def point(scale: float, groups: int) -> dict:
    """One full run in a fresh process; returns its wall time, peak RSS and sizes."""
    code = CHILD.format(total=TOTAL_HROU, scenario=str(ROOT / "scenarios" / "baseline.toml"), groups=groups, scale=scale)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["load"] = os.getloadavg()[0]
    return r


def plot(by_agents: list[dict], by_groups: list[dict]) -> None:
    """Run time and peak memory against person-agents and crime groups -> benchmarks/scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), constrained_layout=True)
    for col, (series, key, label) in enumerate(((by_agents, "agents", "person-agents (high-risk users at start)"),
                                                (by_groups, "groups", "organised crime groups (agents)"))):
        x = [r[key] for r in series]
        axes[0, col].loglog(x, [r["wall_s"] for r in series], "o-")
        axes[0, col].set_ylabel("run time, s (2015-2030, monthly)")
        axes[1, col].semilogx(x, [r["peak_mb"] for r in series], "o-", label="peak RSS of the run's process")
        axes[1, col].semilogx(x, [r["imports_mb"] for r in series], "--", color="grey", label="after imports")
        axes[1, col].set_ylabel("memory, MB")
        axes[1, col].set_xlabel(label)
        axes[1, col].legend(loc="upper left")
        for ax in axes[:, col]:
            ax.xaxis.set_major_locator(FixedLocator(x))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:.0f}M" if v >= 999_000 else f"{v / 1000:.0f}k" if v >= 10_000 else f"{v:g}"))
            ax.grid(True, which="both", alpha=0.3)
        axes[0, col].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axes[0, col].yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes[1, 0].axhline(1536, color="red", lw=0.8, ls=":", label="1.5 GB target")
    axes[1, 0].legend(loc="center left")
    axes[0, 0].set_title("with person-agents (800 crime groups)")
    axes[0, 1].set_title("with crime groups (default scale, 86k person-agents)")
    fig.savefig(HERE / "scaling.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer points (no 1M-agent run)")
    ap.add_argument("--replot", action="store_true", help="only redraw scaling.png from the last scaling.json")
    args = ap.parse_args()
    if args.replot:
        saved = json.loads((HERE / "scaling.json").read_text())
        plot(saved["by_agents"], saved["by_groups"])
        return
    agent_counts = (10_000, 30_000, 100_000, 300_000) if args.quick else (10_000, 30_000, 100_000, 300_000, 1_000_000)
    group_counts = (200, 800, 3_200) if args.quick else (200, 400, 800, 1_600, 3_200, 6_400)
    by_agents = [point(TOTAL_HROU / n, 800) for n in agent_counts]
    for r in by_agents:
        print(r)
    by_groups = [point(10.0, g) for g in group_counts]
    for r in by_groups:
        print(r)

    (HERE / "scaling.json").write_text(json.dumps({"by_agents": by_agents, "by_groups": by_groups}, indent=1))
    plot(by_agents, by_groups)

    rows = [[f"{r['agents']:,}", f"{r['agents_end']:,}", r["groups"], f"{r['wall_s']:.2f}",
             f"{1e3 * r['wall_s'] / 192:.1f}", f"{r['peak_mb']:.0f}", f"{r['imports_mb']:.0f}", f"{r['load']:.2f}"]
            for r in by_agents + by_groups]
    table = markdown_table(["person-agents at start", "at end", "crime groups", "run seconds", "ms per month",
                            "peak RSS MB", "RSS after imports MB", "load avg (1 min) after"], rows)
    record("Scaling of a full baseline run with person-agents and crime groups", table,
           "Each row is one full default baseline run (2015-2030, 192 months, all components, seed 0) in a fresh "
           "process; peak RSS is that process's maximum resident set (imports included). Plot: "
           "benchmarks/scaling.png.")


if __name__ == "__main__":
    main()
