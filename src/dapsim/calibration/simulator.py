"""One model evaluation for calibration and analysis: parameter values in, target statistics out.

Calibration, validation and sensitivity analysis all ask the same question many times: *with these parameter
values and this seed, what does the model say for these targets (or outcomes)?* :class:`TargetSimulator`
answers it. It is a plain picklable object (the scenario travels with cloudpickle), so the same evaluation runs
in-process, in forked worker processes, or on Dask workers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .. import params as _params
from ..errors import InputError
from ..indicators import annual
from ..scenario import Scenario
from .targets import Target, TargetSet


def registry():
    """The parameter registry as it is now (read at call time, so tests and plug-ins can extend it)."""
    return _params.PARAMETERS


def uncertain_parameters(patterns: Sequence[str] | None = None) -> list[str]:
    """Keys of the uncertain registry parameters, optionally only those matching glob ``patterns``.

    Raises:
        InputError: a pattern that matches no uncertain parameter (a typo would otherwise calibrate nothing).
    """
    from fnmatch import fnmatchcase

    keys = [k for k, p in registry().items() if p.uncertain]
    if not patterns:
        return keys
    chosen: list[str] = []
    for pattern in patterns:
        hits = [k for k in keys if fnmatchcase(k, pattern)]
        if not hits:
            raise InputError("--params", "", "a pattern matching uncertain parameters (see `dapsim params`)", repr(pattern))
        chosen.extend(k for k in hits if k not in chosen)
    return chosen


def filled_variables(components: Sequence[type] | None = None) -> set[str]:
    """Output variables that the model (or the given components) fills."""
    if components is None:
        from ..model import default_components

        components = default_components()
    return {name for c in components for name in c.fills}


def horizon_to(scenario: Scenario, last_year: int, option: str = "--targets") -> Scenario:
    """The scenario cut to end in December of ``last_year`` (no need to simulate past the last target)."""
    end = np.datetime64(f"{last_year}-12", "M")
    if end < scenario.start + np.timedelta64(11, "M"):
        raise InputError(option, "", f"targets in years the scenario simulates (from {scenario.start})",
                         f"a last target year of {last_year}")
    return dataclasses.replace(scenario, end=min(end, scenario.end)) if end < scenario.end else scenario


@dataclass
class TargetSimulator:
    """Evaluate the model for a parameter draw and a seed, and compute target statistics.

    Attributes:
        scenario: the scenario to run (usually the baseline cut to the last target year).
        targets: the statistics to compute (targets or analysis outcomes).
        scale: people per high-risk-user agent (large is fast and coarse).
        components: component classes (``None`` = the full model).
    """

    scenario: Scenario
    targets: TargetSet
    scale: float | None = None
    components: tuple | None = None

    def yearly(self, values: Mapping[str, float], seed: int) -> xr.Dataset:
        """Run once and return calendar-year values."""
        from ..model import ActionPlanModel

        base = _params.ParameterSet.defaults().updated({k: float(v) for k, v in values.items()})
        model = ActionPlanModel(self.scenario, seed=int(seed), scale=self.scale, params=base,
                                components=None if self.components is None else list(self.components))
        return annual(model.run())

    def __call__(self, values: Mapping[str, float], seed: int) -> dict[str, float]:
        return self.targets.statistics(self.yearly(values, seed))

    def vector(self, values: Mapping[str, float], seed: int) -> np.ndarray:
        """Statistics as an array in target order."""
        stats = self(values, seed)
        return np.array([stats[t.id] for t in self.targets], dtype=float)


def evaluate_many(func: Callable, items: Sequence, workers: int = 1, scheduler=None,
                  progress: Callable[[int, int], None] | None = None) -> list[tuple[bool, object]]:
    """Apply ``func`` to every item; return ``(True, result)`` or ``(False, "ErrorType: message")`` per item.

    A failure never stops the others and is never dropped: the caller decides what a failed evaluation means.
    Runs in this process (``workers == 1``), in forked worker processes, or on a Dask scheduler (an address
    or a ``distributed.Client``). Results keep the order of ``items``.
    """
    import cloudpickle

    payload = cloudpickle.dumps(func)
    n = len(items)
    out: list[tuple[bool, object] | None] = [None] * n
    if scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else _connect(scheduler)
        try:
            futures = {client.submit(_guarded, payload, item, pure=False): i for i, item in enumerate(items)}
            for done, fut in enumerate(as_completed(futures), start=1):
                out[futures[fut]] = fut.result()
                if progress:
                    progress(done, n)
        finally:
            if client is not scheduler:
                client.close()
    elif workers > 1 and n > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed as cf_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_guarded, payload, item): i for i, item in enumerate(items)}
            for done, fut in enumerate(cf_completed(futures), start=1):
                out[futures[fut]] = fut.result()
                if progress:
                    progress(done, n)
    else:
        func_local = cloudpickle.loads(payload)
        for i, item in enumerate(items):
            out[i] = _guarded(func_local, item)
            if progress:
                progress(i + 1, n)
    return out  # type: ignore[return-value]


def _guarded(func, item) -> tuple[bool, object]:
    if isinstance(func, bytes):
        import cloudpickle

        func = cloudpickle.loads(func)
    try:
        return True, func(item)
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the caller, with its type
        return False, f"{type(exc).__name__}: {exc}"


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("--scheduler", "", "the address of a running Dask scheduler, e.g. tcp://host:8786",
                         f"{address!r} ({exc})") from None


def finite(values: Iterable[float]) -> bool:
    return all(isinstance(v, float | int) and math.isfinite(v) for v in values)


__all__ = ["Target", "TargetSet", "TargetSimulator", "evaluate_many", "filled_variables", "horizon_to",
           "uncertain_parameters"]
