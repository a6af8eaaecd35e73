"""Exploratory modelling: many plausible futures, in the EMA Workbench vocabulary.

* **Uncertainties** — the registry's uncertain parameters (those with a non-fixed prior), except any the
  scenario fixes with ``[overrides]``. Each experiment draws a value from the prior.
* **Levers** — the policy levers named with ``levers=`` (``--levers k1,k2``). Each experiment sets the lever's
  EU-wide target uniformly within its registry range ``[min, max]``, applied from ``start`` (default
  2022-01) with the lever's usual ramp-up (``ramp_months`` in ``data/levers.toml``). The change is added to the
  scenario's own schedule.
* **Outcomes** — every indicator the model records, per calendar year (or month with ``monthly=True``).

Experiments form one scrambled Latin hypercube (``scipy.stats.qmc``) over uncertainties and levers together,
with a fixed sample seed so the same call gives the same design. Every experiment runs with the same model
seed, so two experiments differ only through their uncertainty and lever values (common random numbers).

The result is one ``xarray.Dataset``: outcomes on ``(experiment, year, ...)``, and each uncertainty and lever
as a variable on ``experiment`` (attribute ``role`` = ``uncertainty`` or ``lever``); the attributes
``uncertainties``, ``levers`` and ``outcomes`` list the names, ready for scenario discovery (PRIM) or
sensitivity analysis.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__
from ..ensemble import RunSpec, RunStore, _lhs, component_path, execute, scenario_payload, stack_runs, uncertain_parameters
from ..errors import InputError
from ..indicators import INDICATORS
from ..levers import LEVERS
from ..params import PARAMETERS
from ..scenario import LeverChange, Scenario, load_scenario
from ..timeline import format_month, parse_month

SAMPLE_SEED = 20211231
"""Seed of the experiments' Latin hypercube (fixed: the same call gives the same design)."""

DEFAULT_START = "2022-01"


def design(scenario: Scenario, samples: int, levers: Sequence[str] = (), sample_seed: int = SAMPLE_SEED,
           uncertainties: Sequence[str] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """The experiments: ``(uncertainty keys, lever keys, values[experiment, uncertainty + lever])``."""
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
        raise InputError("--samples", "", "a number of experiments >= 1", repr(samples))
    for key in levers:
        if key not in LEVERS:
            raise InputError("--levers", key, "levers listed by `dapsim levers`", f"unknown lever {key!r}")
    if len(set(levers)) != len(levers):
        raise InputError("--levers", "", "each lever once", ",".join(levers))
    if uncertainties is None:
        uncertainties = [k for k in uncertain_parameters() if k not in scenario.overrides]
    unc, lev = list(uncertainties), list(levers)
    d = len(unc) + len(lev)
    values = np.empty((int(samples), d))
    if d:
        q = _lhs(d, int(samples), sample_seed)
        for j, key in enumerate(unc):
            p = PARAMETERS[key]
            values[:, j] = p.prior.ppf(q[:, j], p.value)
        for j, key in enumerate(lev):
            spec = LEVERS[key]
            values[:, len(unc) + j] = spec.min + q[:, len(unc) + j] * (spec.max - spec.min)
    return unc, lev, values


def check_request(scenario: Scenario, samples: int, levers: Sequence[str], start: str) -> np.datetime64:
    """Check an exploration request before anything runs or is written; return the lever start month.

    Raises:
        InputError: an unknown or repeated lever, a number of samples below 1, or a start month that is not
            a month of the scenario's horizon.
    """
    design(scenario, 1 if isinstance(samples, int) and samples >= 1 else samples, levers, uncertainties=())
    try:
        begin = parse_month(start)
    except ValueError:
        raise InputError("--start", "", 'a month "YYYY-MM"', repr(start)) from None
    if not scenario.start <= begin <= scenario.end:
        raise InputError("--start", "", f"a month within the horizon {format_month(scenario.start)}.."
                         f"{format_month(scenario.end)}", repr(start))
    return begin


def experiments(scenario: Scenario, unc: Sequence[str], lev: Sequence[str], values: np.ndarray,
                begin: np.datetime64) -> list[tuple[Scenario, dict]]:
    """Each experiment as ``(scenario with its lever changes, parameter values)``."""
    out = []
    for row in values:
        changes = tuple(LeverChange(key, float(row[len(unc) + j]), begin, LEVERS[key].ramp_months, None, "explore")
                        for j, key in enumerate(lev))
        params = {key: float(row[j]) for j, key in enumerate(unc)}
        out.append((dataclasses.replace(scenario, levers=scenario.levers + changes), params))
    return out


def explore(
    scenario: Scenario | str | Path,
    samples: int,
    levers: Sequence[str] = (),
    *,
    start: str = DEFAULT_START,
    seed: int = 0,
    sample_seed: int = SAMPLE_SEED,
    executor=None,
    store: str | Path | RunStore | None = None,
    resume: bool = False,
    scale: float | None = None,
    monthly: bool = False,
    batch_size: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
    components: Sequence | None = None,
) -> xr.Dataset:
    """Run ``samples`` experiments over the uncertainties and the chosen levers (see module docstring).

    ``components`` (classes or ``"module:Class"`` paths) replaces the full model, as in ``run_ensemble``.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    begin = check_request(sc, samples, levers, start)
    unc, lev, values = design(sc, samples, levers, sample_seed)
    comps = None if components is None else tuple(component_path(c) for c in components)
    specs = [RunSpec(f"x{i:05d}", scenario_payload(experiment), params, int(seed), scale, monthly, {"experiment": i},
                     comps)
             for i, (experiment, params) in enumerate(experiments(sc, unc, lev, values, begin))]
    run_store = store if isinstance(store, RunStore) or store is None else RunStore(store, resume=resume, option="--out")
    results = execute(specs, executor, run_store, batch_size, progress, description="experiments")

    n = values.shape[0]
    ds = stack_runs({(i,): results[s.run_id].dataset for i, s in enumerate(specs)}, ("experiment",),
                    {"experiment": list(range(n))})
    outcomes = [name for name in ds.data_vars if name in INDICATORS]
    inputs = {}  # added in one go: one at a time re-aligns the dataset for each of hundreds of parameters
    for j, key in enumerate(unc):
        p = PARAMETERS[key]
        inputs[key] = ("experiment", values[:, j], {"role": "uncertainty", "units": p.unit,
                                                    "prior": p.prior.describe(), "long_name": p.description or key})
    for j, key in enumerate(lev):
        spec = LEVERS[key]
        if key in ds:
            raise RuntimeError(f"lever {key!r} clashes with an output variable of the same name")
        inputs[key] = ("experiment", values[:, len(unc) + j],
                       {"role": "lever", "units": spec.unit, "long_name": spec.title,
                        "range": f"{spec.min:g}-{spec.max:g}", "applied_from": format_month(begin),
                        "ramp_months": spec.ramp_months, "where": "every Member State"})
    ds = ds.assign(inputs)
    failures = [{"run": s.run_id, "experiment": s.labels["experiment"],
                 "error": results[s.run_id].error.splitlines()[0]} for s in specs if results[s.run_id].error is not None]
    ds["run_failed"] = ("experiment", np.array([results[s.run_id].error is not None for s in specs]),
                        {"long_name": "The run failed (its outcomes are NaN)"})
    ds.attrs.update({
        "title": f"dapsim explore: {sc.name}",
        "scenario": json.dumps(sc.to_dict(), sort_keys=True),
        "uncertainties": json.dumps(unc),
        "levers": json.dumps(lev),
        "outcomes": json.dumps(outcomes),
        "lever_start": format_month(begin),
        "samples": n,
        "sample_seed": sample_seed,
        "seed": int(seed),
        "scale_people_per_agent": "model default" if scale is None else float(scale),
        "time_resolution": "monthly" if monthly else "annual",
        "n_runs": n,
        "failed_runs": json.dumps(failures),
        "design": "Latin hypercube over uncertainties (priors) and levers (uniform over the registry range)",
        "dapsim_version": __version__,
    })
    return ds
