"""What the dashboard runs: a scenario file plus slider moves, against the baseline with the same seed.

This module holds the dashboard's logic without any user interface, so it can be tested (and reused from a
notebook) without a browser:

* :func:`scenario_files` lists the scenario files a user can pick;
* :func:`apply_sliders` turns slider positions into lever changes of the chosen scenario (each moved lever
  goes to its target from the chosen month, with the lever's own ramp-up time from the lever registry);
* :func:`run_comparison` runs the scenario and the baseline with the same seed and scale (common random
  numbers, so the difference between the two lines is the effect of the levers, not noise) and keeps a few
  recent runs in memory so that pressing Run again only simulates what changed.

Only the public API is used (``load_scenario``, ``ActionPlanModel``, ``annual``, ``LEVERS``), so the dashboard
shows whatever variables the model of the day records and skips the ones it does not.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..indicators import annual
from ..levers import LEVERS
from ..model import ActionPlanModel
from ..scenario import LeverChange, Scenario, load_scenario
from ..timeline import format_month, parse_month
from .network_views import find_graphs

DASHBOARD_LEVERS: tuple[str, ...] = (
    "naloxone_coverage",
    "oat_capacity",
    "nsp_coverage",
    "drug_consumption_rooms",
    "universal_prevention",
    "port_scanning",
    "intel_sharing",
    "hvt_investigations",
)
"""The levers the dashboard offers as sliders: the main health and enforcement dials of the Plan."""

QUICK_SCALE = float(os.environ.get("DAPSIM_DASHBOARD_QUICK_SCALE", "50"))
"""People per high-risk-user agent in a quick run (coarser than the default 10, so a run takes seconds)."""

PRECISE_SCALE = 10.0
"""People per high-risk-user agent in a precise run (the model's default)."""

QUICK_END = os.environ.get("DAPSIM_DASHBOARD_QUICK_END") or None
"""Optional last month ("YYYY-MM") of a quick run; by default a quick run keeps the scenario's horizon."""

BASELINE_FILE = "baseline.toml"


def scenarios_dir() -> Path:
    """Where the scenario files are: ``$DAPSIM_SCENARIOS_DIR``, else ``./scenarios``, else the repository's."""
    env = os.environ.get("DAPSIM_SCENARIOS_DIR")
    if env:
        return Path(env)
    here = Path.cwd() / "scenarios"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "scenarios"


def scenario_files(folder: Path | None = None) -> list[Path]:
    """The scenario files a user can pick, the baseline first."""
    folder = scenarios_dir() if folder is None else Path(folder)
    files = sorted(folder.glob("*.toml"))
    return sorted(files, key=lambda p: (p.name != BASELINE_FILE, p.name))


def lever_default(key: str) -> float:
    """The slider's resting position: the lever's 2020 EU value (Member States keep their own 2020 values)."""
    return float(LEVERS[key].baseline)


def slider_step(key: str) -> float:
    """A slider step of about 1% of the lever's range, rounded to a readable number."""
    spec = LEVERS[key]
    span = spec.max - spec.min
    raw = span / 100
    magnitude = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return float(m * magnitude)
    return float(raw)


def moved_levers(values: Mapping[str, float]) -> dict[str, float]:
    """The sliders that are not at their resting position (only these change the scenario)."""
    return {k: float(v) for k, v in values.items() if abs(float(v) - lever_default(k)) > 1e-9}


def apply_sliders(scenario: Scenario, targets: Mapping[str, float], from_month: str) -> Scenario:
    """The scenario with each moved lever set to its target from ``from_month`` in every Member State.

    The lever ramps linearly from the value in force the month before to the target over its registry ramp-up
    time. A slider replaces the scenario file's own changes of that lever that start on or after
    ``from_month``; earlier changes stay (they set the value the ramp starts from).

    Raises:
        ValueError: the month is not "YYYY-MM" within the horizon, or a target is outside the lever's range.
    """
    if not targets:
        return scenario
    start = parse_month(from_month)
    if not scenario.start <= start <= scenario.end:
        raise ValueError(f"the sliders' start month {from_month} is outside the horizon "
                         f"{format_month(scenario.start)}..{format_month(scenario.end)}")
    kept = tuple(c for c in scenario.levers if not (c.key in targets and c.start >= start))
    added = []
    for key, target in targets.items():
        spec = LEVERS[key]
        if not spec.min <= target <= spec.max:
            raise ValueError(f"{key}: expected a value in [{spec.min:g}, {spec.max:g}] {spec.symbol}, got {target:g}")
        added.append(LeverChange(key, float(target), start, spec.ramp_months, None, "dashboard slider"))
    moved = ", ".join(f"{k} {v:g}" for k, v in targets.items())
    return dataclasses.replace(scenario, name=f"{scenario.name} + sliders ({moved} from {from_month})",
                               levers=kept + tuple(added))


def with_horizon(scenario: Scenario, start: np.datetime64, end: np.datetime64) -> Scenario:
    """The scenario over another horizon (lever changes outside it are dropped)."""
    levers = tuple(c for c in scenario.levers if start <= c.start <= end)
    shocks = tuple(s for s in scenario.shocks if start <= s.at <= end)
    return dataclasses.replace(scenario, start=start, end=end, levers=levers, shocks=shocks)


@dataclass(frozen=True)
class RunRequest:
    """Everything that decides a dashboard run (equal requests give bit-identical runs)."""

    scenario_path: str
    lever_targets: tuple[tuple[str, float], ...] = ()
    from_month: str = "2022-01"
    seed: int = 0
    quick: bool = True

    @property
    def scale(self) -> float:
        return QUICK_SCALE if self.quick else PRECISE_SCALE


@dataclass
class SingleRun:
    """One simulated scenario: monthly and yearly outputs and the networks the model built."""

    scenario: Scenario
    monthly: xr.Dataset
    yearly: xr.Dataset
    route_graph: object = None
    cooperation_graph: object = None
    seconds: float = 0.0


@dataclass
class Comparison:
    """The user's scenario and the baseline, same seed and scale."""

    request: RunRequest
    scenario: SingleRun
    baseline: SingleRun
    seconds: float = 0.0
    number: int = 0
    notes: list[str] = field(default_factory=list)


_CACHE: OrderedDict[tuple, SingleRun] = OrderedDict()
_CACHE_SIZE = 6
_LOCK = threading.Lock()
_RUN_COUNTER = [0]


def _simulate(scenario: Scenario, seed: int, scale: float, progress: Callable[[float], None] | None) -> SingleRun:
    key = (scenario.to_json(), seed, scale)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    started = time.perf_counter()
    model = ActionPlanModel(scenario, seed=seed, scale=scale)
    monthly = model.run(None if progress is None else (lambda done, total: progress(done / total)))
    route_graph, cooperation_graph = find_graphs(model)
    run = SingleRun(scenario, monthly, annual(monthly), route_graph, cooperation_graph, time.perf_counter() - started)
    with _LOCK:
        _CACHE[key] = run
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return run


def build_scenarios(request: RunRequest, folder: Path | None = None) -> tuple[Scenario, Scenario]:
    """The user's scenario (file + sliders, quick horizon) and the matching baseline."""
    folder = scenarios_dir() if folder is None else Path(folder)
    chosen = load_scenario(request.scenario_path)
    if QUICK_END and request.quick:
        end = min(chosen.end, parse_month(QUICK_END))
        chosen = with_horizon(chosen, chosen.start, max(end, chosen.start))
    scenario = apply_sliders(chosen, dict(request.lever_targets), request.from_month)
    base_path = folder / BASELINE_FILE
    if base_path.is_file():
        baseline = with_horizon(load_scenario(base_path), chosen.start, chosen.end)
    else:  # no baseline file: compare against the chosen file without the sliders
        baseline = chosen
    return scenario, baseline


def run_comparison(request: RunRequest, progress: Callable[[float], None] | None = None,
                   folder: Path | None = None) -> Comparison:
    """Run (or fetch from memory) the baseline and the user's scenario with the same seed and scale.

    Args:
        request: scenario file, slider targets, start month, seed and quick/precise.
        progress: called with the share of the work done (0..1).
        folder: the scenarios folder (for ``baseline.toml``).
    """
    started = time.perf_counter()
    scenario, baseline = build_scenarios(request, folder)
    same = scenario.to_json() == baseline.to_json()

    def part(offset: float, width: float):
        if progress is None:
            return None
        return lambda share: progress(offset + width * share)

    base_run = _simulate(baseline, request.seed, request.scale, part(0.0, 1.0 if same else 0.5))
    scen_run = base_run if same else _simulate(scenario, request.seed, request.scale, part(0.5, 0.5))
    with _LOCK:
        _RUN_COUNTER[0] += 1
        number = _RUN_COUNTER[0]
    notes = []
    if same:
        notes.append("Your scenario is the baseline: move a slider or pick another scenario to see a difference.")
    return Comparison(request, scen_run, base_run, time.perf_counter() - started, number, notes)


def lever_eu_path(scenario: Scenario, key: str) -> np.ndarray:
    """The lever's EU-27 value per month: the mean over Member States weighted by population aged 15-64."""
    from ..memberstates import POPULATION_15_64

    values = scenario.lever_schedule(key)
    weights = np.asarray(POPULATION_15_64, dtype=float)
    return values @ weights / weights.sum()
