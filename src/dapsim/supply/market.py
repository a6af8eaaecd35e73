"""The drug market per Member State and substance: inventories, prices, purity, adulteration, availability.

Arrivals that escaped interdiction are distributed from the entry points to the 27 markets (a share stays in
the entry point's country, the rest follows demand), domestic cannabis and EU lab output join them, and the
wholesale product is cut to retail purity (the cutting agents are booked as an inflow of mass). Police seize
from inventories inland, postal screening catches part of the darknet retail trade, users buy what they seek
if it is there, and what exceeds the inventory cover traffickers keep moves on out of the EU (to the UK,
Norway, Switzerland and beyond), booked as a loss. Drug mass is conserved every month::

    produced + cutting agents = seized (border, upstream, inland) + consumed + onward trafficking
                                + lab exports + change in stocks (in transit, inventories)

Prices, purity and adulteration are set per Member State and substance. Scarcity is each state's inventory
cover (stock / monthly demand) against its target, drawn towards the EU wholesale market's cover
(``local_market_weight``); cover below target raises prices, lowers purity and raises adulteration. Prices carry
an EU risk premium from the share of supply seized (importers' risk: what enters at a port supplies the
whole Schengen market) and a local one from the state's own enforcement pressure on retail distribution: the
share of its retail supply seized in the post, plus the share of the groups based there that it disrupts. Both
premiums are measured against the first year. The local factors are normalised to a demand-weighted EU mean of
one, so the EU price and purity levels keep their calibration and only their spread across states comes from
the local markets.
"""

from __future__ import annotations

import numpy as np

from ..component import Component
from ..dims import N_MS, N_SUBSTANCES, SUBSTANCE_INDEX, SUBSTANCES
from ..memberstates import POPULATION_15_64, POPULATION_TOTAL

HEROIN = SUBSTANCE_INDEX["heroin"]
_S = SUBSTANCES


def _per_substance(p, prefix: str) -> np.ndarray:
    return np.array([p[f"{prefix}_{s}"] for s in _S])


class MarketComponent(Component):
    """Wholesale-to-retail markets, 27 Member States x 7 substances, with a monthly mass balance."""

    name = "market"
    parameters = (
        *(f"market.consumption_t_{s}" for s in _S), *(f"market.retail_price_{s}" for s in _S),
        *(f"market.retail_purity_{s}" for s in _S), *(f"market.wholesale_purity_{s}" for s in _S),
        *(f"market.inland_seizure_rate_{s}" for s in _S), *(f"market.inland_seizure_kg_{s}" for s in _S),
        "market.home_share", "market.wholesale_integration", "market.target_cover_months", "market.price_scarcity_elasticity",
        "market.purity_scarcity_elasticity", "market.risk_premium", "market.risk_smoothing", "market.onward_rate",
        "market.max_sell_share", "market.adulteration_base_heroin", "market.adulteration_shortage",
        "market.wholesale_share_of_retail", "market.import_share_of_retail", "market.laundered_share",
        "market.impact_weight_visibility", "market.impact_weight_violence", "market.impact_weight_nuisance",
        "market.impact_ref_retail_kg_per_1000", "market.impact_ref_violence_per_million",
        "market.impact_ref_opioid_kg_per_1000", "market.postal_darknet_detection",
        "market.local_market_weight", "market.local_risk_premium", "market.arrest_risk_weight",
    )
    levers = ("postal_screening",)
    fills = ("seizures_count", "seizures_kg", "delivered_kg", "retail_price_eur_per_g", "retail_purity",
             "darknet_share", "retail_market_value_eur", "community_impact_index", "illicit_financial_flows_eur")

    def __init__(self, model, params):
        super().__init__(model, params)
        w = getattr(model.state, "trafficking", None)
        if w is None:
            raise RuntimeError("MarketComponent needs the supply component before it (model.state.trafficking)")
        self.world = w
        p = self.params
        self.base_price = _per_substance(p, "market.retail_price")
        self.base_purity = _per_substance(p, "market.retail_purity")
        self.wholesale_purity = _per_substance(p, "market.wholesale_purity")
        self.inland_rate = _per_substance(p, "market.inland_seizure_rate")
        self.inland_size = _per_substance(p, "market.inland_seizure_kg")
        pop_share = POPULATION_15_64 / POPULATION_15_64.sum()
        self.fallback_demand = np.outer(pop_share, _per_substance(p, "market.consumption_t") * 1000.0 / 12.0)
        demand = self._demand()
        self.inventory = p["market.target_cover_months"] * demand
        self.price = np.tile(self.base_price, (N_MS, 1))
        self.purity = np.tile(self.base_purity, (N_MS, 1))
        self.adulteration = np.zeros((N_MS, N_SUBSTANCES))
        self.adulteration[:, HEROIN] = p["market.adulteration_base_heroin"]
        self.risk = None
        self.risk_ref = None
        self.local_risk = None
        self.local_risk_ref = None
        self.ledger = []
        self._write_state(np.ones((N_MS, N_SUBSTANCES)), np.zeros((N_MS, N_SUBSTANCES)))
        w.wholesale_eur_per_kg = self.base_price * 1000.0 * p["market.wholesale_share_of_retail"]
        self.month_out = None
        self.stock_end = self.inventory.sum(axis=0) + w.in_transit_kg()

    def _demand(self) -> np.ndarray:
        """Kilograms users seek this month: the demand side's signal, or the registry baseline without it."""
        d = self.model.state.demand_kg
        return d if float(np.sum(d)) > 0 else self.fallback_demand

    def _write_state(self, availability, consumed):
        st = self.model.state
        st.retail_price_eur_per_g = self.price.copy()
        st.retail_purity = self.purity.copy()
        st.adulteration = self.adulteration.copy()
        st.availability = availability
        st.consumed_kg = consumed

    def step(self, t: int) -> None:
        p, w, model = self.params, self.world, self.model
        g, net = w.groups, w.net
        demand = self._demand()
        stock_before = self.stock_end
        # border arrivals that escaped, from entry points to markets
        sub = net.ch_substance[g.link_channel]
        entry_ms = net.entry_ms[net.ch_entry[g.link_channel]]
        escaped = w.link_arrived - w.link_seized
        cell = entry_ms * N_SUBSTANCES + sub
        at_entry = np.bincount(cell, weights=escaped, minlength=N_MS * N_SUBSTANCES).reshape(N_MS, N_SUBSTANCES)
        seized_border = np.bincount(cell, weights=w.link_seized, minlength=N_MS * N_SUBSTANCES).reshape(N_MS, N_SUBSTANCES)
        dshare = demand / np.maximum(demand.sum(axis=0), 1e-12)
        h = p["market.home_share"]
        wholesale_in = h * at_entry + (1 - h) * dshare * at_entry.sum(axis=0) + w.domestic_kg
        # cut to retail purity: cutting agents add mass
        cut = np.maximum(self.wholesale_purity[None, :] / np.maximum(self.purity, 1e-6), 1.0)
        street_in = wholesale_in * cut
        cut_added = (street_in - wholesale_in).sum(axis=0)
        self.inventory = self.inventory + street_in
        # wholesale arbitrage inside the Schengen area: stocks move towards where demand is
        rho = p["market.wholesale_integration"]
        self.inventory = (1 - rho) * self.inventory + rho * dshare * self.inventory.sum(axis=0)
        # inland police seizures and postal seizures of darknet retail parcels
        inland = self.inventory * self.inland_rate[None, :]
        postal = np.asarray(model.lever("postal_screening"))
        dn = w.darknet_share[None, :] * np.minimum(demand, self.inventory - inland)
        p_post = np.clip(postal * p["market.postal_darknet_detection"], 0, 0.9)
        dn_seized = np.maximum(dn, 0) * p_post[:, None]
        self.inventory -= inland + dn_seized
        # retail sales
        consumed = np.minimum(demand, self.inventory * p["market.max_sell_share"])
        self.inventory -= consumed
        # onward trafficking: what the EU market holds above its target cover leaves, from the countries holding it
        excess = np.maximum(self.inventory - p["market.target_cover_months"] * demand, 0.0)
        eu_excess = np.maximum(self.inventory.sum(axis=0) - p["market.target_cover_months"] * demand.sum(axis=0), 0.0)
        onward = excess * np.divide(p["market.onward_rate"] * eu_excess, excess.sum(axis=0),
                                    out=np.zeros(N_SUBSTANCES), where=excess.sum(axis=0) > 0)[None, :]
        self.inventory -= onward
        availability = np.divide(consumed, demand, out=np.ones_like(demand), where=demand > 0)

        # prices, purity, adulteration: each Member State's own market, drawn towards the EU wholesale market
        seized_inland = inland + dn_seized
        seized_ms = seized_border + seized_inland
        upstream = np.bincount(sub, weights=w.link_upstream, minlength=N_SUBSTANCES)
        denom = w.produced_kg
        risk_now = np.divide(seized_ms.sum(axis=0) + upstream, denom, out=np.zeros(N_SUBSTANCES), where=denom > 0)
        # the state's own enforcement pressure on retail distribution: the share of its retail supply seized in
        # the post (the inland rate is a constant share of stocks, so it carries no policy signal), plus the share
        # of the groups based there that it disrupts. Border seizures price in through the EU premium: what enters
        # at a port supplies the whole Schengen market.
        retail_supply = consumed + dn_seized
        alive_home = np.bincount(g.home, weights=g.alive, minlength=N_MS)
        disruption = np.divide(w.disrupted_by_ms, alive_home, out=np.zeros(N_MS), where=alive_home > 0)
        local_now = np.divide(dn_seized, retail_supply, out=np.zeros_like(dn_seized), where=retail_supply > 1e-9) \
            + p["market.arrest_risk_weight"] * disruption[:, None]
        a = p["market.risk_smoothing"]
        self.risk = risk_now if self.risk is None else (1 - a) * self.risk + a * risk_now
        self.local_risk = local_now if self.local_risk is None else (1 - a) * self.local_risk + a * local_now
        if t < 12:  # burn-in: premiums are measured against the risk of the first year
            self.risk_ref = self.risk.copy()
            self.local_risk_ref = self.local_risk.copy()
        premium = np.maximum(1.0 + p["market.risk_premium"] * (self.risk - self.risk_ref), 0.3)
        local_premium = np.maximum(1.0 + p["market.local_risk_premium"] * (self.local_risk - self.local_risk_ref), 0.3)
        # scarcity: inventory cover (stock / demand) against its target, on the EU market and in each state;
        # a state's effective cover is the EU cover times its own relative cover to the power local_market_weight
        target = p["market.target_cover_months"]
        eu_cover = np.clip(np.divide(self.inventory.sum(axis=0), demand.sum(axis=0), out=np.ones(N_SUBSTANCES),
                                     where=demand.sum(axis=0) > 0) / target, 0.05, 20.0)
        ms_cover = np.divide(self.inventory, demand * target, out=np.tile(eu_cover, (N_MS, 1)), where=demand > 0)
        rel = np.clip((np.clip(ms_cover, 0.05, 20.0) / eu_cover[None, :]) ** p["market.local_market_weight"], 0.2, 5.0)
        # local factors average to one over the EU (demand-weighted): the EU level stays calibrated, states differ
        local_price = rel ** (-p["market.price_scarcity_elasticity"]) * local_premium
        local_price /= np.maximum((dshare * local_price).sum(axis=0), 1e-12)[None, :]
        local_purity = rel ** p["market.purity_scarcity_elasticity"]
        local_purity /= np.maximum((dshare * local_purity).sum(axis=0), 1e-12)[None, :]
        scarcity = np.clip(eu_cover ** (-p["market.price_scarcity_elasticity"]), 0.5, 3.0)
        self.price = self.base_price[None, :] * (premium * scarcity)[None, :] * local_price
        self.purity = np.clip(self.base_purity[None, :] * np.clip(eu_cover ** p["market.purity_scarcity_elasticity"],
                                                                  0.4, 1.2)[None, :] * local_purity, 0.001, 0.99)
        shortage = np.clip(1.0 - eu_cover[None, :] * rel, 0.0, 1.0)
        self.adulteration = np.zeros((N_MS, N_SUBSTANCES))
        self.adulteration[:, HEROIN] = np.clip(p["market.adulteration_base_heroin"]
                                               + p["market.adulteration_shortage"] * shortage[:, HEROIN], 0, 1)
        w.price_index = (self.price * demand).sum(axis=0) / np.maximum(demand.sum(axis=0), 1e-12) / self.base_price
        w.wholesale_eur_per_kg = self.base_price * w.price_index * 1000.0 * p["market.wholesale_share_of_retail"]
        self._write_state(availability, consumed)

        # mass balance
        stock_after = self.inventory.sum(axis=0) + w.in_transit_kg()
        entry = {
            "produced": w.produced_kg.copy(), "cut_added": cut_added, "seized": seized_ms.sum(axis=0),
            "upstream_lost": upstream, "consumed": consumed.sum(axis=0), "onward": onward.sum(axis=0),
            "lab_exports": w.lab_exports_kg.copy(), "stock_change": stock_after - stock_before,
        }
        self.ledger.append(entry)
        self.stock_end = stock_after

        # outputs
        value = (consumed * self.price * 1000.0).sum(axis=0)
        counts = np.bincount(sub, weights=w.link_hits, minlength=N_SUBSTANCES) \
            + (seized_inland / self.inland_size[None, :]).sum(axis=0)
        retail_kg = consumed.sum(axis=1)
        viol = w.violent_incidents
        vis = retail_kg / (POPULATION_TOTAL / 1000.0) / p["market.impact_ref_retail_kg_per_1000"]
        nuis = consumed[:, HEROIN] / (POPULATION_TOTAL / 1000.0) / p["market.impact_ref_opioid_kg_per_1000"]
        vio = viol / (POPULATION_TOTAL / 1e6) / p["market.impact_ref_violence_per_million"]
        x = (p["market.impact_weight_visibility"] * vis + p["market.impact_weight_violence"] * vio
             + p["market.impact_weight_nuisance"] * nuis)
        imports = np.bincount(sub, weights=w.link_arrived + w.link_upstream, minlength=N_SUBSTANCES)
        iff = float((imports * self.base_price * 1000.0 * p["market.import_share_of_retail"]).sum()
                    + p["market.laundered_share"] * value.sum() - w.assets_confiscated_eur)
        self.month_out = {
            "seizures_count": counts, "seizures_kg": seized_ms, "delivered_kg": street_in,
            "retail_price_eur_per_g": self.price.copy(), "retail_purity": self.purity.copy(),
            "darknet_share": w.darknet_share.copy(), "retail_market_value_eur": value,
            "community_impact_index": 100.0 * x / (1.0 + x), "illicit_financial_flows_eur": max(iff, 0.0),
        }

    def record(self, t: int, out) -> None:
        for k, v in self.month_out.items():
            out[k][t] = v
