"""The labelled dimensions every output shares.

Names follow the Plan and the EUDA's vocabulary; codes are the ISO 3166 alpha-2 codes the EU uses
(``EL`` for Greece).
"""

from __future__ import annotations

MEMBER_STATES: tuple[str, ...] = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "EL", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)
"""The 27 Member States, in the order of the EU's protocol list by English name."""

SUBSTANCES: tuple[str, ...] = (
    "cannabis", "cocaine", "heroin", "synthetic_opioids", "amphetamines", "mdma", "nps",
)
AGE_GROUPS: tuple[str, ...] = ("15-64", "15-34")
SEXES: tuple[str, ...] = ("female", "male")

MS_INDEX: dict[str, int] = {code: i for i, code in enumerate(MEMBER_STATES)}
SUBSTANCE_INDEX: dict[str, int] = {name: i for i, name in enumerate(SUBSTANCES)}

N_MS = len(MEMBER_STATES)
N_SUBSTANCES = len(SUBSTANCES)
