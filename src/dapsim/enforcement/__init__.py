"""Enforcement: interdiction at entry points, the cooperation network, investigations, labs and precursors.

:class:`EnforcementComponent` steps after the supply component and before the market. It acts on the shipments
in ``model.state.trafficking`` (see :class:`dapsim.supply.trafficking.TraffickingWorld`).
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS, N_SUBSTANCES
from ..levers import LEVERS
from ..memberstates import POPULATION_TOTAL
from ..supply.ocg import BROKER, MAX_MEMBERS
from ..supply.routes import ENTRY_KINDS, MODALITIES, crn_binomial
from .agencies import build_agencies
from .cooperation import build_cooperation_graph, reach_matrices
from .interdiction import MAX_CONSIGNMENTS, SCANNER_PARAMETERS, ContainerScanners, baseline_probability, seize
from .investigations import arrest_probability, top_k_rows

SCREEN_LEVERS = ("port_scanning", "small_ports_monitoring", "airport_screening", "postal_screening")


class EnforcementComponent(Component):
    """Customs, police, Europol, Eurojust, Frontex, MAOC-N and partner agencies acting on the supply side.

    Each month, in order: upstream interdiction by partner agencies (``third_country_cooperation``); detection
    of consignments at the entry points; intelligence from seizures flowing over the cooperation network
    (``intel_sharing``) and from platform take-downs (``encrypted_comms_capability``, ``encrochat_takedown``);
    capacity-limited investigations (``hvt_investigations``, ``financial_investigations``) with arrests and
    asset confiscation; lab dismantling (``lab_dismantling``); precursor interception (``precursor_control``);
    darknet monitoring (``darknet_monitoring``).
    """

    name = "enforcement"
    parameters = (
        "enforcement.container_targeting_lift", "enforcement.scanner_sensitivity",
        "enforcement.small_ports_targeting_lift", "enforcement.small_ports_sensitivity",
        "enforcement.airport_targeting_lift", "enforcement.airport_sensitivity",
        "enforcement.postal_targeting_lift", "enforcement.postal_sensitivity",
        "enforcement.base_detection_container_port", "enforcement.base_detection_secondary_port",
        "enforcement.base_detection_hub_airport", "enforcement.base_detection_postal_hub",
        "enforcement.base_detection_land_border", "enforcement.intel_detection", "enforcement.insider_protection",
        "enforcement.consignment_kg_container", "enforcement.consignment_kg_vessel", "enforcement.consignment_kg_air",
        "enforcement.consignment_kg_postal", "enforcement.consignment_kg_land",
        "enforcement.intel_per_seizure", "enforcement.intel_per_arrest", "enforcement.intel_decay",
        "enforcement.coop_weight_national", "enforcement.coop_weight_siena", "enforcement.coop_weight_bilateral",
        "enforcement.coop_weight_eu", "enforcement.upstream_efficacy", "enforcement.takedown_exposed_share",
        "enforcement.takedown_windfall", "enforcement.investigations_per_million", "enforcement.investigation_success",
        "enforcement.evidence_success", "enforcement.arrest_share_hvt", "enforcement.arrest_share_opportunistic",
        "enforcement.confiscation_share_fi", "enforcement.confiscation_share_no_fi", "enforcement.min_members",
        "enforcement.lab_detection_per_fte", "enforcement.lab_capacity_per_fte", "enforcement.precursor_kg_per_kg",
        "enforcement.precursor_slack", "enforcement.precursor_base_interception", "enforcement.precursor_check_efficacy",
        "enforcement.precursor_shipments_per_year", "enforcement.darknet_growth_per_year",
        "enforcement.darknet_suppression_per_fte", "enforcement.containers_arriving_share",
        "enforcement.teu_per_container", "enforcement.small_port_arrivals_per_year",
        "enforcement.airport_items_per_year", "enforcement.postal_parcels_per_year", "enforcement.partner_countries",
        "enforcement.oc_investigators_fte_per_million",
        *(f"enforcement.darknet_share_2015_{s}" for s in
          ("cannabis", "cocaine", "heroin", "synthetic_opioids", "amphetamines", "mdma", "nps")),
        *SCANNER_PARAMETERS,
    )
    levers = ("port_scanning", "small_ports_monitoring", "airport_screening", "postal_screening",
              "darknet_monitoring", "intel_sharing", "third_country_cooperation", "hvt_investigations",
              "financial_investigations", "encrypted_comms_capability", "lab_dismantling", "precursor_control")
    shocks = ("encrochat_takedown",)
    fills = ("ocgs_disrupted", "ocgs_dismantled", "ocg_members_arrested", "cross_border_operations",
             "assets_confiscated_eur", "entry_point_seizures_kg", "entry_point_flow_kg", "labs_dismantled",
             "precursors_seized_kg")

    def __init__(self, model, params):
        super().__init__(model, params)
        w = getattr(model.state, "trafficking", None)
        if w is None:
            raise RuntimeError("EnforcementComponent needs the supply component before it (model.state.trafficking)")
        self.world = w
        p = self.params
        self.agencies = build_agencies(model)
        self.graph = build_cooperation_graph(p["enforcement.coop_weight_national"], p["enforcement.coop_weight_siena"],
                                             p["enforcement.coop_weight_bilateral"], p["enforcement.coop_weight_eu"])
        self.reach, self.partner_reach = reach_matrices(self.graph)
        g, net = w.groups, w.net
        ch = g.link_channel
        self.entry_of_link = net.ch_entry[ch]
        self.ms_of_link = net.entry_ms[self.entry_of_link]
        self.kind_of_link = net.entry_kind[self.entry_of_link]
        self.sub_of_link = net.ch_substance[ch]
        self.transit_of_link = net.ch_transit[ch]
        sizes = np.array([p[f"enforcement.consignment_kg_{m}"] for m in MODALITIES])
        self.consignment_kg = sizes[net.ch_modality[ch]]
        self.base_pd = baseline_probability(self.kind_of_link, p)
        self.scanners = ContainerScanners(net, self.kind_of_link, self.entry_of_link, self.ms_of_link, p)
        self.flat_gm = g.link_group * N_MS + self.ms_of_link
        self.flat_es = self.entry_of_link * N_SUBSTANCES + self.sub_of_link
        self.n_inv = np.maximum(np.rint(p["enforcement.investigations_per_million"] * POPULATION_TOTAL / 1e6), 1).astype(int)
        self.max_inv = int(self.n_inv.max())
        self.threat = np.ones(g.n)
        self.home_evidence = 0.02 * (g.home[None, :] == np.arange(N_MS)[:, None])
        self.darknet_share = np.array([p[f"enforcement.darknet_share_2015_{s}"] for s in
                                       ("cannabis", "cocaine", "heroin", "synthetic_opioids", "amphetamines", "mdma", "nps")])
        w.darknet_share = self.darknet_share.copy()
        self.base_darknet_fte = LEVERS["darknet_monitoring"].baseline
        teu = np.bincount(net.entry_ms, weights=net.entry_teu_m, minlength=N_MS)
        self.containers_arriving = teu * 1e6 / p["enforcement.teu_per_container"] * p["enforcement.containers_arriving_share"]
        count = lambda k: np.bincount(net.entry_ms[net.entry_kind == ENTRY_KINDS.index(k)], minlength=N_MS)  # noqa: E731
        self.n_small = count("secondary_port")
        self.n_airports = count("hub_airport")
        self.n_postal = count("postal_hub")
        self._reset_month()

    def _reset_month(self):
        self.out = {
            "disrupted": 0.0, "dismantled": 0.0, "arrested": 0.0, "cross_border": 0.0, "assets": 0.0,
            "labs": np.zeros(N_MS), "precursors": 0.0,
            "ep_seized": np.zeros((self.world.net.n_entries, N_SUBSTANCES)),
            "ep_flow": np.zeros((self.world.net.n_entries, N_SUBSTANCES)),
        }

    def step(self, t: int) -> None:
        p, w, model = self.params, self.world, self.model
        g = w.groups
        self._reset_month()
        n_links = w.n_links
        # random numbers: fixed counts every month (common random numbers)
        u_seize = self.rng.random((n_links, MAX_CONSIGNMENTS), dtype=np.float32)
        u_takedown = self.rng.random()
        u_exposed = self.rng.random(g.n)
        race = self.rng.standard_exponential(size=(N_MS, g.n))
        u_inv = self.rng.random((N_MS, self.max_inv, 2))
        u_arrest = self.rng.random(len(g.m_group), dtype=np.float32)
        z_labs = self.rng.standard_normal(N_MS)

        levers = {k: np.asarray(model.lever(k)) for k in SCREEN_LEVERS}
        share = np.asarray(model.lever("intel_sharing"))
        tcc = float(model.lever("third_country_cooperation"))

        # intelligence decays
        w.exposure_local *= 1.0 - p["enforcement.intel_decay"]
        w.exposure_shared *= 1.0 - p["enforcement.intel_decay"]

        # upstream interdiction by partner agencies, before the sea leg
        p_up = tcc * p["enforcement.upstream_efficacy"]
        w.link_upstream = w.link_departed * p_up
        remaining = w.link_departed - w.link_upstream
        up_cons = np.minimum(w.link_upstream / self.consignment_kg, 1.0)
        partner_intel = np.bincount(g.link_group, weights=up_cons, minlength=g.n) * p["enforcement.intel_per_seizure"]
        w.exposure_shared += np.outer(partner_intel, self.partner_reach)

        # arrivals: sea legs arrive next month
        arrived = remaining * (self.transit_of_link == 0) + w.link_pipeline
        w.link_pipeline = remaining * (self.transit_of_link > 0)
        w.link_arrived = arrived

        # detection at the entry point
        exposure = (w.exposure_local + w.exposure_shared).ravel()[self.flat_gm]
        insider = g.insider[g.link_group, self.entry_of_link]
        pd = self.scanners.detection_probability(levers, self.base_pd, exposure, insider, arrived, self.consignment_kg, p)
        seized, hits = seize(arrived, self.consignment_kg, pd, u_seize)
        w.link_seized = seized
        w.link_hits = hits
        shape = self.out["ep_seized"].shape
        self.out["ep_seized"] = np.bincount(self.flat_es, weights=seized, minlength=shape[0] * shape[1]).reshape(shape)
        self.out["ep_flow"] = np.bincount(self.flat_es, weights=arrived, minlength=shape[0] * shape[1]).reshape(shape)

        # intelligence from seizures: to the seizing country, and shared over the cooperation network
        gm = np.bincount(self.flat_gm, weights=np.minimum(hits, 1.0) * p["enforcement.intel_per_seizure"],
                         minlength=g.n * N_MS).reshape(g.n, N_MS)
        w.exposure_local += gm
        w.exposure_shared += gm @ (share[:, None] * self.reach)
        n_cases = hits.sum()

        # platform take-downs: a Poisson rate from the lever, plus scheduled shocks
        rate = float(model.lever("encrypted_comms_capability"))
        takedown = u_takedown < 1.0 - np.exp(-rate / 12.0)
        shock = float(np.max(model.shock_magnitude("encrochat_takedown")))
        exposed_share = max(p["enforcement.takedown_exposed_share"] if takedown else 0.0, shock)
        if exposed_share > 0:
            exposed = g.encrypted & g.alive & (u_exposed < exposed_share)
            win = p["enforcement.takedown_windfall"]
            w.exposure_shared[exposed] += win * 0.3
            w.exposure_shared[np.flatnonzero(exposed), g.home[exposed]] += win
        model.spend("encrypted_comms_capability", rate * LEVERS["encrypted_comms_capability"].unit_cost_eur / 12.0)

        # investigations
        n_cases += self._investigate(p, w, g, race, u_inv, u_arrest)

        # lab dismantling
        fte = np.asarray(model.lever("lab_dismantling"))
        hazard = 1.0 - np.exp(-p["enforcement.lab_detection_per_fte"] * fte)
        expected = np.minimum(w.labs.count * hazard, p["enforcement.lab_capacity_per_fte"] * fte)
        prob = np.divide(expected, w.labs.count, out=np.zeros(N_MS), where=w.labs.count > 0)
        dismantled = crn_binomial(np.floor(w.labs.count), prob, z_labs)
        w.labs.dismantle(dismantled)
        self.out["labs"] = dismantled
        model.spend("lab_dismantling", fte * LEVERS["lab_dismantling"].unit_cost_eur / 12.0)

        # precursors: pre-export checks intercept a share; the rest limits next month's lab output
        control = float(model.lever("precursor_control"))
        need = w.lab_output_potential_kg * p["enforcement.precursor_kg_per_kg"]
        ordered = need * (1.0 + p["enforcement.precursor_slack"])
        p_int = min(0.95, p["enforcement.precursor_base_interception"] + control * p["enforcement.precursor_check_efficacy"])
        self.out["precursors"] = ordered * p_int
        w.precursor_factor = min(1.0, ordered * (1.0 - p_int) / need) if need > 0 else 1.0
        model.spend("precursor_control", control * p["enforcement.precursor_shipments_per_year"] / 12.0
                    * LEVERS["precursor_control"].unit_cost_eur)

        # darknet: the share of retail supply sold online grows, specialised investigators push it back
        dn_fte = np.asarray(model.lever("darknet_monitoring"))
        years = (model.t) / 12.0
        target = self.darknet_share * (1.0 + p["enforcement.darknet_growth_per_year"]) ** years
        target *= np.exp(-p["enforcement.darknet_suppression_per_fte"] * (float(dn_fte.mean()) - self.base_darknet_fte))
        w.darknet_share = np.clip(w.darknet_share + 0.1 * (target - w.darknet_share), 0.0, 0.9)
        model.spend("darknet_monitoring", dn_fte * LEVERS["darknet_monitoring"].unit_cost_eur / 12.0)

        # programme costs of the screening levers and intelligence sharing
        model.spend("port_scanning", levers["port_scanning"] * self.containers_arriving / 12.0
                    * LEVERS["port_scanning"].unit_cost_eur)
        model.spend("small_ports_monitoring", levers["small_ports_monitoring"] * self.n_small
                    * p["enforcement.small_port_arrivals_per_year"] / 12.0 * LEVERS["small_ports_monitoring"].unit_cost_eur)
        model.spend("airport_screening", levers["airport_screening"] * self.n_airports
                    * p["enforcement.airport_items_per_year"] / 12.0 * LEVERS["airport_screening"].unit_cost_eur)
        model.spend("postal_screening", levers["postal_screening"] * self.n_postal
                    * p["enforcement.postal_parcels_per_year"] / 12.0 * LEVERS["postal_screening"].unit_cost_eur)
        model.spend("intel_sharing", float(np.mean(share)) * n_cases * LEVERS["intel_sharing"].unit_cost_eur)
        model.spend("third_country_cooperation", tcc * p["enforcement.partner_countries"]
                    * LEVERS["third_country_cooperation"].unit_cost_eur / 12.0)

    def _investigate(self, p, w, g, race, u_inv, u_arrest) -> float:
        """Select targets, run investigations, arrest members, confiscate assets; return cases shared."""
        model = self.model
        hvt = np.asarray(model.lever("hvt_investigations"))
        fin = np.asarray(model.lever("financial_investigations"))
        share = np.asarray(model.lever("intel_sharing"))
        size = g.size()
        self.threat = size * np.sqrt(np.maximum(g.capital, 1.0)) * (1.0 + g.violence)
        known = (w.exposure_local + w.exposure_shared).T  # (ms, groups)
        alive = g.alive[None, :]
        # exponential races: the k largest of weight / Exp(1) are a weighted sample without replacement
        hvt_keys = np.where(alive & (known > 0.05), self.threat[None, :] / race, -np.inf)
        opp_w = known + self.home_evidence
        opp_keys = np.where(alive & (opp_w > 0), opp_w / race, -np.inf)
        k_all = self.n_inv
        k_hvt = np.rint(k_all * hvt).astype(int)
        t_h, ms_h = top_k_rows(hvt_keys, k_hvt)
        opp_keys[ms_h, t_h] = -np.inf
        t_o, ms_o = top_k_rows(opp_keys, k_all - np.bincount(ms_h, minlength=N_MS))
        order = np.argsort(np.concatenate([ms_h, ms_o]), kind="stable")
        targets = np.concatenate([t_h, t_o])[order]
        is_h = np.concatenate([np.ones(t_h.size, bool), np.zeros(t_o.size, bool)])[order]
        ms_t = np.concatenate([ms_h, ms_o])[order]
        # slot of each investigation within its Member State (indexes the fixed uniforms)
        starts = np.r_[0, np.cumsum(np.bincount(ms_t, minlength=N_MS))[:-1]]
        slot = np.arange(targets.size) - starts[ms_t]
        u = u_inv[ms_t, slot]
        p_succ = 1.0 - np.exp(-(p["enforcement.investigation_success"]
                                + p["enforcement.evidence_success"] * known[ms_t, targets]))
        ok = u[:, 0] < p_succ
        fi = u[:, 1] < fin[ms_t]
        tg, hh, ff, mm = targets[ok], is_h[ok], fi[ok], ms_t[ok]
        n_hvt = np.bincount(tg[hh], minlength=g.n).astype(float)
        n_opp = np.bincount(tg[~hh], minlength=g.n).astype(float)
        n_fi = np.bincount(tg[ff], minlength=g.n).astype(float)
        n_nofi = np.bincount(tg[~ff], minlength=g.n).astype(float)
        arrest_ms = np.zeros((g.n, N_MS))
        np.add.at(arrest_ms, (tg, mm), 1.0)
        xb = (g.home[tg] != mm) | (w.exposure_shared[tg, mm] > w.exposure_local[tg, mm])
        self.out["cross_border"] = float(xb.sum())
        model.spend("financial_investigations", float(fi.sum()) * LEVERS["financial_investigations"].unit_cost_eur)
        fte = self.params["enforcement.oc_investigators_fte_per_million"] * POPULATION_TOTAL / 1e6
        model.spend("hvt_investigations", hvt * fte * LEVERS["hvt_investigations"].unit_cost_eur / 12.0)

        # arrests by role and network position (only members of groups under successful investigation)
        hit = np.flatnonzero((n_hvt + n_opp)[g.m_group] > 0)
        par = g.m_parent[hit][g.m_alive[hit] & (g.m_parent[hit] >= 0)]
        deg = ((np.bincount(par, minlength=len(g.m_group))[hit] + (g.m_parent[hit] >= 0)) * g.m_alive[hit]).astype(float)
        mg = g.m_group[hit]
        mean_deg = np.bincount(mg, weights=deg, minlength=g.n) / np.maximum(size, 1)
        ratio = np.divide(deg, mean_deg[mg], out=np.zeros_like(deg), where=mean_deg[mg] > 0)
        pa = arrest_probability(g.m_role[hit], ratio, n_hvt[mg], n_opp[mg],
                                p["enforcement.arrest_share_hvt"], p["enforcement.arrest_share_opportunistic"])
        arrested = np.zeros(len(g.m_group), dtype=bool)
        arrested[hit] = g.m_alive[hit] & (u_arrest[hit] < pa)
        per_group = arrested.reshape(g.n, MAX_MEMBERS)
        role = g.m_role.reshape(g.n, MAX_MEMBERS)
        n_arr = per_group.sum(axis=1).astype(float)
        lost_lead = (per_group & (role <= BROKER)).any(axis=1)
        g.m_alive[arrested] = False
        self.out["arrested"] = float(n_arr.sum())
        disrupted = g.alive & (n_arr > 0) & (lost_lead | (n_arr >= 0.25 * np.maximum(size, 1)))
        self.out["disrupted"] = float(disrupted.sum())
        w.disrupted_by_ms = np.bincount(g.home[disrupted], minlength=N_MS).astype(float)
        g.insider[(n_hvt > 0)] = False
        new_size = g.size()
        # dismantled: too few members left, or the leader (slot 0) and at least half of the brokers arrested at once
        alive2 = g.m_alive.reshape(g.n, MAX_MEMBERS)
        brokers_arr = (per_group & (role == BROKER)).sum(axis=1)
        brokers_was = ((alive2 | per_group) & (role == BROKER)).sum(axis=1)
        beheaded = per_group[:, 0] & (brokers_arr >= 0.5 * np.maximum(brokers_was, 1))
        dismantled = g.alive & ((new_size < self.params["enforcement.min_members"]) | beheaded)
        self.out["dismantled"] = float(dismantled.sum())
        g.alive[dismantled] = False
        g.dormant_months[dismantled] = 0
        alive2[dismantled] = False
        # intelligence from arrests (the group's network and routes), shared like seizure intelligence
        ai = arrest_ms * (n_arr / np.maximum(arrest_ms.sum(axis=1), 1.0))[:, None] * p["enforcement.intel_per_arrest"]
        w.exposure_local += ai
        w.exposure_shared += ai @ (share[:, None] * self.reach)
        # assets
        before = g.capital.copy()
        g.capital = g.capital * (1.0 - p["enforcement.confiscation_share_fi"]) ** n_fi \
            * (1.0 - p["enforcement.confiscation_share_no_fi"]) ** n_nofi
        self.out["assets"] = float((before - g.capital).sum())
        w.assets_confiscated_eur = self.out["assets"]
        return float(self.out["arrested"])

    def record(self, t: int, out) -> None:
        o = self.out
        out["ocgs_disrupted"][t] = o["disrupted"]
        out["ocgs_dismantled"][t] = o["dismantled"]
        out["ocg_members_arrested"][t] = o["arrested"]
        out["cross_border_operations"][t] = o["cross_border"]
        out["assets_confiscated_eur"][t] = o["assets"]
        out["entry_point_seizures_kg"][t] = o["ep_seized"]
        out["entry_point_flow_kg"][t] = o["ep_flow"]
        out["labs_dismantled"][t] = o["labs"]
        out["precursors_seized_kg"][t] = o["precursors"]

    def coords(self):
        return {"entry_point": self.world.net.entry_names}


COMPONENTS = [EnforcementComponent]
