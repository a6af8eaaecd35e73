"""The ``calibrate``, ``validate``, ``sensitivity`` and ``discover`` commands.

Wired into ``dapsim.cli.build_parser`` with::

    from .calibration.cli import register as register_calibration
    register_calibration(sub)

Each command follows the CLI's rules: bad input raises :class:`~dapsim.errors.InputError` (one line, exit 2),
outputs are written atomically, and long work shows progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..errors import InputError

console = Console()
err_console = Console(stderr=True)

DEFAULT_SCENARIO = "scenarios/baseline.toml"
MAX_ROWS = 20
"""Longest parameter table printed (the posterior file has them all)."""


def _shift(row: dict) -> float:
    """How far the posterior median moved from the prior median, relative to the posterior's 90% width."""
    width = abs(row["q95"] - row["q05"]) or abs(row["prior_median"]) or 1.0
    return abs(row["median"] - row["prior_median"]) / width


# ------------------------------------------------------------------------------------------- argument types

from ..cli import _non_negative_int, _positive_float, _positive_int  # noqa: E402  (shared with the main CLI)



def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a calendar year such as 2019, got {text!r}") from None
    if not 1990 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"expected a calendar year between 1990 and 2100, got {text!r}")
    return value


def _patterns(text: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated names or patterns, got {text!r}")
    return items


def _add_run_options(p: argparse.ArgumentParser, scale_default: float | None) -> None:
    p.add_argument("--scale", type=_positive_float, default=scale_default,
                   help=f"people per high-risk-user agent in these runs (default {scale_default or 'the model default'})")
    p.add_argument("--params", type=_patterns, default=None, metavar="K1,K2",
                   help="registry keys or glob patterns to vary (default: every uncertain parameter)")
    p.add_argument("--workers", type=_positive_int, default=None, help="processes on this machine (default: all cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address, e.g. tcp://host:8786")


def register(subparsers) -> None:
    """Add ``calibrate``, ``validate``, ``sensitivity`` and ``discover`` to the ``dapsim`` sub-commands."""
    from .posterior import DEFAULT_POSTERIOR
    from .targets import DEFAULT_TARGETS_DIR

    p = subparsers.add_parser("calibrate", help="fit the uncertain parameters to the published targets (ABC-SMC)")
    p.add_argument("--targets", default=DEFAULT_TARGETS_DIR, metavar="DIR", help=f"target CSVs (default {DEFAULT_TARGETS_DIR})")
    p.add_argument("--particles", type=_positive_int, default=200, help="particles per generation (default 200)")
    p.add_argument("--generations", type=_non_negative_int, default=8,
                   help="ABC-SMC generations (default 8); 0 with --resume writes the posterior of the latest "
                        "finished generation of a calibration that was stopped")
    p.add_argument("--out", default=None, metavar="FILE",
                   help=f"posterior NetCDF (default {DEFAULT_POSTERIOR}; calibration/posterior_NAME.nc with --block)")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"scenario compared with the data (default {DEFAULT_SCENARIO})")
    p.add_argument("--db", default=None, metavar="FILE", help="SQLite history (default: beside --out, <stem>_history.db)")
    p.add_argument("--resume", action="store_true", help="continue the latest run in the history for --generations more")
    p.add_argument("--block", default=None, metavar="NAME",
                   help="calibrate a separable block on its own targets with only its components (nps)")
    p.add_argument("--join", action="append", default=[], metavar="FILE",
                   help="put the parameters of a block posterior (written with --block) into the posterior; repeatable")
    p.add_argument("--min-epsilon", type=_number, default=0.0, help="stop once the threshold (mean squared z) reaches this")
    p.add_argument("--max-simulations", type=_positive_int, default=None, help="stop after this many simulations")
    _add_run_options(p, 20.0)
    p.set_defaults(func=cmd_calibrate)

    p = subparsers.add_parser("validate", help="fit on years up to a cut-off and report the error after it")
    p.add_argument("--cutoff", type=_year, default=2019, help="last year used for fitting (default 2019)")
    p.add_argument("--out", default="results/validation", metavar="DIR", help="output folder (default results/validation)")
    p.add_argument("--targets", default=DEFAULT_TARGETS_DIR, metavar="DIR")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO)
    p.add_argument("--posterior", default=None, metavar="FILE",
                   help="use this posterior (fitted up to the cut-off) instead of calibrating now")
    p.add_argument("--particles", type=_positive_int, default=100, help="particles per generation (default 100)")
    p.add_argument("--generations", type=_positive_int, default=5, help="ABC-SMC generations (default 5)")
    p.add_argument("--draws", type=_positive_int, default=50, help="posterior-predictive runs (default 50)")
    _add_run_options(p, 20.0)
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("sensitivity", help="Sobol or Morris sensitivity of outcomes to uncertain parameters (SALib)")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--method", choices=("sobol", "morris"), default="sobol")
    p.add_argument("--samples", type=_positive_int, default=64,
                   help="Sobol base samples (power of 2; runs = N x (D+2)) or Morris trajectories (runs = N x (D+1))")
    p.add_argument("--out", default="results/sensitivity", metavar="DIR")
    p.add_argument("--outcomes", type=_patterns, default=None, metavar="VAR,...",
                   help="outcomes such as drug_induced_deaths,seizures_kg[substance=cocaine] (default: headline outcomes)")
    p.add_argument("--year", type=_year, default=None, help="outcome year (default 2025)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="model seed shared by every run (default 0)")
    _add_run_options(p, 20.0)
    p.set_defaults(func=cmd_sensitivity)

    p = subparsers.add_parser("discover", help="PRIM scenario discovery on an explore result")
    p.add_argument("explore_result", help="NetCDF written by `dapsim explore`")
    p.add_argument("--outcome", required=True, metavar="VAR", help="outcome, e.g. drug_induced_deaths or seizures_kg[substance=cocaine]")
    p.add_argument("--threshold", type=_number, required=True, help="cases of interest: outcome at or above (or below) this")
    p.add_argument("--direction", choices=("above", "below"), default="above")
    p.add_argument("--year", type=_year, default=None, help="outcome year (default: the last year)")
    p.add_argument("--density", type=_number, default=0.8, help="PRIM density threshold (default 0.8)")
    p.add_argument("--peel-alpha", type=_number, default=0.05, help="share peeled per step (default 0.05)")
    p.add_argument("--boxes", type=_positive_int, default=3, help="maximum number of boxes (default 3)")
    p.add_argument("--out", default="results/discover", metavar="DIR")
    p.set_defaults(func=cmd_discover)


# ------------------------------------------------------------------------------------------- commands


def _history_path(out: Path, db: str | None) -> Path:
    return Path(db) if db else out.with_name(f"{out.stem}_history.db")


def _check_file_target(path: Path, option: str) -> Path:
    from ..storage import prepare_output_dir

    prepare_output_dir(path.parent if str(path.parent) else ".", option)
    if path.exists() and path.is_dir():
        raise InputError(option, "", "a file path", f"{str(path)!r}, which is a folder")
    return path


def _parameters(args):
    from .simulator import uncertain_parameters

    return uncertain_parameters(args.params)


def cmd_calibrate(args: argparse.Namespace, components=None, scenario=None) -> int:
    """``dapsim calibrate``: ABC-SMC, posterior to ``--out``, history to ``--db``."""
    from ..scenario import load_scenario
    from .abc import calibrate
    from .blocks import check_separable, get_block, join, read_blocks
    from .posterior import DEFAULT_POSTERIOR, summary, write_posterior
    from .targets import load_targets

    targets = load_targets(args.targets)
    sc = scenario if scenario is not None else load_scenario(args.scenario)
    parameters = _parameters(args) if args.params else None
    block = None
    if args.block is not None:
        block = get_block(args.block)
        if args.join:
            raise InputError("--join", "", "no --join with --block (blocks are joined into the main posterior)",
                             ", ".join(args.join))
        components = block.components()
        targets = targets.where(lambda t: t.names <= block.variables())
        if not len(targets):
            raise InputError("--targets", "", f"targets on the {block.name!r} block's variables "
                             f"({', '.join(sorted(block.variables()))})", f"none in {args.targets}")
        parameters = parameters or list(block.parameters)
        check_separable(block, parameters)
    joined = read_blocks(args.join)  # read before calibrating: a bad file fails now, not after hours
    default_out = f"calibration/posterior_{block.name}.nc" if block else DEFAULT_POSTERIOR
    out = _check_file_target(Path(args.out or default_out), "--out")
    db = _history_path(out, args.db)
    started = time.perf_counter()
    post = calibrate(targets, sc, parameters=parameters, particles=args.particles, generations=args.generations,
                     scale=args.scale, db=db, resume=args.resume, scheduler=args.scheduler, workers=args.workers,
                     min_epsilon=args.min_epsilon, max_simulations=args.max_simulations, components=components,
                     report=lambda line: err_console.print(f"[dim]{line}[/dim]"))
    if block is not None:
        post.attrs.update({"block": block.name, "block_components": json.dumps([c.name for c in components]),
                           "block_why": block.why})
    if joined:
        post = join(post, joined)
    path = write_posterior(post, out)
    table = Table(title=f"Posterior ({post.sizes['draw']} particles, generation {post.attrs['generations']})",
                  title_justify="left")
    for col in ("parameter", "prior median", "posterior median", "90% interval", "units"):
        table.add_column(col, overflow="fold")
    rows = summary(post)
    shown = sorted(rows, key=_shift, reverse=True)[:MAX_ROWS]
    if len(rows) > MAX_ROWS:
        table.caption = f"the {MAX_ROWS} parameters that moved most from their prior median; all {len(rows)} are in {out}"
    for r in shown:
        table.add_row(r["parameter"], f"{r['prior_median']:.4g}", f"{r['median']:.4g}", f"{r['q05']:.4g} – {r['q95']:.4g}",
                      r["units"])
    console.print(table)
    eps = json.loads(post.attrs["epsilons"])
    not_used = json.loads(post.attrs["targets_not_used"])
    console.print(f"epsilon by generation (mean squared z): {', '.join(f'{e:.3g}' for e in eps)}")
    if "effective_sample_sizes" in post.attrs:  # posteriors written before it was recorded lack it
        ess = json.loads(post.attrs["effective_sample_sizes"])
        console.print(f"effective sample size by generation (of {post.attrs['particles']} particles): "
                      f"{', '.join(f'{e:.0f}' for e in ess)}")
    for b in json.loads(post.attrs.get("joined_blocks", "[]")):
        console.print(f"joined block {b['block']!r} from {b['file']}: {', '.join(b['parameters'])}"
                      + (f" (replacing the main calibration's {', '.join(b['replaced'])})" if b["replaced"] else ""))
    if not_used:
        console.print(f"[yellow]{len(not_used)} targets not used: the model does not fill their variables yet[/yellow]")
    console.print(f"{post.attrs['total_simulations']} simulations in {post.attrs['run_seconds']:.0f} s of sampling "
                  f"({time.perf_counter() - started:.0f} s in this call); "
                  f"wrote {path} (history {db})")
    return 0


def cmd_validate(args: argparse.Namespace, components=None, scenario=None) -> int:
    """``dapsim validate``: fit up to ``--cutoff`` (or take ``--posterior``), predict every target year."""
    from ..scenario import load_scenario
    from ..storage import prepare_output_dir
    from .abc import calibrate
    from .posterior import read_posterior, write_posterior
    from .targets import load_targets
    from .validate import plot, posterior_predictive, split, summarize, validation_table, write_table

    targets = load_targets(args.targets)
    sc = scenario if scenario is not None else load_scenario(args.scenario)
    out = prepare_output_dir(args.out)
    fit, usable = split(targets, args.cutoff, components)
    if args.posterior:
        post = read_posterior(args.posterior)
    else:
        post = calibrate(fit, sc, parameters=_parameters(args), particles=args.particles, generations=args.generations,
                         scale=args.scale, db=out / f"posterior_cutoff_{args.cutoff}_history.db", scheduler=args.scheduler,
                         workers=args.workers, components=components,
                         report=lambda line: err_console.print(f"[dim]{line}[/dim]"))
        write_posterior(post, out / f"posterior_cutoff_{args.cutoff}.nc")
    predictive, errors = posterior_predictive(post, usable, sc, draws=args.draws, scale=args.scale,
                                              workers=args.workers or 1, scheduler=args.scheduler, components=components)
    rows = validation_table(usable, predictive, args.cutoff)
    table_path = write_table(rows, out / "validation.csv")
    summary_rows = summarize(rows)
    write_table(summary_rows, out / "validation_summary.csv",
                ("series", "set", "targets", "mean_abs_relative_error", "rms_z", "share_in_range"))
    png = plot(rows, usable, predictive, args.cutoff, out / "validation.png")
    table = Table(title=f"Out-of-sample error (fit <= {args.cutoff}, {args.draws} posterior draws)", title_justify="left")
    for col in ("target", "year", "observed", "simulated median (90%)", "rel. error", "in range"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if r["set"] == "test":
            table.add_row(r["series"].replace("|", " "), str(r["year"]), f"{r['observed']:,.4g}",
                          f"{r['sim_median']:,.4g} ({r['sim_q05']:,.3g}–{r['sim_q95']:,.3g})",
                          f"{r['relative_error']:+.0%}" if r["relative_error"] == r["relative_error"] else "–",
                          "yes" if r["median_in_range"] else "[red]no[/red]")
    console.print(table)
    if errors:
        console.print(f"[yellow]{len(errors)} of {args.draws} posterior-predictive runs failed: {errors[0]}[/yellow]")
    console.print(f"wrote {table_path}, {out / 'validation_summary.csv'} and {png}")
    return 0


def cmd_sensitivity(args: argparse.Namespace, components=None) -> int:
    """``dapsim sensitivity``: SALib design, runs, indices, failures and a plot."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..analysis.sensitivity import sensitivity, write_outputs
    from ..scenario import load_scenario
    from ..storage import prepare_output_dir

    sc = load_scenario(args.scenario)
    out = prepare_output_dir(args.out)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(f"{args.method} runs", total=None)
        result = sensitivity(sc, method=args.method, samples=args.samples, outcomes=args.outcomes, year=args.year,
                             parameters=_parameters(args), scale=args.scale, seed=args.seed, workers=args.workers or 1,
                             scheduler=args.scheduler, components=components,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    paths = write_outputs(result, out)
    key = "ST" if args.method == "sobol" else "mu_star"
    table = Table(title=f"Most influential parameters ({args.method}, {result.year})", title_justify="left")
    for col in ("outcome", "parameter", key, "blocks used / dropped"):
        table.add_column(col, overflow="fold")
    for name in result.outcome_names:
        rows = [r for r in result.indices if r["outcome"] == name and key in r]
        for r in sorted(rows, key=lambda r: r[key], reverse=True)[:3]:
            table.add_row(name, r["parameter"], f"{r[key]:.3g}", f"{r['blocks_used']} / {r['blocks_dropped']}")
    console.print(table)
    n_failed = int(result.failed.sum())
    if n_failed:
        console.print(f"[yellow]{n_failed} of {len(result.errors)} runs failed; see {paths['failures']}[/yellow]")
    console.print(f"{len(result.errors)} runs; wrote {paths['table']}, {paths['runs']}, {paths['failures']} and {paths['plot']}")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    """``dapsim discover``: PRIM boxes with coverage and density, and a plot."""
    from ..analysis.discover import describe, discover, load_explore, write_outputs
    from ..storage import prepare_output_dir

    ds = load_explore(args.explore_result)
    out = prepare_output_dir(args.out)
    result = discover(ds, args.outcome, args.threshold, direction=args.direction, year=args.year,
                      density_threshold=args.density, peel_alpha=args.peel_alpha, max_boxes=args.boxes,
                      source=args.explore_result)
    paths = write_outputs(result, out)
    for line in describe(result):
        console.print(line)
    console.print(f"wrote {paths['boxes']}, {paths['trajectory']} and {paths['plot']}")
    return 0
