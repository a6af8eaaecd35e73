"""Services: treatment and harm-reduction providers, one Mesa agent per service and Member State.

Each provider turns its lever (the policy target) into a capacity that grows towards the target over a few
months (new places must be staffed and opened) and falls at once when the target is cut. The capacities are
published in ``state.services`` for the high-risk users and the harms components. Services book the programme
cost of the coverage-type levers (places, syringes, access); levers whose cost follows the people actually
served (OAT clients, naloxone kits, DAA courses, diversions, prison OAT) are booked by the component that serves
them.
"""

from __future__ import annotations

import mesa
import numpy as np

from ..component import Component
from ..dims import MEMBER_STATES, N_MS
from ..levers import LEVERS
from ..memberstates import POPULATION, POPULATION_15_64
from . import baseline

SERVICE_LEVERS = {
    # service name in state.services -> lever it follows
    "oat_places": "oat_capacity",
    "treatment_places": "treatment_capacity",
    "syringes_per_pwid": "nsp_coverage",
    "naloxone_coverage": "naloxone_coverage",
    "dcr_access": "drug_consumption_rooms",
    "drug_checking_access": "drug_checking",
    "hcv_testing": "hcv_test_and_treat",
    "prison_oat": "prison_oat",
    "prison_release_naloxone": "prison_release_naloxone",
    "outreach": "outreach",
    "stigma_reduction": "stigma_reduction",
    "alternatives_to_sanctions": "alternatives_to_sanctions",
}


class ServiceProvider(mesa.Agent):
    """One service in one Member State (e.g. the OAT providers of Austria, taken together)."""

    def __init__(self, model, service: str, member_state: str, capacity: float):
        super().__init__(model)
        self.service = service
        self.member_state = member_state
        self.capacity = capacity

    def adjust(self, target: float, build_months: float) -> None:
        """Move capacity towards the target: scale-up takes time, cuts are immediate."""
        if target >= self.capacity:
            self.capacity += (target - self.capacity) / build_months
        else:
            self.capacity = target


class Services(Component):
    """Treatment and harm-reduction services per Member State (Mesa agents), their capacity and cost."""

    name = "services"
    parameters = (
        "services.capacity_build_months",
        "services.pupils_12_18_per_person_15_34",
        "services.high_risk_youth_share",
        "services.frontline_staff_per_1000",
        "services.stigma_training_refresh_months",
    )
    levers = tuple(dict.fromkeys(("universal_prevention", "selective_prevention", *SERVICE_LEVERS.values())))
    fills = ("syringes_per_pwid",)

    def __init__(self, model, params):
        super().__init__(model, params)
        self.providers: dict[str, list[ServiceProvider]] = {}
        for service, lever in SERVICE_LEVERS.items():
            target = self._target(service, np.asarray(model.lever(lever), dtype=float), baseline.HIGH_RISK_OPIOID_USERS)
            self.providers[service] = [ServiceProvider(model, service, m, float(target[i]))
                                       for i, m in enumerate(MEMBER_STATES)]
        self._publish()

    @staticmethod
    def _target(service: str, lever: np.ndarray, hrou: np.ndarray) -> np.ndarray:
        if service == "oat_places":
            return lever * hrou  # places for this share of the estimated high-risk opioid users
        if service == "treatment_places":
            return lever * POPULATION_15_64 / 1e5
        return lever

    def _publish(self) -> None:
        self.model.state.services = {s: np.array([a.capacity for a in agents]) for s, agents in self.providers.items()}

    def step(self, t: int) -> None:
        model = self.model
        people = model.state.people
        hrou = people.count_by_ms() if people is not None else baseline.HIGH_RISK_OPIOID_USERS
        build = self.params["services.capacity_build_months"]
        for service, lever in SERVICE_LEVERS.items():
            target = self._target(service, np.asarray(model.lever(lever), dtype=float), hrou)
            for agent, value in zip(self.providers[service], target):
                agent.adjust(float(value), build)
        self._publish()
        self._book_costs(people)

    def _book_costs(self, people) -> None:
        """Monthly cost of the coverage-type levers (unit costs from data/levers.toml)."""
        model, p, sv = self.model, self.params, self.model.state.services
        young = POPULATION[:, :, 0].sum(axis=1)
        month = 1.0 / 12.0
        model.spend("universal_prevention", np.asarray(model.lever("universal_prevention")) * young
                    * p["services.pupils_12_18_per_person_15_34"] * LEVERS["universal_prevention"].unit_cost_eur * month)
        model.spend("selective_prevention", np.asarray(model.lever("selective_prevention")) * young
                    * p["services.high_risk_youth_share"] * LEVERS["selective_prevention"].unit_cost_eur * month)
        model.spend("treatment_capacity", sv["treatment_places"] * LEVERS["treatment_capacity"].unit_cost_eur * month)
        staff = p["services.frontline_staff_per_1000"] * POPULATION_15_64 / 1000.0
        model.spend("stigma_reduction", sv["stigma_reduction"] * staff * LEVERS["stigma_reduction"].unit_cost_eur
                    / p["services.stigma_training_refresh_months"])
        pwid = people.pwid_by_ms() if people is not None else np.zeros(N_MS)
        out_of_treatment = people.out_of_treatment_by_ms() if people is not None else np.zeros(N_MS)
        model.spend("outreach", sv["outreach"] * out_of_treatment * LEVERS["outreach"].unit_cost_eur * month)
        model.spend("nsp_coverage", sv["syringes_per_pwid"] * pwid * LEVERS["nsp_coverage"].unit_cost_eur * month)
        model.spend("drug_consumption_rooms", sv["dcr_access"] * pwid * LEVERS["drug_consumption_rooms"].unit_cost_eur * month)
        regular = model.state.regular_users.sum(axis=1)
        model.spend("drug_checking", sv["drug_checking_access"] * regular * LEVERS["drug_checking"].unit_cost_eur * month)

    def record(self, t: int, out) -> None:
        out["syringes_per_pwid"][t] = self.model.state.services["syringes_per_pwid"]
