"""Out-of-sample validation: fit on the years up to a cut-off, predict the years after it.

``dapsim validate --cutoff 2019`` calibrates with only the targets of 2019 and earlier, then runs the model for
posterior draws (resampled by weight, one seed each) over every target year and compares the posterior
predictive distribution with each target. The table has one row per target with the set it belongs to
(``fit`` or ``test``), the observation and its range, the predictive median and 90% interval, the error of
the median (absolute, relative and standardised as in the calibration distance), and whether the median
falls inside the target's range. The plot shows each series: observations with their ranges, the predictive
median and 90% band, and the cut-off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputError
from ..scenario import Scenario
from ..storage import write_csv, write_png
from .posterior import resample
from .simulator import TargetSimulator, evaluate_many, filled_variables, horizon_to
from .targets import TargetSet

TABLE_COLUMNS = ("id", "series", "variable", "geography", "year", "set", "observed", "lower", "upper", "sim_median",
                 "sim_q05", "sim_q95", "error", "relative_error", "z", "median_in_range", "observed_in_90pct",
                 "draws_ok", "draws_failed", "source_url")


@dataclass
class _Predict:
    """One posterior draw -> statistics for every target; picklable."""

    simulator: TargetSimulator

    def __call__(self, item: tuple[dict, int]) -> np.ndarray:
        values, seed = item
        return self.simulator.vector(values, seed)


def posterior_predictive(posterior: xr.Dataset, targets: TargetSet, scenario: Scenario, *, draws: int = 50,
                         scale: float | None = None, workers: int = 1, scheduler=None,
                         components: Sequence[type] | None = None, seed: int = 0,
                         progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[str]]:
    """Simulated statistics ``[draw, target]`` for ``draws`` posterior draws (failed draws are NaN rows),
    and the error of each failed draw."""
    idx = resample(posterior["weight"].values, draws, seed)
    keys = [str(k) for k in posterior.data_vars]
    items = [({k: float(posterior[k].values[i]) for k in keys}, int(seed + j)) for j, i in enumerate(idx)]
    sim = TargetSimulator(horizon_to(scenario, targets.last_year), targets, scale,
                          None if components is None else tuple(components))
    results = evaluate_many(_Predict(sim), items, workers, scheduler, progress)
    out = np.full((draws, len(targets)), np.nan)
    errors = []
    for j, (ok, res) in enumerate(results):
        if ok:
            out[j] = res
        else:
            errors.append(str(res))
    return out, errors


def validation_table(targets: TargetSet, predictive: np.ndarray, cutoff: int) -> list[dict]:
    """One row per target: observed against the posterior predictive (see the module docstring)."""
    rows = []
    for j, t in enumerate(targets):
        col = predictive[:, j]
        ok = col[np.isfinite(col)]
        if ok.size:
            q05, med, q95 = (float(v) for v in np.quantile(ok, [0.05, 0.5, 0.95]))
        else:
            q05 = med = q95 = math.nan
        rows.append({
            "id": t.id, "series": t.series, "variable": t.variable, "geography": t.geography, "year": t.year,
            "set": "fit" if t.year <= cutoff else "test", "observed": t.value, "lower": t.lower, "upper": t.upper,
            "sim_median": med, "sim_q05": q05, "sim_q95": q95, "error": med - t.value,
            "relative_error": (med - t.value) / t.value if t.value else math.nan,
            "z": float(t.z(med)) if math.isfinite(med) else math.nan,
            "median_in_range": bool(t.lower <= med <= t.upper) if math.isfinite(med) else False,
            "observed_in_90pct": bool(q05 <= t.value <= q95) if math.isfinite(med) else False,
            "draws_ok": int(ok.size), "draws_failed": int(col.size - ok.size), "source_url": t.source_url,
        })
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Per series and set: number of targets, mean absolute relative error, RMS z, share of medians in range."""
    out = []
    keys = sorted({(r["series"], r["set"]) for r in rows})
    for series, which in keys:
        sel = [r for r in rows if r["series"] == series and r["set"] == which and math.isfinite(r["sim_median"])]
        n_all = sum(1 for r in rows if r["series"] == series and r["set"] == which)
        out.append({"series": series, "set": which, "targets": n_all,
                    "mean_abs_relative_error": float(np.mean([abs(r["relative_error"]) for r in sel])) if sel else math.nan,
                    "rms_z": float(np.sqrt(np.mean([r["z"] ** 2 for r in sel]))) if sel else math.nan,
                    "share_in_range": float(np.mean([r["median_in_range"] for r in sel])) if sel else math.nan})
    return out


def split(targets: TargetSet, cutoff: int, components: Sequence[type] | None = None) -> tuple[TargetSet, TargetSet]:
    """(fitting targets, all usable targets) for a cut-off; errors if either side is empty."""
    usable, _ = targets.split_by_variables(filled_variables(components))
    fit, test = usable.up_to(cutoff), usable.after(cutoff)
    if not len(fit):
        raise InputError("--cutoff", "", f"a year with computable targets up to it (first is {usable.first_year if len(usable) else 'none'})",
                         str(cutoff))
    if not len(test):
        raise InputError("--cutoff", "", "a year before the last computable target "
                         f"({usable.last_year if len(usable) else 'none'})", str(cutoff))
    return fit, usable


def write_table(rows: list[dict], path: Path, columns: Sequence[str] = TABLE_COLUMNS) -> Path:
    return write_csv(path, columns, rows)


def plot(rows: list[dict], targets: TargetSet, predictive: np.ndarray, cutoff: int, path: Path) -> Path:
    """Observed (with ranges) against the posterior predictive median and 90% band, one panel per series."""
    from ..viz.panels import panel_grid

    series = list(dict.fromkeys(t.series for t in targets))
    fig, axes = panel_grid(len(series), 3, (5.0, 3.3))
    for ax, name in zip(axes.flat, series):
        idx = [j for j, t in enumerate(targets) if t.series == name]
        ts = [targets[j] for j in idx]
        years = np.array([t.year for t in ts])
        order = np.argsort(years)
        obs = np.array([t.value for t in ts])
        lo = np.array([t.value - t.lower for t in ts])
        hi = np.array([t.upper - t.value for t in ts])
        pred = predictive[:, idx]
        with np.errstate(all="ignore"):
            q = np.nanquantile(pred, [0.05, 0.5, 0.95], axis=0) if np.isfinite(pred).any() else np.full((3, len(idx)), np.nan)
        ax.fill_between(years[order], q[0][order], q[2][order], color="#9ecae1", alpha=0.6, label="simulated 90%")
        ax.plot(years[order], q[1][order], color="#08519c", marker=".", label="simulated median")
        fit = years <= cutoff
        ax.errorbar(years[fit], obs[fit], yerr=[lo[fit], hi[fit]], fmt="o", color="black", ms=4, capsize=2,
                    label="observed (fit)")
        ax.errorbar(years[~fit], obs[~fit], yerr=[lo[~fit], hi[~fit]], fmt="o", mfc="white", color="#d62728", ms=4,
                    capsize=2, label="observed (held out)")
        ax.axvline(cutoff + 0.5, color="grey", ls="--", lw=0.8)
        ax.set_title(name.replace("|", ", "), fontsize=9)
        ax.set_ylabel(ts[0].unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks(sorted(set(years.tolist())))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(f"Out-of-sample validation: fitted on years up to {cutoff}", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return write_png(fig, path)
