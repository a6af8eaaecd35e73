"""Writing results: atomically, so a crash or a bad path never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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
