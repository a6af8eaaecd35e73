"""Compare scenarios: indicators with uncertainty, paired differences, costs and cost per outcome.

For each headline indicator (the EU-27 rows of :mod:`dapsim.report`, plus EU totals of the other flows the run
records) and each chosen year, :func:`summarise` gives every scenario's median and 90% interval over the
ensemble's runs (parameter draws × seeds), and the median and 90% interval of its difference from the first
scenario, the *reference*. Differences are paired: run (draw *k*, seed *s*) of a scenario minus run (*k*, *s*)
of the reference, which share parameter values and random streams (common random numbers), so the interval is
that of the effect, not of two independent noisy levels.

Costs: ``programme_cost_eur`` summed over levers and over the appraisal period (from 2021, the Plan's first
year, or the horizon's first complete year if later, to the last chosen year). Cost per outcome is the
incremental cost-effectiveness ratio of each scenario against the reference over the same period,
``mean(Δcost) / mean(Δoutcome)`` over the paired runs, with a 90% interval from a bootstrap over runs
(fixed seed). Outcomes: a drug-induced death averted, an additional kg seized, an HIV or HCV infection among
people who inject averted — each only if the run records the variables. A ratio is not given when the
outcome is not improved on average (it would have no meaning).

Nothing is computed for a variable the model does not record: absent rows are left out, never shown as 0.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..indicators import INDICATORS
from ..report import HEADLINES, format_number
from ..storage import write_atomic

RUN_DIMS = ("draw", "seed")
KEEP = ("scenario", "draw", "seed", "year")
PLAN_START = 2021
BOOTSTRAP = 1000


@dataclass(frozen=True)
class Row:
    """One compared quantity: an EU-27 yearly series per run, dims ``(scenario, draw, seed, year)``."""

    key: str
    label: str
    indicator: int
    units: str
    series: Callable[[xr.Dataset], xr.DataArray]
    headline: bool = False


def _total(da: xr.DataArray) -> xr.DataArray:
    others = [d for d in da.dims if d not in KEEP]
    return da.sum(others, skipna=False) if others else da


def _headline_row(h) -> Row:
    def series(ens: xr.Dataset) -> xr.DataArray:
        da = ens[h.variable].sel(h.sel)
        others = [d for d in da.dims if d not in KEEP]
        if h.mean:
            return da.mean(others) if others else da
        total = _total(da) / h.divisor
        if h.per is not None:
            total = total / _total(ens[h.per])
        return total

    sel = "_".join(str(v) for v in h.sel.values())
    key = f"{h.variable}{'_' + sel if sel else ''}{'_per_' + h.per if h.per else ''}"
    return Row(key, h.label, h.indicator, h.units, series, headline=True)


def _population_weighted(var: str, label: str, units: str, sel: dict | None = None, total: bool = False) -> Row:
    """EU mean of a per-Member-State rate, weighted by people aged 15-64 (or all inhabitants if ``total``)."""

    def series(ens: xr.Dataset) -> xr.DataArray:
        from ..dims import MEMBER_STATES
        from ..memberstates import POPULATION_15_64, POPULATION_TOTAL

        da = ens[var].sel(sel or {})
        pop = POPULATION_TOTAL if total else POPULATION_15_64
        w = xr.DataArray(np.asarray(pop, dtype=float), dims="member_state",
                         coords={"member_state": list(MEMBER_STATES)})
        out = (da * w).sum("member_state", skipna=False) / w.sum()
        others = [d for d in out.dims if d not in KEEP]
        return out.mean(others) if others else out

    key = f"{var}{'_' + '_'.join(map(str, sel.values())) if sel else ''}_eu"
    return Row(key, label, INDICATORS[var].indicator or 0, units, series)


def comparison_rows(ens: xr.Dataset) -> list[Row]:
    """The rows the ensemble can fill: headlines first, then EU totals of the other flows, in registry order."""
    rows = [_headline_row(h) for h in HEADLINES if h.available(ens)]
    used = {h.variable for h in HEADLINES} | {h.per for h in HEADLINES if h.per}
    for name, var in INDICATORS.items():
        if name in used or name not in ens:
            continue
        if var.aggregation == "sum":
            rows.append(Row(name, f"{var.long_name} (EU-27 total)", var.indicator or 0, var.units,
                            lambda e, n=name: _total(e[n])))
    if "community_impact_index" in ens:
        rows.append(_population_weighted("community_impact_index", "Impact on communities (EU-27, population-weighted)",
                                         "index 0-100"))
    if "wastewater_mg_per_1000_per_day" in ens:
        rows.append(_population_weighted("wastewater_mg_per_1000_per_day", "Cocaine residues in wastewater (EU-27)",
                                         "mg/1000 people/day", {"substance": "cocaine"}, total=True))
    return rows


def _quantiles(da: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    stacked = da.stack(run=[d for d in RUN_DIMS if d in da.dims])
    q = stacked.quantile([0.05, 0.5, 0.95], dim="run", skipna=True)
    return q.sel(quantile=0.5, drop=True), q.sel(quantile=0.05, drop=True), q.sel(quantile=0.95, drop=True)


def summarise(ens: xr.Dataset, years: Sequence[int], rows: Sequence[Row] | None = None) -> pd.DataFrame:
    """Median and 90% interval per row, year and scenario, and of the paired difference from the first scenario.

    Returns:
        A long table with columns ``key, indicator, label, units, year, scenario, scenario_name, median, p5,
        p95, diff_median, diff_p5, diff_p95, share_runs_below_reference, runs, headline``.
    """
    rows = comparison_rows(ens) if rows is None else rows
    scenarios = [str(s) for s in ens["scenario"].values]
    names = dict(zip(scenarios, [str(n) for n in ens["scenario_name"].values])) if "scenario_name" in ens.coords \
        else {s: s for s in scenarios}
    ref = scenarios[0]
    present = [y for y in years if "year" in ens.coords and y in ens["year"].values]
    records = []
    for row in rows:
        values = row.series(ens).sel(year=present)
        diff = values - values.sel(scenario=ref)
        med, lo, hi = _quantiles(values)
        dmed, dlo, dhi = _quantiles(diff)
        valid = values.notnull() & values.sel(scenario=ref).notnull()
        below = ((diff < 0) & valid).sum(RUN_DIMS) / valid.sum(RUN_DIMS).where(valid.sum(RUN_DIMS) > 0)
        n_runs = values.notnull().sum(RUN_DIMS)
        for y in present:
            for sc in scenarios:
                pick = {"scenario": sc, "year": y}
                is_ref = sc == ref
                records.append({
                    "key": row.key, "indicator": row.indicator, "label": row.label, "units": row.units, "year": int(y),
                    "scenario": sc, "scenario_name": names[sc],
                    "median": float(med.sel(pick)), "p5": float(lo.sel(pick)), "p95": float(hi.sel(pick)),
                    "diff_median": np.nan if is_ref else float(dmed.sel(pick)),
                    "diff_p5": np.nan if is_ref else float(dlo.sel(pick)),
                    "diff_p95": np.nan if is_ref else float(dhi.sel(pick)),
                    "share_runs_below_reference": np.nan if is_ref else float(below.sel(pick)),
                    "runs": int(n_runs.sel(pick)),
                    "headline": row.headline,
                })
    return pd.DataFrame.from_records(records, columns=[
        "key", "indicator", "label", "units", "year", "scenario", "scenario_name", "median", "p5", "p95",
        "diff_median", "diff_p5", "diff_p95", "share_runs_below_reference", "runs", "headline"])


# ------------------------------------------------------------------------------------------------ costs


@dataclass(frozen=True)
class Outcome:
    """An outcome a scenario buys: ``sign`` +1 if more is better (kg seized), -1 if less is better (deaths)."""

    key: str
    label: str
    variables: tuple[str, ...]
    sign: int


OUTCOMES = (
    Outcome("death_averted", "per drug-induced death averted", ("drug_induced_deaths",), -1),
    Outcome("kg_seized", "per additional kg of drugs seized", ("seizures_kg",), +1),
    Outcome("infection_averted", "per HIV or HCV infection averted among people who inject",
            ("hiv_new_infections_pwid", "hcv_new_infections_pwid"), -1),
)


def appraisal_period(ens: xr.Dataset, years: Sequence[int]) -> tuple[int, int] | None:
    """First and last year over which costs and outcomes are summed (see module docstring)."""
    if "year" not in ens.coords or ens.sizes.get("year", 0) == 0:
        return None
    all_years = [int(y) for y in ens["year"].values]
    end = max([y for y in years if y in all_years] or [all_years[-1]])
    start = max(PLAN_START, all_years[0])
    if start > end:
        start = all_years[0]
    return start, end


def _period_sum(da: xr.DataArray, period: tuple[int, int]) -> xr.DataArray:
    return _total(da).sel(year=slice(period[0], period[1])).sum("year", skipna=False)


def _interval(x: np.ndarray) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return float(med), float(lo), float(hi)


def cost_tables(ens: xr.Dataset, years: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Programme cost per scenario, and cost per outcome against the reference (empty if cost is not recorded)."""
    cost_cols = ["scenario", "scenario_name", "period", "cost_eur_median", "cost_eur_p5", "cost_eur_p95",
                 "incremental_cost_eur_median", "incremental_cost_eur_p5", "incremental_cost_eur_p95", "runs"]
    cpo_cols = ["scenario", "scenario_name", "outcome", "period", "outcome_gain_median", "outcome_gain_p5",
                "outcome_gain_p95", "incremental_cost_eur_mean", "eur_per_outcome", "eur_per_outcome_p5",
                "eur_per_outcome_p95", "share_runs_gaining", "note"]
    period = appraisal_period(ens, years)
    if "programme_cost_eur" not in ens or period is None:
        return pd.DataFrame(columns=cost_cols), pd.DataFrame(columns=cpo_cols)
    scenarios = [str(s) for s in ens["scenario"].values]
    names = dict(zip(scenarios, [str(n) for n in ens["scenario_name"].values]))
    ref = scenarios[0]
    label = f"{period[0]}-{period[1]}"
    cost = _period_sum(ens["programme_cost_eur"], period)  # (scenario, draw, seed)
    dcost = cost - cost.sel(scenario=ref)
    cost_rows, cpo_rows = [], []
    rng = np.random.default_rng(0)
    for sc in scenarios:
        c = cost.sel(scenario=sc).values.ravel()
        d = dcost.sel(scenario=sc).values.ravel()
        m, lo, hi = _interval(c)
        dm, dlo, dhi = _interval(d) if sc != ref else (np.nan, np.nan, np.nan)
        cost_rows.append({"scenario": sc, "scenario_name": names[sc], "period": label, "cost_eur_median": m,
                          "cost_eur_p5": lo, "cost_eur_p95": hi, "incremental_cost_eur_median": dm,
                          "incremental_cost_eur_p5": dlo, "incremental_cost_eur_p95": dhi,
                          "runs": int(np.isfinite(c).sum())})
        if sc == ref:
            continue
        for outcome in OUTCOMES:
            present = [v for v in outcome.variables if v in ens]
            if not present:
                continue
            total = sum(_period_sum(ens[v], period) for v in present)
            gain = (outcome.sign * (total - total.sel(scenario=ref))).sel(scenario=sc).values.ravel()
            ok = np.isfinite(gain) & np.isfinite(d)
            g, dc = gain[ok], d[ok]
            gm, glo, ghi = _interval(g)
            row = {"scenario": sc, "scenario_name": names[sc], "outcome": outcome.label, "period": label,
                   "outcome_gain_median": gm, "outcome_gain_p5": glo, "outcome_gain_p95": ghi,
                   "incremental_cost_eur_mean": float(dc.mean()) if dc.size else np.nan,
                   "eur_per_outcome": np.nan, "eur_per_outcome_p5": np.nan, "eur_per_outcome_p95": np.nan,
                   "share_runs_gaining": float((g > 0).mean()) if g.size else np.nan, "note": ""}
            if g.size == 0:
                row["note"] = "no finished paired runs"
            elif g.mean() <= 0:
                row["note"] = "no gain on average: ratio not defined"
            else:
                row["eur_per_outcome"] = float(dc.mean() / g.mean())
                idx = rng.integers(0, g.size, size=(BOOTSTRAP, g.size))
                gs, cs = g[idx].mean(axis=1), dc[idx].mean(axis=1)
                ratios = np.where(gs > 0, cs / np.where(gs > 0, gs, 1), np.nan)
                if np.mean(gs > 0) >= 0.95:
                    row["eur_per_outcome_p5"], row["eur_per_outcome_p95"] = (float(v) for v in np.nanquantile(ratios, [0.05, 0.95]))
                else:
                    row["note"] = "gain uncertain (below zero in over 5% of bootstrap samples): interval not given"
                if row["share_runs_gaining"] < 0.95:
                    share = f"gain in only {row['share_runs_gaining']:.0%} of paired runs"
                    row["note"] = f"{row['note']}; {share}" if row["note"] else share
            cpo_rows.append(row)
    return pd.DataFrame(cost_rows, columns=cost_cols), pd.DataFrame(cpo_rows, columns=cpo_cols)


# ------------------------------------------------------------------------------------------------ result


@dataclass
class Comparison:
    """What :func:`compare` returns: the ensemble and the tables built from it."""

    ensemble: xr.Dataset
    years: list[int]
    indicators: pd.DataFrame
    costs: pd.DataFrame
    cost_per_outcome: pd.DataFrame
    runs_split: tuple[int, int] = (1, 1)
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return str(self.ensemble["scenario"].values[0])

    def fan_charts(self, max_panels: int = 15) -> dict[str, bytes]:
        """PNG fan charts of levels and of paired differences (computed once, cached).

        The first ``max_panels`` rows (the headline indicators come first) are drawn; every row is in the tables.
        """
        if not self.figures:
            from ..viz.fan import fan_figure, figure_png

            rows = comparison_rows(self.ensemble)
            series = [(r.label, r.units, r.series(self.ensemble)) for r in rows]
            self.figures["levels"] = figure_png(fan_figure(series[:max_panels],
                                                           "EU-27 indicators: median, 50% and 90% of runs"))
            if self.ensemble.sizes["scenario"] > 1:
                self.figures["differences"] = figure_png(fan_figure(
                    _effects_first(series, self.reference)[:max_panels],
                    f"Difference from {self.reference} (paired runs): median, 50% and 90%",
                    reference=self.reference))
        return self.figures

    def write(self, out: str | Path, ensemble_file: bool = True) -> dict[str, Path]:
        """Write the report (HTML with embedded figures), the tables as CSV, the figures and the ensemble."""
        from ..storage import prepare_output_dir, write_netcdf
        from ..viz.fan import write_png

        out = prepare_output_dir(out)
        paths = {}
        for name, df in (("indicators", self.indicators), ("costs", self.costs), ("cost_per_outcome", self.cost_per_outcome),
                         ("failed_runs", failed_runs_table(self.ensemble))):
            paths[name] = write_atomic(out / f"{name}.csv", lambda tmp, df=df: df.to_csv(tmp, index=False))
        for name, png in self.fan_charts().items():
            paths[f"fan_{name}"] = write_png(png, out / f"fan_{name}.png")
        if ensemble_file:
            paths["ensemble"] = write_netcdf(self.ensemble, out / "ensemble.nc")
        paths["report"] = write_atomic(out / "report.html", lambda tmp: tmp.write_text(self.html(), encoding="utf-8"))
        return paths

    def html(self) -> str:
        """A self-contained HTML report (figures embedded as base64 PNG; no script, no external file)."""
        return render_html(self)


def _effects_first(series: list, reference: str) -> list:
    """Rows whose paired difference is robust (90% of runs on one side of zero in some year) first, then rows
    with any difference; rows where no scenario differs from the reference are left out of the figure."""
    robust, other = [], []
    for item in series:
        da = item[2]
        diff = (da - da.sel(scenario=reference)).drop_sel(scenario=reference)
        stacked = diff.stack(run=[d for d in RUN_DIMS if d in diff.dims])
        if not bool((np.abs(stacked) > 0).any()):
            continue
        q = stacked.quantile([0.05, 0.95], dim="run", skipna=True)
        one_side = bool(((q.sel(quantile=0.05) > 0) | (q.sel(quantile=0.95) < 0)).any())
        (robust if one_side else other).append(item)
    return robust + other


def failed_runs_table(ens: xr.Dataset) -> pd.DataFrame:
    failures = json.loads(ens.attrs.get("failed_runs", "[]"))
    return pd.DataFrame(failures, columns=["run", "scenario", "draw", "seed", "error"])


def compare(
    scenarios: Sequence,
    runs: int = 20,
    years: Sequence[int] = (2025, 2030),
    executor=None,
    store: str | Path | None = None,
    *,
    scale: float | None = None,
    resume: bool = False,
    progress: bool = False,
    draws=None,
    components: Sequence | None = None,
) -> Comparison:
    """Run ``runs`` runs per scenario and compare them with the first scenario.

    ``runs`` splits into parameter draws × seeds by :func:`dapsim.ensemble.split_runs` (20 -> 10 draws × 2
    seeds). ``draws=`` replaces the prior draws: a posterior file (``calibration/posterior.nc``) is resampled
    by weight to the same number of draws; given values per draw keep their number and ``runs`` then only sets
    the seeds (runs / number of draws, at least 1).
    """
    from ..ensemble import resolve_draws, run_ensemble, split_runs

    n_draws, n_seeds = split_runs(int(runs))
    if draws is None:
        draws_arg = n_draws
    elif isinstance(draws, str | Path):  # a posterior file is resampled to the split's number of draws
        draws_arg = resolve_draws(draws, n=n_draws)
        n_draws = draws_arg.sizes["draw"]
    else:
        draws_arg = resolve_draws(draws)
        n_draws = draws_arg.sizes["draw"]
        n_seeds = max(1, int(runs) // n_draws)
    ens = run_ensemble(list(scenarios), draws=draws_arg, seeds=n_seeds, executor=executor, store=store,
                       scale=scale, resume=resume, progress=progress, components=components)
    return compare_ensemble(ens, years, (n_draws, n_seeds))


def compare_ensemble(ens: xr.Dataset, years: Sequence[int] = (2025, 2030), runs_split: tuple[int, int] | None = None) -> Comparison:
    """The comparison tables of an ensemble already run (e.g. loaded from ``ensemble.nc``)."""
    years = [int(y) for y in years]
    split = runs_split or (ens.sizes.get("draw", 1), ens.sizes.get("seed", 1))
    costs, cpo = cost_tables(ens, years)
    return Comparison(ens, years, summarise(ens, years), costs, cpo, split)


# ------------------------------------------------------------------------------------------------ HTML


def fmt(value: float) -> str:
    """A number for a table, about three significant figures (see :func:`dapsim.report.format_number`)."""
    return format_number(value)


def interval(med: float, lo: float, hi: float, signed: bool = False) -> str:
    if not np.isfinite(med):
        return "–"
    m = fmt(med)
    if signed and med > 0:
        m = "+" + m
    return f"{m} <span class='ci'>({fmt(lo)} to {fmt(hi)})</span>"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f3f5f8}td.l,th.l{text-align:left}.ci{color:#777;font-size:0.9em}
.note{color:#555;font-size:0.9em}img{max-width:100%}
"""


def render_html(cmp: Comparison) -> str:
    ens = cmp.ensemble
    e = html.escape
    scenarios = [str(s) for s in ens["scenario"].values]
    names = [str(n) for n in ens["scenario_name"].values] if "scenario_name" in ens.coords else scenarios
    descriptions = {}
    try:
        for sc in json.loads(ens.attrs.get("scenarios", "[]")):
            descriptions[sc.get("name", "")] = sc.get("description", "")
    except (TypeError, ValueError):
        pass
    n_draws, n_seeds = cmp.runs_split
    ref = cmp.reference
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>dapsim comparison</title>"
             f"<style>{_CSS}</style></head><body>"]
    parts.append("<h1>EU Drugs Action Plan: scenario comparison</h1>")
    parts.append(f"<p class='note'>dapsim {e(str(ens.attrs.get('dapsim_version', '')))}; {n_draws * n_seeds} runs per "
                 f"scenario ({n_draws} parameter draws × {n_seeds} seeds); reference scenario: <b>{e(names[0])}</b>. "
                 "Figures are EU-27 totals for the calendar year. Each cell gives the median over the runs and, in "
                 "brackets, the 90% interval (5th to 95th percentile). Differences are paired: each run of a scenario "
                 "is compared with the run of the reference that has the same parameter values and random numbers.</p>")
    parts.append("<h2>Scenarios</h2><table><tr><th class='l'>label</th><th class='l'>name</th><th class='l'>what it asks</th></tr>")
    for s, n in zip(scenarios, names):
        parts.append(f"<tr><td class='l'>{e(s)}</td><td class='l'>{e(n)}</td><td class='l'>{e(descriptions.get(n, '').strip())}</td></tr>")
    parts.append("</table>")

    failures = failed_runs_table(ens)
    if len(failures):
        parts.append(f"<p><b>{len(failures)} of {ens.attrs.get('n_runs', '?')} runs failed</b> and are left out of every "
                     "figure below (listed in failed_runs.csv):</p><ul>")
        for _, f in failures.head(20).iterrows():
            parts.append(f"<li>{e(str(f['run']))}: {e(str(f['error']))}</li>")
        parts.append("</ul>")

    df = cmp.indicators
    parts.append("<h2>Indicators</h2>")
    if df.empty:
        parts.append("<p>The model does not record any indicator yet (or no chosen year is in the horizon).</p>")
    else:
        for y in cmp.years:
            dy = df[df["year"] == y]
            if dy.empty:
                continue
            parts.append(f"<h3>{y}</h3><table><tr><th>#</th><th class='l'>indicator</th><th class='l'>units</th>")
            parts.append(f"<th>{e(ref)}</th>")
            for s in scenarios[1:]:
                parts.append(f"<th>{e(s)}</th><th>{e(s)} − {e(ref)}</th>")
            parts.append("</tr>")
            for key in dict.fromkeys(dy["key"]):
                r = dy[dy["key"] == key].set_index("scenario")
                first = r.iloc[0]
                cells = [f"<td>{first['indicator'] or '–'}</td><td class='l'>{e(first['label'])}</td><td class='l'>{e(first['units'])}</td>"]
                cells.append(f"<td>{interval(r.loc[ref, 'median'], r.loc[ref, 'p5'], r.loc[ref, 'p95'])}</td>")
                for s in scenarios[1:]:
                    cells.append(f"<td>{interval(r.loc[s, 'median'], r.loc[s, 'p5'], r.loc[s, 'p95'])}</td>")
                    cells.append(f"<td>{interval(r.loc[s, 'diff_median'], r.loc[s, 'diff_p5'], r.loc[s, 'diff_p95'], signed=True)}</td>")
                parts.append("<tr>" + "".join(cells) + "</tr>")
            parts.append("</table>")

    parts.append("<h2>Cost and cost per outcome</h2>")
    if cmp.costs.empty:
        parts.append("<p>The run records no programme cost (no lever is wired to the model yet).</p>")
    else:
        period = cmp.costs["period"].iloc[0]
        parts.append(f"<p class='note'>Programme cost of the levers, EUR at 2020 prices, summed over {e(period)}; "
                     "incremental = scenario minus reference, paired runs. Cost per outcome = mean incremental cost / "
                     "mean outcome gained over the paired runs (90% interval from a bootstrap over runs).</p>")
        parts.append("<table><tr><th class='l'>scenario</th><th>cost, EUR m</th><th>incremental cost, EUR m</th></tr>")
        for _, r in cmp.costs.iterrows():
            parts.append(f"<tr><td class='l'>{e(r['scenario'])}</td>"
                         f"<td>{interval(r['cost_eur_median'] / 1e6, r['cost_eur_p5'] / 1e6, r['cost_eur_p95'] / 1e6)}</td>"
                         f"<td>{interval(r['incremental_cost_eur_median'] / 1e6, r['incremental_cost_eur_p5'] / 1e6, r['incremental_cost_eur_p95'] / 1e6, signed=True)}</td></tr>")
        parts.append("</table>")
        if not cmp.cost_per_outcome.empty:
            parts.append("<table><tr><th class='l'>scenario</th><th class='l'>outcome</th><th>outcome gained</th>"
                         "<th>share of runs gaining</th><th>EUR per outcome</th><th class='l'>note</th></tr>")
            for _, r in cmp.cost_per_outcome.iterrows():
                ratio = fmt(r["eur_per_outcome"])
                if np.isfinite(r["eur_per_outcome_p5"]):
                    ratio += f" <span class='ci'>({fmt(r['eur_per_outcome_p5'])} to {fmt(r['eur_per_outcome_p95'])})</span>"
                parts.append(f"<tr><td class='l'>{e(r['scenario'])}</td><td class='l'>{e(r['outcome'])}</td>"
                             f"<td>{interval(r['outcome_gain_median'], r['outcome_gain_p5'], r['outcome_gain_p95'], signed=True)}</td>"
                             f"<td>{fmt(r['share_runs_gaining'])}</td><td>{ratio}</td><td class='l'>{e(r['note'])}</td></tr>")
            parts.append("</table>")

    parts.append("<h2>Fan charts</h2><p class='note'>Line: median; dark band: central 50% of runs; light band: central "
                 "90%. Shaded years: the Action Plan 2021-2025.</p>")
    for name, png in cmp.fan_charts().items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<p><img alt='fan chart of {e(name)}' src='data:image/png;base64,{data}'></p>")
    parts.append("<p class='note'>The same tables are in indicators.csv, costs.csv and cost_per_outcome.csv; every run is "
                 "in ensemble.nc (NetCDF).</p></body></html>")
    return "".join(parts)
