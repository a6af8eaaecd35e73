"""Execute every teaching notebook in ``notebooks/``: one test per notebook, failing on any cell's error.

The notebooks are stored without outputs; this test is what proves they still run against the current code.
Each runs in a fresh kernel on the interpreter running the tests (Jupyter's native ``python3`` kernel, which
``ipykernel`` provides and ``jupyter_client`` starts with ``sys.executable``), with the notebook's own folder as
the working directory, as in Jupyter. Nothing is written back: the executed copy lives only in memory, so the
repository stays free of outputs. The notebooks write their files to temporary folders only.

Environment: ``DAPSIM_NOTEBOOK_CELL_TIMEOUT`` (seconds, default 300) bounds each cell.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
pytest.importorskip("ipykernel", reason="the notebooks need an IPython kernel")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("DAPSIM_NOTEBOOK_CELL_TIMEOUT", "300"))


def test_notebooks_exist_and_are_stored_without_outputs():
    """The six teaching notebooks are there, and none carries outputs (small repository, readable diffs)."""
    assert len(NOTEBOOKS) >= 6, f"expected the six teaching notebooks in {NOTEBOOKS_DIR}, found {NOTEBOOKS}"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
        assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before saving"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path):
    """The notebook runs top to bottom in a fresh kernel without an error."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised an error:\n{exc}", pytrace=False)
    except nbclient.exceptions.CellTimeoutError as exc:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT} s:\n{exc}", pytrace=False)
    seconds = time.perf_counter() - start
    print(f"{path.name}: executed in {seconds:.1f} s")
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")
