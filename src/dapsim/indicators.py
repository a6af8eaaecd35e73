"""The Plan's 11 overarching indicators (its Annex 1) as labelled output variables.

This module is the single list of what a run can report: each variable's dimensions, units, the indicator it
belongs to, and how it aggregates to calendar years (``sum`` for flows such as deaths or seizures, ``mean``
for stocks and rates such as clients in treatment or prices). Components declare which variables they fill;
:func:`assemble` turns what they recorded into an ``xarray.Dataset`` and :func:`annual` into calendar years.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import xarray as xr

from .dims import AGE_GROUPS, MEMBER_STATES, SEXES, SUBSTANCES
from .timeline import year_of


@dataclass(frozen=True)
class Variable:
    """One output variable."""

    name: str
    indicator: int | None  # 1-11, or None for programme cost
    dims: tuple[str, ...]
    units: str
    aggregation: str  # "sum" (flows) or "mean" (stocks, rates, prices)
    long_name: str
    description: str


def _v(name, indicator, dims, units, aggregation, long_name, description):
    return name, Variable(name, indicator, tuple(dims.split()), units, aggregation, long_name, description)


INDICATORS: Mapping[str, Variable] = MappingProxyType(dict([
    # 1 targeting high-risk organised crime groups
    _v("ocgs_disrupted", 1, "time", "count", "sum", "Organised crime groups disrupted",
       "Groups that lost a leader or broker, or a quarter of their members, to arrests this month."),
    _v("ocgs_dismantled", 1, "time", "count", "sum", "Organised crime groups dismantled",
       "Groups that ceased to operate after arrests this month."),
    _v("ocg_members_arrested", 1, "time", "count", "sum", "Members of organised crime groups arrested", ""),
    _v("cross_border_operations", 1, "time", "count", "sum", "Cross-border operations",
       "Investigations that used intelligence passed between agencies of different countries."),
    _v("assets_confiscated_eur", 1, "time", "EUR", "sum", "Criminal assets confiscated", ""),
    # 2 organised crime, corruption and violence
    _v("violent_incidents", 2, "time member_state", "count", "sum", "Drug-market violent incidents",
       "Violent incidents between or within organised crime groups."),
    _v("corrupted_insiders", 2, "time", "count", "mean", "Corrupted insiders at entry points",
       "Port, airport and logistics staff working for organised crime groups."),
    # 3 drug markets
    _v("seizures_count", 3, "time substance", "count", "sum", "Drug seizures (number)", ""),
    _v("seizures_kg", 3, "time member_state substance", "kg", "sum", "Drug seizures (quantity)", ""),
    _v("entry_point_seizures_kg", 3, "time entry_point substance", "kg", "sum", "Seizures at entry points", ""),
    _v("entry_point_flow_kg", 3, "time entry_point substance", "kg", "sum", "Drug flow through entry points",
       "Quantity shipped through each entry point, seized or not."),
    _v("delivered_kg", 3, "time member_state substance", "kg", "sum", "Drugs delivered to retail markets", ""),
    _v("labs_dismantled", 3, "time member_state", "count", "sum", "Drug production sites dismantled", ""),
    _v("retail_price_eur_per_g", 3, "time member_state substance", "EUR/g", "mean", "Retail price", ""),
    _v("retail_purity", 3, "time member_state substance", "fraction", "mean", "Retail purity", ""),
    _v("precursors_seized_kg", 3, "time", "kg", "sum", "Drug precursors seized", ""),
    _v("darknet_share", 3, "time substance", "fraction", "mean", "Darknet share of retail supply", ""),
    _v("retail_market_value_eur", 3, "time substance", "EUR", "sum", "Retail market value", ""),
    # 4 impact on communities
    _v("community_impact_index", 4, "time member_state", "index 0-100", "mean", "Impact of drug markets on communities",
       "Index from open-market visibility, violence and nuisance (0 none, 100 worst)."),
    # 5 health
    _v("drug_induced_deaths", 5, "time member_state sex", "count", "sum", "Drug-induced deaths", ""),
    _v("nonfatal_overdoses", 5, "time member_state", "count", "sum", "Non-fatal overdoses and drug emergencies", ""),
    _v("hiv_new_infections_pwid", 5, "time member_state", "count", "sum", "New HIV infections among people who inject", ""),
    _v("hcv_new_infections_pwid", 5, "time member_state", "count", "sum", "New HCV infections among people who inject", ""),
    # 6 prevalence and patterns
    _v("prevalence_last_year", 6, "time member_state substance age_group", "fraction", "mean", "Last-year prevalence", ""),
    _v("users_last_year", 6, "time substance age_group sex", "people", "mean", "People who used in the last year", ""),
    _v("high_risk_opioid_users", 6, "time member_state", "people", "mean", "High-risk opioid users", ""),
    _v("people_who_inject", 6, "time member_state", "people", "mean", "People who inject drugs", ""),
    _v("mean_age_first_use", 6, "time substance", "years", "mean", "Mean age at first use", ""),
    # 7 reducing harm
    _v("oat_clients", 7, "time member_state", "people", "mean", "Clients in opioid agonist treatment", ""),
    _v("treatment_clients", 7, "time member_state sex", "people", "mean", "People in drug treatment", ""),
    _v("treatment_entrants", 7, "time member_state", "people", "sum", "People entering drug treatment",
       "Admissions to opioid agonist and other treatment (high-risk opioid users and people from the "
       "general-population cohorts). The people treated during a year, the EUDA's count, are about the stock "
       "at the start of the year plus the year's entrants."),
    _v("oat_entrants", 7, "time member_state", "people", "sum", "People starting opioid agonist treatment",
       "Admissions to OAT, a subset of treatment_entrants (which explains the EUDA's count of people "
       "treated during a year)."),
    _v("oat_coverage", 7, "time member_state", "fraction of high-risk opioid users", "mean", "OAT coverage", ""),
    _v("syringes_per_pwid", 7, "time member_state", "syringes per person per year", "mean",
       "Syringes distributed per person who injects", ""),
    _v("naloxone_kits_distributed", 7, "time member_state", "count", "sum", "Take-home naloxone kits distributed", ""),
    _v("offenders_diverted", 7, "time member_state", "count", "sum", "Offenders diverted to alternatives to sanctions", ""),
    _v("hcv_tested_share", 7, "time member_state", "fraction", "mean", "Share of people who inject tested for HCV", ""),
    # 8 new psychoactive substances
    _v("nps_new_notified", 8, "time", "count", "sum", "New psychoactive substances notified", ""),
    _v("nps_harm_events", 8, "time", "count", "sum", "Serious harms involving new psychoactive substances", ""),
    # 9 emerging threats
    _v("wastewater_mg_per_1000_per_day", 9, "time member_state substance", "mg/1000 people/day", "mean",
       "Drug residues in wastewater", "Residue loads implied by simulated consumption."),
    # 10 prison
    _v("prison_drug_use_share", 10, "time member_state", "fraction", "mean", "Share of prisoners using drugs in prison", ""),
    _v("prison_oat_coverage", 10, "time member_state", "fraction", "mean", "OAT coverage in prison", ""),
    _v("post_release_deaths", 10, "time member_state", "count", "sum", "Drug-induced deaths in the year after release", ""),
    # 11 sustainable development goals
    _v("sdg_3_5_treatment_coverage", 11, "time", "fraction", "mean", "SDG 3.5.1 treatment coverage",
       "People in drug treatment as a share of people who need it."),
    _v("illicit_financial_flows_eur", 11, "time", "EUR", "sum", "SDG 16.4 illicit financial flows", ""),
    # cost of the Plan's actions
    _v("programme_cost_eur", None, "time lever", "EUR", "sum", "Programme cost by lever", ""),
]))
"""Every output variable, by name (the public names of INTERFACE.md)."""

FIXED_COORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "member_state": MEMBER_STATES,
    "substance": SUBSTANCES,
    "age_group": AGE_GROUPS,
    "sex": SEXES,
})


class Recorder:
    """Preallocated monthly arrays that components write into: ``out["drug_induced_deaths"][t] = ...``."""

    def __init__(self, names: list[str], n_months: int, coords: Mapping[str, tuple[str, ...]]):
        self.coords = coords
        self.arrays: dict[str, np.ndarray] = {}
        for name in names:
            shape = [n_months] + [len(coords[d]) for d in INDICATORS[name].dims[1:]]
            self.arrays[name] = np.full(shape, np.nan)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays


def assemble(recorder: Recorder, months: np.ndarray, attrs: Mapping[str, object]) -> xr.Dataset:
    """Turn recorded arrays into a labelled dataset with units and indicator numbers."""
    coords = {"time": months.astype("datetime64[ns]")}
    for dim, labels in recorder.coords.items():
        coords[dim] = np.array(labels, dtype=object).astype(str)
    data_vars = {}
    for name in INDICATORS:
        if name not in recorder:
            continue
        var = INDICATORS[name]
        data_vars[name] = xr.Variable(
            var.dims,
            recorder[name],
            attrs={
                "long_name": var.long_name,
                "units": var.units,
                "indicator": var.indicator if var.indicator is not None else 0,
                "description": var.description,
                "aggregation": var.aggregation,
            },
        )
    used = {d for v in data_vars.values() for d in v.dims}
    ds = xr.Dataset(data_vars, coords={k: v for k, v in coords.items() if k in used or k == "time"})
    ds.attrs.update({k: (json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v) for k, v in attrs.items()})
    return ds


def annual(ds: xr.Dataset) -> xr.Dataset:
    """Calendar-year values: sums for flows, means for stocks and rates.

    Only complete calendar years are kept, so that a flow summed over a partial year is never mistaken for a
    yearly total. The result has a ``year`` dimension (integers) in place of ``time``.
    """
    years = year_of(ds["time"].values.astype("datetime64[M]"))
    counts = np.bincount(years - years.min())
    complete = [y for y in np.unique(years) if counts[y - years.min()] == 12]
    keep = np.isin(years, complete)
    monthly = ds.isel(time=keep).assign_coords(year=("time", years[keep]))
    out = {}
    for name, da in monthly.data_vars.items():
        if "time" not in da.dims:
            out[name] = da
            continue
        grouped = da.groupby("year")
        agg = grouped.sum("time", skipna=False) if da.attrs.get("aggregation") == "sum" else grouped.mean("time")
        agg.attrs = dict(da.attrs)
        if da.attrs.get("aggregation") == "sum":
            agg.attrs["units"] = f"{da.attrs['units']} per year"
        out[name] = agg
    result = xr.Dataset(out, coords={"year": np.array(complete, dtype=int)}, attrs=dict(ds.attrs))
    result["year"].attrs = {"long_name": "calendar year"}
    return result
