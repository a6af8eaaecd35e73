"""The headline indicator table: EU-27 yearly figures a policy officer reads first.

Each row names the Plan's indicator, the variable it comes from and how the EU figure is formed (a sum over
Member States, or a ratio of sums). Rows whose variable a run does not contain are left out, never shown as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Headline:
    """One row of the table: ``variable`` selected by ``sel``, summed over every other dimension.

    With ``per`` set, the row is the ratio of the two EU sums (e.g. OAT clients per high-risk opioid user);
    ``mean`` averages instead of summing (for EU-wide shares that have no Member State dimension).
    """

    label: str
    indicator: int
    variable: str
    units: str
    sel: dict = field(default_factory=dict)
    divisor: float = 1.0
    per: str | None = None
    mean: bool = False

    def available(self, ds: xr.Dataset) -> bool:
        return self.variable in ds and (self.per is None or self.per in ds)

    def values(self, yearly: xr.Dataset) -> xr.DataArray:
        """The row's value for every year of an annual dataset."""
        da = yearly[self.variable].sel(self.sel)
        others = [d for d in da.dims if d != "year"]
        if self.mean:
            return da.mean(others)
        total = da.sum(others) / self.divisor
        if self.per is not None:
            denom = yearly[self.per]
            total = total / denom.sum([d for d in denom.dims if d != "year"])
        return total


HEADLINES: tuple[Headline, ...] = (
    Headline("Groups dismantled", 1, "ocgs_dismantled", "count"),
    Headline("Organised crime members arrested", 1, "ocg_members_arrested", "count"),
    Headline("Assets confiscated", 1, "assets_confiscated_eur", "EUR m", divisor=1e6),
    Headline("Violent incidents", 2, "violent_incidents", "count"),
    Headline("Corrupted insiders", 2, "corrupted_insiders", "people"),
    Headline("Cocaine seized", 3, "seizures_kg", "t", {"substance": "cocaine"}, divisor=1e3),
    Headline("Heroin seized", 3, "seizures_kg", "t", {"substance": "heroin"}, divisor=1e3),
    Headline("Cannabis seized", 3, "seizures_kg", "t", {"substance": "cannabis"}, divisor=1e3),
    Headline("Labs dismantled", 3, "labs_dismantled", "count"),
    Headline("Retail market value", 3, "retail_market_value_eur", "EUR bn", divisor=1e9),
    Headline("Drug-induced deaths", 5, "drug_induced_deaths", "count"),
    Headline("Non-fatal overdoses", 5, "nonfatal_overdoses", "count"),
    Headline("New HIV infections, people who inject", 5, "hiv_new_infections_pwid", "count"),
    Headline("New HCV infections, people who inject", 5, "hcv_new_infections_pwid", "count"),
    Headline("Cannabis users, last year (15-64)", 6, "users_last_year", "million",
             {"substance": "cannabis", "age_group": "15-64"}, divisor=1e6),
    Headline("Cocaine users, last year (15-64)", 6, "users_last_year", "million",
             {"substance": "cocaine", "age_group": "15-64"}, divisor=1e6),
    Headline("High-risk opioid users", 6, "high_risk_opioid_users", "thousand", divisor=1e3),
    Headline("OAT clients", 7, "oat_clients", "thousand", divisor=1e3),
    Headline("OAT coverage", 7, "oat_clients", "share", per="high_risk_opioid_users"),
    Headline("People in drug treatment", 7, "treatment_clients", "thousand", divisor=1e3),
    Headline("Take-home naloxone kits distributed", 7, "naloxone_kits_distributed", "thousand", divisor=1e3),
    Headline("NPS newly notified", 8, "nps_new_notified", "count"),
    Headline("Post-release deaths", 10, "post_release_deaths", "count"),
    Headline("SDG 3.5 treatment coverage", 11, "sdg_3_5_treatment_coverage", "share", mean=True),
    Headline("Illicit financial flows", 11, "illicit_financial_flows_eur", "EUR bn", divisor=1e9),
    Headline("Programme cost of the levers", 0, "programme_cost_eur", "EUR m", divisor=1e6),
)


def headline_table(yearly: xr.Dataset, years: list[int]) -> list[tuple[Headline, list[float]]]:
    """Rows available in the run, each with its value in each of ``years`` (NaN outside the horizon)."""
    present = [y for y in years if y in yearly["year"].values] if "year" in yearly.coords else []
    rows = []
    for h in HEADLINES:
        if not h.available(yearly):
            continue
        values = h.values(yearly)
        rows.append((h, [float(values.sel(year=y)) if y in present else np.nan for y in years]))
    return rows


def format_number(value: float | None, small: str = ".3g") -> str:
    """A number as a reader of a table wants it: thousands separated, no spurious decimals, "–" for missing.

    Args:
        value: the number (None or NaN print as a dash: outside the horizon, or a failed run).
        small: format of magnitudes below 1 (``.3g`` keeps three significant figures; ``.3f`` three decimals,
            for shares and rates that sit next to each other in a column).
    """
    if value is None or not np.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}"
    if magnitude == 0:
        return "0"
    return format(value, small)

