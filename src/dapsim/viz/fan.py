"""Fan charts: an ensemble's median with its 50% and 90% bands, one panel per indicator.

A fan chart shows what a single line hides: how wide the plausible range is. Each scenario is one colour;
the dark line is the median over parameter draws and seeds, the inner band the central 50% of runs, the
outer band the central 90%. The difference chart does the same for each scenario minus the reference,
paired by draw and seed (common random numbers), so its bands show the uncertainty of the *effect*, which
is usually much narrower than that of the levels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..storage import write_atomic
from .panels import panel_grid

COLOURS = ("#1f4e79", "#c0504d", "#4f9a55", "#8064a2", "#f79646", "#2c9fb0", "#7f7f7f", "#b5a642", "#d45fa0", "#5b5b9f")
RUN_DIMS = ("draw", "seed")


def _bands(da: xr.DataArray) -> dict[str, np.ndarray]:
    """Quantiles over the run dimensions (NaN runs, i.e. failed ones, are skipped)."""
    stacked = da.stack(run=[d for d in RUN_DIMS if d in da.dims])
    q = stacked.quantile([0.05, 0.25, 0.5, 0.75, 0.95], dim="run", skipna=True).values
    return {"p5": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4]}


def fan_figure(series: Sequence[tuple[str, str, xr.DataArray]], title: str, reference: str | None = None):
    """A grid of fan charts.

    Args:
        series: ``(label, units, values)`` per panel; ``values`` has dims ``(scenario, draw, seed, year)``.
        title: the figure title.
        reference: if given, plot each other scenario minus this one (paired) instead of the levels.

    Returns:
        The matplotlib figure.
    """
    fig, axes = panel_grid(len(series), 3, (4.3, 2.9))
    if not series:
        axes[0, 0].text(0.5, 0.5, "no indicator recorded by the model yet", ha="center", va="center")
    handles = {}
    for ax, (label, units, da) in zip(axes.flat, series):
        years = da["year"].values
        scenarios = [str(s) for s in da["scenario"].values]
        if reference is not None:
            da = da - da.sel(scenario=reference)
            ax.axhline(0, color="black", lw=0.8)
        for i, sc in enumerate(scenarios):
            if reference is not None and sc == reference:
                continue
            b = _bands(da.sel(scenario=sc))
            colour = COLOURS[i % len(COLOURS)]
            ax.fill_between(years, b["p5"], b["p95"], color=colour, alpha=0.15, lw=0)
            ax.fill_between(years, b["p25"], b["p75"], color=colour, alpha=0.3, lw=0)
            (line,) = ax.plot(years, b["p50"], color=colour, lw=1.8)
            handles[sc] = line
        ax.axvspan(2021, 2025.99, color="#f2c14e", alpha=0.12, lw=0)
        ax.set_title(label if reference is None else f"{label}: difference", fontsize=8.5)
        ax.set_ylabel(units, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=min(4, len(handles)),
                   fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    # fixed margins: tight_layout measures every tick label and costs seconds on a large grid
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.95 / fig.get_figheight(),
                        bottom=(0.75 if handles else 0.35) / fig.get_figheight(), wspace=0.32, hspace=0.55)
    return fig


def figure_png(fig) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    return buf.getvalue()


def write_png(data: bytes, path: str | Path) -> Path:
    """Write PNG bytes atomically."""
    return write_atomic(Path(path), lambda tmp: tmp.write_bytes(data))
