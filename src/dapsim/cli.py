"""The ``dapsim`` command line.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import InputError

console = Console()
err_console = Console(stderr=True)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit code 2 (its default is usage + 2)."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse hook
        sys.stderr.write(f"dapsim: {message}\n")
        raise SystemExit(2)


# ------------------------------------------------------------------------------------------------ run


def cmd_run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .indicators import annual
    from .model import simulate
    from .scenario import load_scenario
    from .storage import prepare_output_dir, write_netcdf
    from .viz.figures import indicator_panels

    scenario = load_scenario(args.scenario)
    out = prepare_output_dir(args.out)
    started = time.perf_counter()
    if args.quiet:
        ds = simulate(scenario, seed=args.seed, scale=args.scale)
    else:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("months"), TimeElapsedColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task(f"{scenario.name}", total=len(scenario.months))
            ds = simulate(scenario, seed=args.seed, scale=args.scale,
                          progress=lambda done, total: bar.update(task, completed=done))
    elapsed = time.perf_counter() - started
    yearly = annual(ds)
    nc = write_netcdf(ds, out / f"{scenario.stem}.nc")
    png = indicator_panels(yearly, scenario.name, out / f"{scenario.stem}.png")
    if not args.quiet:
        _print_headlines(yearly, scenario.name, [2020, 2025, 2030])
        console.print(f"simulated {len(scenario.months)} months in {elapsed:.1f} s (seed {args.seed})")
        console.print(f"wrote {nc} and {png}")
    return 0


def _print_headlines(yearly, title: str, years: list[int]) -> None:
    from .indicators import INDICATORS
    from .report import headline_table

    table = Table(title=f"{title}: EU-27", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("indicator")
    table.add_column("units", style="dim")
    for y in years:
        table.add_column(str(y), justify="right")
    for h, values in headline_table(yearly, years):
        table.add_row(str(h.indicator or "–"), h.label, h.units, *[_fmt(v) for v in values])
    console.print(table)
    pending = [name for name in INDICATORS if name not in yearly]
    if pending:
        console.print(f"[dim]{len(pending)} indicator variables not yet modelled: see `dapsim indicators`[/dim]")


def _fmt(value: float) -> str:
    if value != value:  # NaN: outside the horizon
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}"
    return f"{value:.3f}"


# ------------------------------------------------------------------------------------------- registries


def cmd_levers(args: argparse.Namespace) -> int:
    from .levers import LEVERS

    rows = [
        {"key": s.key, "title": s.title, "actions": list(s.actions), "scope": s.scope, "unit": s.unit,
         "baseline": s.baseline, "baseline_by_member_state": dict(s.baseline_by_member_state),
         "min": s.min, "max": s.max, "ramp_months": s.ramp_months, "unit_cost_eur": s.unit_cost_eur,
         "cost_driver": s.cost_driver, "acts_on": s.acts_on, "wired_by": _wired_by(s.key),
         "source": s.source, "assumption": s.assumption}
        for s in LEVERS.values()
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(rows)} levers", title_justify="left")
    for col in ("key", "actions", "unit", "baseline", "range", "cost (EUR)", "wired by"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["key"], ", ".join(map(str, r["actions"])), r["unit"], f"{r['baseline']:g}",
                      f"{r['min']:g}–{r['max']:g}", f"{r['unit_cost_eur']:,.2f} {r['cost_driver']}",
                      r["wired_by"] or "[red]not wired[/red]")
    console.print(table)
    return 0


def _components():
    from .model import default_components

    return default_components()


def _wired_by(lever: str) -> str:
    return ", ".join(c.__name__ for c in _components() if lever in c.levers)


def cmd_actions(args: argparse.Namespace) -> int:
    from .actions import ACTIONS

    rows = [{"action": a.number, "priority": a.priority, "title": a.title, "levers": list(a.levers),
             "mechanism": a.mechanism, "out_of_scope": a.out_of_scope or None} for a in ACTIONS]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="The Plan's 85 actions", title_justify="left")
    for col in ("#", "priority", "action", "levers / out of scope"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cover = ", ".join(r["levers"]) if r["levers"] else f"[dim]out of scope: {r['out_of_scope']}[/dim]"
        table.add_row(str(r["action"]), r["priority"], r["title"], cover)
    console.print(table)
    mapped = sum(1 for r in rows if r["levers"])
    console.print(f"coverage: {mapped} of {len(rows)} actions modelled by levers; {len(rows) - mapped} out of scope")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from .params import PARAMETERS

    users = {}
    for c in _components():
        for key in c.parameters:
            users.setdefault(key, []).append(c.__name__)
    rows = [{"key": p.key, "value": p.value, "unit": p.unit, "prior": p.prior.describe(),
             "source": p.source or None, "assumption": p.assumption or None, "description": p.description,
             "used_by": users.get(p.key, [])} for p in PARAMETERS.values()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(rows)} parameters", title_justify="left")
    for col in ("key", "value", "unit", "prior", "evidence"):
        table.add_column(col, overflow="fold")
    for p in PARAMETERS.values():
        table.add_row(p.key, f"{p.value:g}", p.unit, p.prior.describe(), p.evidence)
    console.print(table)
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    from .indicators import INDICATORS

    filled = {}
    for c in _components():
        for name in c.fills:
            filled[name] = c.__name__
    if any(c.levers for c in _components()):
        filled["programme_cost_eur"] = "ActionPlanModel (levers booked by components)"
    rows = [{"variable": v.name, "indicator": v.indicator, "dims": list(v.dims), "units": v.units,
             "aggregation": v.aggregation, "long_name": v.long_name, "filled_by": filled.get(v.name)}
            for v in INDICATORS.values()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Output variables", title_justify="left")
    for col in ("#", "variable", "dims", "units", "filled by"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["indicator"] or "–"), r["variable"], " × ".join(r["dims"]), r["units"],
                      r["filled_by"] or "[yellow]pending[/yellow]")
    console.print(table)
    done = sum(1 for r in rows if r["filled_by"])
    console.print(f"{done} of {len(rows)} variables filled; {len(rows) - done} pending")
    return 0


# ------------------------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="dapsim", description="Simulate the EU Drugs Action Plan 2021-2025.")
    parser.add_argument("--version", action="version", version=f"dapsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)

    run = sub.add_parser("run", help="run one scenario, print the indicator table, write NetCDF and a figure")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    run.add_argument("--scale", type=_positive_float, default=None, help="people per high-risk-user agent (default 10)")
    run.add_argument("--out", default="results", help="output folder (default results/)")
    run.add_argument("--quiet", action="store_true", help="no table or progress bar")
    run.set_defaults(func=cmd_run)

    for name, func, what in (("levers", cmd_levers, "the lever registry"), ("actions", cmd_actions, "the Plan's 85 actions and their coverage"),
                             ("params", cmd_params, "the parameter registry"), ("indicators", cmd_indicators, "every output variable and what fills it")):
        p = sub.add_parser(name, help=f"list {what}")
        p.add_argument("--format", choices=("table", "json"), default="table")
        p.set_defaults(func=func)
    return parser


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        sys.stderr.write(f"dapsim: {exc.line()}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("dapsim: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
