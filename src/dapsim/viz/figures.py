"""Matplotlib figures of a run."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ..report import headline_table
from ..storage import write_png
from .panels import panel_grid


def indicator_panels(yearly: xr.Dataset, title: str, path: str | Path) -> Path:
    """One small panel per headline indicator, EU-27 yearly values over the horizon; written atomically."""
    years = [int(y) for y in yearly["year"].values] if "year" in yearly.coords else []
    rows = headline_table(yearly, years)
    fig, axes = panel_grid(len(rows), 4, (3.6, 2.5))
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no indicators recorded", ha="center", va="center")
    for ax, (h, values) in zip(axes.flat, rows):
        ax.plot(years, values, color="#1f4e79", lw=1.8)
        ax.axvspan(2021, 2025.99, color="#f2c14e", alpha=0.15, lw=0)  # the Plan's period
        ax.set_title(f"{h.label}", fontsize=8.5)
        ax.set_ylabel(h.units, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{title} (EU-27; shaded: Action Plan 2021-2025)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.5 * axes.shape[0])))
    return write_png(fig, path, dpi=110)
