"""The ``dapsim`` command line.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
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
    from .report import format_number

    return format_number(value, small=".3f")


# ------------------------------------------------------------------------------------ compare, explore


def _years(text: str) -> list[int]:
    try:
        years = [int(y) for y in text.split(",") if y.strip()]
    except ValueError:
        raise InputError("--years", "", "comma-separated calendar years, e.g. 2025,2030", repr(text)) from None
    if not years:
        raise InputError("--years", "", "comma-separated calendar years, e.g. 2025,2030", repr(text))
    return years


def _load_all(paths: list[str]):
    from .scenario import load_scenario

    return [load_scenario(p) for p in paths]


def _check_years(years: list[int], scenarios) -> None:
    from .timeline import year_of

    for sc in scenarios:
        months = sc.months
        yrs = year_of(months)
        complete = {int(y) for y in set(yrs.tolist()) if (yrs == y).sum() == 12}
        missing = [y for y in years if y not in complete]
        if missing:
            span = f"{min(complete)}..{max(complete)}" if complete else "none"
            raise InputError("--years", "", f"complete calendar years inside the horizon of {sc.path or sc.name} ({span})",
                             ",".join(map(str, missing)))


def cmd_compare(args: argparse.Namespace) -> int:
    from .analysis.compare import compare
    from .ensemble import check_scheduler_address, open_executor, split_runs, summary_lines
    from .storage import prepare_output_dir

    scenarios = _load_all(args.scenarios)
    if args.scheduler:
        check_scheduler_address(args.scheduler)
    if args.posterior and not Path(args.posterior).is_file():
        raise InputError("--posterior", "", "a posterior NetCDF file (dapsim calibrate --out)", f"{args.posterior!r}, which does not exist")
    years = _years(args.years)
    _check_years(years, scenarios)
    n_draws, n_seeds = split_runs(args.runs)
    draws = args.posterior
    if args.priors:
        from .ensemble import prior_draws

        draws = prior_draws(n_draws)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        # a scheduler given by address is reached before anything is written (a bad one is one line, exit 2); the
        # local cluster starts only if some run is left to do (a --resume of a finished comparison starts nothing)
        pool = stack.enter_context(open_executor(args.scheduler))[0] if args.scheduler else None
        out = prepare_output_dir(args.out)
        if not args.quiet:
            where = f"the Dask cluster at {args.scheduler}" if args.scheduler else "a local Dask cluster"
            err_console.print(f"{len(scenarios)} scenarios × {args.runs} runs ({n_draws} parameter draws × {n_seeds} "
                              f"seeds) on {where}")
        cmp = compare(scenarios, runs=args.runs, years=years, executor=pool, store=out / "store",
                      scale=args.scale, resume=args.resume, progress=not args.quiet, draws=draws)
    paths = cmp.write(out)
    elapsed = time.perf_counter() - started
    if not args.quiet:
        _print_comparison(cmp)
        for line in summary_lines(cmp.ensemble):
            err_console.print(f"[red]{line}[/red]")
        err_console.print(f"parameter draws: {json.loads(cmp.ensemble.attrs['draws'])['source']}")
        console.print(f"{len(scenarios) * args.runs} runs in {elapsed:.1f} s; wrote {paths['report']} "
                      f"(and indicators.csv, costs.csv, cost_per_outcome.csv, ensemble.nc in {out})")
    return 0


def _print_comparison(cmp) -> None:
    df = cmp.indicators
    if df.empty:
        console.print("[dim]the model records no indicator yet: nothing to compare[/dim]")
        return
    ref = cmp.reference
    scenarios = [str(s) for s in cmp.ensemble["scenario"].values]
    df = df[df["headline"]]  # the other rows are in the report and indicators.csv
    for y in cmp.years:
        dy = df[df["year"] == y]
        if dy.empty:
            continue
        table = Table(title=f"EU-27, {y}: median (90% interval); differences paired with {ref}", title_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("indicator")
        table.add_column("units", style="dim")
        table.add_column(ref, justify="right")
        for s in scenarios[1:]:
            table.add_column(f"{s} − {ref}", justify="right")
        for key in dict.fromkeys(dy["key"]):
            r = dy[dy["key"] == key].set_index("scenario")
            first = r.iloc[0]
            cells = [f"{_fmt(r.loc[ref, 'median'])} ({_fmt(r.loc[ref, 'p5'])} to {_fmt(r.loc[ref, 'p95'])})"]
            for s in scenarios[1:]:
                m = r.loc[s, "diff_median"]
                sign = "+" if m == m and m > 0 else ""
                cells.append(f"{sign}{_fmt(m)} ({_fmt(r.loc[s, 'diff_p5'])} to {_fmt(r.loc[s, 'diff_p95'])})")
            table.add_row(str(first["indicator"] or "–"), first["label"], first["units"], *cells)
        console.print(table)
    if not cmp.cost_per_outcome.empty:
        table = Table(title=f"Cost per outcome against {ref}, {cmp.cost_per_outcome['period'].iloc[0]}", title_justify="left")
        for col in ("scenario", "outcome", "gain (median)", "EUR per outcome", "note"):
            table.add_column(col, overflow="fold")
        for _, r in cmp.cost_per_outcome.iterrows():
            table.add_row(r["scenario"], r["outcome"], _fmt(r["outcome_gain_median"]), _fmt(r["eur_per_outcome"]), r["note"])
        console.print(table)


def cmd_explore(args: argparse.Namespace) -> int:
    from .analysis.explore import check_request, explore
    from .ensemble import check_scheduler_address, open_executor, summary_lines
    from .scenario import load_scenario
    from .storage import prepare_output_dir, write_netcdf

    scenario = load_scenario(args.scenario)
    if args.scheduler:
        check_scheduler_address(args.scheduler)
    levers = [k.strip() for k in args.levers.split(",") if k.strip()] if args.levers else []
    check_request(scenario, args.samples, levers, args.start)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(open_executor(args.scheduler))[0] if args.scheduler else None
        out = prepare_output_dir(args.out)
        ds = explore(scenario, args.samples, levers, start=args.start, seed=args.seed, executor=pool,
                     store=out / f"{scenario.stem}_explore_store", resume=args.resume, scale=args.scale,
                     monthly=args.monthly, progress=not args.quiet)
    path = write_netcdf(ds, out / f"{scenario.stem}_explore.nc")
    if not args.quiet:
        unc, lev, outc = (json.loads(ds.attrs[k]) for k in ("uncertainties", "levers", "outcomes"))
        console.print(f"{args.samples} experiments over {len(unc)} uncertainties and {len(lev)} levers "
                      f"({', '.join(lev) or 'none'}); {len(outc)} outcomes; {time.perf_counter() - started:.1f} s")
        for line in summary_lines(ds):
            err_console.print(f"[red]{line}[/red]")
        console.print(f"wrote {path}")
    return 0


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

    cmp = sub.add_parser("compare", help="compare scenarios over an ensemble: uncertainty, paired differences, cost per outcome")
    cmp.add_argument("scenarios", nargs="+", help="scenario TOML files; the first is the reference")
    cmp.add_argument("--runs", type=_positive_int, default=20,
                     help="runs per scenario, split into parameter draws x seeds (default 20 = 10 x 2)")
    cmp.add_argument("--years", default="2025,2030", help="years of the tables (default 2025,2030)")
    cmp.add_argument("--out", default="results/compare", help="output folder (default results/compare/)")
    cmp.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (default: a local cluster)")
    cmp.add_argument("--scale", type=_positive_float, default=None, help="people per high-risk-user agent (default 10)")
    draws = cmp.add_mutually_exclusive_group()
    draws.add_argument("--posterior", default=None,
                       help="draw parameters from this calibration posterior (NetCDF; default: the shipped "
                            "calibration/posterior.nc, or the priors when none is shipped)")
    draws.add_argument("--priors", action="store_true",
                       help="draw parameters from the priors even when a calibrated posterior is shipped")
    cmp.add_argument("--resume", action="store_true", help="reuse the runs already in DIR/store")
    cmp.add_argument("--quiet", action="store_true", help="no table or progress bar")
    cmp.set_defaults(func=cmd_compare)

    exp = sub.add_parser("explore", help="Latin hypercube over uncertain parameters and levers (EMA-style experiments)")
    exp.add_argument("scenario", help="scenario TOML file")
    exp.add_argument("--samples", type=_positive_int, required=True, help="number of experiments")
    exp.add_argument("--levers", default="", help="comma-separated lever keys to vary within their registry range")
    exp.add_argument("--start", default="2022-01", help="month from which the lever values apply (default 2022-01)")
    exp.add_argument("--seed", type=_non_negative_int, default=0, help="model seed shared by every experiment (default 0)")
    exp.add_argument("--out", default="results/explore", help="output folder (default results/explore/)")
    exp.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (default: a local cluster)")
    exp.add_argument("--scale", type=_positive_float, default=None, help="people per high-risk-user agent (default 10)")
    exp.add_argument("--monthly", action="store_true", help="keep monthly outcomes instead of calendar years")
    exp.add_argument("--resume", action="store_true", help="reuse the experiments already in the store")
    exp.add_argument("--quiet", action="store_true", help="no progress bar")
    exp.set_defaults(func=cmd_explore)

    for name, func, what in (("levers", cmd_levers, "the lever registry"), ("actions", cmd_actions, "the Plan's 85 actions and their coverage"),
                             ("params", cmd_params, "the parameter registry"), ("indicators", cmd_indicators, "every output variable and what fills it")):
        p = sub.add_parser(name, help=f"list {what}")
        p.add_argument("--format", choices=("table", "json"), default="table")
        p.set_defaults(func=func)
    dash = sub.add_parser("dashboard", help="serve the browser dashboard (scenario, lever sliders, charts) on 127.0.0.1")
    dash.add_argument("--host", default="127.0.0.1",
                      help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    dash.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765)")
    dash.set_defaults(func=cmd_dashboard)
    from .calibration.cli import register as register_calibration  # calibrate, validate, sensitivity, discover

    register_calibration(sub)
    from .analysis.optimize_cli import register as register_optimize

    register_optimize(sub)
    return parser


def cmd_dashboard(args: argparse.Namespace) -> int:
    from .viz.dashboard import run_dashboard  # imports Solara only when asked for

    return run_dashboard(host=args.host, port=args.port)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number 1-65535, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port number 1-65535, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
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
