"""Writing results: atomically, so a crash or a bad path never leaves a half-written file."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import xarray as xr

from .errors import InputError


def prepare_output_dir(path: str | Path, option: str = "--out") -> Path:
    """Create the output folder and check it is writable; bad paths are input errors."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(option, "", "a folder that can be created", f"{str(path)!r} ({exc.strerror or exc})") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(option, "", "a writable folder", f"{str(path)!r}, which is not writable")
    return folder


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; results are for sharing like any other file
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a dataset as NetCDF-4 (h5netcdf engine), atomically."""
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def read_netcdf(path: str | Path) -> xr.Dataset:
    """Read a dataset written by :func:`write_netcdf` fully into memory."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def read_input_netcdf(path: str | Path, expected: str) -> xr.Dataset:
    """Read a NetCDF file the user named; a missing or unreadable file is one :class:`InputError` line.

    Args:
        path: the file.
        expected: what the file should be, for the message ("an explore result (NetCDF written by ...)").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", expected, "no such file")
    try:
        return read_netcdf(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(str(path), "", "a NetCDF file", f"an unreadable file ({type(exc).__name__})") from None


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Mapping], float_format: str | None = ".6g") -> Path:
    """Write ``rows`` (dicts; keys outside ``columns`` are ignored) as a CSV table, atomically.

    Floats are printed with ``float_format`` (six significant figures by default, so a table stays readable
    and diffs stay quiet); ``None`` prints them in full.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: (format(v, float_format) if float_format and isinstance(v, float) else v)
                            for k, v in r.items()})

    return write_atomic(path, write)


def write_png(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG, atomically.

    dapsim draws with matplotlib's object API (``matplotlib.figure.Figure``), outside pyplot, so a figure is
    freed with its last reference and a long session leaks nothing.
    """
    return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))

