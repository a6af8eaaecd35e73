"""Demand and harms: the general population, high-risk users, services, overdoses, infections, prison, NPS.

``COMPONENTS`` lists this side's components in the order they step each month: demand (general population,
services, high-risk users), then the harms (prison, overdose, infections, NPS, wastewater).
"""

from .population import GeneralPopulation
from .services import Services
from .users import HighRiskUsers

# The harm components import from this package (users' person table), so they are imported module by module
# after the demand modules above are loaded (importing ``dapsim.harms`` first works too).
from ..harms.prison import Prison  # noqa: E402
from ..harms.overdose import Overdose  # noqa: E402
from ..harms.infections import Infections  # noqa: E402
from ..harms.nps import NewPsychoactiveSubstances  # noqa: E402
from ..harms.wastewater import Wastewater  # noqa: E402

COMPONENTS: list = [GeneralPopulation, Services, HighRiskUsers,
                    Prison, Overdose, Infections, NewPsychoactiveSubstances, Wastewater]
