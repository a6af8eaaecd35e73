"""The market per Member State: retail prices and purity follow each state's own supply and enforcement."""

from __future__ import annotations

import numpy as np
import pytest

from .supply_helpers import run, scenario

LAST_YEAR = slice("2019-01", "2019-12")
ES = "ES"
CUT_ES = {k: {"target": 1.0, "where": [ES]} for k in ("port_scanning", "small_ports_monitoring", "airport_screening")}


@pytest.fixture(scope="module")
def base():
    return run(scenario())


@pytest.fixture(scope="module")
def cut_es():
    return run(scenario(CUT_ES))


def relative(ds, var, ms, substance="cocaine"):
    """A state's value over the mean of the other states, in the last year."""
    da = ds[var].sel(substance=substance, time=LAST_YEAR).mean("time")
    others = da.drop_sel(member_state=ms)
    return float(da.sel(member_state=ms)) / float(others.mean())


def test_retail_price_and_purity_differ_across_member_states(base):
    _, ds = base
    price = ds.retail_price_eur_per_g.sel(substance="cocaine", time=LAST_YEAR).mean("time")
    purity = ds.retail_purity.sel(substance="cocaine", time=LAST_YEAR).mean("time")
    assert float(price.max() / price.min()) > 1.05
    assert float(purity.max() / purity.min()) > 1.02
    # the entry states hold more stock per user: cheaper and purer than the typical state
    assert float(price.sel(member_state="BE")) < float(price.median())
    assert float(purity.sel(member_state="BE")) > float(purity.median())


def test_eu_mean_price_stays_at_the_calibrated_level(base):
    model, ds = base
    market, p = model.components[2], model.components[2].params
    # the local factors average to one (demand-weighted): the EU mean is the EU scarcity x EU risk premium rule
    demand = market._demand()
    price = ds.retail_price_eur_per_g.isel(time=-1).values
    mean = (price * demand).sum(axis=0) / demand.sum(axis=0)
    cover = np.clip(market.inventory.sum(axis=0) / demand.sum(axis=0) / p["market.target_cover_months"], 0.05, 20.0)
    scarcity = np.clip(cover ** -p["market.price_scarcity_elasticity"], 0.5, 3.0)
    premium = np.maximum(1.0 + p["market.risk_premium"] * (market.risk - market.risk_ref), 0.3)
    np.testing.assert_allclose(mean, market.base_price * premium * scarcity, rtol=1e-9)
    coke = float(ds.retail_price_eur_per_g.sel(substance="cocaine", time=LAST_YEAR).mean())
    assert 40 < coke < 100


def test_a_state_whose_inflow_is_cut_pays_more_for_less_pure_drugs(base, cut_es):
    _, b = base
    _, s = cut_es
    arrivals = lambda ds: float(ds.entry_point_flow_kg.sel(substance="cocaine", time=LAST_YEAR)  # noqa: E731
                                .sel(entry_point=["algeciras", "valencia", "barcelona"]).sum())
    assert arrivals(s) < 0.8 * arrivals(b)
    # product still reaches Spain across the Schengen area, so the national effect is small but systematic
    assert relative(s, "retail_price_eur_per_g", ES) > relative(b, "retail_price_eur_per_g", ES) + 0.003
    assert relative(s, "retail_purity", ES) < relative(b, "retail_purity", ES) - 0.002


def test_mass_balance_holds_with_national_markets(cut_es):
    model, _ = cut_es
    for month, e in enumerate(model.components[2].ledger):
        inflow = e["produced"] + e["cut_added"]
        outflow = e["seized"] + e["upstream_lost"] + e["consumed"] + e["onward"] + e["lab_exports"] + e["stock_change"]
        np.testing.assert_allclose(inflow, outflow, rtol=1e-9, atol=1e-6, err_msg=f"month {month}")


def test_postal_screening_in_one_state_adds_a_local_risk_premium(base):
    _, b = base
    ms = "DE"
    _, s = run(scenario({"postal_screening": {"target": 1.0, "where": [ms]}}))
    assert relative(s, "retail_price_eur_per_g", ms, "nps") > relative(b, "retail_price_eur_per_g", ms, "nps")
    assert relative(s, "retail_price_eur_per_g", ms, "cannabis") > relative(b, "retail_price_eur_per_g", ms, "cannabis")
