"""Law-enforcement agencies as Mesa agents: national customs and police, EU agencies and partner agencies.

Agencies are few (about 70), so each is a Mesa agent with its kind and country. Their working capacity sits in
levers (scanning, screening, investigators) and registry parameters; the cooperation network between them is
in :mod:`dapsim.enforcement.cooperation`.
"""

from __future__ import annotations

import mesa

from ..dims import MEMBER_STATES

EU_AGENCIES: tuple[str, ...] = ("europol", "eurojust", "frontex", "maoc_n")
PARTNERS: tuple[str, ...] = ("colombia", "ecuador", "brazil", "peru", "west_africa", "morocco", "turkiye",
                             "western_balkans", "pakistan", "china")
"""Partner agencies in source and transit countries (the 'main source and transit countries')."""

MARITIME_MS: tuple[str, ...] = ("BE", "NL", "DE", "ES", "PT", "FR", "IT", "IE", "EL", "PL", "RO", "LT")


class Agency(mesa.Agent):
    """One agency: ``kind`` is customs, police, europol, eurojust, frontex, maoc_n or partner."""

    def __init__(self, model: mesa.Model, key: str, kind: str, member_state: str | None):
        super().__init__(model)
        self.key = key
        self.kind = kind
        self.member_state = member_state


def build_agencies(model: mesa.Model) -> list[Agency]:
    """Customs and police for each Member State, the EU agencies, and the partner agencies."""
    agencies = []
    for ms in MEMBER_STATES:
        agencies.append(Agency(model, f"customs_{ms}", "customs", ms))
        agencies.append(Agency(model, f"police_{ms}", "police", ms))
    for key in EU_AGENCIES:
        agencies.append(Agency(model, key, key, None))
    for key in PARTNERS:
        agencies.append(Agency(model, f"partner_{key}", "partner", None))
    return agencies
