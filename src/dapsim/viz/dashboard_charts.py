"""The dashboard's indicator charts: the user's scenario against the baseline, EU-27, by calendar year.

Each figure is drawn with matplotlib's object API (thread-safe, no pyplot state) and returned as PNG bytes;
a chart whose variables the run does not contain is left out rather than drawn empty.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..indicators import INDICATORS
from ..levers import LEVERS
from ..report import HEADLINES, Headline, format_number
from ..scenario import Scenario
from .dashboard_runs import lever_eu_path
from .network_views import png_bytes

SCENARIO_COLOUR = "#1f4e79"
BASELINE_COLOUR = "#9a9a9a"
PLAN_SHADE = "#f2c14e"


def _axis_units(h: Headline) -> str:
    """Axis label: the headline's units, 'per year' for flows summed over the year."""
    var = INDICATORS.get(h.variable)
    if h.per is None and not h.mean and var is not None and var.aggregation == "sum" and h.units not in ("share",):
        return f"{h.units} per year"
    return h.units


def available_headlines(yearly: xr.Dataset) -> list[Headline]:
    """Headline rows whose variables the run recorded (with at least one finite value)."""
    rows = []
    for h in HEADLINES:
        if not h.available(yearly) or "year" not in yearly.coords:
            continue
        try:
            values = h.values(yearly)
        except (KeyError, ValueError):
            continue
        if np.isfinite(values.values).any():
            rows.append(h)
    return rows


def _years(yearly: xr.Dataset) -> list[int]:
    return [int(y) for y in yearly["year"].values] if "year" in yearly.coords else []


KEY_HEADLINES: tuple[str, ...] = (
    "Drug-induced deaths", "Non-fatal overdoses", "New HIV infections, people who inject",
    "New HCV infections, people who inject", "High-risk opioid users", "OAT clients",
    "Take-home naloxone kits distributed", "Cannabis users, last year (15-64)", "Cocaine seized",
    "Groups dismantled", "Violent incidents", "Programme cost of the levers",
)
"""The headlines shown by default: the health outcomes the harm-reduction levers act on, and the main supply-side
and cost figures (the full list is one click away)."""


def _grid(n: int, columns: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of small panels and fixed margins (a layout engine is slow for dozens of panels)."""
    cols = min(columns, n)
    nrows = math.ceil(n / cols)
    fig_h = height * nrows + 0.7
    fig = Figure(figsize=(width * cols, fig_h))
    axes = fig.subplots(nrows, cols, squeeze=False)
    fig.subplots_adjust(left=0.75 / (width * cols), right=1 - 0.15 / (width * cols), top=1 - 0.65 / fig_h,
                        bottom=0.45 / fig_h, hspace=0.62, wspace=0.32)
    return fig, axes


def headline_figure(yearly: xr.Dataset, baseline: xr.Dataset, title: str, columns: int = 4,
                    only: tuple[str, ...] | None = None) -> bytes | None:
    """Small multiples of the headline indicators, scenario (solid) against baseline (dashed).

    Args:
        only: labels of the headlines to draw, in this order (those the run records); all recorded headlines, in
            the order of the Plan's indicators, when None.
    """
    rows = available_headlines(yearly)
    if only is not None:  # in the order asked for
        rows = sorted((h for h in rows if h.label in only), key=lambda h: only.index(h.label))
    if not rows or not _years(yearly):
        return None
    n = len(rows)
    fig, axes = _grid(n, columns, 3.5, 2.45)
    for ax in axes.flat[n:]:
        ax.axis("off")
    years = _years(yearly)
    base_years = _years(baseline)
    for ax, h in zip(axes.flat, rows):
        ax.axvspan(2021, 2025.99, color=PLAN_SHADE, alpha=0.18, lw=0)
        if h.available(baseline) and base_years:
            ax.plot(base_years, h.values(baseline).values, color=BASELINE_COLOUR, lw=1.6, ls="--", label="baseline",
                    zorder=3)
        ax.plot(years, h.values(yearly).values, color=SCENARIO_COLOUR, lw=1.8, label="your scenario")
        ax.set_title(f"[{h.indicator or '–'}] {h.label}", fontsize=8.5)
        ax.set_ylabel(_axis_units(h), fontsize=8)
        ax.set_xlabel("year", fontsize=7.5)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Indicators: {title} — EU-27 (solid: your scenario, dashed: baseline, same seed; "
                 "shaded: Action Plan 2021-2025)", fontsize=10)
    return png_bytes(fig)


def lever_keys(scenario: Scenario, baseline: Scenario, always: tuple[str, ...]) -> list[str]:
    """The levers to draw: the dashboard's own, plus every other lever the scenario moves."""
    keys = list(always)
    for key in LEVERS:
        if key in keys:
            continue
        if not np.allclose(scenario.lever_schedule(key), baseline.lever_schedule(key, scenario.months)):
            keys.append(key)
    return keys


def lever_figure(scenario: Scenario, baseline: Scenario, keys: list[str], columns: int = 4) -> bytes | None:
    """The lever schedules (EU-27 population-weighted mean per month), scenario against baseline."""
    if not keys:
        return None
    months = scenario.months
    x = months.astype("datetime64[M]").astype(int) / 12 + 1970
    fig, axes = _grid(len(keys), columns, 3.5, 2.3)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    base = baseline if np.array_equal(baseline.months, months) else None
    for ax, key in zip(axes.flat, keys):
        spec = LEVERS[key]
        ax.axvspan(2021, 2026, color=PLAN_SHADE, alpha=0.18, lw=0)
        if base is not None:
            ax.plot(x, lever_eu_path(base, key), color=BASELINE_COLOUR, lw=1.6, ls="--", zorder=3)
        ax.plot(x, lever_eu_path(scenario, key), color=SCENARIO_COLOUR, lw=1.8)
        ax.set_title(spec.title if len(spec.title) <= 42 else spec.title[:40] + "…", fontsize=8.5)
        ax.set_ylabel(spec.symbol, fontsize=8)
        ax.set_xlabel("year", fontsize=7.5)
        ax.set_ylim(spec.min, spec.max)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle("Lever settings — EU-27 average weighted by population aged 15-64 "
                 "(solid: your scenario, dashed: baseline)", fontsize=10)
    return png_bytes(fig)


def difference_rows(yearly: xr.Dataset, baseline: xr.Dataset, years: list[int]) -> list[dict]:
    """Per headline and year: baseline, scenario, difference and relative difference."""
    rows = []
    for h in available_headlines(yearly):
        if not h.available(baseline):
            continue
        scen = h.values(yearly)
        base = h.values(baseline)
        for y in years:
            if y not in scen["year"].values or y not in base["year"].values:
                continue
            s, b = float(scen.sel(year=y)), float(base.sel(year=y))
            rel = (s - b) / abs(b) if b not in (0.0,) and np.isfinite(b) else np.nan
            rows.append({"label": h.label, "indicator": h.indicator, "units": _axis_units(h), "year": y,
                         "baseline": b, "scenario": s, "difference": s - b, "relative": rel})
    return rows


def fmt(value: float) -> str:
    """A number as a reader wants it (see :func:`dapsim.report.format_number`)."""
    return format_number(value, small=".3f")


def difference_markdown(rows: list[dict]) -> str:
    """The difference table as Markdown: one line per indicator, baseline / scenario / change for each year."""
    if not rows:
        return ""
    years = sorted({r["year"] for r in rows})
    by_label: dict[str, dict] = {}
    for r in rows:
        by_label.setdefault(r["label"], {"indicator": r["indicator"], "units": r["units"]})[r["year"]] = r
    head = "| indicator | units | " + " | ".join(f"{y} baseline | {y} your scenario | {y} change" for y in years) + " |"
    rule = "|---|---|" + "---:|---:|---:|" * len(years)
    lines = [head, rule]
    for label, entry in by_label.items():
        cells = []
        for y in years:
            r = entry.get(y)
            if r is None:
                cells += ["–", "–", "–"]
                continue
            if np.isfinite(r["relative"]):
                change = f"{100 * r['relative']:+.1f}%"
            else:
                change = ("+" if r["difference"] > 0 else "") + fmt(r["difference"])
            cells += [fmt(r["baseline"]), fmt(r["scenario"]), change]
        lines.append(f"| [{entry['indicator'] or '–'}] {label} | {entry['units']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
