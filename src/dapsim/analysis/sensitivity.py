"""Global sensitivity analysis of chosen outcomes to the uncertain parameters (SALib: Sobol and Morris).

Design:

* **Factors** are the registry's uncertain parameters (or those matching ``params`` patterns). SALib samples
  each factor on its quantile scale ``[0.001, 0.999]`` and the value is the prior's quantile there, so every
  prior shape (lognormal, beta, ...) is honoured and no factor is pushed into a far tail. Morris elementary
  effects are therefore per unit of prior quantile, comparable across parameters of different units.
* **Outcomes** are calendar-year EU-27 values of output variables, written like calibration targets
  (``seizures_kg[substance=cocaine]``) for one year (default 2025, or the scenario's last full year).
* **Common random numbers**: every run uses the same model seed, so outcome differences come from the
  parameters, not from the model's noise.
* **Failed runs are explicit**: a run that raises (or gives a non-finite outcome) is recorded with its
  parameter values and error in ``*_failures.csv`` and in the runs file. Sobol and Morris estimators need
  complete blocks, so the Saltelli block (``D + 2`` runs of one base sample) or the Morris trajectory
  (``D + 1`` runs) that contains a failure is left out of that outcome's estimate, and the table says how
  many blocks were used and dropped. If failures cluster in one region of the parameter space the indices
  describe the rest of it: the failures file shows where they happened.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import xarray as xr

from ..errors import InputError
from ..scenario import Scenario
from ..storage import write_csv, write_netcdf, write_png

QUANTILE_RANGE = (0.001, 0.999)
"""Factors are sampled between these prior quantiles."""

DEFAULT_OUTCOMES = (
    "drug_induced_deaths",
    "hiv_new_infections_pwid",
    "high_risk_opioid_users",
    "oat_clients",
    "treatment_clients",
    "users_last_year[substance=cannabis,age_group=15-64]",
    "users_last_year[substance=cocaine,age_group=15-64]",
    "seizures_kg[substance=cocaine]",
    "labs_dismantled",
    "retail_market_value_eur[substance=all]",
    "nps_new_notified",
)
"""Headline outcomes analysed by default (those the model fills)."""

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4


def outcome_targets(specs: Sequence[str], year: int, geography: str = "EU-27", option: str = "--outcomes"):
    """Outcomes as :class:`~dapsim.calibration.targets.Target` objects (same selection rules), one year each."""
    from ..calibration.targets import EU_GEOGRAPHIES, Target, TargetSet, _parse_variable

    out = []
    for spec in specs:
        name, selection = _parse_variable(spec, option, spec)
        out.append(Target(file=option, line=0, indicator=0, variable=spec.strip(), name=name,
                          selection=MappingProxyType(selection), geography=geography, year=int(year),
                          value=math.nan, lower=math.nan, upper=math.nan, unit="", source_url=""))
    if geography not in EU_GEOGRAPHIES:
        raise InputError(option, "geography", "EU-27", geography)
    return TargetSet(tuple(out))


@dataclass
class _Evaluate:
    """One SALib row (parameter values) -> outcome vector, with a fixed seed; picklable."""

    simulator: object
    keys: tuple[str, ...]
    seed: int

    def __call__(self, row: np.ndarray) -> np.ndarray:
        return self.simulator.vector(dict(zip(self.keys, (float(v) for v in row))), self.seed)


@dataclass
class SensitivityResult:
    """Indices per outcome and parameter, every run, and the failures."""

    method: str
    indices: list[dict]
    quantiles: np.ndarray  # (runs, parameters)
    values: np.ndarray  # (runs, parameters)
    outcomes: np.ndarray  # (runs, outcomes)
    errors: list[str | None]
    parameters: list[str]
    outcome_names: list[str]
    year: int
    block_size: int
    attrs: dict = field(default_factory=dict)

    @property
    def failed(self) -> np.ndarray:
        return np.array([e is not None for e in self.errors]) | ~np.all(np.isfinite(self.outcomes), axis=1)

    def failures(self) -> list[dict]:
        rows = []
        for i in np.flatnonzero(self.failed):
            err = self.errors[i] or "non-finite outcome: " + ", ".join(
                n for n, v in zip(self.outcome_names, self.outcomes[i]) if not np.isfinite(v))
            rows.append({"run": int(i), "block": int(i // self.block_size), "error": err,
                         **{k: float(v) for k, v in zip(self.parameters, self.values[i])}})
        return rows

    def runs_dataset(self) -> xr.Dataset:
        return xr.Dataset(
            {"quantile": (("run", "parameter"), self.quantiles, {"long_name": "prior quantile of the factor"}),
             "parameter_value": (("run", "parameter"), self.values),
             "outcome_value": (("run", "outcome"), self.outcomes, {"year": self.year, "geography": "EU-27"}),
             "failed": ("run", self.failed),
             "error": ("run", np.array([e or "" for e in self.errors], dtype=str))},
            coords={"run": np.arange(len(self.errors)), "parameter": np.array(self.parameters, dtype=str),
                    "outcome": np.array(self.outcome_names, dtype=str)},
            attrs={k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in self.attrs.items()})


def sensitivity(
    scenario: Scenario,
    *,
    method: str = "sobol",
    samples: int = 64,
    outcomes: Sequence[str] | None = None,
    year: int | None = None,
    parameters: Sequence[str] | None = None,
    scale: float | None = None,
    seed: int = 0,
    sample_seed: int = 20211231,
    workers: int = 1,
    scheduler=None,
    components: Sequence[type] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityResult:
    """Run the SALib design and compute Sobol (S1, ST) or Morris (mu*, sigma) indices per outcome.

    Args:
        scenario: the scenario analysed.
        method: ``sobol`` (``samples`` base samples, ``samples * (D + 2)`` runs; a power of 2 is best) or
            ``morris`` (``samples`` trajectories, ``samples * (D + 1)`` runs).
        outcomes: outcome specs (default: :data:`DEFAULT_OUTCOMES` that the model fills).
        year: the outcome year (default 2025 if simulated, else the last full year).
        parameters: registry keys (default: every uncertain parameter).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    from ..calibration.simulator import TargetSimulator, evaluate_many, filled_variables, horizon_to, registry
    from ..calibration.simulator import uncertain_parameters

    if method not in METHODS:
        raise InputError("--method", "", " or ".join(METHODS), repr(method))
    keys = list(parameters) if parameters is not None else uncertain_parameters()
    if not keys:
        raise InputError("parameter registry", "", "at least one uncertain parameter (see `dapsim params`)",
                         "none: every registered parameter is fixed or none is registered yet")
    if samples < 2:
        raise InputError("--samples", "", "at least 2 samples", str(samples))
    last_full = int(str(scenario.end)[:4]) - (0 if str(scenario.end).endswith("-12") else 1)
    if year is None:
        year = 2025 if last_full >= 2025 else last_full
    if not int(str(scenario.start)[:4]) <= year <= last_full:
        raise InputError("--year", "", f"a full year the scenario simulates ({str(scenario.start)[:4]}-{last_full})",
                         str(year))
    filled = filled_variables(components)
    if outcomes is None:
        specs = [s for s in DEFAULT_OUTCOMES if s.split("[")[0] in filled]
        if not specs:
            raise InputError("--outcomes", "", "outcome variables the model fills (see `dapsim indicators`)",
                             "none of the default outcomes is filled yet")
    else:
        specs = list(outcomes)
        missing = [s for s in specs if s.split("[")[0] not in filled]
        if missing:
            raise InputError("--outcomes", "", "variables the model fills (see `dapsim indicators`)", ", ".join(missing))
    targets = outcome_targets(specs, year)
    d = len(keys)
    problem = {"num_vars": d, "names": keys, "bounds": [list(QUANTILE_RANGE)] * d}
    if method == "sobol":
        q = sobol_sample.sample(problem, samples, calc_second_order=False, seed=sample_seed)
        block = d + 2
    else:
        q = morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=sample_seed)
        block = d + 1
    reg = registry()
    values = np.column_stack([reg[k].prior.ppf(q[:, j], reg[k].value) for j, k in enumerate(keys)])
    simulator = TargetSimulator(horizon_to(scenario, year, "--year"), targets, scale,
                                None if components is None else tuple(components))
    results = evaluate_many(_Evaluate(simulator, tuple(keys), int(seed)), list(values), workers, scheduler, progress)
    y = np.full((len(values), len(targets)), np.nan)
    errors: list[str | None] = []
    for i, (ok, res) in enumerate(results):
        if ok:
            y[i] = res
            errors.append(None)
        else:
            errors.append(str(res))
    n_blocks = len(values) // block
    rows: list[dict] = []
    for j, spec in enumerate(specs):
        good = np.isfinite(y[:, j]).reshape(n_blocks, block).all(axis=1)
        keep = np.repeat(good, block)
        used, dropped = int(good.sum()), int((~good).sum())
        base = {"outcome": spec, "year": year, "blocks_used": used, "blocks_dropped": dropped}
        if used < 2:
            rows.extend({**base, "parameter": k, "note": "fewer than 2 complete blocks: no estimate"} for k in keys)
            continue
        yj = y[keep, j]
        constant = bool(np.ptp(yj) == 0)
        if method == "sobol":
            if constant:
                si = {"S1": np.zeros(d), "S1_conf": np.zeros(d), "ST": np.zeros(d), "ST_conf": np.zeros(d)}
            else:
                si = sobol_analyze.analyze(problem, yj, calc_second_order=False, seed=sample_seed)
            for i, k in enumerate(keys):
                rows.append({**base, "parameter": k, **{m: float(si[m][i]) for m in ("S1", "S1_conf", "ST", "ST_conf")},
                             "note": "outcome constant over the sample" if constant else ""})
        else:
            si = morris_analyze.analyze(problem, q[keep], yj, num_levels=MORRIS_LEVELS, seed=sample_seed)
            for i, k in enumerate(keys):
                rows.append({**base, "parameter": k,
                             **{m: float(si[m][i]) for m in ("mu", "mu_star", "sigma", "mu_star_conf")},
                             "note": "outcome constant over the sample" if constant else ""})
    attrs = {"title": f"dapsim sensitivity ({method}): {scenario.name}", "method": method, "samples": samples,
             "runs": len(values), "block_size": block, "seed": int(seed), "sample_seed": sample_seed, "year": year,
             "quantile_range": list(QUANTILE_RANGE), "scale_people_per_agent": scale if scale else "model default"}
    return SensitivityResult(method, rows, q, values, y, errors, keys, specs, year, block, attrs)


def write_outputs(result: SensitivityResult, out: Path) -> dict[str, Path]:
    """Write the indices table, the runs, the failures (always, even when empty) and the plot."""
    stem = f"sensitivity_{result.method}"
    cols = ["outcome", "year", "parameter"] + (["S1", "S1_conf", "ST", "ST_conf"] if result.method == "sobol" else
                                               ["mu", "mu_star", "sigma", "mu_star_conf"]) + \
        ["blocks_used", "blocks_dropped", "note"]
    paths = {"table": write_csv(out / f"{stem}.csv", cols, result.indices, float_format=None)}
    fail_rows = result.failures()
    paths["failures"] = write_csv(out / f"{stem}_failures.csv", ["run", "block", "error", *result.parameters], fail_rows,
                                  float_format=None)
    paths["runs"] = write_netcdf(result.runs_dataset(), out / f"{stem}_runs.nc")
    paths["plot"] = plot(result, out / f"{stem}.png")
    return paths


def plot(result: SensitivityResult, path: Path, top: int = 12) -> Path:
    """Sobol: total and first-order indices per outcome; Morris: mu* against sigma per outcome."""
    from ..viz.panels import panel_grid

    outcomes = result.outcome_names
    fig, axes = panel_grid(len(outcomes), 3, (5.2, 3.6))
    for ax, name in zip(axes.flat, outcomes):
        rows = [r for r in result.indices if r["outcome"] == name and (("ST" in r) or ("mu_star" in r))]
        title = f"{name}, {result.year}"
        dropped = rows[0]["blocks_dropped"] if rows else 0
        if dropped:
            title += f"\n({dropped} block(s) with failed runs left out)"
        ax.set_title(title, fontsize=9)
        if not rows:
            ax.text(0.5, 0.5, "no estimate (too many failed runs)", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        if result.method == "sobol":
            rows = sorted(rows, key=lambda r: r["ST"], reverse=True)[:top][::-1]
            ypos = np.arange(len(rows))
            ax.barh(ypos + 0.2, [r["ST"] for r in rows], 0.4, xerr=[r["ST_conf"] for r in rows], color="#9ecae1",
                    label="total (ST)")
            ax.barh(ypos - 0.2, [r["S1"] for r in rows], 0.4, xerr=[r["S1_conf"] for r in rows], color="#3182bd",
                    label="first order (S1)")
            ax.set_yticks(ypos, [r["parameter"] for r in rows], fontsize=7)
            ax.set_xlabel("Sobol index (share of outcome variance)")
            ax.axvline(0, color="grey", lw=0.5)
            ax.legend(fontsize=7, loc="lower right")
        else:
            mu = np.array([r["mu_star"] for r in rows])
            sg = np.array([r["sigma"] for r in rows])
            ax.scatter(mu, sg, s=18, color="#3182bd")
            for i in np.argsort(mu)[::-1][:8]:
                ax.annotate(rows[i]["parameter"], (mu[i], sg[i]), fontsize=6, xytext=(3, 2), textcoords="offset points")
            lim = max(float(mu.max()), float(sg.max()), 1e-12)
            ax.plot([0, lim], [0, lim], ls=":", color="grey", lw=0.8)
            ax.set_xlabel("mu* (mean |elementary effect| per unit prior quantile)")
            ax.set_ylabel("sigma (interaction / non-linearity)")
    n_failed = int(result.failed.sum())
    fig.suptitle(f"Sensitivity ({result.method}), {len(result.errors)} runs, {n_failed} failed", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return write_png(fig, path)
