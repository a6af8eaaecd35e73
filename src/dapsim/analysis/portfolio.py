"""Policy portfolios: the decision vector of ``dapsim optimize``, the scenario it stands for, and its cost.

A **portfolio** is a set of lever changes added to a scenario: for each lever, a target level and the year the
change starts (January, ramping linearly over the lever's usual ``ramp_months``). The optimiser searches a flat
**decision vector** ``x = [target_1 .. target_L, start_1 .. start_L]`` (:class:`DecisionSpace`):

* **target** — between the *no-change* end and the lever's best end. For a lever where more is better the range
  is ``[lowest value any Member State has in force at the end of 2024, registry max]``; for ``early_warning``
  (lower is better) it is ``[registry min, highest value in force]``. A target is a floor (or, lower-is-better, a
  ceiling): it raises the Member States below it to it and leaves the others alone, so a portfolio never cuts a
  service a country already runs beyond the target (the same rule as ``harm_reduction_package.toml``'s
  ``where`` list). A target that changes no Member State means "leave the lever alone".
* **start** — a whole year in 2025..2028 (timing: a later start spends less early and averts less).

Targets are rounded to a grid of a thousandth of the lever's range (0.001 for a share), so the portfolio written
to a scenario file is exactly the one that was run, and near-identical candidates share their runs.

**Cost model.** A lever's yearly cost is its unit cost times the units delivered, which depends on the run
(people in treatment, containers arriving, ...), so only runs give costs. The optimiser still needs a cheap
prediction to keep candidates within the budget before running them. :class:`CostModel` works on the
*increment* each lever adds over the scenario's own schedule: per year, the population-weighted mean increase of
the lever over the Member States (:meth:`DecisionSpace.increments`). Each lever's cost increase is read off a
piecewise-linear curve through its measured one-lever runs (a *probe* at its best end from 2025, then the
single-lever comparators near the budget), paired with the scenario's own runs by common random numbers, so it
includes knock-on costs on other levers (more people alive and in treatment). The sum over levers misses
interactions between levers; the model learns how far multi-lever portfolios overspend its prediction and keeps
that share of the headroom free. Its error is reported with every optimisation; the runs, not the model,
decide whether a candidate keeps to the budget.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..levers import LEVERS, LeverSpec
from ..memberstates import POPULATION_15_64
from ..scenario import LeverChange, Scenario
from ..timeline import format_month, parse_month, year_of

WINDOW: tuple[int, int] = (2025, 2030)
"""Years over which objectives are summed and the budget is checked (the issue: 2025-2030)."""

START_YEARS: tuple[int, int] = (2025, 2028)
"""Earliest and latest start year of a change. 2028 is the last year from which the longest usual ramp (36
months) still reaches most of its target before 2030 ends; a later start could only spend, not act."""

GRID_STEPS = 1000
"""Targets are rounded to (range / 1000, to a power of ten): 0.001 for a share, 0.1 for FTE or syringes."""

NOTE = "dapsim optimize"

INITIAL_FACTOR = 0.97
"""Share of the headroom the cost model lets predicted increases use before it has seen a multi-lever
portfolio. In trial optimisations of the shipped model, most multi-lever portfolios spent 0.4-3% more of the
headroom than the sum of their one-lever costs (naloxone keeps people alive who then use drug consumption rooms
and other services; OAT, naloxone and consumption rooms near their maxima together, up to 9%), so 3% is kept
free until :meth:`CostModel.learn` measures the interactions at hand."""


@dataclass(frozen=True)
class LeverAction:
    """One change of a portfolio: raise (or, lower-is-better, cut) ``key`` to ``target`` from January ``start``."""

    key: str
    target: float
    start: int


@dataclass(frozen=True)
class Portfolio:
    """A set of lever actions, in the order of the lever registry (so equal portfolios compare equal)."""

    actions: tuple[LeverAction, ...] = ()

    @property
    def key(self) -> tuple:
        """A hashable identity (used to share runs between identical candidates)."""
        return tuple((a.key, a.target, a.start) for a in self.actions)

    @property
    def levers(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.actions)

    def describe(self) -> str:
        """Short text, e.g. ``naloxone_coverage 0.9 from 2025; oat_capacity 0.7 from 2026``."""
        if not self.actions:
            return "no change"
        return "; ".join(f"{a.key} {a.target:g} from {a.start}" for a in self.actions)


@dataclass(frozen=True)
class LeverRange:
    """What the decision vector may do with one lever."""

    key: str
    none: float       # the target that changes nothing (no Member State is below it, or above it if lower_is_better)
    best: float       # the registry bound in the better direction
    step: float       # rounding grid of the target
    spec: LeverSpec

    @property
    def lower(self) -> float:
        return min(self.none, self.best)

    @property
    def upper(self) -> float:
        return max(self.none, self.best)

    def snap(self, target: float, toward_none: bool = False) -> float:
        """Round ``target`` to the grid inside the range (``toward_none``: round in the no-change direction)."""
        t = float(np.clip(target, self.lower, self.upper))
        units = (t - self.lower) / self.step
        if toward_none:
            units = math.floor(units + 1e-9) if self.best > self.none else math.ceil(units - 1e-9)
        else:
            units = round(units)
        return float(np.clip(round(self.lower + units * self.step, 10), self.lower, self.upper))


class DecisionSpace:
    """The decision vector of a scenario and a set of levers (see module docstring).

    Args:
        scenario: the scenario whose schedule the portfolio adds to; its horizon must cover 2025-2030.
        levers: lever keys (each once).
        option: the command-line option named in error messages.

    Raises:
        InputError: an unknown or repeated lever, a lever the scenario leaves no room to improve, or a horizon that
            does not cover the appraisal window.
    """

    def __init__(self, scenario: Scenario, levers: Sequence[str], option: str = "--levers"):
        levers = list(levers)
        if not levers:
            raise InputError(option, "", "at least one lever listed by `dapsim levers`", "none")
        for key in levers:
            if key not in LEVERS:
                raise InputError(option, key, "levers listed by `dapsim levers`", f"unknown lever {key!r}")
        if len(set(levers)) != len(levers):
            raise InputError(option, "", "each lever once", ",".join(levers))
        first, last = parse_month(f"{WINDOW[0]}-01"), parse_month(f"{WINDOW[1]}-12")
        if scenario.start > first - np.timedelta64(1, "M") or scenario.end < last:
            raise InputError(scenario.path or scenario.name, "horizon",
                             f"a horizon from at most {format_month(first - np.timedelta64(1, 'M'))} to at least "
                             f"{format_month(last)} (the appraisal window {WINDOW[0]}-{WINDOW[1]} and the month before it)",
                             f"{format_month(scenario.start)}..{format_month(scenario.end)}")
        self.scenario = scenario
        self.keys: tuple[str, ...] = tuple(k for k in LEVERS if k in levers)  # registry order: canonical portfolios
        self.months = scenario.months
        self.years = np.arange(WINDOW[0], WINDOW[1] + 1)
        month_years = year_of(self.months)
        self._year_rows = [np.flatnonzero(month_years == y) for y in self.years]
        self.weights = np.asarray(POPULATION_15_64, dtype=float) / float(np.sum(POPULATION_15_64))
        self._base = {k: scenario.lever_schedule(k, self.months) for k in self.keys}
        self._month_index = {y: int(np.flatnonzero(self.months == parse_month(f"{y}-01"))[0])
                             for y in range(START_YEARS[0], START_YEARS[1] + 1)}
        self.ranges: dict[str, LeverRange] = {}
        for key in self.keys:
            spec = LEVERS[key]
            in_force = self._base[key][self._month_index[START_YEARS[0]] - 1]
            if spec.scope == "eu":
                in_force = in_force[:1]
            none = float(in_force.max() if spec.lower_is_better else in_force.min())
            best = spec.min if spec.lower_is_better else spec.max
            if (none <= best) if spec.lower_is_better else (none >= best):
                raise InputError(option, key, "a lever the scenario leaves room to improve",
                                 f"already at {best:g} {spec.symbol} in every Member State at the end of {START_YEARS[0] - 1}")
            span = abs(best - none)
            step = 10.0 ** (math.floor(math.log10(span)) - round(math.log10(GRID_STEPS)))
            self.ranges[key] = LeverRange(key, none, best, step, spec)

    # ------------------------------------------------------------------ the vector

    @property
    def size(self) -> int:
        return 2 * len(self.keys)

    def bounds(self) -> list[tuple[float, float]]:
        """Bounds of ``x``: the targets' ranges, then start years."""
        return [(r.lower, r.upper) for r in self.ranges.values()] + [START_YEARS] * len(self.keys)

    def integrality(self) -> np.ndarray:
        """Which entries of ``x`` are whole numbers (the start years)."""
        return np.array([False] * len(self.keys) + [True] * len(self.keys))

    def none_vector(self) -> np.ndarray:
        """The vector that changes nothing (every target at its no-change end, start 2025)."""
        return np.array([r.none for r in self.ranges.values()] + [float(START_YEARS[0])] * len(self.keys))

    def decode(self, x: Sequence[float]) -> Portfolio:
        """The portfolio a vector stands for (targets snapped to the grid; no-change actions dropped)."""
        x = np.asarray(x, dtype=float)
        n = len(self.keys)
        actions = []
        for i, key in enumerate(self.keys):
            r = self.ranges[key]
            target = r.snap(x[i])
            start = int(np.clip(math.floor(x[n + i] + 1e-9), START_YEARS[0], START_YEARS[1]))
            action = LeverAction(key, target, start)
            if self.changes(action):
                actions.append(action)
        return Portfolio(tuple(actions))

    def encode(self, portfolio: Portfolio) -> np.ndarray:
        """The vector of a portfolio (levers it leaves alone at their no-change end, start 2025)."""
        x = self.none_vector()
        n = len(self.keys)
        for a in portfolio.actions:
            i = self.keys.index(a.key)
            x[i], x[n + i] = a.target, float(a.start)
        return x

    # ------------------------------------------------------------------ portfolio -> scenario

    def in_force(self, key: str, start: int) -> np.ndarray:
        """The lever's value per Member State the month before January ``start``, in the scenario."""
        return self._base[key][self._month_index[start] - 1]

    def _where(self, action: LeverAction) -> np.ndarray:
        """Member States the action moves (boolean, 27)."""
        spec = LEVERS[action.key]
        before = self.in_force(action.key, action.start)
        gap = before - action.target if spec.lower_is_better else action.target - before
        return gap > 1e-12

    def changes(self, action: LeverAction) -> bool:
        """Whether the action moves the lever anywhere."""
        return bool(self._where(action).any())

    def lever_changes(self, portfolio: Portfolio) -> tuple[LeverChange, ...]:
        """The portfolio as scenario lever changes (``where`` lists the Member States it raises, if not all)."""
        from ..dims import MEMBER_STATES

        out = []
        for a in portfolio.actions:
            spec = LEVERS[a.key]
            moved = self._where(a)
            where = None if spec.scope == "eu" or moved.all() else tuple(m for m, on in zip(MEMBER_STATES, moved) if on)
            out.append(LeverChange(a.key, a.target, parse_month(f"{a.start}-01"), spec.ramp_months, where, NOTE))
        return tuple(out)

    def scenario_for(self, portfolio: Portfolio, name: str | None = None) -> Scenario:
        """The scenario with the portfolio's changes added to its own schedule (later changes of the scenario,
        if any, still apply after them)."""
        return dataclasses.replace(self.scenario, name=name or self.scenario.name, path="",
                                   levers=self.scenario.levers + self.lever_changes(portfolio))

    def increments(self, portfolio: Portfolio) -> np.ndarray:
        """Per lever and year of the window, the population-weighted mean increase of the lever over the
        scenario's schedule (a decrease for lower-is-better levers), shape ``(levers, years)``."""
        u = np.zeros((len(self.keys), len(self.years)))
        changes = self.lever_changes(portfolio)
        for change in changes:
            key = change.key
            own = [c for c in self.scenario.levers if c.key == key]
            probe = dataclasses.replace(self.scenario, levers=tuple(own) + (change,))
            sched = probe.lever_schedule(key, self.months)
            diff = self._base[key] - sched if LEVERS[key].lower_is_better else sched - self._base[key]
            per_month = np.clip(diff, 0.0, None) @ self.weights if LEVERS[key].scope == "ms" else np.clip(diff[:, 0], 0, None)
            i = self.keys.index(key)
            u[i] = [per_month[rows].mean() for rows in self._year_rows]
        return u

    def best_portfolio(self, key: str, start: int = START_YEARS[0]) -> Portfolio:
        """One lever at its best end from January ``start``: the probe of the cost model."""
        return Portfolio((LeverAction(key, self.ranges[key].best, start),))

    def scaled(self, portfolio: Portfolio, share: float) -> Portfolio:
        """Each action's distance from no change multiplied by ``share`` (0..1), rounded toward no change."""
        actions = []
        for a in portfolio.actions:
            r = self.ranges[a.key]
            t = r.snap(r.none + share * (a.target - r.none), toward_none=True)
            action = LeverAction(a.key, t, a.start)
            if self.changes(action):
                actions.append(action)
        return Portfolio(tuple(actions))

    def combine(self, *portfolios: Portfolio) -> Portfolio:
        """The union of portfolios (a later portfolio's action replaces an earlier one for the same lever)."""
        by_key = {}
        for p in portfolios:
            for a in p.actions:
                by_key[a.key] = a
        return Portfolio(tuple(by_key[k] for k in self.keys if k in by_key))


# ------------------------------------------------------------------------------------------------ costs


@dataclass
class CostModel:
    """Predicted yearly programme cost (EUR, all levers) of a portfolio.

    ``predict = base + sum over levers of curve_lever(increment_lever)``, per year of the window. Each lever's
    curve is piecewise linear through ``(0, 0)`` and its one-lever measurements (the probe at its best end and the
    single-lever comparators, all from 2025): the measured cost increase over the scenario (median of the paired
    runs) against the lever's increment, year by year, so a cost that is not proportional to the level (OAT
    clients queue for places, for instance) is followed where it was measured. Levers interact (naloxone keeps
    people alive who then use drug consumption rooms); :meth:`learn` measures by how much multi-lever portfolios
    overspend the prediction and keeps that share of the headroom free (``factor``).

    Attributes:
        base: the scenario's own yearly cost statistic, per year of the window.
        points: per lever, the measurements ``(increment per year, cost increase per year)``.
        factor: share of the headroom (budget minus ``base``) that predicted increases may use.
        priority: levers from least to most objective gained per euro, the order :meth:`repair` cuts in.
    """

    space: DecisionSpace
    base: np.ndarray
    points: dict = field(default_factory=dict)
    factor: float = INITIAL_FACTOR
    priority: tuple[str, ...] | None = None

    @classmethod
    def from_probes(cls, space: DecisionSpace, base_cost: np.ndarray, probe_cost_increase: dict[str, np.ndarray]
                    ) -> "CostModel":
        """The model from each lever's probe (its best end from 2025) and its measured cost increase."""
        model = cls(space, np.asarray(base_cost, dtype=float), {k: [] for k in space.keys})
        for key in space.keys:
            model.add(space.best_portfolio(key), probe_cost_increase[key])
        return model

    def add(self, portfolio: Portfolio, cost_increase: np.ndarray) -> None:
        """Add a one-lever measurement (a portfolio of one action from 2025) to that lever's curve."""
        if len(portfolio.actions) != 1 or portfolio.actions[0].start != START_YEARS[0]:
            raise ValueError("a cost curve point needs a one-lever portfolio starting in the first year")
        key = portfolio.actions[0].key
        u = self.space.increments(portfolio)[self.space.keys.index(key)]
        pts = [p for p in self.points[key] if not np.allclose(p[0], u)]
        pts.append((u, np.asarray(cost_increase, dtype=float)))
        self.points[key] = sorted(pts, key=lambda p: float(p[0].sum()))

    def lever_cost(self, key: str, u: np.ndarray) -> np.ndarray:
        """The lever's predicted cost increase per year at increments ``u`` (interpolated year by year)."""
        pts = self.points[key]
        out = np.zeros(len(u))
        for y in range(len(u)):
            xs = np.array([0.0] + [p[0][y] for p in pts])
            ys = np.array([0.0] + [p[1][y] for p in pts])
            order = np.argsort(xs, kind="stable")
            xs, ys = xs[order], ys[order]
            if u[y] <= xs[-1] or xs[-1] <= 0:
                out[y] = np.interp(u[y], xs, ys)
            else:  # beyond the last measurement (not reached from 2025 at the best end): its average rate
                out[y] = ys[-1] / xs[-1] * u[y]
        return out

    def predict(self, portfolio: Portfolio) -> np.ndarray:
        """Predicted yearly cost over the window."""
        u = self.space.increments(portfolio)
        total = self.base.copy()
        for a in portfolio.actions:
            total += self.lever_cost(a.key, u[self.space.keys.index(a.key)])
        return total

    def fits(self, portfolio: Portfolio, budget: float) -> bool:
        """Whether the predicted increase stays within ``factor`` of the headroom in every year."""
        return bool(np.all(self.predict(portfolio) - self.base <= self.factor * (budget - self.base)))

    def learn(self, predicted: Sequence[np.ndarray], measured: Sequence[np.ndarray], budget: float) -> None:
        """Set ``factor`` from multi-lever portfolios: their predicted and measured yearly costs.

        For each portfolio, the ratio of measured to predicted cost increase in the years where the prediction
        used at least a quarter of the headroom (the years that can bind), the largest of them; the factor is
        the inverse of the 75th percentile of these ratios (never above 1, never below 0.5), so about three in four
        repaired portfolios keep to the budget in every year.
        """
        headroom = budget - self.base
        ratios = []
        for p, m in zip(predicted, measured):
            inc_p, inc_m = np.asarray(p) - self.base, np.asarray(m) - self.base
            if not (np.all(np.isfinite(inc_p)) and np.all(np.isfinite(inc_m))):
                continue
            years = inc_p >= 0.25 * headroom
            if years.any():
                ratios.append(float(np.max(inc_m[years] / inc_p[years])))
        if ratios:
            self.factor = float(np.clip(1.0 / np.quantile(ratios, 0.75), 0.5, 1.0))

    def repair(self, portfolio: Portfolio, budget: float, iterations: int = 30) -> Portfolio:
        """The portfolio if it is predicted to fit the budget; otherwise cut until it is predicted to fit.

        With a ``priority`` (levers from least to most objective gained per euro), spending is cut where it buys
        least: the first lever in that order is shrunk toward no change (bisection) or dropped, then the next, as
        in the greedy repair of knapsack problems. Without one, every action shrinks by the same share. The
        scenario's own schedule fits (the budget is checked against its cost first), so a fitting cut exists.
        """
        if self.fits(portfolio, budget):
            return portfolio
        if self.priority is None:
            return self.shrink(Portfolio(), portfolio, budget, iterations)
        current = portfolio
        for key in [k for k in self.priority if k in current.levers]:
            rest = Portfolio(tuple(a for a in current.actions if a.key != key))
            if not self.fits(rest, budget):
                current = rest
                continue
            one = Portfolio(tuple(a for a in current.actions if a.key == key))
            return self.shrink(rest, one, budget, iterations)
        return current

    def shrink(self, fixed: Portfolio, part: Portfolio, budget: float, iterations: int = 30) -> Portfolio:
        """``fixed`` plus ``part`` shrunk toward no change by the largest share predicted to fit (bisection)."""
        lo, hi = 0.0, 1.0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            if self.fits(self.space.combine(fixed, self.space.scaled(part, mid)), budget):
                lo = mid
            else:
                hi = mid
        return self.space.combine(fixed, self.space.scaled(part, lo))

    def spend(self, key: str, budget: float, start: int = START_YEARS[0]) -> Portfolio:
        """One lever from ``start`` at the level predicted to spend the budget (its best end if that costs less)."""
        return self.repair(self.space.best_portfolio(key, start), budget)


__all__ = ["CostModel", "DecisionSpace", "LeverAction", "LeverRange", "Portfolio", "START_YEARS", "WINDOW"]
