"""Scenario comparison: paired differences, cost per outcome, the self-contained report, the CLI."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import dapsim
from dapsim.analysis.compare import compare_ensemble, comparison_rows
from dapsim.dims import MEMBER_STATES, SEXES
from dapsim.scenario import Scenario

from .test_ensemble import SCALE, TOY, short_scenarios

YEARS = list(range(2019, 2031))


def synthetic_ensemble(n_draws=5, n_seeds=2, averted=300.0, extra_cost=3e7) -> xr.Dataset:
    """Two scenarios; the second averts ``averted`` deaths a year from 2023 at ``extra_cost`` EUR a year."""
    rng = np.random.default_rng(1)
    shape = (2, n_draws, n_seeds, len(YEARS))
    deaths = 5000 + rng.normal(0, 200, size=(1, n_draws, n_seeds, 1)) + rng.normal(0, 50, size=(1, n_draws, n_seeds, len(YEARS)))
    deaths = np.repeat(deaths, 2, axis=0)
    deaths[1] -= np.where(np.array(YEARS) >= 2023, averted, 0)
    per_cell = np.repeat((deaths / 54)[..., None, None], 27, axis=4).repeat(2, axis=5)
    cost = np.zeros(shape + (2,))
    cost[..., 0] = 1e6
    cost[1, ..., 1] = np.where(np.array(YEARS) >= 2023, extra_cost, 0)
    dims = ("scenario", "draw", "seed", "year")
    ens = xr.Dataset({
        "drug_induced_deaths": (dims + ("member_state", "sex"), per_cell, {"units": "count per year", "aggregation": "sum"}),
        "programme_cost_eur": (dims + ("lever",), cost, {"units": "EUR per year", "aggregation": "sum"}),
    }, coords={"scenario": ["baseline", "naloxone"], "draw": range(n_draws), "seed": range(n_seeds), "year": YEARS,
               "member_state": list(MEMBER_STATES), "sex": list(SEXES), "lever": ["oat_capacity", "naloxone_coverage"],
               "scenario_name": ("scenario", ["Baseline", "Naloxone scale-up"])})
    ens.attrs.update({"failed_runs": "[]", "n_runs": 2 * n_draws * n_seeds,
                      "scenarios": json.dumps([{"name": "Baseline", "description": "policy as in 2020"},
                                               {"name": "Naloxone scale-up", "description": "more kits"}])})
    return ens


def test_paired_differences_remove_the_shared_noise():
    cmp = compare_ensemble(synthetic_ensemble(), [2025, 2030])
    deaths = cmp.indicators[cmp.indicators["key"] == "drug_induced_deaths"].set_index(["scenario", "year"])
    # levels vary by several hundred between runs, the paired difference is exactly -300 in every run
    assert deaths.loc[("baseline", 2025), "p95"] - deaths.loc[("baseline", 2025), "p5"] > 200
    for y in (2025, 2030):
        row = deaths.loc[("naloxone", y)]
        assert row["diff_median"] == pytest.approx(-300) and row["diff_p5"] == pytest.approx(-300)
        assert row["diff_p95"] == pytest.approx(-300) and row["share_runs_below_reference"] == 1.0
        assert row["runs"] == 10
    assert np.isnan(deaths.loc[("baseline", 2025), "diff_median"])


def test_only_variables_present_in_the_run_are_compared():
    ens = synthetic_ensemble()
    keys = {r.key for r in comparison_rows(ens)}
    assert "drug_induced_deaths" in keys and "programme_cost_eur" in keys
    assert not any(k.startswith("seizures_kg") for k in keys)
    cmp = compare_ensemble(ens, [2025])
    assert list(cmp.cost_per_outcome["outcome"]) == ["per drug-induced death averted"]  # no kg, no infections
    empty = compare_ensemble(ens.drop_vars(["drug_induced_deaths", "programme_cost_eur"]), [2025])
    assert empty.indicators.empty and empty.costs.empty and empty.cost_per_outcome.empty
    assert "does not record any indicator" in empty.html()


def test_cost_per_death_averted_is_incremental_cost_over_deaths_averted():
    cmp = compare_ensemble(synthetic_ensemble(), [2025, 2030])
    costs = cmp.costs.set_index("scenario")
    assert costs.loc["baseline", "period"] == "2021-2030"
    assert costs.loc["baseline", "cost_eur_median"] == pytest.approx(10 * 1e6)
    assert costs.loc["naloxone", "incremental_cost_eur_median"] == pytest.approx(8 * 3e7)  # 2023-2030
    row = cmp.cost_per_outcome.iloc[0]
    assert row["outcome_gain_median"] == pytest.approx(8 * 300)
    assert row["eur_per_outcome"] == pytest.approx(8 * 3e7 / (8 * 300))
    assert row["eur_per_outcome_p5"] == pytest.approx(1e5) and row["share_runs_gaining"] == 1.0
    worse = compare_ensemble(synthetic_ensemble(averted=-50), [2030]).cost_per_outcome.iloc[0]
    assert np.isnan(worse["eur_per_outcome"]) and "no gain" in worse["note"]


def test_failed_runs_are_left_out_of_the_statistics_not_counted_as_zero():
    ens = synthetic_ensemble()
    ens["drug_induced_deaths"][1, 0, 0] = np.nan
    ens["programme_cost_eur"][1, 0, 0] = np.nan
    ens.attrs["failed_runs"] = json.dumps([{"run": "naloxone__d0000__s0", "scenario": "naloxone", "draw": 0, "seed": 0,
                                            "error": "RuntimeError: boom"}])
    cmp = compare_ensemble(ens, [2025])
    row = cmp.indicators.set_index(["key", "scenario"]).loc[("drug_induced_deaths", "naloxone")]
    assert row["runs"] == 9 and row["diff_median"] == pytest.approx(-300) and row["median"] > 4000
    assert "RuntimeError: boom" in cmp.html()


def test_report_is_self_contained_html_with_embedded_figures_and_csv_tables(tmp_path):
    cmp = compare_ensemble(synthetic_ensemble(), [2025, 2030])
    paths = cmp.write(tmp_path / "out")
    text = paths["report"].read_text()
    assert text.startswith("<!DOCTYPE html>") and "Naloxone scale-up" in text and "per drug-induced death averted" in text
    assert not re.search(r"""(src|href)=['"](?!data:)""", text)  # nothing fetched from elsewhere
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(images) == 2 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    table = pd.read_csv(paths["indicators"])
    assert len(table) == len(cmp.indicators) and set(table["scenario"]) == {"baseline", "naloxone"}
    assert pd.read_csv(paths["cost_per_outcome"])["eur_per_outcome"].iloc[0] == pytest.approx(1e5)
    assert xr.open_dataset(paths["ensemble"], engine="h5netcdf").sizes["scenario"] == 2


def test_compare_api_pairs_runs_by_draw_and_seed():
    """With common random numbers the naloxone lever changes deaths in every paired run and leaves seizures,
    which it does not act on, exactly unchanged."""
    base = short_scenarios()[0]
    naloxone = Scenario.from_dict({"name": "Naloxone", "horizon": {"start": "2019-01", "end": "2020-12"},
                                   "levers": {"naloxone_coverage": {"target": 0.5, "from": "2019-06"}}}, source="nal.toml")
    cmp = dapsim.compare([base, naloxone], runs=4, years=[2020], executor=ThreadPoolExecutor(2), scale=SCALE,
                         components=TOY)
    assert cmp.runs_split == (4, 1) and cmp.ensemble.sizes["draw"] == 4
    rows = cmp.indicators.set_index(["key", "scenario"])
    deaths = rows.loc[("drug_induced_deaths", "nal")]
    assert deaths["diff_p95"] < 0 and deaths["share_runs_below_reference"] == 1.0
    seized = rows.loc[("seizures_kg_cocaine", "nal")]
    assert seized["diff_p5"] == 0 and seized["diff_p95"] == 0
    cpo = cmp.cost_per_outcome.set_index("outcome")
    assert cpo.loc["per drug-induced death averted", "eur_per_outcome"] > 0
    assert "no gain" in cpo.loc["per additional kg of drugs seized", "note"]
