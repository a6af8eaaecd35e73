"""ActionPlanModel: one run of the EU Drugs Action Plan, month by month.

The model owns the clock, the scenario's lever schedules and shocks, the random streams and the shared state.
The components do the work, in the order of a month::

    levers(t) -> supply -> enforcement -> market -> demand -> harms -> indicators(t)

Randomness: one ``numpy.random.SeedSequence`` per run, and one named stream per component derived from it by
the component's name, never by creation order. Two scenarios run with the same seed therefore draw the same
random numbers wherever their levers do not act (common random numbers), and adding a component does not
shift anyone else's draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import mesa
import numpy as np
import xarray as xr

from . import __version__
from .component import Component
from .dims import MEMBER_STATES, MS_INDEX
from .indicators import FIXED_COORDS, Recorder, assemble
from .levers import LEVERS
from .params import ParameterSet
from .scenario import Scenario, Shock
from .state import SharedState

DEFAULT_SCALE = 10.0
"""People represented by one high-risk-user agent (person-agent) unless a run says otherwise."""


def default_components() -> list[type[Component]]:
    """The components of a full run, in the order they step each month.

    Supply, enforcement and the market come first (``dapsim.supply.COMPONENTS``), then demand and harms
    (``dapsim.demand.COMPONENTS``), so that data flows one way through the month.
    """
    from . import demand, supply

    return [*supply.COMPONENTS, *demand.COMPONENTS]


class ActionPlanModel(mesa.Model):
    """One run: a scenario, a seed and a parameter set.

    Args:
        scenario: the validated scenario.
        seed: the run's seed (any non-negative integer).
        scale: people per high-risk-user agent (default 10); smaller is more precise and slower.
        params: parameter values (registry values by default); the scenario's overrides are applied on top.
        components: component classes in monthly order (the full model by default).
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        scale: float | None = None,
        params: ParameterSet | None = None,
        components: Sequence[type[Component]] | None = None,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed_sequence = np.random.SeedSequence(int(seed))
        super().__init__(rng=self.stream("mesa"))
        self.scenario = scenario
        self.seed_value = int(seed)
        self.scale = float(scale) if scale is not None else DEFAULT_SCALE
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        self.months = scenario.months
        self.t = 0
        self.params = (params or ParameterSet.defaults()).updated(scenario.overrides)
        self.state = SharedState()
        self._schedules = {key: scenario.lever_schedule(key, self.months) for key in LEVERS}

        classes = list(default_components() if components is None else components)
        self.components: list[Component] = [cls(self, self.params) for cls in classes]
        self.wired_levers: tuple[str, ...] = tuple(
            key for key in LEVERS if any(key in c.levers for c in self.components)
        )
        self._lever_column = {key: i for i, key in enumerate(self.wired_levers)}
        self.spending = np.zeros((len(self.months), len(self.wired_levers)))

        coords = dict(FIXED_COORDS)
        for c in self.components:
            coords.update(c.coords())
        coords["lever"] = self.wired_levers
        fills = [name for c in self.components for name in c.fills]
        if self.wired_levers:
            fills.append("programme_cost_eur")
        self.recorder = Recorder(fills, len(self.months), coords)

    # ------------------------------------------------------------------ what components ask of the model

    def stream(self, name: str) -> np.random.Generator:
        """A random stream named after its user, the same for the same seed in every scenario."""
        key = zlib.crc32(name.encode("utf-8"))
        return np.random.default_rng(np.random.SeedSequence(self.seed_sequence.entropy, spawn_key=(key,)))

    @property
    def month(self) -> np.datetime64:
        """The month being simulated."""
        return self.months[self.t]

    def lever(self, key: str) -> np.ndarray | float:
        """The lever's value this month: one per Member State, or one EU-wide number for an EU lever."""
        values = self._schedules[key][self.t]
        return float(values[0]) if LEVERS[key].scope == "eu" else values

    def lever_path(self, key: str) -> np.ndarray:
        """The lever's whole schedule, shape ``(months, 27)`` (for components that plan ahead)."""
        return self._schedules[key]

    def spend(self, key: str, eur: np.ndarray | float) -> None:
        """Book this month's programme cost of a lever (EUR, per Member State or in total)."""
        self.spending[self.t, self._lever_column[key]] += float(np.sum(eur))

    def shocks(self, kind: str) -> list[Shock]:
        """The scenario's shocks of one kind."""
        return [s for s in self.scenario.shocks if s.kind == kind]

    def shock_magnitude(self, kind: str) -> np.ndarray:
        """Per Member State, the magnitude of the strongest active shock of this kind this month (0 if none)."""
        out = np.zeros(len(MEMBER_STATES))
        for s in self.shocks(kind):
            if s.active(self.month):
                cols = slice(None) if s.where is None else [MS_INDEX[m] for m in s.where]
                out[cols] = np.maximum(out[cols], s.magnitude)
        return out

    # ------------------------------------------------------------------ the month

    def step(self) -> None:
        """Simulate one month: every component steps in order, then every component records."""
        t = self.t
        for component in self.components:
            component.step(t)
        for component in self.components:
            component.record(t, self.recorder)
        if self.wired_levers:
            self.recorder["programme_cost_eur"][t] = self.spending[t]
        self.t += 1

    def run(self, progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
        """Run every month of the horizon and return the dataset."""
        n = len(self.months)
        while self.t < n:
            self.step()
            if progress is not None:
                progress(self.t, n)
        # Mesa 3.3 counts agent ids in a class-level dict keyed by model, which keeps every finished model (and
        # its person table) alive: about 10 MB a run, gigabytes on an ensemble worker. No agent is created after
        # the last month, so the entry can go.
        mesa.Agent._ids.pop(self, None)
        return self.dataset()

    def dataset(self) -> xr.Dataset:
        """The recorded indicators as a labelled dataset, with the run's provenance in its attributes."""
        return assemble(
            self.recorder,
            self.months,
            {
                "title": f"dapsim run: {self.scenario.name}",
                "scenario_name": self.scenario.name,
                "scenario": self.scenario.to_dict(),
                "parameters": {k: self.params[k] for k in sorted(self.params)},
                "seed": self.seed_value,
                "scale_people_per_agent": self.scale,
                "components": [type(c).__name__ for c in self.components],
                "dapsim_version": __version__,
                "Conventions": "CF-1.8",
            },
        )


def simulate(
    scenario: Scenario,
    seed: int = 0,
    scale: float | None = None,
    params: ParameterSet | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Run one scenario with one seed and return the monthly indicators.

    Args:
        scenario: from :func:`dapsim.load_scenario`.
        seed: same scenario, seed and version give bit-identical output.
        scale: people per high-risk-user agent (default 10).
        params: parameter values to use instead of the registry's (e.g. a posterior draw).
        progress: called as ``progress(months_done, months_total)`` after each month.
    """
    return ActionPlanModel(scenario, seed=seed, scale=scale, params=params).run(progress)
