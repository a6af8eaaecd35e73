"""Calibration and validation: published targets, ABC-SMC (pyabc), the posterior, out-of-sample checks.

* :mod:`.targets` — load and validate ``calibration/targets/*.csv`` (one row per published figure).
* :mod:`.abc` — :func:`~.abc.calibrate`: ABC-SMC over the uncertain registry parameters.
* :mod:`.posterior` — the posterior as NetCDF; :func:`~.posterior.load_posterior` gives ensemble draws.
* :mod:`.validate` — fit up to a cut-off year, report the posterior-predictive error after it.
* :mod:`.cli` — the ``calibrate``, ``validate``, ``sensitivity`` and ``discover`` commands.
"""

from .posterior import DEFAULT_POSTERIOR, load_posterior, read_posterior, write_posterior
from .targets import DEFAULT_TARGETS_DIR, Target, TargetSet, load_targets

__all__ = ["DEFAULT_POSTERIOR", "DEFAULT_TARGETS_DIR", "Target", "TargetSet", "load_posterior", "load_targets",
           "read_posterior", "write_posterior"]
