"""Analyses on top of ensembles.

* :mod:`dapsim.analysis.compare` — scenario comparison: medians and 90% intervals, paired differences, cost
  per outcome, the HTML/CSV report (``dapsim compare``; ``dapsim.compare`` in Python).
* :mod:`dapsim.analysis.explore` — exploratory modelling over uncertainties and levers (``dapsim explore``).

The submodules are not re-exported here under their own names, so ``dapsim.analysis.compare`` stays the module.
"""

from .compare import Comparison, compare_ensemble

__all__ = ["Comparison", "compare_ensemble"]
