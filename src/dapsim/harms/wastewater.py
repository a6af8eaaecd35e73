"""Wastewater: drug residues per 1000 people per day implied by simulated consumption (indicator 9).

residue (mg / 1000 people / day) = consumed kg x purity x excretion factor x 1e6 / (population / 1000) / days,
with the excretion factors of sewage epidemiology (mass of the measured residue per mass of active substance:
benzoylecgonine for cocaine, THC-COOH for cannabis, the parent drug for amphetamine and MDMA). Heroin,
synthetic opioids and NPS have no routine SCORE residue and are left empty. Consumption and purity come from the
market (``state.consumed_kg``, ``state.retail_purity``); in a run without a market the variable stays empty
rather than reporting zeros.
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_SUBSTANCES, SUBSTANCE_INDEX
from ..memberstates import POPULATION_TOTAL

MEASURED = ("cannabis", "cocaine", "amphetamines", "mdma")


class Wastewater(Component):
    """Residue loads in wastewater from simulated consumption."""

    name = "wastewater"
    parameters = tuple(f"wastewater.excretion.{s}" for s in MEASURED)
    fills = ("wastewater_mg_per_1000_per_day",)

    def __init__(self, model, params):
        super().__init__(model, params)
        self.factor = np.full(N_SUBSTANCES, np.nan)
        for s in MEASURED:
            self.factor[SUBSTANCE_INDEX[s]] = self.params[f"wastewater.excretion.{s}"]

    def step(self, t: int) -> None:
        pass

    def record(self, t: int, out) -> None:
        st = self.model.state
        if not (np.any(st.consumed_kg > 0) and np.any(st.retail_purity > 0)):
            return  # no market in this run: leave the variable empty (NaN), never zeros
        month = self.model.month
        days = ((month + np.timedelta64(1, "M")).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int)
        mg = st.consumed_kg * st.retail_purity * self.factor[None, :] * 1e6
        out["wastewater_mg_per_1000_per_day"][t] = mg / (POPULATION_TOTAL[:, None] / 1000.0) / days
