"""The calibrated posterior: weighted parameter draws in a NetCDF file.

Layout of ``calibration/posterior.nc`` (written by ``dapsim calibrate``)::

    dimensions:  draw
    coordinates: draw (0..n-1), weight(draw)  -- importance weights of the last ABC-SMC generation, sum 1
                 (equal weights when separately calibrated blocks were joined in: ``calibrate --join``)
    variables:   one per calibrated parameter, named by its registry key (``overdose.base_hazard_heroin``),
                 dims (draw,), attrs unit / prior / prior_median
    attributes:  how it was made (targets, particles, generations, epsilons, run time, history database)

The shipped posterior is the default of every ensemble: ``dapsim.run_ensemble(..., draws=20)`` and
``dapsim compare`` resample it by weight (:func:`load_posterior`) when it exists and fall back to the priors
only when it does not. Parameters the calibration did not vary keep their registry point values, as they did
in every simulation the calibration accepted. To sample the priors instead, pass
``draws=dapsim.ensemble.prior_draws(20)`` (``dapsim compare --priors``)::

    from dapsim.calibration.posterior import load_posterior
    draws = load_posterior(n=20)          # DataArray parameter_value[draw, parameter], or None if none shipped
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import InputError
from ..storage import read_input_netcdf, write_netcdf

DEFAULT_POSTERIOR = "calibration/posterior.nc"
"""Where the shipped posterior lives (relative to the repository root)."""

_REPOSITORY = Path(__file__).resolve().parents[3]
"""The checkout this package was installed from in development mode (``pip install -e .``)."""


def shipped_posterior() -> Path | None:
    """The shipped posterior, if there is one: ``calibration/posterior.nc`` in the working directory, else in
    the checkout the package runs from. ``None`` when neither exists (an installed wheel without the repository)."""
    for candidate in (Path(DEFAULT_POSTERIOR), _REPOSITORY / DEFAULT_POSTERIOR):
        if candidate.is_file():
            return candidate
    return None


def posterior_dataset(values: Mapping[str, np.ndarray], weights: np.ndarray, attrs: Mapping[str, object] | None = None
                      ) -> xr.Dataset:
    """Build the posterior dataset from particle values (one array per parameter key) and weights."""
    from .simulator import registry

    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
        raise ValueError("posterior weights must be a non-empty vector of non-negative finite numbers")
    weights = weights / weights.sum()
    reg = registry()
    data_vars = {}
    for key, col in values.items():
        col = np.asarray(col, dtype=float)
        if col.shape != weights.shape:
            raise ValueError(f"{key}: expected {weights.size} draws, got shape {col.shape}")
        p = reg.get(key)
        var_attrs = {"long_name": key}
        if p is not None:
            frozen = p.prior.frozen()
            var_attrs.update({"units": p.unit, "prior": p.prior.describe(), "registry_value": p.value,
                              "prior_median": float(frozen.median()) if frozen is not None else p.value})
        data_vars[key] = xr.Variable(("draw",), col, attrs=var_attrs)
    ds = xr.Dataset(data_vars, coords={"draw": np.arange(weights.size),
                                       "weight": ("draw", weights, {"long_name": "importance weight of the draw"})})
    ds.attrs.update({k: (json.dumps(v, sort_keys=True) if isinstance(v, dict | list | tuple) else v)
                     for k, v in (attrs or {}).items()})
    return ds


def write_posterior(ds: xr.Dataset, path: str | Path = DEFAULT_POSTERIOR) -> Path:
    """Write atomically (a crash never leaves half a posterior)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_netcdf(ds, path)


def read_posterior(path: str | Path = DEFAULT_POSTERIOR) -> xr.Dataset:
    """Read and check a posterior file; a malformed one is an :class:`InputError`."""
    path = Path(path)
    ds = read_input_netcdf(path, "a posterior NetCDF file written by `dapsim calibrate`")
    if "draw" not in ds.dims or ds.sizes["draw"] < 1:
        raise InputError(str(path), "draw", "a draw dimension with at least one draw", f"dims {dict(ds.sizes)}")
    for key, da in ds.data_vars.items():
        if da.dims != ("draw",):
            raise InputError(str(path), str(key), "a parameter variable with the single dimension draw", f"dims {da.dims}")
    if "weight" not in ds.coords:
        ds = ds.assign_coords(weight=("draw", np.full(ds.sizes["draw"], 1.0 / ds.sizes["draw"])))
    return ds


def resample(weights: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` draws by systematic resampling (low variance; the same seed gives the same draws)."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    u = (np.random.default_rng(seed).random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), u), w.size - 1)


def load_posterior(path: str | Path | None = None, n: int | None = None, seed: int = 0,
                   required: bool = False) -> xr.DataArray | None:
    """Posterior draws that :func:`dapsim.run_ensemble` takes as ``draws=``.

    Args:
        path: the posterior file (default: :func:`shipped_posterior`).
        n: number of equally weighted draws, resampled by weight; ``None`` = as many as there are particles.
        seed: resampling seed (fixed, so every machine picks the same draws).
        required: raise instead of returning ``None`` when the file does not exist.

    Returns:
        ``parameter_value[draw, parameter]``, or ``None`` when no posterior exists (and ``required`` is false).
        Parameters no longer in the registry (the model changed since calibration) or whose values fall
        outside their current prior's support are left out with a warning, so they keep registry values.
    """
    from .simulator import registry

    target = Path(path) if path is not None else (shipped_posterior() or Path(DEFAULT_POSTERIOR))
    if not target.is_file() and not required and path is None:
        return None
    ds = read_posterior(target)
    n = ds.sizes["draw"] if n is None else int(n)
    if n < 1:
        raise InputError("n", "", "a number of draws >= 1", str(n))
    idx = resample(ds["weight"].values, n, seed)
    reg = registry()
    keys, stale = [], []
    for key in ds.data_vars:
        p = reg.get(str(key))
        col = ds[key].values
        if p is None:
            stale.append(f"{key} (not in the registry)")
            continue
        lo, hi = p.prior.support()
        if not np.all(np.isfinite(col)) or col.min() < lo or col.max() > hi:
            stale.append(f"{key} (outside its prior's support)")
            continue
        keys.append(str(key))
    if stale:
        warnings.warn(f"{target}: left out of the posterior draws, kept at registry values: {', '.join(stale)}",
                      stacklevel=2)
    values = np.column_stack([ds[k].values[idx] for k in keys]) if keys else np.empty((n, 0))
    return xr.DataArray(values, dims=("draw", "parameter"),
                        coords={"draw": np.arange(n), "parameter": np.array(keys, dtype=str)},
                        name="parameter_value",
                        attrs={"source": f"posterior {target}, {n} draws resampled by weight (seed {seed})"})


def summary(ds: xr.Dataset) -> list[dict]:
    """Per parameter: weighted median and 90% interval, and the prior median, for tables and reports."""
    w = ds["weight"].values
    rows = []
    for key in ds.data_vars:
        x = ds[key].values
        order = np.argsort(x)
        cdf = np.cumsum(w[order]) / w.sum()
        q = [float(x[order][min(np.searchsorted(cdf, p), x.size - 1)]) for p in (0.05, 0.5, 0.95)]
        rows.append({"parameter": str(key), "q05": q[0], "median": q[1], "q95": q[2],
                     "prior_median": ds[key].attrs.get("prior_median", float("nan")),
                     "units": ds[key].attrs.get("units", "")})
    return rows
