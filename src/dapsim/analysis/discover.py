"""Scenario discovery: under which uncertainties and lever settings does an outcome cross a threshold? (PRIM)

Takes the result of ``dapsim explore`` (an ``xarray.Dataset`` with an ``experiment`` dimension: each
uncertainty and lever as a variable on ``experiment`` with attribute ``role`` = ``uncertainty`` or ``lever``,
outcomes on ``(experiment, year, ...)``) and runs the Patient Rule Induction Method of the EMA Workbench
(:class:`ema_workbench.analysis.prim.Prim`) on the cases of interest, e.g. experiments in which drug-induced
deaths in 2025 exceed 7 000.

Each box found is reported with its **coverage** (share of all cases of interest that fall in the box),
**density** (share of the experiments in the box that are cases of interest), **mass** (share of experiments
in the box) and the restricted dimensions with their limits. PRIM peels boxes until the density threshold is
met; the whole peeling trajectory is written too, so a reader can pick another coverage/density trade-off.

Failed experiments (``run_failed``, or a non-finite outcome) are left out explicitly and counted: they are
neither cases of interest nor counter-examples.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from ..storage import read_input_netcdf, write_csv, write_png

ROLES = ("uncertainty", "lever")


@dataclass
class Box:
    """One PRIM box at the point of its peeling trajectory that PRIM selected."""

    number: int
    coverage: float
    density: float
    mass: float
    mean: float
    res_dim: int
    limits: list[dict]
    trajectory: pd.DataFrame
    meets_threshold: bool


@dataclass
class DiscoveryResult:
    outcome: str
    threshold: float
    direction: str
    year: int | None
    n_experiments: int
    n_failed: int
    n_cases: int
    inputs: list[str]
    boxes: list[Box]
    density_threshold: float
    values: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))


def load_explore(path: str | Path) -> xr.Dataset:
    """Read an explore result; a file without an ``experiment`` dimension is an input error."""
    path = Path(path)
    ds = read_input_netcdf(path, "an explore result (NetCDF written by `dapsim explore`)")
    if "experiment" not in ds.dims:
        raise InputError(str(path), "", "a dataset with an experiment dimension (from `dapsim explore`)",
                         f"dims {dict(ds.sizes)}")
    return ds


def input_names(ds: xr.Dataset, source: str = "explore result") -> list[str]:
    """The uncertainties and levers: variables with ``role`` uncertainty/lever, else the dataset's lists."""
    names = [str(k) for k, v in ds.data_vars.items() if v.attrs.get("role") in ROLES and v.dims == ("experiment",)]
    if not names:
        for attr in ("uncertainties", "levers"):
            raw = ds.attrs.get(attr)
            listed = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else []
            names += [n for n in listed if n in ds and ds[n].dims == ("experiment",)]
    if not names:
        raise InputError(source, "", "uncertainty or lever variables on experiment (attribute role)", "none")
    return names


def outcome_values(ds: xr.Dataset, spec: str, year: int | None, source: str = "--outcome") -> tuple[np.ndarray, int | None]:
    """The outcome per experiment: ``VAR`` or ``VAR[dim=label,...]`` for ``year`` (default: the last year).

    Member States are summed (EU-27) unless selected, as are sexes and entry points; substance and age group
    must be selected for indicator variables (the calibration targets' rules). Non-additive units (fractions,
    prices) must be reduced to one value by selections.
    """
    import re

    from ..calibration.targets import ADDITIVE_UNITS

    m = re.match(r"^([A-Za-z0-9_.]+)(?:\[([^\]]*)\])?$", spec.strip())
    if not m:
        raise InputError(source, "", "VAR or VAR[dim=label,...]", repr(spec))
    name = m.group(1)
    if name not in ds:
        outs = ds.attrs.get("outcomes")
        raise InputError(source, "", f"an outcome variable of the explore result ({outs or 'see the file'})", repr(name))
    da = ds[name]
    if "experiment" not in da.dims:
        raise InputError(source, "", "a variable with an experiment dimension", f"{name} with dims {da.dims}")
    if "time" in da.dims:
        raise InputError(source, "", "an annual outcome (explore without monthly output)", f"{name} with a time dimension")
    for part in filter(None, (p.strip() for p in (m.group(2) or "").split(","))):
        dim, _, label = (s.strip() for s in part.partition("="))
        if dim not in da.dims or dim == "experiment":
            raise InputError(source, "", f"a dimension of {name} to select, one of {[d for d in da.dims if d != 'experiment']}",
                             repr(dim))
        labels = [str(v) for v in da[dim].values] if dim in da.coords else []
        if label not in labels:
            raise InputError(source, dim, f"one of {labels}", repr(label))
        da = da.isel({dim: labels.index(label)})
    chosen_year = None
    if "year" in da.dims:
        years = [int(y) for y in da["year"].values]
        chosen_year = years[-1] if year is None else int(year)
        if chosen_year not in years:
            raise InputError("--year", "", f"a year of the explore result ({years[0]}-{years[-1]})", str(year))
        da = da.sel(year=chosen_year)
    rest = [d for d in da.dims if d != "experiment"]
    for dim in ("substance", "age_group"):
        if dim in rest:
            raise InputError(source, "", f"a selection of {dim}, e.g. {name}[{dim}={da[dim].values[0]}]", repr(spec))
    if rest:
        if str(da.attrs.get("units", "")).removesuffix(" per year") not in ADDITIVE_UNITS:
            raise InputError(source, "", f"selections for {rest} ({name} is in {da.attrs.get('units')!r}, which does not add up)",
                             repr(spec))
        da = da.sum(rest, skipna=False)
    return np.asarray(da.transpose("experiment").values, dtype=float), chosen_year


def discover(ds: xr.Dataset, outcome: str, threshold: float, *, direction: str = "above", year: int | None = None,
             density_threshold: float = 0.8, peel_alpha: float = 0.05, max_boxes: int = 3,
             source: str = "explore result") -> DiscoveryResult:
    """Find boxes of uncertainty/lever space where ``outcome`` is ``above``/``below`` ``threshold`` (PRIM)."""
    from ema_workbench.analysis import prim

    if direction not in ("above", "below"):
        raise InputError("--direction", "", "above or below", repr(direction))
    if not 0 < density_threshold <= 1:
        raise InputError("--density", "", "a density threshold in (0, 1]", str(density_threshold))
    if not 0 < peel_alpha < 0.5:
        raise InputError("--peel-alpha", "", "a peeling fraction in (0, 0.5)", str(peel_alpha))
    names = input_names(ds, source)
    y_val, chosen_year = outcome_values(ds, outcome, year)
    failed = ~np.isfinite(y_val)
    if "run_failed" in ds:
        failed |= np.asarray(ds["run_failed"].values, dtype=bool)
    x = pd.DataFrame({n: ds[n].values for n in names})
    for n in names:
        if x[n].dtype.kind in "OSU":
            x[n] = x[n].astype("category")
        elif x[n].dtype.kind in "iub":
            x[n] = x[n].astype(np.int64)
        else:
            x[n] = x[n].astype(np.float64)
    keep = ~failed
    x = x.loc[keep].reset_index(drop=True)
    y = (y_val[keep] >= threshold) if direction == "above" else (y_val[keep] <= threshold)
    n_cases = int(y.sum())
    if n_cases == 0 or n_cases == y.size:
        raise InputError("--threshold", "", "a threshold with some but not all experiments as cases of interest",
                         f"{n_cases} of {y.size} experiments {direction} {threshold:g}")
    constant = [n for n in names if x[n].nunique() < 2]
    x = x.drop(columns=constant)
    if x.shape[1] == 0:
        raise InputError(source, "", "at least one uncertainty or lever that varies", "none varies")
    logging.getLogger("EMA").setLevel(logging.WARNING)
    p = prim.Prim(x, y, threshold=density_threshold, peel_alpha=peel_alpha)
    boxes: list[Box] = []
    for number in range(1, max_boxes + 1):
        box = p.find_box()
        if box is None:
            break
        ok = bool(box.mean >= density_threshold)
        lim = box.box_lim
        limits = []
        for col in x.columns:
            lo, hi = lim[col].iloc[0], lim[col].iloc[1]
            init_lo, init_hi = p.box_init[col].iloc[0], p.box_init[col].iloc[1]
            if isinstance(lo, set) or isinstance(init_lo, set):
                if set(lo) != set(init_lo):
                    limits.append({"dimension": col, "lower": "", "upper": "", "values": sorted(map(str, lo)),
                                   "initial_lower": "", "initial_upper": ""})
            elif (lo, hi) != (init_lo, init_hi):
                limits.append({"dimension": col, "lower": float(lo), "upper": float(hi), "values": "",
                               "initial_lower": float(init_lo), "initial_upper": float(init_hi)})
        boxes.append(Box(number, float(box.coverage), float(box.density), float(box.mass), float(box.mean),
                         int(box.res_dim), limits, box.peeling_trajectory.copy(), ok))
        if not ok:
            break
    return DiscoveryResult(outcome, float(threshold), direction, chosen_year, int(y_val.size), int(failed.sum()),
                           n_cases, list(x.columns), boxes, density_threshold, y_val)


def write_outputs(result: DiscoveryResult, out: Path) -> dict[str, Path]:
    """Boxes table, peeling trajectories and the plot."""
    import re

    stem = "discover_" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", result.outcome).strip("_")
    box_rows = []
    for b in result.boxes:
        base = {"box": b.number, "coverage": b.coverage, "density": b.density, "mass": b.mass, "mean": b.mean,
                "res_dim": b.res_dim, "meets_density_threshold": b.meets_threshold}
        if not b.limits:
            box_rows.append({**base, "dimension": ""})
        for lim in b.limits:
            box_rows.append({**base, **lim, "values": ";".join(lim["values"]) if lim["values"] else ""})
    cols = ["box", "coverage", "density", "mass", "mean", "res_dim", "meets_density_threshold", "dimension", "lower",
            "upper", "values", "initial_lower", "initial_upper"]
    paths = {"boxes": write_csv(out / f"{stem}_boxes.csv", cols, box_rows)}
    traj = []
    for b in result.boxes:
        for _, r in b.trajectory.iterrows():
            traj.append({"box": b.number, **{k: r[k] for k in ("id", "coverage", "density", "mass", "res_dim", "n", "k")}})
    paths["trajectory"] = write_csv(out / f"{stem}_trajectory.csv", ["box", "id", "coverage", "density", "mass",
                                                                      "res_dim", "n", "k"], traj)
    paths["plot"] = plot(result, out / f"{stem}.png")
    return paths


def plot(result: DiscoveryResult, path: Path) -> Path:
    """Left: coverage/density trade-off of each box's peeling; right: the first box's limits on each dimension."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    shown = [b for b in result.boxes if b.meets_threshold] or result.boxes[:1]
    vmax = max([1] + [int(b.trajectory["res_dim"].max()) for b in shown])
    markers = "o^sD"
    for b in shown:
        t = b.trajectory
        sc = ax1.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", vmin=0, vmax=vmax, s=14,
                         marker=markers[(b.number - 1) % len(markers)], label=f"box {b.number}")
        ax1.scatter([b.coverage], [b.density], facecolors="none", edgecolors="red", s=80)
    if shown:
        bar = fig.colorbar(sc, ax=ax1, label="restricted dimensions")
        bar.set_ticks(range(0, vmax + 1))
    ax1.axhline(result.density_threshold, color="grey", ls=":", lw=0.8)
    ax1.set_xlabel("coverage (share of cases of interest in the box)")
    ax1.set_ylabel("density (share of the box that are cases)")
    ax1.set_xlim(0, 1.05)
    ax1.set_ylim(0, 1.05)
    ax1.legend(fontsize=8, loc="lower left")
    ax1.set_title("PRIM peeling trajectory (red: selected box)", fontsize=9)
    first = result.boxes[0] if result.boxes else None
    lims = [lim for lim in (first.limits if first else []) if lim["values"] == ""]
    if lims:
        for i, lim in enumerate(lims):
            span = lim["initial_upper"] - lim["initial_lower"] or 1.0
            lo = (lim["lower"] - lim["initial_lower"]) / span
            hi = (lim["upper"] - lim["initial_lower"]) / span
            ax2.plot([0, 1], [i, i], color="lightgrey", lw=6, solid_capstyle="butt")
            ax2.plot([lo, hi], [i, i], color="#3182bd", lw=6, solid_capstyle="butt")
            ax2.text(lo, i + 0.25, f"{lim['lower']:.3g}", fontsize=7, ha="left")
            ax2.text(hi, i + 0.25, f"{lim['upper']:.3g}", fontsize=7, ha="right")
        ax2.set_yticks(range(len(lims)), [lim["dimension"] for lim in lims], fontsize=8)
        ax2.set_xlim(-0.02, 1.02)
        ax2.set_ylim(-0.6, len(lims) - 0.3)
        ax2.set_xlabel("share of the sampled range")
        ax2.set_title(f"box 1: coverage {first.coverage:.2f}, density {first.density:.2f}", fontsize=9)
    else:
        ax2.text(0.5, 0.5, "no numeric restriction in box 1", ha="center", va="center", transform=ax2.transAxes)
        ax2.set_axis_off()
    when = f" in {result.year}" if result.year is not None else ""
    fig.suptitle(f"Scenario discovery: {result.outcome}{when} {result.direction} {result.threshold:g} "
                 f"({result.n_cases} of {result.n_experiments - result.n_failed} experiments; "
                 f"{result.n_failed} failed left out)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return write_png(fig, path)


def describe(result: DiscoveryResult) -> list[str]:
    """Lines for the terminal."""
    lines = [f"{result.n_cases} of {result.n_experiments - result.n_failed} experiments have {result.outcome}"
             f"{' in ' + str(result.year) if result.year is not None else ''} {result.direction} {result.threshold:g}"
             f" ({result.n_failed} failed runs left out)"]
    for b in result.boxes:
        flag = "" if b.meets_threshold else " (no box meets the density threshold: remaining experiments)"
        lines.append(f"box {b.number}: coverage {b.coverage:.2f}, density {b.density:.2f}, mass {b.mass:.2f}{flag}")
        for lim in b.limits:
            if lim["values"]:
                lines.append(f"    {lim['dimension']} in {{{', '.join(lim['values'])}}}")
            else:
                lines.append(f"    {lim['lower']:.4g} <= {lim['dimension']} <= {lim['upper']:.4g}"
                             f"   (sampled {lim['initial_lower']:.4g}-{lim['initial_upper']:.4g})")
    if not any(math.isfinite(b.coverage) for b in result.boxes):
        lines.append("no box found")
    return lines
