"""Benchmark 1: the vectorised high-risk users component against one Mesa agent object per person.

The real :class:`dapsim.demand.users.HighRiskUsers` runs inside an ``ActionPlanModel`` with the components it
needs for its inputs (the general population and the services), at a scale chosen so that the person table
starts with N rows (N = 10k, 100k, 1M). Each month the general population and the services step (not timed),
then the users component steps and records (timed), then the reference (``reference_users.py``: the same rules
with one ``mesa.Agent`` per person, the same per-person generators) steps and reports the same outputs (timed).

Reported per N: milliseconds per month, agent-steps per second (living agents at the start of the month,
summed over the months, divided by the time), the ratio reference / vectorised, and peak memory (tracemalloc
peak while the population is built and steps three months, in a separate untimed pass). Before timing, a check
runs both for 12 months at 10k people and asserts that they give *identical* counts per
[member state, place, sex, injecting, substance] every month.

Run: ``python bench_users.py [--months 12] [--reference-max 100000]``. The reference is run up to
``--reference-max`` agents (default 100k, about a minute there); above it its time and memory are extrapolated
linearly from the largest N it ran at (its cost per agent does not fall with N), and the table says so.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
from common import markdown_table, record
from reference_users import ReferenceUsers

import dapsim
from dapsim.demand import GeneralPopulation, HighRiskUsers, Services, baseline
from dapsim.demand.users import DEAD, HEROIN, OUT
from dapsim.model import ActionPlanModel

ROOT = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)


def build(n_people: int, seed: int = 0) -> tuple[ActionPlanModel, HighRiskUsers]:
    """A model with the users component and its inputs, scaled so the person table starts with ~n rows."""
    scenario = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    scale = float(baseline.HIGH_RISK_OPIOID_USERS.sum()) / n_people
    model = ActionPlanModel(scenario, seed=seed, scale=scale, components=[GeneralPopulation, Services, HighRiskUsers])
    return model, model.components[2]


def inputs_step(model: ActionPlanModel, t: int) -> None:
    """Step the components whose output the users read (general population, services)."""
    model.t = t
    model.components[0].step(t)
    model.components[1].step(t)


def check_identical(n_people: int = 10_000, months: int = 12) -> str:
    """Run both for ``months`` at ``n_people`` and assert identical counts every month; return a summary."""
    model, users = build(n_people)
    ref = ReferenceUsers(model, users)
    for t in range(months):
        inputs_step(model, t)
        if t >= months // 2:
            # exercise the substitution rule: a heroin shortage in the second half (both read the same state)
            model.state.availability[:, HEROIN] = 0.6
        if t == 2:
            # exercise the referral rule: every 20th person out of treatment is referred by the justice system
            table = users.table
            rows = np.flatnonzero(table.view("loc") == OUT)[::20]
            table.referred[rows] = True
            by_pid = {a.pid: a for a in ref.agents}
            for pid in table.id[rows].tolist():
                by_pid[pid].referred = True
        users.step(t)
        users.record(t, model.recorder)
        ref.step_month(t)
        np.testing.assert_array_equal(users.oat_entries, ref.oat_entries, err_msg=f"month {t}: OAT entries")
        np.testing.assert_array_equal(users.treatment_entries, ref.treatment_entries, err_msg=f"month {t}: entries")
        # living agents (the component keeps dead rows until it compacts the table; the reference removes them)
        real = np.asarray(users.table.census())[:, :DEAD]
        if not np.array_equal(real, ref.census[:, :DEAD]):
            raise AssertionError(f"month {t}: reference and component differ by {np.abs(real - ref.census[:, :DEAD]).sum()} agents")
        for name, value in ref.outputs().items():
            np.testing.assert_array_equal(model.recorder[name][t], value, err_msg=f"month {t}: {name}")
        assert users.table.recovered[t] == ref.recovered and users.table.died_other[t] == ref.died_other
    return (f"Check: at {n_people:,} people both give identical counts per [member state, place, sex, injecting, "
            f"substance], identical treatment entries and identical outputs (HROU, PWID, OAT clients, OAT coverage) "
            f"in each of {months} months, with a heroin shortage (availability 0.6) in the second half and "
            f"referrals by the justice system in month 2 to exercise those rules "
            f"({int(users.table.alive_count()):,} agents alive at the end; "
            f"{int(users.table.recovered[:months].sum()):,} recoveries, {int(users.table.died_other[:months].sum()):,} "
            f"other deaths, {int(users.table.entered[:months].sum()):,} entries, "
            f"{int(users.table.view('synthetic')[users.table.view('loc') < DEAD].sum()):,} synthetic-opioid users at the end; "
            "same in both).")


def time_both(n_people: int, months: int, run_reference: bool) -> dict:
    """Seconds and agent-steps over ``months`` for the component and (optionally) the reference."""
    model, users = build(n_people)
    ref = ReferenceUsers(model, users) if run_reference else None
    gc.collect()
    out = {"n": n_people, "vec_s": 0.0, "ref_s": 0.0, "agent_steps": 0, "load": os.getloadavg()[0]}
    for t in range(months):
        inputs_step(model, t)
        out["agent_steps"] += users.table.alive_count()
        a = time.perf_counter()
        users.step(t)
        users.record(t, model.recorder)
        b = time.perf_counter()
        out["vec_s"] += b - a
        if ref is not None:
            a = time.perf_counter()
            ref.step_month(t)
            ref.outputs()
            out["ref_s"] += time.perf_counter() - a
    return out


def peak_memory(n_people: int, reference: bool, months: int = 3) -> float:
    """Tracemalloc peak (MB) of building the population and stepping ``months`` (component or reference)."""
    gc.collect()
    if not reference:
        tracemalloc.start()
        model, users = build(n_people)
        for t in range(months):
            inputs_step(model, t)
            users.step(t)
            users.record(t, model.recorder)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 2**20
    model, users = build(n_people)
    inputs_step(model, 0)
    gc.collect()
    tracemalloc.start()
    ref = ReferenceUsers(model, users)
    for t in range(months):
        if t:
            inputs_step(model, t)
        ref.step_month(t)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del ref
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--reference-max", type=int, default=100_000)
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = ap.parse_args()
    check = check_identical()
    print(check)
    rows, per_agent_ref, mem_ref_per_agent = [], None, None
    for n in args.sizes:
        run_ref = n <= args.reference_max
        r = time_both(n, args.months, run_ref)
        mem_vec = peak_memory(n, reference=False)
        vec_rate = r["agent_steps"] / r["vec_s"]
        if run_ref:
            mem_ref = peak_memory(n, reference=True)
            per_agent_ref = r["ref_s"] / r["agent_steps"]
            mem_ref_per_agent = mem_ref / n
            ref_ms, ref_rate, ref_mem, note = (1000 * r["ref_s"] / args.months, r["agent_steps"] / r["ref_s"],
                                               mem_ref, "measured")
        else:
            ref_ms = 1000 * per_agent_ref * r["agent_steps"] / args.months
            ref_rate = 1.0 / per_agent_ref
            ref_mem = mem_ref_per_agent * n
            note = "extrapolated (linear, from the largest measured N)"
        rows.append([f"{n:,}", f"{1000 * r['vec_s'] / args.months:.1f}", f"{vec_rate / 1e6:.1f} M",
                     f"{mem_vec:.0f}", f"{ref_ms:,.0f}", f"{ref_rate / 1e6:.2f} M", f"{ref_mem:,.0f}",
                     f"**{ref_ms / (1000 * r['vec_s'] / args.months):.0f}x**", note, f"{r['load']:.2f}"])
        print(rows[-1])
    table = markdown_table(
        ["people (rows at start)", "vectorised ms/month", "vectorised agent-steps/s", "vectorised peak MB",
         "Mesa reference ms/month", "reference agent-steps/s", "reference peak MB", "ratio (speed-up)",
         "reference", "load avg (1 min)"], rows)
    record("High-risk users component vs one Mesa agent per person", table,
           f"{args.months} months (2015-01 on), one process, one core; the users component's step + record only "
           "(general population and services step untimed before it each month). Agent-steps = living agents at "
           "the start of each month, summed. Peak MB = tracemalloc peak of building the population and three "
           "months of steps (component: the whole model it runs in; reference: the Mesa agents only).\n\n" + check)


if __name__ == "__main__":
    main()
