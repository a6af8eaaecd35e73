"""Baseline run (all components) against the published EU-27 levels the demand and harms side is set from.

Run: ``.venv/bin/python benchmarks/demand_side_validation.py [--demand-only]``. Prints a markdown table of
simulated (``dapsim.annual`` of a baseline run, EU-27 sums) against published values, 2019-2022.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dapsim
from dapsim import demand
from dapsim.demand.users import HighRiskUsers
from dapsim.model import ActionPlanModel

ROOT = Path(__file__).resolve().parents[1]
YEARS = [2019, 2020, 2021, 2022]
PUBLISHED = {
    # label: (published per year or one value, source key of shared/reference/indicator-data.md)
    "Drug-induced deaths": ({2019: 5100, 2020: 5800, 2021: 6100, 2022: 6400}, "D1-D4 (EU-27)"),
    "  of which male (share)": (0.77, "D1-D4: 3/4 to 4/5"),
    "High-risk opioid users": (860_000, "EDR 2024 [P1] (0.86-1.0 m)"),
    "OAT clients": ({2022: 513_000}, "EDR 2024 [P1]"),
    "People treated in the year": ({2021: 1_600_000, 2022: 1_700_000}, "EDR 2023/2024 [T5][T6]"),
    "Cannabis last-year users 15-64": (22_800_000, "EDR 2024: 22.6-22.8 m"),
    "Cannabis last-year prevalence 15-64": (0.08, "EDR 2024"),
    "Cocaine last-year users 15-64": (4_000_000, "EDR 2024: 3.5-4.0 m"),
    "Cocaine last-year prevalence 15-64": (0.014, "EDR 2024: 1.2-1.4%"),
    "New HIV infections, people who inject": ({2022: 992}, "ECDC/EMCDDA 2022 EU+NO [I4]"),
    "NPS newly notified": ({2019: 53, 2020: 46, 2021: 52, 2022: 41}, "EWS [N4][P8][C6]"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demand-only", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sc = dapsim.load_scenario(ROOT / "scenarios" / "baseline.toml")
    t0 = time.perf_counter()
    model = ActionPlanModel(sc, seed=args.seed, components=demand.COMPONENTS if args.demand_only else None)
    ds = model.run()
    print(f"run: {time.perf_counter() - t0:.1f} s, components: {[type(c).__name__ for c in model.components]}\n")
    yr = dapsim.annual(ds).sel(year=YEARS)
    eu = lambda v: yr[v].sum([d for d in yr[v].dims if d != "year"]).values  # noqa: E731
    users = yr.users_last_year.sel(age_group="15-64").sum("sex")
    pop = float(dapsim.memberstates.POPULATION_15_64.sum()) if hasattr(dapsim, "memberstates") else None
    from dapsim.memberstates import POPULATION_15_64
    pop = float(POPULATION_15_64.sum())
    hru = next(c for c in model.components if isinstance(c, HighRiskUsers))
    years_all = dapsim.annual(ds).year.values
    entries = np.array([hru.treatment_entries_log[(model.months.astype("datetime64[Y]").astype(int) + 1970) == y].sum()
                        for y in years_all])
    entries = entries[np.isin(years_all, YEARS)]
    deaths = yr.drug_induced_deaths.sum("member_state")
    sim = {
        "Drug-induced deaths": eu("drug_induced_deaths"),
        "  of which male (share)": (deaths.sel(sex="male") / deaths.sum("sex")).values,
        "High-risk opioid users": eu("high_risk_opioid_users"),
        "OAT clients": eu("oat_clients"),
        "People treated in the year": eu("treatment_clients") + entries,
        "Cannabis last-year users 15-64": users.sel(substance="cannabis").values,
        "Cannabis last-year prevalence 15-64": users.sel(substance="cannabis").values / pop,
        "Cocaine last-year users 15-64": users.sel(substance="cocaine").values,
        "Cocaine last-year prevalence 15-64": users.sel(substance="cocaine").values / pop,
        "New HIV infections, people who inject": eu("hiv_new_infections_pwid"),
        "NPS newly notified": eu("nps_new_notified"),
    }
    print("| indicator | " + " | ".join(f"{y} sim" for y in YEARS) + " | published | sim/pub | source |")
    print("|---|" + "---|" * (len(YEARS) + 3))
    for label, values in sim.items():
        pub, src = PUBLISHED[label]
        fmt = (lambda x: f"{x:.3f}") if np.nanmax(values) < 1 else (lambda x: f"{x:,.0f}")
        if isinstance(pub, dict):
            pubs = " / ".join(f"{fmt(v)} ({y})" for y, v in pub.items())
            ratios = [values[YEARS.index(y)] / v for y, v in pub.items()]
        else:
            pubs = fmt(pub)
            ratios = [v / pub for v in values]
        print(f"| {label} | " + " | ".join(fmt(v) for v in values) + f" | {pubs} | "
              f"{min(ratios):.2f}-{max(ratios):.2f} | {src} |")
    stock = eu("treatment_clients")
    print(f"\n(treatment_clients, the monthly stock, averages {stock.mean():,.0f}; people treated in the year = "
          "mean stock + treatment entries during the year, the EUDA's 'people treated' count)")


if __name__ == "__main__":
    main()
