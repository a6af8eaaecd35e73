"""The 27 Member States: population aged 15-64 by sex and age band (``data/member_states.toml``).

``POPULATION[ms, sex, band]`` holds people on the reference date, with sex in the order of
:data:`dapsim.dims.SEXES` (female, male) and band in :data:`BANDS` (15-34, 35-64). The file's header says
which figures are Eurostat's and which are derived or assumed.
"""

from __future__ import annotations

import numpy as np

from ._toml import load_data
from .dims import MEMBER_STATES

BANDS: tuple[str, ...] = ("15-34", "35-64")

_raw = load_data("member_states.toml")
REFERENCE_DATE: str = _raw["reference_date"]
NAMES: dict[str, str] = {code: _raw["member_state"][code]["name"] for code in MEMBER_STATES}

POPULATION = np.array(
    [
        [
            [_raw["member_state"][code][f"{sex}_{band.replace('-', '_')}"] for band in BANDS]
            for sex in ("female", "male")
        ]
        for code in MEMBER_STATES
    ],
    dtype=float,
)
POPULATION.setflags(write=False)

POPULATION_15_64 = POPULATION.sum(axis=(1, 2))
"""People aged 15-64 per Member State."""
POPULATION_15_64.setflags(write=False)

POPULATION_TOTAL = np.array([_raw["member_state"][c]["population_total"] for c in MEMBER_STATES], dtype=float)
"""Total population per Member State (all ages), for rates per inhabitant."""
POPULATION_TOTAL.setflags(write=False)
