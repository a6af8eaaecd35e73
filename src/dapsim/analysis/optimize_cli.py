"""The ``optimize`` command: the best portfolio of lever changes for a yearly budget.

Wired into ``dapsim.cli.build_parser`` with::

    from .analysis.optimize_cli import register as register_optimize
    register_optimize(sub)

It follows the CLI's rules: bad input raises :class:`~dapsim.errors.InputError` (one line, exit 2) before
anything is written — including a budget below the scenario's own yearly cost, which is found from the
scenario's runs before the output folder is created — outputs are written atomically, and progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..errors import InputError

console = Console()
err_console = Console(stderr=True)

DEFAULT_OUT = "results/optimize"


def _budget(text: str) -> float:
    """A number of EUR per year (``7.7e9``, ``7700000000`` or ``7_700_000_000``); its sign is checked later so
    that a negative budget gets the same one-line message from Python and from the command line."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of EUR per year such as 7.7e9, got {text!r}") from None
    return value


def register(subparsers) -> None:
    """Add ``optimize`` to the ``dapsim`` sub-commands."""
    from ..cli import _non_negative_int, _positive_float, _positive_int
    from .optimize import (DEFAULT_DRAWS, DEFAULT_FRESH_SEEDS, DEFAULT_GENERATIONS, DEFAULT_LEVERS, DEFAULT_POPSIZE,
                           DEFAULT_SEEDS)

    p = subparsers.add_parser("optimize", help="the best mix of lever changes for a yearly budget, robust across futures")
    p.add_argument("scenario", help="scenario TOML file the portfolio adds to")
    p.add_argument("--budget", type=_budget, required=True, metavar="EUR",
                   help="total yearly programme cost allowed in each year 2025-2030, all levers (EUR)")
    p.add_argument("--objective", required=True, metavar="OBJ",
                   help="a named objective (deaths, health_and_security) or an objective TOML file; "
                        "several, comma-separated, for the Pareto front of cost against them")
    p.add_argument("--levers", default=None, metavar="K1,K2",
                   help=f"levers to decide on (default: {','.join(DEFAULT_LEVERS)})")
    p.add_argument("--robust", default=None, metavar="qNN",
                   help="optimise this quantile of the runs instead of the median, e.g. q90")
    p.add_argument("--pareto", action="store_true",
                   help="multi-objective mode: Pareto front of cost against the objective(s) (NSGA-II)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default {DEFAULT_OUT}/)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address tcp://HOST:PORT "
                   "(default: a local cluster)")
    p.add_argument("--draws", type=_positive_int, default=DEFAULT_DRAWS,
                   help=f"parameter draws per candidate, posterior if shipped else priors (default {DEFAULT_DRAWS})")
    p.add_argument("--point-values", action="store_true",
                   help="use the registry's point values instead of parameter draws (one draw)")
    p.add_argument("--seeds", type=_positive_int, default=DEFAULT_SEEDS,
                   help=f"model seeds per draw in the search (default {DEFAULT_SEEDS})")
    p.add_argument("--fresh-seeds", type=_non_negative_int, default=DEFAULT_FRESH_SEEDS,
                   help=f"seeds per draw of the re-evaluation on unseen seeds (default {DEFAULT_FRESH_SEEDS}; 0: none)")
    p.add_argument("--generations", type=_non_negative_int, default=DEFAULT_GENERATIONS,
                   help=f"optimiser generations after the first (default {DEFAULT_GENERATIONS})")
    p.add_argument("--popsize", type=_positive_int, default=DEFAULT_POPSIZE,
                   help=f"population = max(5, popsize x 2 x levers) (default {DEFAULT_POPSIZE})")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="optimiser seed (default 0)")
    p.add_argument("--scale", type=_positive_float, default=None, help="people per high-risk-user agent (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress or table")
    p.set_defaults(func=cmd_optimize)


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Check that the output folder exists and is writable, or can be created, without creating it (bad input
    found later, such as a budget below the scenario's cost, must leave nothing behind)."""
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise InputError(option, "", "a folder that can be created", f"{str(path)!r}, which is a file")
        if not os.access(folder, os.W_OK):
            raise InputError(option, "", "a writable folder", f"{str(path)!r}, which is not writable")
        return folder
    parent = folder.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(option, "", "a folder that can be created", f"{str(path)!r} ({parent} is a file)")
    if not os.access(parent, os.W_OK):
        raise InputError(option, "", "a folder that can be created", f"{str(path)!r} ({parent} is not writable)")
    return folder


def cmd_optimize(args: argparse.Namespace) -> int:
    """``dapsim optimize``: check everything, optimise, write the portfolio, report and figures."""
    from ..ensemble import check_scheduler_address
    from .optimize import check_request, optimize, quantile_label

    draws = None if args.point_values else args.draws
    options = dict(draws=draws, seeds=args.seeds, fresh_seeds=args.fresh_seeds, generations=args.generations,
                   popsize=args.popsize, seed=args.seed, scale=args.scale, pareto=args.pareto)
    check_request(args.scenario, args.budget, args.objective, args.levers, args.robust, **options)
    if args.scheduler:
        check_scheduler_address(args.scheduler)
    check_out_dir(args.out)
    started = time.perf_counter()
    report = None if args.quiet else (lambda line: err_console.print(f"[dim]{line}[/dim]"))
    res = optimize(args.scenario, args.budget, args.objective, args.levers, args.robust, executor=args.scheduler,
                   report=report, **options)
    paths = res.write(args.out)
    if args.quiet:
        return 0
    obj = res.objective
    table = Table(title=f"{obj.name} {res.settings['window'][0]}-{res.settings['window'][1]} "
                        f"({quantile_label(res.quantile)}), budget EUR {res.budget / 1e6:,.1f} m a year",
                  title_justify="left")
    for col in ("row", "portfolio", "peak cost EUR m", "search", "fresh seeds", "fresh vs baseline"):
        table.add_column(col, overflow="fold", justify="left" if col in ("row", "portfolio") else "right")
    for _, r in res.comparison().iterrows():
        table.add_row(r["row"], r["portfolio"], f"{r['peak_yearly_cost_eur'] / 1e6:,.1f}", _fmt(r[f"{obj.key}_search"]),
                      _fmt(r[f"{obj.key}_fresh"]), _fmt(r[f"{obj.key}_fresh_vs_baseline"], signed=True))
    console.print(table)
    verdict = res.beats_single_levers
    if verdict is not None:
        console.print(f"beats every single-lever scenario within the budget on fresh seeds: "
                      f"{'yes' if verdict else '[red]no[/red]'}")
    console.print(f"{res.runs} runs in {time.perf_counter() - started:.0f} s; wrote {paths['portfolio']} and "
                  f"{paths['report']} (and comparison.csv, candidates.csv, trace.csv, trace.png"
                  f"{', pareto.csv, pareto.png' if 'pareto' in paths else ''} in {args.out})")
    return 0


def _fmt(value: float, signed: bool = False) -> str:
    if value != value:
        return "–"
    return f"{value:+,.1f}" if signed else f"{value:,.1f}"
