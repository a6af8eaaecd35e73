"""A grid of small panels, one per series: the layout every multi-panel figure of dapsim shares."""

from __future__ import annotations

import math


def panel_grid(n: int, columns: int, panel_size: tuple[float, float]):
    """A figure with room for ``n`` panels, at most ``columns`` to a row, the cells past ``n`` hidden.

    The figure grows with the number of panels (``panel_size`` inches each, width by height) so that a run with
    more indicators or outcomes stays readable; ``n`` of 0 gives one empty cell for a message rather than an error.

    Returns:
        ``(figure, axes)`` with ``axes`` a 2-D array (``squeeze=False``), so ``axes.flat`` walks the panels in order.
        The figure is made with matplotlib's object API, outside pyplot: nothing changes the backend of the
        caller's session (a notebook keeps its inline figures) and nothing needs closing.
    """
    from matplotlib.figure import Figure

    cols = min(columns, max(n, 1))
    rows = math.ceil(max(n, 1) / cols)
    width, height = panel_size
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, axes
