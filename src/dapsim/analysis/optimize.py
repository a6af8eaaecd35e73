"""Policy portfolio optimisation: the best mix of lever changes for a yearly budget (``dapsim optimize``).

The question (the strategic review's Action 79): with a budget of EUR *B* a year for all the Plan's programmes,
which mix of actions, at what level and from when, does the most good over 2025-2030, and does the answer hold
across uncertain futures?

**Decision.** For each lever in the set (default :data:`DEFAULT_LEVERS`), a target level and a start year in
2025..2028, added to the scenario's own schedule (:mod:`dapsim.analysis.portfolio`).

**Objective.** A weighted sum of output variables summed over 2025-2030 and the EU-27
(:class:`Objective`; named ones in ``data/objectives.toml``: ``deaths``, ``health_and_security``), to be made
as small as possible. Every candidate runs on the same parameter draws × seeds (common random numbers: draw *k*
and seed *s* share parameter values and random streams across candidates, so candidates differ only through
their levers). The score of a candidate is the median over those runs, or a higher quantile with
``robust="q90"``: the portfolio then has to be good in the worse futures too.

**Budget.** The total yearly programme cost (``programme_cost_eur``, all levers) must stay within the budget in
every year 2025-2030. The yearly cost is taken at the same quantile over runs as the objective (median, or q90
with ``robust``: a robust portfolio also keeps to the budget in the dearer futures). A budget below the
scenario's own yearly cost is an input error: no portfolio of added actions could meet it.

**Infeasible candidates.** Two layers. Before a candidate runs, the cost model (fitted on the one-lever runs and
learning from every run) predicts its yearly cost; a candidate predicted to overspend is *repaired*: spending is
cut where it buys least, the lever with the smallest objective gain per euro (measured by the probes) shrunk
toward no change or dropped first, as in the greedy repair of knapsack problems (the optimiser keeps its own
vector; what runs and is recorded is the repaired portfolio). After it runs, a candidate whose measured cost
still exceeds the budget in some year is *penalised*: its score gets ``PENALTY × |baseline score| × excess /
headroom`` added (headroom = budget − the scenario's cost), so overspending by a tenth of the headroom costs as
much as the baseline's whole score; it can never be chosen. The chosen portfolio is the best candidate whose
measured cost fits.

**Search.** scipy's differential evolution (``vectorized=True``: each generation arrives as one array and runs as
one ensemble on the executor — a local Dask cluster by default, or ``scheduler``), with integer start years
(``integrality``), seeded so the same ``seed`` gives the same portfolio. The first generation holds, besides a
Latin hypercube, the best single-lever portfolios and a greedy one (levers added in order of objective gain per
euro measured by the probes until the budget is spent), so the search starts from the obvious answers and
must beat them. Multi-objective mode (several objectives, or ``pareto=True``) uses NSGA-II from Platypus (the
many-objective library behind ema_workbench) on (peak yearly cost, objective 1, objective 2, ...) and reports
the Pareto front of the feasible candidates found.

**Checks in the result.** The best single-lever scenario of the same cost — each lever alone from 2025 at the
level that spends the budget (measured, corrected if the first guess overspent), or its maximum if that costs
less — and the scenario itself are evaluated on the same runs, and re-evaluated with the portfolio on fresh
seeds never used in the search, so the comparison is not flattered by noise the search adapted to.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import random
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from .._toml import load_data
from ..errors import InputError, reject_unknown_keys
from ..indicators import FIXED_COORDS, INDICATORS
from ..levers import LEVERS
from ..scenario import Scenario, load_scenario
from ..timeline import format_month
from .portfolio import START_YEARS, WINDOW, CostModel, DecisionSpace, Portfolio

DEFAULT_LEVERS: tuple[str, ...] = (
    "naloxone_coverage", "oat_capacity", "nsp_coverage", "drug_consumption_rooms",
    "universal_prevention", "port_scanning", "intel_sharing", "hvt_investigations",
)
"""The main health and enforcement dials of the Plan (the dashboard's eight sliders): a set small enough for a
default optimisation to finish in minutes on two cores, broad enough to trade health against security."""

DEFAULT_DRAWS = 4
"""Parameter draws per candidate (from the shipped posterior when there is one, else the priors): enough to see
whether a portfolio's advantage holds across futures, few enough for minutes per generation."""

DEFAULT_SEEDS = 1
"""Model seeds per draw in the search: parameter uncertainty is the larger source; every candidate shares them."""

DEFAULT_FRESH_SEEDS = 1
"""Seeds per draw of the re-evaluation on seeds the search never saw."""

DEFAULT_GENERATIONS = 4
"""Generations after the first. In trial optimisations of the shipped model (default levers, deaths), at EUR 9.0
bn a year the best portfolio was found by generation 1 and six generations did not improve on it; at EUR 9.5 bn,
where the greedy warm start overspent, the search improved until generation 3. Four keep a default optimisation
within about a quarter of an hour on two cores."""

DEFAULT_POPSIZE = 1
"""Population = max(5, popsize × decision variables), scipy's convention: 16 candidates for eight levers."""

FRESH_SEED_OFFSET = 1_000_000
"""Fresh seeds are ``FRESH_SEED_OFFSET + i``: far from the search's seeds ``0..n-1``, so never the same."""

PENALTY = 10.0
"""Score added per unit of (excess cost / headroom), in units of the baseline's score (see module docstring)."""

FAILED_PENALTY = 1000.0
"""Score multiple of the baseline's for a candidate with a failed run: never chosen, never near the front."""

CORRECTIONS = 4
"""Rounds of correcting a single-lever comparator whose measured cost exceeded the budget."""

MARGIN = 0.99
"""A corrected comparator aims at 99% of the headroom (budget minus the scenario's cost), so it lands inside."""

CLOSE_ENOUGH = 0.95
"""A comparator spending at least 95% of the headroom is taken as spending the budget (no further correction)."""

RECOMBINATION = 0.9
"""Differential evolution's crossover rate: a trial takes nine in ten of its entries from the mutant (the best
candidate moved along a difference of two others), so it stays near the best and the small population refines it
rather than scattering; with scipy's default 0.7 no generation of a trial default optimisation improved on the
warm starts."""

MAX_OBJECTIVES = 3
"""Multi-objective mode: cost against at most three outcomes (beyond that a front is too thin to read)."""

REPORT_OBJECTIVE = "health_and_security"
"""Its terms (deaths, HCV infections, violence, cocaine delivered) are shown for every row of the comparison."""

_ROBUST = re.compile(r"^q(\d{2})$")


# ------------------------------------------------------------------------------------------------ objectives


@dataclass(frozen=True)
class Term:
    """One weighted output variable: ``weight × sum over 2025-2030 and all other dims of variable[select]``."""

    variable: str
    weight: float
    select: tuple[tuple[str, tuple[str, ...]], ...] = ()
    reason: str = ""

    @property
    def signature(self) -> tuple:
        return (self.variable, self.select)

    @property
    def label(self) -> str:
        if not self.select:
            return self.variable
        inner = ",".join(f"{d}={'|'.join(v)}" for d, v in self.select)
        return f"{self.variable}[{inner}]"


@dataclass(frozen=True)
class Objective:
    """A quantity to minimise over 2025-2030 (see ``data/objectives.toml`` for the file format)."""

    key: str
    name: str
    description: str
    terms: tuple[Term, ...]
    source: str

    def per_run(self, totals: Mapping[tuple, np.ndarray]) -> np.ndarray:
        """The objective of each run from per-run yearly totals ``{term signature: (runs, years)}``."""
        return sum(t.weight * totals[t.signature].sum(axis=1) for t in self.terms)

    @property
    def units(self) -> str:
        if len(self.terms) == 1 and self.terms[0].weight == 1:
            return INDICATORS[self.terms[0].variable].units
        return "death-equivalents" if any(t.variable == "drug_induced_deaths" and t.weight == 1 for t in self.terms) \
            else "weighted units"


OBJECTIVE_KEYS = ("name", "description", "terms")
TERM_KEYS = ("variable", "weight", "select", "reason")


def _parse_objective(raw: object, source: str, key: str, prefix: str = "") -> Objective:
    """Validate one objective table; every problem is one line naming the file and the key."""
    if not isinstance(raw, dict):
        raise InputError(source, prefix.rstrip("."), "a table with name, description and [[terms]]", repr(raw))
    reject_unknown_keys(raw, OBJECTIVE_KEYS, source, prefix)
    name = raw.get("name", key)
    description = raw.get("description", "")
    for k, v in (("name", name), ("description", description)):
        if not isinstance(v, str):
            raise InputError(source, f"{prefix}{k}", "a string", repr(v))
    terms_raw = raw.get("terms")
    if not isinstance(terms_raw, list) or not terms_raw:
        raise InputError(source, f"{prefix}terms", "a non-empty array of tables [[terms]]",
                         "nothing" if terms_raw is None else repr(terms_raw))
    terms, seen = [], set()
    for i, t in enumerate(terms_raw):
        label = f"{prefix}terms[{i}]"
        if not isinstance(t, dict):
            raise InputError(source, label, "a table with variable and weight", repr(t))
        reject_unknown_keys(t, TERM_KEYS, source, f"{label}.")
        variable = t.get("variable")
        if variable is None:
            raise InputError(source, f"{label}.variable", "an output variable listed by `dapsim indicators`", "nothing")
        if not isinstance(variable, str) or variable not in INDICATORS:
            raise InputError(source, f"{label}.variable", "an output variable listed by `dapsim indicators`",
                             f"unknown variable {variable!r}")
        weight = t.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight == 0:
            raise InputError(source, f"{label}.weight", "a non-zero number", "nothing" if weight is None else repr(weight))
        select_raw = t.get("select", {})
        if not isinstance(select_raw, dict):
            raise InputError(source, f"{label}.select", "a table such as { substance = \"cocaine\" }", repr(select_raw))
        dims = [d for d in INDICATORS[variable].dims if d != "time"]
        select = []
        for dim, labels in select_raw.items():
            if dim not in dims or dim not in FIXED_COORDS:
                allowed = [d for d in dims if d in FIXED_COORDS]
                raise InputError(source, f"{label}.select.{dim}",
                                 f"a dimension of {variable} to select on ({', '.join(allowed) or 'none'})", repr(dim))
            values = [labels] if isinstance(labels, str) else labels
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise InputError(source, f"{label}.select.{dim}", "a label or a list of labels", repr(labels))
            for v in values:
                if v not in FIXED_COORDS[dim]:
                    raise InputError(source, f"{label}.select.{dim}", f"labels of {dim} ({', '.join(FIXED_COORDS[dim])})",
                                     repr(v))
            select.append((dim, tuple(values)))
        reason = t.get("reason", "")
        if not isinstance(reason, str):
            raise InputError(source, f"{label}.reason", "a string", repr(reason))
        term = Term(variable, float(weight), tuple(sorted(select)), reason)
        if term.signature in seen:
            raise InputError(source, label, "each variable and selection once", f"{term.label} again")
        seen.add(term.signature)
        terms.append(term)
    return Objective(key, name, description, tuple(terms), source)


def named_objectives() -> dict[str, Objective]:
    """The objectives shipped in ``data/objectives.toml``, by name."""
    raw = load_data("objectives.toml")
    return {k: _parse_objective(v, "data/objectives.toml", k, f"{k}.") for k, v in raw.items()}


def load_objective(spec: str | Path | Objective, option: str = "--objective") -> Objective:
    """A named objective (``deaths``), the path of an objective TOML file, or an :class:`Objective` as is.

    Raises:
        InputError: an unknown name, a missing or malformed file, an unknown variable in it.
    """
    if isinstance(spec, Objective):
        return spec
    text = str(spec)
    named = named_objectives()
    if text in named:
        return named[text]
    path = Path(text)
    if path.suffix.lower() != ".toml" and not path.is_file():
        raise InputError(option, "", f"a named objective ({', '.join(named)}) or the path of an objective TOML file",
                         repr(text))
    if not path.is_file():
        raise InputError(text, "", "an existing objective TOML file", "no such file")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(text, "", "valid TOML", f"a syntax error ({exc})") from None
    except OSError as exc:
        raise InputError(text, "", "a readable file", exc.strerror or str(exc)) from None
    return _parse_objective(raw, text, path.stem)


def load_objectives(spec, option: str = "--objective") -> list[Objective]:
    """One or more objectives: a comma-separated string, a list, or one objective."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
        if not all(items):
            raise InputError(option, "", "objective names or files separated by commas", repr(spec))
    elif isinstance(spec, Objective | Path):
        items = [spec]
    else:
        items = list(spec)
    if not items:
        raise InputError(option, "", "at least one objective", "none")
    objectives = [load_objective(s, option) for s in items]
    if len(objectives) > MAX_OBJECTIVES:
        raise InputError(option, "", f"at most {MAX_OBJECTIVES} objectives (cost against two or three outcomes)",
                         f"{len(objectives)}")
    keys = [o.key for o in objectives]
    if len(set(keys)) != len(keys):
        raise InputError(option, "", "each objective once", ",".join(keys))
    return objectives


def parse_robust(robust) -> float:
    """``None``/``"median"`` -> 0.5; ``"q90"`` -> 0.9 (q50..q99); a number in [0.5, 1) as is."""
    if robust is None or robust == "median":
        return 0.5
    if isinstance(robust, str):
        m = _ROBUST.match(robust.strip())
        if m and 50 <= int(m.group(1)) <= 99:
            return int(m.group(1)) / 100
    elif isinstance(robust, int | float) and not isinstance(robust, bool) and 0.5 <= robust < 1:
        return float(robust)
    raise InputError("--robust", "", "a quantile of the runs to optimise, q50 to q99 (e.g. q90)", repr(robust))


def quantile_label(q: float) -> str:
    return "median" if q == 0.5 else f"q{round(q * 100)}"


# ------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    """The runs of one portfolio on one set of draws × seeds, reduced to what scores it.

    Attributes:
        cost: total programme cost per run and year of the window (EUR), shape ``(runs, years)``.
        totals: per term signature, the EU-27 total per run and year, shape ``(runs, years)``.
        failed: number of failed runs (their values are NaN).
    """

    portfolio: Portfolio
    seeds: tuple[int, ...]
    cost: np.ndarray
    totals: dict
    failed: int
    scenario: str = ""


class Evaluator:
    """Runs portfolios on common random numbers through :func:`dapsim.run_ensemble`, each batch as one ensemble.

    Identical portfolios (same actions after rounding and repair) share their runs through ``cache``, which may
    be shared between optimisations of the same scenario, draws and scale (e.g. two budgets).
    """

    def __init__(self, space: DecisionSpace, draws: xr.DataArray, seeds: Sequence[int], scale: float | None,
                 executor, terms: Sequence[Term], cache: dict | None = None):
        from ..ensemble import scenario_payload

        self.space = space
        self.draws = draws
        self.seeds = tuple(int(s) for s in seeds)
        self.scale = scale
        self.executor = executor
        self.terms = {t.signature: t for t in terms}
        self.cache = {} if cache is None else cache
        blob = json.dumps({"scenario": scenario_payload(space.scenario), "draws": np.asarray(draws.values).tolist(),
                           "parameters": [str(p) for p in draws["parameter"].values], "scale": scale,
                           "terms": sorted(repr(s) for s in self.terms), "version": __version__},
                          sort_keys=True, default=str)
        self.context = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self.runs = 0
        self.batches = 0
        self._names = 0

    def run(self, portfolios: Sequence[Portfolio], seeds: Sequence[int] | None = None) -> list[Evaluation]:
        """Evaluate portfolios (cached ones are not run again); all new ones run as one ensemble."""
        from ..ensemble import run_ensemble

        seeds = self.seeds if seeds is None else tuple(int(s) for s in seeds)
        keys = [(self.context, seeds, p.key) for p in portfolios]
        todo: dict[tuple, Portfolio] = {}
        for k, p in zip(keys, portfolios):
            if k not in self.cache and k not in todo:
                todo[k] = p
        if todo:
            names = []
            for _ in todo:
                self._names += 1
                names.append(f"c{self._names:05d}")
            scenarios = [self.space.scenario_for(p, name) for p, name in zip(todo.values(), names)]
            ens = run_ensemble(scenarios, draws=self.draws, seeds=list(seeds), executor=self.executor, scale=self.scale)
            self.runs += len(scenarios) * ens.sizes["draw"] * ens.sizes["seed"]
            self.batches += 1
            years = list(self.space.years)
            cost = _eu_yearly(ens["programme_cost_eur"], years)
            totals = {sig: _eu_yearly(_select(ens[t.variable], t.select), years) for sig, t in self.terms.items()}
            failed = ens["run_failed"].sum(["draw", "seed"]).values
            for i, (k, p) in enumerate(todo.items()):
                self.cache[k] = Evaluation(p, seeds, cost[i], {sig: v[i] for sig, v in totals.items()},
                                           int(failed[i]), names[i])
        return [self.cache[k] for k in keys]


def _select(da: xr.DataArray, select) -> xr.DataArray:
    return da.sel({d: list(v) for d, v in select}) if select else da


def _eu_yearly(da: xr.DataArray, years: list[int]) -> np.ndarray:
    """``(scenario, draw, seed, year, ...)`` -> EU totals ``(scenario, runs, years)`` over the window."""
    keep = ("scenario", "draw", "seed", "year")
    others = [d for d in da.dims if d not in keep]
    da = (da.sum(others, skipna=False) if others else da).sel(year=years).transpose(*keep)
    values = np.asarray(da.values, dtype=float)
    return values.reshape(values.shape[0], values.shape[1] * values.shape[2], values.shape[3])


@dataclass
class Scoring:
    """How an evaluation is scored: objectives, quantile over runs, budget."""

    objectives: list[Objective]
    quantile: float
    budget: float

    def values(self, ev: Evaluation, objective: Objective) -> np.ndarray:
        """The objective of each run (the same draws × seeds for every candidate)."""
        return objective.per_run(ev.totals)

    def score(self, ev: Evaluation, objective: Objective | None = None) -> float:
        """The objective's quantile over runs (NaN if a run failed)."""
        v = self.values(ev, objective or self.objectives[0])
        return float(np.quantile(v, self.quantile)) if np.all(np.isfinite(v)) else float("nan")

    def yearly_cost(self, ev: Evaluation) -> np.ndarray:
        """The cost quantile over runs, per year of the window."""
        if not np.all(np.isfinite(ev.cost)):
            return np.full(ev.cost.shape[1], np.nan)
        return np.quantile(ev.cost, self.quantile, axis=0)

    def peak_cost(self, ev: Evaluation) -> float:
        """The highest yearly cost of the window: what the budget has to cover."""
        return float(np.max(self.yearly_cost(ev)))

    def fits(self, ev: Evaluation) -> bool:
        """Within the budget in every year, with no failed run (a failed run's cost is unknown)."""
        return ev.failed == 0 and bool(np.all(self.yearly_cost(ev) <= self.budget))


# ------------------------------------------------------------------------------------------------ the result


@dataclass
class Candidate:
    """One evaluated portfolio of the search, with the role it played."""

    number: int
    role: str             # baseline, probe, single, greedy, search
    generation: int       # -1 before the search
    portfolio: Portfolio
    evaluation: Evaluation
    predicted: np.ndarray     # the cost model's yearly prediction when the candidate was made
    energy: float = float("nan")

    @property
    def predicted_peak(self) -> float:
        return float(np.max(self.predicted))


@dataclass
class OptimizationResult:
    """What :func:`optimize` returns: the chosen portfolio, how it compares, how the search went."""

    scenario: Scenario
    space: DecisionSpace
    budget: float
    objectives: list[Objective]
    quantile: float
    method: str
    portfolio: Portfolio
    best: Candidate
    baseline: Candidate
    singles: dict[str, Candidate]
    fresh: dict[str, Evaluation]
    fresh_seeds: tuple[int, ...]
    candidates: list[Candidate]
    trace: pd.DataFrame
    pareto: pd.DataFrame | None
    settings: dict
    seconds: float
    runs: int
    scoring: Scoring = field(repr=False, default=None)

    # ------------------------------------------------------------------ tables

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    def comparison(self) -> pd.DataFrame:
        """Baseline, each single-lever scenario and the portfolio: cost, objective on the search runs and on fresh
        seeds, and the report outcomes (EU-27 totals 2025-2030, median over runs)."""
        rows = [("baseline", "scenario as given", self.baseline)]
        rows += [(f"single: {k}", c.portfolio.describe(), c) for k, c in self.singles.items()]
        rows.append(("portfolio", self.portfolio.describe(), self.best))
        report_terms = named_objectives()[REPORT_OBJECTIVE].terms
        base_fresh = self.fresh.get("baseline")
        records = []
        for label, what, cand in rows:
            ev = cand.evaluation
            fresh = self.fresh.get(label)
            yearly = self.scoring.yearly_cost(ev)
            rec = {"row": label, "portfolio": what, "peak_yearly_cost_eur": float(np.max(yearly)),
                   "mean_yearly_cost_eur": float(np.mean(yearly)),
                   "within_budget": bool(self.scoring.fits(ev))}
            for obj in self.objectives:
                rec[f"{obj.key}_search"] = self.scoring.score(ev, obj)
                rec[f"{obj.key}_fresh"] = self.scoring.score(fresh, obj) if fresh is not None else np.nan
                if fresh is not None and base_fresh is not None:
                    rec[f"{obj.key}_fresh_vs_baseline"] = rec[f"{obj.key}_fresh"] - self.scoring.score(base_fresh, obj)
                else:
                    rec[f"{obj.key}_fresh_vs_baseline"] = np.nan
            src = fresh if fresh is not None else ev
            for t in report_terms:
                if t.signature in src.totals:
                    rec[f"{t.label}_median"] = float(np.median(src.totals[t.signature].sum(axis=1)))
            records.append(rec)
        return pd.DataFrame.from_records(records)

    @property
    def beats_single_levers(self) -> bool | None:
        """Whether the portfolio scores better on fresh seeds than every single-lever scenario within the budget
        (None if there was no fresh re-evaluation)."""
        if "portfolio" not in self.fresh:
            return None
        mine = self.scoring.score(self.fresh["portfolio"])
        others = [self.scoring.score(self.fresh[f"single: {k}"]) for k, c in self.singles.items()
                  if self.scoring.fits(c.evaluation)]
        return bool(all(mine < o for o in others))

    def candidates_table(self) -> pd.DataFrame:
        """Every evaluated portfolio: role, generation, targets and start years, cost, scores."""
        records = []
        for c in self.candidates:
            ev = c.evaluation
            yearly = self.scoring.yearly_cost(ev)
            rec = {"candidate": c.number, "role": c.role, "generation": c.generation, "portfolio": c.portfolio.describe(),
                   "predicted_peak_cost_eur": c.predicted_peak, "peak_yearly_cost_eur": float(np.max(yearly)),
                   "within_budget": self.scoring.fits(ev), "failed_runs": ev.failed, "energy": c.energy}
            for obj in self.objectives:
                rec[obj.key] = self.scoring.score(ev, obj)
            actions = {a.key: a for a in c.portfolio.actions}
            for key in self.space.keys:
                a = actions.get(key)
                rec[f"{key}_target"] = a.target if a else np.nan
                rec[f"{key}_from"] = a.start if a else np.nan
            records.append(rec)
        return pd.DataFrame.from_records(records)

    # ------------------------------------------------------------------ files

    def scenario_toml(self, out_dir: str | Path = ".") -> str:
        """The chosen portfolio as a ready-to-run scenario file, with a comment block explaining it."""
        return portfolio_toml(self, Path(out_dir))

    def report_markdown(self) -> str:
        return report_markdown(self)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``portfolio.toml``, ``report.md``, ``comparison.csv``, ``candidates.csv``, ``trace.csv``,
        ``trace.png`` and, in multi-objective mode, ``pareto.csv`` and ``pareto.png`` (each atomically)."""
        from ..storage import prepare_output_dir, write_atomic, write_png

        out = prepare_output_dir(out_dir)
        paths = {}
        toml_text = self.scenario_toml(out)
        paths["portfolio"] = write_atomic(out / "portfolio.toml", lambda tmp: tmp.write_text(toml_text, encoding="utf-8"))
        for name, df in (("comparison", self.comparison()), ("candidates", self.candidates_table()), ("trace", self.trace)):
            paths[name] = write_atomic(out / f"{name}.csv", lambda tmp, df=df: df.to_csv(tmp, index=False))
        paths["trace_png"] = write_png(_trace_figure(self), out / "trace.png")
        if self.pareto is not None:
            paths["pareto"] = write_atomic(out / "pareto.csv", lambda tmp: self.pareto.to_csv(tmp, index=False))
            paths["pareto_png"] = write_png(_pareto_figure(self), out / "pareto.png")
        text = self.report_markdown()
        paths["report"] = write_atomic(out / "report.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return paths


# ------------------------------------------------------------------------------------------------ the search


class _Search:
    """Shared state of one optimisation: the archive of evaluated candidates and the trace."""

    def __init__(self, space: DecisionSpace, evaluator: Evaluator, scoring: Scoring, report: Callable[[str], None]):
        self.space = space
        self.evaluator = evaluator
        self.scoring = scoring
        self.report = report
        self.cost_model: CostModel | None = None
        self.archive: dict[tuple, Candidate] = {}
        self.trace: list[dict] = []
        self.generation = 0
        self.started = time.perf_counter()
        self.base_score = float("nan")
        self.headroom = float("nan")

    def evaluate(self, portfolios: Sequence[Portfolio], role: str, generation: int = -1) -> list[Candidate]:
        """Run the portfolios (one ensemble), archive the new ones under ``role``, and let the cost model learn
        from them; a portfolio evaluated before keeps its first role and number."""
        evs = self.evaluator.run(portfolios)
        out = []
        for p, ev in zip(portfolios, evs):
            if p.key not in self.archive:
                predicted = self.cost_model.predict(p) if self.cost_model is not None else np.full(len(self.space.years), np.nan)
                cand = Candidate(len(self.archive), role, generation, p, ev, predicted)
                cand.energy = self.energy(ev)
                self.archive[p.key] = cand
            out.append(self.archive[p.key])
        if self.cost_model is not None:
            self.learn()
        return out

    def cost_increase(self, ev: Evaluation) -> np.ndarray:
        """Median over paired runs of the yearly cost increase over the scenario."""
        return np.median(ev.cost - self.archive[()].evaluation.cost, axis=0)

    def learn(self) -> None:
        """Let the cost model learn how far multi-lever portfolios overspend its prediction."""
        multi = [c for c in self.archive.values() if len(c.portfolio.actions) > 1 and c.evaluation.failed == 0]
        self.cost_model.learn([c.predicted for c in multi], [self.scoring.yearly_cost(c.evaluation) for c in multi],
                              self.scoring.budget)

    def energy(self, ev: Evaluation) -> float:
        """The score the optimiser minimises: the objective, plus the penalty for overspending or failing."""
        if not math.isfinite(self.base_score):
            return float("nan")
        scale = abs(self.base_score) or 1.0
        score = self.scoring.score(ev)
        if ev.failed or not math.isfinite(score):
            return FAILED_PENALTY * scale
        excess = float(np.max(self.scoring.yearly_cost(ev) - self.scoring.budget))
        if excess > 0:
            score += PENALTY * scale * excess / self.headroom
        return score

    def best(self) -> Candidate:
        """The best candidate whose measured cost fits (ties: cheaper, then found first)."""
        ok = [c for c in self.archive.values() if self.scoring.fits(c.evaluation)]
        return min(ok, key=lambda c: (self.scoring.score(c.evaluation), self.scoring.peak_cost(c.evaluation), c.number))

    def record(self, generation: int, cands: Sequence[Candidate], runs_before: int) -> None:
        best = self.best()
        fits = [c for c in cands if self.scoring.fits(c.evaluation)]
        scores = [self.scoring.score(c.evaluation) for c in fits]
        row = {"generation": generation, "candidates": len(cands), "new_runs": self.evaluator.runs - runs_before,
               "evaluated_total": len(self.archive), "within_budget": len(fits),
               "best_objective": self.scoring.score(best.evaluation),
               "generation_best": min(scores) if scores else np.nan,
               "generation_median": float(np.median(scores)) if scores else np.nan,
               "best_peak_cost_eur": self.scoring.peak_cost(best.evaluation),
               "seconds": round(time.perf_counter() - self.started, 1)}
        self.trace.append(row)
        self.report(f"generation {generation}: best {row['best_objective']:,.1f} ({len(fits)}/{len(cands)} within "
                    f"budget, {row['new_runs']} new runs, {row['seconds']:.0f} s)")


def _lhs(n: int, d: int, seed: int) -> np.ndarray:
    from ..ensemble import _lhs as lhs

    return lhs(d, n, seed)


def _initial_population(space: DecisionSpace, warm: Sequence[Portfolio], size: int, seed: int) -> np.ndarray:
    """Warm starts first, then a Latin hypercube over the bounds (start years spread evenly over 2025..2028)."""
    bounds = np.array(space.bounds(), dtype=float)
    rows = [space.encode(p) for p in warm][: max(0, size - 2)]
    n_random = size - len(rows)
    if n_random:
        q = _lhs(n_random, space.size, seed)
        x = bounds[:, 0] + q * (bounds[:, 1] - bounds[:, 0])
        n = len(space.keys)
        x[:, n:] = START_YEARS[0] + np.floor(q[:, n:] * (START_YEARS[1] - START_YEARS[0] + 1))
        rows += list(x)
    return np.array(rows, dtype=float)


def _value_order(space: DecisionSpace, model: CostModel, gains: dict[str, float]) -> list[str]:
    """Levers from most to least objective gained per euro at their best end (gains from the probes, extra cost
    from the cost model); a lever that costs nothing extra comes first, one that gains nothing last."""
    def ratio(key):
        extra = float(np.max(model.predict(space.best_portfolio(key)) - model.base))
        if gains[key] <= 0:
            return -math.inf
        return math.inf if extra <= 0 else gains[key] / extra

    return sorted(space.keys, key=lambda k: (-ratio(k), space.keys.index(k)))


def _greedy(space: DecisionSpace, model: CostModel, budget: float, gains: dict[str, float]) -> Portfolio:
    """Levers at their best end in order of objective gain per euro (from the probes) until the budget is spent;
    the lever that does not fit whole gets what is left."""
    order = [k for k in _value_order(space, model, gains) if gains[k] > 0]
    chosen = Portfolio()
    for key in order:
        full = space.combine(chosen, space.best_portfolio(key))
        if model.fits(full, budget):
            chosen = full
            continue
        return model.shrink(chosen, space.best_portfolio(key), budget)
    return chosen


def _share(space: DecisionSpace, portfolio: Portfolio) -> float:
    """How far a one-lever portfolio goes from no change toward the lever's best end (0..1)."""
    if not portfolio.actions:
        return 0.0
    a = portfolio.actions[0]
    r = space.ranges[a.key]
    return (a.target - r.none) / (r.best - r.none)


def _singles(search: _Search, budget: float) -> dict[str, Candidate]:
    """Each lever alone from 2025 at the level that spends the budget (its best end if that costs less).

    The first guess comes from the cost model; the runs then correct it for up to ``CORRECTIONS`` rounds, aiming
    at ``MARGIN`` of the headroom: by regula falsi between the highest level measured to fit (at first: no
    change) and the lowest measured to overspend, or, while nothing overspent and the spend is short of
    ``CLOSE_ENOUGH`` of the headroom, by extrapolating the measured spend. The comparator is the highest level
    measured to fit, so it spends about the budget and never more.
    """
    space, model, scoring = search.space, search.cost_model, search.scoring
    base_peak = scoring.peak_cost(search.archive[()].evaluation)
    headroom = budget - base_peak
    aim = base_peak + MARGIN * headroom
    fit = {k: (0.0, base_peak, search.archive[()]) for k in space.keys}   # share, measured peak, candidate
    over: dict[str, tuple[float, float]] = {}
    todo = {k: model.spend(k, budget) for k in space.keys}
    for _ in range(CORRECTIONS + 1):
        cands = search.evaluate(list(todo.values()), "single")
        nxt = {}
        for key, cand in zip(todo, cands):
            if cand.evaluation.failed:
                continue
            model.add(cand.portfolio, search.cost_increase(cand.evaluation))
            share, peak = _share(space, cand.portfolio), scoring.peak_cost(cand.evaluation)
            if scoring.fits(cand.evaluation):
                if share >= fit[key][0]:
                    fit[key] = (share, peak, cand)
            elif key not in over or share < over[key][0]:
                over[key] = (share, peak)
            s0, p0, _ = fit[key]
            if key in over:
                s1, p1 = over[key]
                s = s0 + (s1 - s0) * (aim - p0) / (p1 - p0) if p1 > p0 else 0.5 * (s0 + s1)
                s = float(np.clip(s, s0 + 0.05 * (s1 - s0), s1 - 0.05 * (s1 - s0)))  # strictly inside the bracket
            elif s0 >= 1.0 or p0 - base_peak >= CLOSE_ENOUGH * headroom:
                continue  # at the lever's best end, or spending about the budget
            else:
                s = min(1.0, s0 * (aim - base_peak) / (p0 - base_peak)) if p0 > base_peak else 1.0
            p = space.scaled(space.best_portfolio(key), s)
            if p.key not in search.archive:
                nxt[key] = p
        if not nxt:
            break
        todo = nxt
    return {k: fit[k][2] for k in space.keys if fit[k][2].portfolio.actions}


def _run_de(search: _Search, init: np.ndarray, generations: int, seed: int) -> None:
    """scipy's differential evolution over the decision vector; each generation is repaired, run as one ensemble
    and scored (``vectorized``: scipy hands over the whole generation at once)."""
    from scipy.optimize import differential_evolution

    space, budget = search.space, search.scoring.budget

    def batch(X: np.ndarray) -> np.ndarray:
        cols = [X] if np.ndim(X) == 1 else list(np.asarray(X).T)  # scipy passes (variables, candidates)
        portfolios = [search.cost_model.repair(space.decode(x), budget) for x in cols]
        runs_before = search.evaluator.runs
        cands = search.evaluate(portfolios, "search", search.generation)
        search.record(search.generation, cands, runs_before)
        search.generation += 1
        return np.array([c.energy for c in cands])

    kwargs = dict(strategy="best1bin", maxiter=generations, init=init, tol=0.0, atol=0.0, polish=False,
                  updating="deferred", vectorized=True, integrality=space.integrality(), mutation=(0.5, 1.0),
                  recombination=RECOMBINATION)
    # scipy >= 1.15 takes the generator as `rng`, older versions as `seed`
    name = "rng" if "rng" in inspect.signature(differential_evolution).parameters else "seed"
    differential_evolution(batch, space.bounds(), **{name: np.random.default_rng(seed)}, **kwargs)


def _run_nsga2(search: _Search, warm: Sequence[Portfolio], size: int, generations: int, seed: int) -> None:
    """NSGA-II (Platypus) on (peak yearly cost, objectives...), the budget as a constraint; each generation's
    offspring run as one ensemble. Platypus draws from Python's ``random``; its state is seeded and restored."""
    import platypus

    space, scoring = search.space, search.scoring
    bounds = space.bounds()
    n = len(space.keys)
    problem = platypus.Problem(space.size, 1 + len(scoring.objectives), 1)
    # start years as reals in [2025, 2029): decode floors them, so each year gets the same share of the range
    problem.types[:] = [platypus.Real(lo, hi) for lo, hi in bounds[:n]] + \
                       [platypus.Real(START_YEARS[0], START_YEARS[1] + 1 - 1e-9)] * n
    problem.constraints[:] = "<=0"
    results: dict[tuple, tuple[list[float], list[float]]] = {}
    problem.function = lambda x: results[tuple(float(v) for v in x)]

    class BatchEvaluator(platypus.Evaluator):
        def evaluate_all(self, jobs, **kwargs):
            xs = [tuple(float(v) for v in job.solution.variables) for job in jobs]
            portfolios = [search.cost_model.repair(space.decode(x), scoring.budget) for x in xs]
            runs_before = search.evaluator.runs
            cands = search.evaluate(portfolios, "search", search.generation)
            search.record(search.generation, cands, runs_before)
            search.generation += 1
            for x, c in zip(xs, cands):
                ev = c.evaluation
                objs = [scoring.peak_cost(ev)] + [scoring.score(ev, o) for o in scoring.objectives]
                if not all(math.isfinite(v) for v in objs):
                    objs = [math.inf] * len(objs)
                excess = max(0.0, float(np.max(scoring.yearly_cost(ev) - scoring.budget))) if ev.failed == 0 else math.inf
                results[x] = (objs, [excess])
            for job in jobs:
                job.run()
            return jobs

    injected = []
    for p in warm[: max(0, size - 2)]:
        s = platypus.Solution(problem)
        s.variables[:] = [float(v) for v in space.encode(p)]
        injected.append(s)
    state = random.getstate()
    random.seed(seed)
    try:
        algorithm = platypus.NSGAII(problem, population_size=size, generator=platypus.InjectedPopulation(injected),
                                    evaluator=BatchEvaluator())
        algorithm.run(size * (generations + 1))
    finally:
        random.setstate(state)


def pareto_front(candidates: Sequence[Candidate], scoring: Scoring) -> pd.DataFrame:
    """The candidates within the budget that no other beats on peak yearly cost and every objective at once
    (Platypus's non-dominated filter), cheapest first."""
    import platypus

    ok = [c for c in candidates if scoring.fits(c.evaluation)]
    problem = platypus.Problem(1, 1 + len(scoring.objectives))
    sols = []
    for c in ok:
        s = platypus.Solution(problem)
        s.objectives[:] = [scoring.peak_cost(c.evaluation)] + [scoring.score(c.evaluation, o) for o in scoring.objectives]
        s.evaluated = True
        s.feasible = True
        s.constraint_violation = 0.0
        s.candidate = c
        sols.append(s)
    front = sorted((s.candidate for s in platypus.nondominated(sols)), key=lambda c: scoring.peak_cost(c.evaluation))
    records = []
    for c in front:
        rec = {"candidate": c.number, "role": c.role, "peak_yearly_cost_eur": scoring.peak_cost(c.evaluation),
               "mean_yearly_cost_eur": float(np.mean(scoring.yearly_cost(c.evaluation)))}
        for o in scoring.objectives:
            rec[o.key] = scoring.score(c.evaluation, o)
        rec["portfolio"] = c.portfolio.describe()
        records.append(rec)
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------------------------------------------------ optimize


def check_budget(budget) -> float:
    """A yearly budget: a finite number of EUR > 0."""
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.integer | np.floating):
        raise InputError("--budget", "", "a yearly budget in EUR greater than 0", repr(budget))
    if not math.isfinite(budget) or budget <= 0:
        raise InputError("--budget", "", "a yearly budget in EUR greater than 0", f"{float(budget):g}")
    return float(budget)


def _count(value, option: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(option, "", f"a whole number >= {minimum}", repr(value))
    return int(value)


@dataclass
class Request:
    """A checked optimisation request (everything :func:`optimize` validates before any run)."""

    scenario: Scenario
    budget: float
    objectives: list[Objective]
    space: DecisionSpace
    quantile: float
    draws: xr.DataArray
    seeds: list[int]
    fresh_seeds: list[int]
    generations: int
    popsize: int
    seed: int
    scale: float | None
    pareto: bool


def check_request(scenario, budget, objective, levers=None, robust=None, *, draws=DEFAULT_DRAWS,
                  seeds=DEFAULT_SEEDS, fresh_seeds=DEFAULT_FRESH_SEEDS, generations=DEFAULT_GENERATIONS,
                  popsize=DEFAULT_POPSIZE, seed=0, scale=None, pareto=False) -> Request:
    """Check everything that can be checked without running the model (the budget against the scenario's own
    cost needs runs and is checked by :func:`optimize` before anything is written).

    Raises:
        InputError: one line naming the option or file, what was expected and what was found.
    """
    from ..ensemble import resolve_draws, resolve_seeds

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    budget = check_budget(budget)
    objectives = load_objectives(objective)
    if isinstance(levers, str):
        levers = [k.strip() for k in levers.split(",") if k.strip()]
    space = DecisionSpace(sc, list(DEFAULT_LEVERS if levers is None else levers))
    q = parse_robust(robust)
    generations = _count(generations, "--generations", 0)
    popsize = _count(popsize, "--popsize", 1)
    seed = _count(seed, "--seed", 0)
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0):
        raise InputError("--scale", "", "a number > 0", repr(scale))
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        _count(seeds, "--seeds", 1)
    seed_list = resolve_seeds(seeds)
    n_fresh = _count(fresh_seeds, "--fresh-seeds", 0)
    fresh = [FRESH_SEED_OFFSET + i for i in range(n_fresh)]
    if set(fresh) & set(seed_list):
        raise InputError("seeds", "", f"search seeds below {FRESH_SEED_OFFSET} (fresh seeds start there)", repr(seed_list))
    if isinstance(draws, int | np.integer) and not isinstance(draws, bool) and draws < 1:
        raise InputError("--draws", "", "a number of parameter draws >= 1", str(draws))
    values = resolve_draws(draws)  # the same draws as run_ensemble and compare for the same argument
    pareto = bool(pareto) or len(objectives) > 1
    return Request(sc, budget, objectives, space, q, values, seed_list, fresh, generations, popsize, seed,
                   None if scale is None else float(scale), pareto)


def optimize(
    scenario: Scenario | str | Path,
    budget_eur: float,
    objective="deaths",
    levers: Sequence[str] | str | None = None,
    robust: str | float | None = None,
    *,
    draws=DEFAULT_DRAWS,
    seeds=DEFAULT_SEEDS,
    fresh_seeds: int = DEFAULT_FRESH_SEEDS,
    generations: int = DEFAULT_GENERATIONS,
    popsize: int = DEFAULT_POPSIZE,
    seed: int = 0,
    scale: float | None = None,
    pareto: bool = False,
    executor=None,
    cache: dict | None = None,
    report: Callable[[str], None] | None = None,
) -> OptimizationResult:
    """Find the portfolio of lever changes that minimises an objective over 2025-2030 within a yearly budget.

    Args:
        scenario: the scenario to add actions to (a ``Scenario`` or a file); its horizon must cover 2024-12..2030-12.
        budget_eur: the total yearly programme cost allowed in each year 2025-2030 (EUR, all levers).
        objective: a named objective (``"deaths"``, ``"health_and_security"``), an objective TOML file, an
            :class:`Objective`, or several (comma-separated or a list: multi-objective mode).
        levers: lever keys to decide on (default :data:`DEFAULT_LEVERS`).
        robust: optimise a quantile of the runs instead of the median, e.g. ``"q90"``.
        draws: parameter draws (see :func:`dapsim.ensemble.resolve_draws`); ``None`` = registry point values.
        seeds: model seeds per draw in the search (an int n: 0..n-1).
        fresh_seeds: seeds per draw of the re-evaluation on unseen seeds (0: none).
        generations: optimiser generations after the first.
        popsize: population = max(5, popsize × decision variables).
        seed: the optimiser's seed (the same seed gives the same portfolio).
        scale: people per high-risk-user agent (model default if None).
        pareto: multi-objective mode (NSGA-II, Pareto front of cost against the objectives).
        executor: as for :func:`dapsim.run_ensemble` (an address is a Dask scheduler); None = a local Dask cluster.
        cache: a dict shared between optimisations of the same scenario, draws and scale, to reuse runs.
        report: called with one line of progress per step (e.g. ``print``).

    Returns:
        :class:`OptimizationResult`; ``.write(out_dir)`` writes the scenario file, report, tables and figures.

    Raises:
        InputError: bad input, including a budget below the scenario's own yearly cost (found from its runs,
            before anything is written).
    """
    from ..ensemble import open_executor

    req = check_request(scenario, budget_eur, objective, levers, robust, draws=draws, seeds=seeds,
                        fresh_seeds=fresh_seeds, generations=generations, popsize=popsize, seed=seed, scale=scale,
                        pareto=pareto)
    say = report or (lambda line: None)
    started = time.perf_counter()
    space = req.space
    terms = {t.signature: t for o in req.objectives for t in o.terms}
    for t in named_objectives()[REPORT_OBJECTIVE].terms:
        terms.setdefault(t.signature, t)
    scoring = Scoring(req.objectives, req.quantile, req.budget)
    with open_executor(executor) as (pool, workers):
        evaluator = Evaluator(space, req.draws, req.seeds, req.scale, pool, list(terms.values()), cache)
        search = _Search(space, evaluator, scoring, say)
        n_runs = req.draws.sizes["draw"] * len(req.seeds)
        say(f"{len(space.keys)} levers, {n_runs} runs per candidate ({req.draws.sizes['draw']} draws × "
            f"{len(req.seeds)} seeds) on {workers} workers")

        # 1. the scenario and one probe per lever (its best end from 2025): the budget check and the cost model
        probes = [space.best_portfolio(k) for k in space.keys]
        base_c, *probe_c = search.evaluate([Portfolio(), *probes], "baseline")
        for c in probe_c:
            c.role = "probe"
        base_ev = base_c.evaluation
        if base_ev.failed:
            raise RuntimeError(f"{base_ev.failed} runs of the scenario itself failed; nothing to optimise against")
        base_yearly = scoring.yearly_cost(base_ev)
        if np.any(base_yearly > req.budget):
            year = int(space.years[int(np.argmax(base_yearly))])
            raise InputError("--budget", "", f"at least the scenario's own yearly programme cost (EUR "
                             f"{np.max(base_yearly):,.0f} in {year}, {quantile_label(req.quantile)} over runs)",
                             f"{req.budget:,.0f}")
        search.base_score = scoring.score(base_ev)
        search.headroom = max(req.budget - float(np.max(base_yearly)), 1e-6 * req.budget)
        increase = {k: search.cost_increase(c.evaluation) for k, c in zip(space.keys, probe_c)}
        search.cost_model = CostModel.from_probes(space, base_yearly, increase)
        for c in [base_c, *probe_c]:
            c.predicted = search.cost_model.predict(c.portfolio)
            c.energy = search.energy(c.evaluation)
        say(f"scenario: {search.base_score:,.1f} ({req.objectives[0].key}), peak yearly cost EUR "
            f"{np.max(base_yearly) / 1e6:,.1f} m; budget EUR {req.budget / 1e6:,.1f} m")

        # 2. single-lever comparators of the same cost, and the greedy warm start
        singles = _singles(search, req.budget)
        gains = {k: search.base_score - scoring.score(c.evaluation) for k, c in zip(space.keys, probe_c)}
        search.cost_model.priority = tuple(reversed(_value_order(space, search.cost_model, gains)))
        for _ in range(CORRECTIONS):  # rebuilt while it overspends: each try teaches the cost model the interactions
            greedy = search.cost_model.repair(_greedy(space, search.cost_model, req.budget, gains), req.budget)
            if scoring.fits(search.evaluate([greedy], "greedy")[0].evaluation):
                break
        ranked = sorted(singles.values(), key=lambda c: (c.energy, c.number))
        warm = [greedy] + [c.portfolio for c in ranked]

        # 3. the search
        size = max(5, req.popsize * space.size)
        if req.pareto:
            method = "NSGA-II (Platypus), budget as a constraint"
            _run_nsga2(search, warm, size, req.generations, req.seed)
        else:
            method = "differential evolution (scipy, best1bin), repair + penalty"
            _run_de(search, _initial_population(space, warm, size, req.seed), req.generations, req.seed)
        best = search.best()

        # 4. fresh seeds: the scenario, every single lever and the portfolio on seeds the search never saw
        fresh: dict[str, Evaluation] = {}
        if req.fresh_seeds:
            labels = ["baseline"] + [f"single: {k}" for k in singles] + ["portfolio"]
            portfolios = [Portfolio()] + [c.portfolio for c in singles.values()] + [best.portfolio]
            fresh = dict(zip(labels, evaluator.run(portfolios, seeds=req.fresh_seeds)))
        pareto_df = pareto_front(list(search.archive.values()), scoring) if req.pareto else None

    candidates = sorted(search.archive.values(), key=lambda c: c.number)
    settings = {
        "scenario": sc_label(req.scenario), "budget_eur": req.budget,
        "objectives": [o.key for o in req.objectives], "quantile": req.quantile, "levers": list(space.keys),
        "draws": int(req.draws.sizes["draw"]), "draws_source": req.draws.attrs.get("source", ""),
        "seeds": req.seeds, "fresh_seeds": req.fresh_seeds, "generations": req.generations,
        "population": size, "seed": req.seed, "scale": req.scale if req.scale is not None else "model default",
        "window": list(WINDOW), "start_years": list(START_YEARS), "method": method, "dapsim_version": __version__,
    }
    result = OptimizationResult(
        scenario=req.scenario, space=space, budget=req.budget, objectives=req.objectives, quantile=req.quantile,
        method=method, portfolio=best.portfolio, best=best, baseline=base_c, singles=singles, fresh=fresh,
        fresh_seeds=tuple(req.fresh_seeds), candidates=candidates, trace=pd.DataFrame(search.trace),
        pareto=pareto_df, settings=settings, seconds=time.perf_counter() - started, runs=evaluator.runs,
        scoring=scoring)
    say(f"best: {best.portfolio.describe()} ({scoring.score(best.evaluation):,.1f}); {evaluator.runs} runs in "
        f"{result.seconds:.0f} s")
    return result


def sc_label(sc: Scenario) -> str:
    return sc.path or sc.name


# ------------------------------------------------------------------------------------------------ writing


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _toml_value(v) -> str:
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def _eur_m(x: float) -> str:
    return f"EUR {x / 1e6:,.1f} m"


def portfolio_toml(res: OptimizationResult, out_dir: Path) -> str:
    """The chosen portfolio as a scenario file: ``extends`` the scenario (path relative to ``out_dir``) when it
    came from a file, and repeats the scenario's own entries for each lever it changes (a child's entries replace
    its parent's for that lever); otherwise a self-contained scenario."""
    sc, space, scoring = res.scenario, res.space, res.scoring
    obj = res.objective
    lines = [f"# dapsim optimize: the best portfolio found for a budget of {_eur_m(res.budget)} a year, "
             f"{WINDOW[0]}-{WINDOW[1]}",
             f"# Scenario: {sc_label(sc)}; levers searched: {', '.join(space.keys)}",
             f"# Objective: {obj.name} ({obj.key}), summed over {WINDOW[0]}-{WINDOW[1]}, "
             f"{quantile_label(res.quantile)} over {res.settings['draws']} parameter draws x {len(res.settings['seeds'])} "
             f"seeds (common random numbers).",
             f"# Found by {res.method}, optimiser seed {res.settings['seed']}, {res.settings['generations']} generations "
             f"of {res.settings['population']}; {res.runs} runs in {res.seconds:.0f} s; dapsim {__version__}.",
             "#"]
    base, best = res.baseline.evaluation, res.best.evaluation
    lines.append(f"# {obj.key}: {scoring.score(best):,.1f} against {scoring.score(base):,.1f} for the scenario as given "
                 f"({scoring.score(best) - scoring.score(base):+,.1f}), on the search's runs.")
    if "portfolio" in res.fresh:
        f_p, f_b = scoring.score(res.fresh["portfolio"]), scoring.score(res.fresh["baseline"])
        lines.append(f"# On fresh seeds {list(res.fresh_seeds)}: {f_p:,.1f} against {f_b:,.1f} ({f_p - f_b:+,.1f}).")
    yearly = scoring.yearly_cost(best)
    lines.append("# Yearly programme cost, all levers (" + quantile_label(res.quantile) + " over runs): " +
                 ", ".join(f"{y} {v / 1e6:,.0f}" for y, v in zip(space.years, yearly)) +
                 f" EUR m (budget {res.budget / 1e6:,.0f}; the scenario alone peaks at "
                 f"{scoring.peak_cost(base) / 1e6:,.0f}).")
    if res.singles:
        best_single_key = min(res.singles, key=lambda k: scoring.score(res.singles[k].evaluation))
        bs = res.singles[best_single_key]
        lines.append(f"# Best single lever of the same cost: {bs.portfolio.describe()}: {scoring.score(bs.evaluation):,.1f} "
                     f"(peak cost {_eur_m(scoring.peak_cost(bs.evaluation))}).")
        verdict = res.beats_single_levers
        if verdict is not None:
            lines.append(f"# Beats every single-lever scenario within the budget on fresh seeds: {'yes' if verdict else 'NO'}.")
    lines.append("#")
    lines.append("# Each change below raises the lever to its target in the Member States below it (listed in `where`")
    lines.append("# when not all), from January of the start year, over the lever's usual ramp-up.")
    for a in res.portfolio.actions:
        spec = LEVERS[a.key]
        lines.append(f"#   {a.key}: {a.target:g} {spec.symbol} from {a.start} ({spec.title})")
    if not res.portfolio.actions:
        lines.append("#   (no change: nothing within the budget improves on the scenario)")
    lines.append("")

    name = f"Optimised portfolio: {obj.name.lower()}, {_eur_m(res.budget)} a year"
    description = (f"The portfolio `dapsim optimize` found for {sc.name!r} with a budget of {_eur_m(res.budget)} a year "
                   f"{WINDOW[0]}-{WINDOW[1]}, minimising {obj.name.lower()} ({quantile_label(res.quantile)} over runs): "
                   f"{res.portfolio.describe()}.")
    lines.append(f"name = {_toml_string(name)}")
    lines.append(f"description = {_toml_string(description)}")
    parent = None
    if sc.path and Path(sc.path).is_file():
        try:
            parent = os.path.relpath(Path(sc.path).resolve(), Path(out_dir).resolve())
        except ValueError:  # another drive (Windows): write a self-contained scenario
            parent = None
    own_changes = list(sc.levers)
    new_changes = list(space.lever_changes(res.portfolio))
    if parent is not None:
        lines.append(f"extends = {_toml_string(Path(parent).as_posix())}")
        touched = {c.key for c in new_changes}
        changes = [c for c in own_changes if c.key in touched] + new_changes
    else:
        lines.append(f'horizon = {{ start = "{format_month(sc.start)}", end = "{format_month(sc.end)}" }}')
        changes = own_changes + new_changes
    by_key: dict[str, list] = {}
    for c in changes:
        by_key.setdefault(c.key, []).append(c)
    for key in LEVERS:
        for c in by_key.get(key, []):
            lines.append("")
            lines.append(f"[[levers.{key}]]")
            lines.append(f"target = {_toml_value(float(c.target))}")
            lines.append(f'from = "{format_month(c.start)}"')
            lines.append(f"ramp_months = {int(c.ramp_months)}")
            if c.where:
                lines.append(f"where = {_toml_value(list(c.where))}")
            if c.note:
                lines.append(f"note = {_toml_string(c.note)}")
    if parent is None:
        for s in sc.shocks:
            lines += ["", "[[shocks]]", f"kind = {_toml_string(s.kind)}", f'at = "{format_month(s.at)}"',
                      f"duration_months = {int(s.duration_months)}", f"magnitude = {_toml_value(float(s.magnitude))}"]
            if s.where:
                lines.append(f"where = {_toml_value(list(s.where))}")
        if sc.overrides:
            lines += ["", "[overrides]"] + [f"{_toml_string(k)} = {_toml_value(float(v))}" for k, v in sc.overrides.items()]
    return "\n".join(lines) + "\n"


def _header(column: str) -> str:
    """A readable header for a column of :meth:`OptimizationResult.comparison`."""
    fixed = {"peak_yearly_cost_eur": "peak yearly cost (EUR m)", "mean_yearly_cost_eur": "mean yearly cost (EUR m)",
             "within_budget": "within budget"}
    if column in fixed:
        return fixed[column]
    for suffix, text in (("_fresh_vs_baseline", ": fresh − baseline"), ("_search", " (search)"),
                         ("_fresh", " (fresh seeds)"), ("_median", " (median)")):
        if column.endswith(suffix):
            return column[: -len(suffix)] + text
    return column


def _fmt(x: float, digits: int = 1) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:,.{digits}f}"


def report_markdown(res: OptimizationResult) -> str:
    """The report: settings, the portfolio, the comparison table, the cost model's error, the trace."""
    s, scoring, obj = res.settings, res.scoring, res.objective
    out = [f"# Portfolio optimisation: {obj.name}", ""]
    out.append(f"Scenario `{s['scenario']}`, budget **{_eur_m(res.budget)} a year** (total programme cost of all levers, "
               f"each year {WINDOW[0]}-{WINDOW[1]}), objective **{obj.key}** minimised as "
               f"the **{quantile_label(res.quantile)}** over {s['draws']} parameter draws × {len(s['seeds'])} seeds "
               f"({s['draws_source'] or 'point values'}; the same runs for every candidate). Scale: {s['scale']}. "
               f"Optimiser: {res.method}, seed {s['seed']}, {s['generations']} generations of {s['population']}. "
               f"{res.runs} runs in {res.seconds:.0f} s.")
    out += ["", "## The portfolio", ""]
    if res.portfolio.actions:
        out.append("| lever | target | unit | from | ramp (months) | Member States raised |")
        out.append("|---|---|---|---|---|---|")
        for a, c in zip(res.portfolio.actions, res.space.lever_changes(res.portfolio)):
            spec = LEVERS[a.key]
            where = "all" if c.where is None else f"{len(c.where)}: {' '.join(c.where)}"
            out.append(f"| {a.key} | {a.target:g} | {spec.symbol} | {a.start} | {c.ramp_months} | {where} |")
    else:
        out.append("No change: nothing within the budget improved on the scenario.")
    out.append("")
    out.append("Written as `portfolio.toml`, a scenario file ready for `dapsim run` or `dapsim compare`.")
    out += ["", "## Comparison", ""]
    df = res.comparison()
    cols = [c for c in df.columns if c not in ("portfolio",)]
    out.append(f"Objective and outcomes: EU-27 totals {WINDOW[0]}-{WINDOW[1]}. *search*: on the runs the search used; "
               f"*fresh*: re-evaluated on fresh seeds {list(res.fresh_seeds) or '(none)'} never used in the search. "
               "Single-lever rows: that lever alone from 2025 at the level that spends the budget (or its maximum if "
               "that costs less). Outcome columns are medians over runs (fresh seeds when available). Costs in EUR m.")
    out.append("")
    out.append("| " + " | ".join(["row", "portfolio"] + [_header(c) for c in cols[1:]]) + " |")
    out.append("|" + "---|" * (len(cols) + 1))
    for _, r in df.iterrows():
        cells = [r["row"], r["portfolio"]]
        for c in cols[1:]:
            v = r[c]
            if isinstance(v, bool | np.bool_):
                cells.append("yes" if v else "NO")
            elif "cost" in c:
                cells.append(_fmt(v / 1e6))
            else:
                cells.append(_fmt(v))
        out.append("| " + " | ".join(str(x) for x in cells) + " |")
    verdict = res.beats_single_levers
    if verdict is not None:
        out += ["", f"**The portfolio {'beats' if verdict else 'does NOT beat'} every single-lever scenario within the "
                    f"budget on fresh seeds** ({obj.key}, {quantile_label(res.quantile)})."]
    out += ["", "## Cost model", ""]
    pred, meas = res.best.predicted_peak, scoring.peak_cost(res.best.evaluation)
    headroom = res.budget - scoring.peak_cost(res.baseline.evaluation)
    errs = [abs(c.predicted_peak - scoring.peak_cost(c.evaluation)) / headroom for c in res.candidates
            if c.portfolio.actions and np.isfinite(c.predicted_peak) and c.evaluation.failed == 0]
    med, q90 = (np.median(errs) * 100, np.quantile(errs, 0.9) * 100) if errs else (float("nan"), float("nan"))
    out.append(f"Predicted peak yearly cost of the portfolio {_eur_m(pred)}, measured {_eur_m(meas)}. Over the "
               f"{len(errs)} evaluated portfolios the prediction (made before each ran) missed the measured peak by a "
               f"median of {med:.1f}% of the headroom ({_eur_m(headroom)}; 90th percentile {q90:.1f}%). Candidates "
               "predicted to overspend were shrunk toward no change before running; the measured cost decides what fits.")
    out += ["", "## Convergence", "", "Best objective among candidates within the budget, by generation "
            "(`trace.csv`, `trace.png`; every candidate is in `candidates.csv`).", ""]
    out.append("| generation | candidates | within budget | new runs | best so far | generation best | seconds |")
    out.append("|---|---|---|---|---|---|---|")
    for _, r in res.trace.iterrows():
        out.append(f"| {int(r['generation'])} | {int(r['candidates'])} | {int(r['within_budget'])} | {int(r['new_runs'])} | "
                   f"{_fmt(r['best_objective'])} | {_fmt(r['generation_best'])} | {r['seconds']:.0f} |")
    if res.pareto is not None:
        out += ["", "## Pareto front", "", "Candidates within the budget that no other beats on peak yearly cost and "
                "every objective at once (`pareto.csv`, `pareto.png`).", ""]
        keys = [o.key for o in res.objectives]
        out.append("| peak yearly cost (EUR m) | " + " | ".join(keys) + " | portfolio |")
        out.append("|" + "---|" * (len(keys) + 2))
        for _, r in res.pareto.iterrows():
            out.append(f"| {_fmt(r['peak_yearly_cost_eur'] / 1e6)} | " + " | ".join(_fmt(r[k]) for k in keys) +
                       f" | {r['portfolio']} |")
    out += ["", "## Objective terms", ""]
    for o in res.objectives:
        out.append(f"- `{o.key}` ({o.name}): {o.description.strip()}")
    for o in res.objectives:
        for t in o.terms:
            out.append(f"- `{o.key}`: {t.weight:g} × {t.label}" + (f" — {t.reason}" if t.reason else ""))
    return "\n".join(out) + "\n"


def _trace_figure(res: OptimizationResult):
    from matplotlib.figure import Figure

    scoring = res.scoring
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for c in res.candidates:
        if c.role == "search" and scoring.fits(c.evaluation):
            ax.plot(c.generation, scoring.score(c.evaluation), ".", color="0.75", ms=5, zorder=1)
    tr = res.trace
    if len(tr):
        ax.plot(tr["generation"], tr["best_objective"], "-o", color="C0", label="best within budget so far", zorder=3)
    ax.axhline(scoring.score(res.baseline.evaluation), color="0.3", ls="--", lw=1, label="scenario as given")
    if res.singles:
        best_single = min(scoring.score(c.evaluation) for c in res.singles.values() if scoring.fits(c.evaluation)) \
            if any(scoring.fits(c.evaluation) for c in res.singles.values()) else np.nan
        if np.isfinite(best_single):
            ax.axhline(best_single, color="C3", ls=":", lw=1.2, label="best single lever, same budget")
    ax.plot([], [], ".", color="0.75", label="candidates within budget")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    ax.set_ylabel(f"{res.objective.name} {WINDOW[0]}-{WINDOW[1]} ({quantile_label(res.quantile)}, {res.objective.units})")
    ax.set_title(f"Convergence: budget {_eur_m(res.budget)} a year", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _pareto_figure(res: OptimizationResult):
    from matplotlib.figure import Figure

    scoring = res.scoring
    n = len(res.objectives)
    fig = Figure(figsize=(5 * n, 4), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)
    ok = [c for c in res.candidates if scoring.fits(c.evaluation)]
    front = set(res.pareto["candidate"]) if res.pareto is not None else set()
    for ax, obj in zip(axes[0], res.objectives):
        xs = [scoring.peak_cost(c.evaluation) / 1e6 for c in ok]
        ys = [scoring.score(c.evaluation, obj) for c in ok]
        ax.scatter(xs, ys, s=10, color="0.75", label="candidates within budget")
        fr = [c for c in ok if c.number in front]
        ax.scatter([scoring.peak_cost(c.evaluation) / 1e6 for c in fr], [scoring.score(c.evaluation, obj) for c in fr],
                   s=22, color="C0", label="Pareto front (all objectives)")
        ax.scatter([scoring.peak_cost(res.baseline.evaluation) / 1e6], [scoring.score(res.baseline.evaluation, obj)],
                   marker="s", color="0.2", label="scenario as given")
        ax.scatter([scoring.peak_cost(res.best.evaluation) / 1e6], [scoring.score(res.best.evaluation, obj)],
                   marker="*", s=120, color="C3", label="chosen portfolio")
        ax.axvline(res.budget / 1e6, color="C3", ls=":", lw=1)
        ax.set_xlabel("peak yearly programme cost, EUR m")
        ax.set_ylabel(f"{obj.name} ({quantile_label(res.quantile)}, {obj.units})")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Cost against outcomes, {WINDOW[0]}-{WINDOW[1]}", fontsize=10)
    return fig


__all__ = ["DEFAULT_LEVERS", "Evaluation", "Evaluator", "Objective", "OptimizationResult", "Term", "check_request",
           "load_objective", "load_objectives", "named_objectives", "optimize", "parse_robust"]
