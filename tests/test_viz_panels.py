"""The shared panel grid of the multi-panel figures (run, fan, validation, sensitivity)."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from dapsim.viz.panels import panel_grid


@pytest.mark.parametrize("n, columns, shape", [(0, 3, (1, 1)), (1, 3, (1, 1)), (3, 3, (1, 3)), (5, 3, (2, 3)),
                                               (9, 4, (3, 4))])
def test_panel_grid_has_room_for_every_panel_and_hides_the_rest(n, columns, shape):
    fig, axes = panel_grid(n, columns, (4.0, 3.0))
    assert axes.shape == shape
    visible = [ax.axison for ax in axes.flat]
    assert visible == [True] * n + [False] * (axes.size - n)
    assert tuple(fig.get_size_inches()) == pytest.approx((4.0 * shape[1], 3.0 * shape[0]))


def test_drawing_leaves_the_callers_backend_and_pyplot_alone(tmp_path):
    """A notebook's inline backend must survive a dapsim figure, and no figure may pile up in pyplot."""
    from dapsim.viz.figures import indicator_panels

    before = matplotlib.get_backend()
    matplotlib.use("pdf")  # any backend other than Agg stands for the notebook's
    try:
        open_before = plt.get_fignums()
        yearly = xr.Dataset({"drug_induced_deaths": (("year",), np.array([5100.0, 5200.0, 5300.0]),
                                                      {"units": "deaths per year"})},
                            coords={"year": [2020, 2021, 2022]})
        path = indicator_panels(yearly, "test", tmp_path / "run.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.get_backend() == "pdf"
        assert plt.get_fignums() == open_before
    finally:
        matplotlib.use(before)
