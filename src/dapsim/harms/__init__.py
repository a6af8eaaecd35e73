"""Harms: prison, overdoses, HIV/HCV infections, new psychoactive substances, wastewater residues.

The harm components are listed in ``dapsim.demand.COMPONENTS`` after the demand components, in this order.
"""

from .. import demand as _demand  # noqa: F401  (load demand first: the harm modules use its person table)
from .infections import Infections
from .nps import NewPsychoactiveSubstances
from .overdose import Overdose
from .prison import Prison
from .wastewater import Wastewater

COMPONENTS: list = [Prison, Overdose, Infections, NewPsychoactiveSubstances, Wastewater]
