"""The shared panel grid of the multi-panel figures (run, fan, validation, sensitivity)."""

import matplotlib.pyplot as plt
import pytest

from dapsim.viz.panels import panel_grid


@pytest.mark.parametrize("n, columns, shape", [(0, 3, (1, 1)), (1, 3, (1, 1)), (3, 3, (1, 3)), (5, 3, (2, 3)),
                                               (9, 4, (3, 4))])
def test_panel_grid_has_room_for_every_panel_and_hides_the_rest(n, columns, shape):
    fig, axes = panel_grid(n, columns, (4.0, 3.0))
    try:
        assert axes.shape == shape
        visible = [ax.axison for ax in axes.flat]
        assert visible == [True] * n + [False] * (axes.size - n)
        assert tuple(fig.get_size_inches()) == pytest.approx((4.0 * shape[1], 3.0 * shape[0]))
    finally:
        plt.close(fig)
