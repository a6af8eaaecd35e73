"""The supply component: production, organised crime groups' shipment decisions and route choice.

It builds the shared trafficking world (``model.state.trafficking``): the route network, the groups, the labs,
and the monthly shipment arrays that enforcement acts on and the market receives. Components of the supply
side exchange these through that one state field; the demand side never reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._toml import load_data
from ..component import Component
from ..dims import MS_INDEX, N_MS, N_SUBSTANCES, SUBSTANCE_INDEX
from ..levers import LEVERS
from ..memberstates import POPULATION_15_64
from .ocg import MAX_MEMBERS, CrimeGroups, OrganisedCrimeGroup
from .production import (AMPHETAMINES, MDMA, Labs, alternative_development_multiplier, domestic_cannabis_kg,
                         pool_departures_kg)
from .routes import ENTRY_KINDS, MODALITIES, TraffickingNetwork, crn_poisson, load_network

CONTAINER_PORT = ENTRY_KINDS.index("container_port")
HUB_AIRPORT = ENTRY_KINDS.index("hub_airport")
PASSENGER_BORNE = (MODALITIES.index("air"), MODALITIES.index("land"))


@dataclass
class TraffickingWorld:
    """The supply side's shared world: routes, groups, labs and this month's shipments and outcomes.

    Owner: :class:`SupplyComponent` creates it and writes shipments; :class:`~dapsim.enforcement.EnforcementComponent`
    writes interdiction, intelligence, arrests and lab dismantling; :class:`~dapsim.supply.market.MarketComponent`
    reads arrivals and writes prices back (``wholesale_eur_per_kg``, ``price_index``).
    """

    net: TraffickingNetwork
    groups: CrimeGroups
    labs: Labs
    n_links: int
    link_departed: np.ndarray = None
    link_pipeline: np.ndarray = None
    link_arrived: np.ndarray = None
    link_seized: np.ndarray = None
    link_upstream: np.ndarray = None
    produced_kg: np.ndarray = field(default_factory=lambda: np.zeros(N_SUBSTANCES))
    domestic_kg: np.ndarray = field(default_factory=lambda: np.zeros((N_MS, N_SUBSTANCES)))
    lab_exports_kg: np.ndarray = field(default_factory=lambda: np.zeros(N_SUBSTANCES))
    precursor_factor: float = 1.0
    lab_output_potential_kg: float = 0.0
    exposure_local: np.ndarray = None
    exposure_shared: np.ndarray = None
    disrupted_by_ms: np.ndarray = field(default_factory=lambda: np.zeros(N_MS))
    wholesale_eur_per_kg: np.ndarray = None
    price_index: np.ndarray = field(default_factory=lambda: np.ones(N_SUBSTANCES))
    darknet_share: np.ndarray = field(default_factory=lambda: np.zeros(N_SUBSTANCES))
    assets_confiscated_eur: float = 0.0
    violent_incidents: np.ndarray = field(default_factory=lambda: np.zeros(N_MS))
    link_hits: np.ndarray = None
    ledger: list = field(default_factory=list)

    def __post_init__(self):
        n = self.n_links
        for name in ("link_departed", "link_pipeline", "link_arrived", "link_seized", "link_upstream", "link_hits"):
            setattr(self, name, np.zeros(n))
        self.exposure_local = np.zeros((self.groups.n, N_MS))
        self.exposure_shared = np.zeros((self.groups.n, N_MS))
        self.wholesale_eur_per_kg = np.zeros(N_SUBSTANCES)

    def in_transit_kg(self) -> np.ndarray:
        """Kilograms at sea per substance (shipped, not yet arrived)."""
        sub = self.net.ch_substance[self.groups.link_channel]
        return np.bincount(sub, weights=self.link_pipeline, minlength=N_SUBSTANCES)


class SupplyComponent(Component):
    """Production and the organised crime groups' monthly shipment decisions.

    Each month: pools of drugs leave the source regions (more when EU prices are high); every group splits its
    share over the channels it uses by expected profit under its perceived risk: channel attractiveness x
    margin after transport and extraction costs (``1 - transport_cost_share``) x
    ``exp(-risk_aversion * perceived_risk)``; perceived risk is learned from the group's own and its peers'
    losses on each channel, so pressure on one port displaces and disperses flows. Groups corrupt insiders at
    ports and airports (less where staff are vetted: ``port_integrity``), fight (violent incidents), recruit
    and rewire after arrests, and dismantled groups are replaced by successors after a few months.
    """

    name = "supply"
    parameters = (
        "supply.n_groups", "supply.links_per_group", "supply.median_members", "supply.median_capital_eur",
        "supply.encrypted_phone_share", "supply.home_bias", "supply.risk_aversion", "supply.learning_rate",
        "supply.peer_weight", "supply.recruit_rate", "supply.respawn_months",
        "supply.cocaine_eu_bound_share", "supply.cocaine_eu_share_growth",
        "supply.cocaine_eu_share_growth_until", "supply.cocaine_eu_share_step",
        "supply.cocaine_eu_share_step_midpoint", "supply.cocaine_eu_share_step_width_years",
        "supply.cocaine_arrival_lag_months", "supply.cocaine_wholesale_purity", "supply.heroin_eu_bound_t",
        "supply.heroin_stockpile_months", "supply.resin_morocco_t", "supply.herb_import_t",
        "supply.herb_domestic_t", "supply.synthetic_opioids_import_t", "supply.nps_import_t",
        "supply.labs_active_2020", "supply.lab_output_kg_per_month", "supply.lab_mdma_share",
        "supply.lab_export_share", "supply.lab_baseline_hazard", "supply.alt_dev_elasticity",
        "supply.alt_dev_lag_months", "supply.violence_rate", "supply.succession_violence",
        "supply.corruption_rate", "supply.integrity_effect", "supply.insider_loss_rate",
        "supply.capital_retention", "supply.capital_spend_rate", "supply.port_staff_per_million_teu",
        "supply.covid_air_land_cut", "supply.supply_price_elasticity", "supply.price_smoothing",
        *(f"supply.transport_cost_share_{m}" for m in MODALITIES),
    )
    levers = ("port_integrity", "alternative_development")
    shocks = ("afghan_opium_ban", "cocaine_production_surge", "covid_disruption")
    fills = ("violent_incidents", "corrupted_insiders")

    def __init__(self, model, params):
        super().__init__(model, params)
        p = self.params
        net = load_network()
        raw = load_data("trafficking.toml")
        share = np.array([raw["groups"]["substance_share"][s] for s in
                          ("cannabis", "cocaine", "heroin", "synthetic_opioids", "amphetamines", "mdma", "nps")])
        home_w = POPULATION_15_64 / POPULATION_15_64.sum()
        for code, mult in raw["groups"]["home_multiplier"].items():
            home_w = home_w.copy()
            home_w[MS_INDEX[code]] *= mult
        groups = CrimeGroups(
            int(p["supply.n_groups"]), self.rng, share, home_w, net.ch_substance, net.ch_weight,
            net.entry_ms[net.ch_entry], p["supply.links_per_group"], p["supply.median_members"],
            p["supply.median_capital_eur"], p["supply.encrypted_phone_share"], p["supply.home_bias"], net.n_entries)
        self.agents = [OrganisedCrimeGroup(model, groups, g) for g in range(groups.n)]
        lab_w = np.full(N_MS, raw["labs"]["other"])
        for code, w in raw["labs"]["weights"].items():
            lab_w[MS_INDEX[code]] = w
        labs = Labs(lab_w, p, np.full(N_MS, p["supply.lab_baseline_hazard"]))
        self.world = TraffickingWorld(net=net, groups=groups, labs=labs, n_links=len(groups.link_group))
        model.state.trafficking = self.world
        self.ch_of_link = groups.link_channel
        self.pool_of_link = net.ch_pool[groups.link_channel]
        self.entry_of_link = net.ch_entry[groups.link_channel]
        self.ms_of_link = net.entry_ms[self.entry_of_link]
        self.kind_of_link = net.entry_kind[self.entry_of_link]
        self.corruptible = np.isin(self.kind_of_link, (CONTAINER_PORT, HUB_AIRPORT))
        self.violent_incidents = np.zeros(N_MS)
        cost_share = np.array([p[f"supply.transport_cost_share_{m}"] for m in MODALITIES])
        self.margin_of_link = np.maximum(1.0 - cost_share[net.ch_modality[self.ch_of_link]], 0.05)
        self.pool_substance = np.array([net.ch_substance[net.ch_pool == i][0] for i in range(len(net.pools))])
        self.price_signal = np.ones(N_SUBSTANCES)
        teu = np.bincount(net.entry_ms, weights=net.entry_teu_m, minlength=N_MS)
        self.port_staff = teu * p["supply.port_staff_per_million_teu"]

    # ------------------------------------------------------------------ month
    def step(self, t: int) -> None:
        p, w, g, model = self.params, self.world, self.world.groups, self.model
        net = w.net
        n_links = w.n_links
        u_corrupt = self.rng.random(n_links)
        u_insider = self.rng.random(n_links)
        u_recruit = self.rng.random(len(g.m_group), dtype=np.float32)
        z_violence = self.rng.standard_normal(N_MS)

        # learning from last month's losses: own loss rate on the link, and peers' on the same channel
        arrived = w.link_arrived
        loss_own = np.divide(w.link_seized + w.link_upstream, arrived + w.link_upstream,
                             out=np.zeros(n_links), where=(arrived + w.link_upstream) > 0)
        ch_lost = np.bincount(self.ch_of_link, weights=w.link_seized + w.link_upstream, minlength=net.n_channels)
        ch_tot = np.bincount(self.ch_of_link, weights=arrived + w.link_upstream, minlength=net.n_channels)
        peer = np.divide(ch_lost, ch_tot, out=np.zeros(net.n_channels), where=ch_tot > 0)[self.ch_of_link]
        active = (arrived + w.link_upstream) > 0
        own = np.where(active, loss_own, peer)
        signal = (1.0 - p["supply.peer_weight"]) * own + p["supply.peer_weight"] * peer
        lr = p["supply.learning_rate"]
        g.link_risk = (1.0 - lr) * g.link_risk + lr * signal

        # production leaving the source regions
        ad = alternative_development_multiplier(model, p)
        departures = pool_departures_kg(model, net, p, ad)
        # expected profit: traffickers send more where EU prices are above normal, less where they are below
        a = p["supply.price_smoothing"]
        self.price_signal = (1 - a) * self.price_signal + a * np.clip(w.price_index, 0.3, 3.0)
        response = self.price_signal ** p["supply.supply_price_elasticity"]
        departures = departures * response[self.pool_substance]
        cap = np.ones(net.n_channels)
        covid = float(np.max(model.shock_magnitude("covid_disruption")))
        if covid > 0:
            cap[np.isin(net.ch_modality, PASSENGER_BORNE)] *= 1.0 - covid * p["supply.covid_air_land_cut"]

        # route choice: groups' capacity x channel attractiveness x exp(-risk aversion x perceived risk)
        size = g.size()
        capacity = np.sqrt(np.maximum(size, 0.0) * np.maximum(g.capital, 1.0)) * g.alive
        attract = net.ch_weight[self.ch_of_link] * cap[self.ch_of_link] * self.margin_of_link * np.exp(
            -p["supply.risk_aversion"] * g.link_risk) * capacity[g.link_group]
        pool_total = np.bincount(self.pool_of_link, weights=attract, minlength=len(net.pools))
        shipped = np.where(pool_total > 0, departures, 0.0)
        w.link_departed = shipped[self.pool_of_link] * np.divide(
            attract, pool_total[self.pool_of_link], out=np.zeros(n_links), where=pool_total[self.pool_of_link] > 0)

        # domestic production: herbal cannabis and synthetic labs (limited by precursors that got through)
        w.domestic_kg = np.zeros((N_MS, N_SUBSTANCES))
        w.domestic_kg[:, SUBSTANCE_INDEX["cannabis"]] = domestic_cannabis_kg(p) * response[SUBSTANCE_INDEX["cannabis"]]
        synth_price = float(np.mean(w.price_index[[AMPHETAMINES, MDMA]]))
        w.labs.open_new(np.sqrt(synth_price))
        out = w.labs.output(w.precursor_factor)
        w.lab_output_potential_kg = float(w.labs.count.sum() * w.labs.output_kg)
        export = p["supply.lab_export_share"]
        w.domestic_kg[:, AMPHETAMINES] += out[:, 0] * (1 - export)
        w.domestic_kg[:, MDMA] += out[:, 1] * (1 - export)
        w.lab_exports_kg = np.zeros(N_SUBSTANCES)
        w.lab_exports_kg[AMPHETAMINES] = out[:, 0].sum() * export
        w.lab_exports_kg[MDMA] = out[:, 1].sum() * export
        produced = np.bincount(net.ch_substance[self.ch_of_link], weights=w.link_departed, minlength=N_SUBSTANCES)
        produced[SUBSTANCE_INDEX["cannabis"]] += w.domestic_kg[:, SUBSTANCE_INDEX["cannabis"]].sum()
        produced[AMPHETAMINES] += out[:, 0].sum()
        produced[MDMA] += out[:, 1].sum()
        w.produced_kg = produced

        # corruption of insiders at ports and airports
        integrity = np.asarray(model.lever("port_integrity"))
        ins = g.insider[g.link_group, self.entry_of_link]
        p_corrupt = p["supply.corruption_rate"] * (1.0 - p["supply.integrity_effect"] * integrity[self.ms_of_link])
        new = self.corruptible & ~ins & (w.link_departed > 0) & (u_corrupt < p_corrupt)
        lost = ins & (u_insider < p["supply.insider_loss_rate"] * (1.0 + 2.0 * integrity[self.ms_of_link]))
        g.insider[g.link_group[new], self.entry_of_link[new]] = True
        g.insider[g.link_group[lost & ~new], self.entry_of_link[lost & ~new]] = False
        model.spend("port_integrity", integrity * self.port_staff * LEVERS["port_integrity"].unit_cost_eur / 12.0)

        # violence: rivalry among groups at home, and succession fights after disruption
        rate = np.bincount(g.home, weights=g.violence * g.alive, minlength=N_MS) * p["supply.violence_rate"]
        rate = rate + p["supply.succession_violence"] * w.disrupted_by_ms
        self.violent_incidents = crn_poisson(rate, z_violence)
        w.violent_incidents = self.violent_incidents

        # organisations recover: promotion, rewiring, recruitment; successors take over dismantled niches
        g.degree_cache = g.degree() if not g.m_alive[::MAX_MEMBERS][g.alive].all() else None
        g.rewire_and_recruit(p["supply.recruit_rate"], u_recruit)
        g.dormant_months[~g.alive] += 1
        for gid in np.flatnonzero(~g.alive & (g.dormant_months >= p["supply.respawn_months"])):
            g.respawn(int(gid), int(g.home[gid]), float(p["supply.median_capital_eur"]) * 0.5)

        # capital: retained share of wholesale revenue, minus spending
        revenue = np.bincount(g.link_group, weights=(w.link_arrived - w.link_seized)
                              * w.wholesale_eur_per_kg[net.ch_substance[self.ch_of_link]], minlength=g.n)
        g.capital = g.capital * (1.0 - p["supply.capital_spend_rate"]) + p["supply.capital_retention"] * revenue

        ad_eur = float(model.lever("alternative_development")) * 1e6
        model.spend("alternative_development", ad_eur / 12.0)

    def record(self, t: int, out) -> None:
        out["violent_incidents"][t] = self.violent_incidents
        out["corrupted_insiders"][t] = float(self.world.groups.insider.sum())
