"""Portfolio optimisation (issue #9): the decision vector, objectives, the budget, and `dapsim optimize` end to end.

The end-to-end tests run the shipped model at reduced scale (25 people per agent) on a horizon cut to 2024-2030,
with the registry's point values and one search seed, three levers and one generation, on one local Dask cluster
shared by the module: two budgets and one command-line run, about 70 model runs in all.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

import dapsim
from dapsim.analysis.optimize import (Candidate, Evaluation, Objective, Scoring, Term, load_objective,
                                      load_objectives, named_objectives, optimize, pareto_front, parse_robust)
from dapsim.analysis.portfolio import START_YEARS, CostModel, DecisionSpace, LeverAction, Portfolio
from dapsim.cli import main
from dapsim.dims import MEMBER_STATES
from dapsim.errors import InputError
from dapsim.levers import LEVERS
from dapsim.scenario import Scenario

from .conftest import SCENARIOS

SCALE = 25.0
LEVER_SET = ["naloxone_coverage", "oat_capacity", "drug_consumption_rooms"]
SEARCH = dict(draws=None, seeds=1, fresh_seeds=2, generations=1, popsize=1, scale=SCALE, seed=0)
HEADROOM = {"low": 0.3e9, "high": 0.7e9}
"""Budgets above the scenario's own peak yearly cost: about the cost of naloxone for all plus half of the drug
consumption rooms, and enough for every harm-reduction lever of the set at a useful level."""


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """The baseline on a horizon cut to 2024-2030 (a year before the first decision), in its own folder."""
    folder = tmp_path_factory.mktemp("optimize")
    (folder / "baseline.toml").write_text((SCENARIOS / "baseline.toml").read_text())
    path = folder / "short.toml"
    path.write_text('name = "Baseline, 2024-2030"\nextends = "baseline.toml"\n'
                    'horizon = { start = "2024-01", end = "2030-12" }\n')
    return path


@pytest.fixture(scope="module")
def base_cost(short):
    """The scenario's own yearly programme cost 2025-2030 from one run (seed 0, point values: the search's run)."""
    ds = dapsim.annual(dapsim.simulate(dapsim.load_scenario(short), seed=0, scale=SCALE))
    return ds["programme_cost_eur"].sum("lever").sel(year=slice(2025, 2030))


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR)
    client = Client(lc, set_as_default=False)
    yield client
    client.close()
    lc.close()


@pytest.fixture(scope="module")
def results(short, base_cost, cluster):
    """Two optimisations of the same scenario, sharing runs where their candidates coincide."""
    cache: dict = {}
    peak = float(base_cost.max())
    return {name: optimize(short, peak + h, "deaths", LEVER_SET, executor=cluster, cache=cache, **SEARCH)
            for name, h in HEADROOM.items()}


# --------------------------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("budget", list(HEADROOM))
def test_portfolio_beats_every_single_lever_scenario_of_the_same_cost_on_fresh_seeds(results, base_cost, budget):
    res = results[budget]
    sc = res.scoring
    assert set(res.fresh_seeds).isdisjoint(res.settings["seeds"])
    assert set(res.singles) == set(LEVER_SET)
    headroom = res.budget - float(base_cost.max())
    for key, single in res.singles.items():
        (action,) = single.portfolio.actions
        assert action.key == key and action.start == 2025
        assert sc.fits(single.evaluation), key                          # the same budget, never more ...
        spent = sc.peak_cost(single.evaluation) - float(base_cost.max())
        assert spent >= 0.9 * headroom or action.target == LEVERS[key].max, key  # ... and about all of it
    mine = sc.score(res.fresh["portfolio"])
    for key in res.singles:
        assert mine < sc.score(res.fresh[f"single: {key}"]), key
    assert mine < sc.score(res.fresh["baseline"])
    assert res.beats_single_levers is True
    assert len(res.portfolio.actions) >= 2                               # a mix, not one lever


@pytest.mark.parametrize("budget", list(HEADROOM))
def test_chosen_portfolio_keeps_to_the_budget_every_year(results, budget):
    res = results[budget]
    yearly = res.scoring.yearly_cost(res.best.evaluation)
    assert yearly.shape == (6,)
    assert np.all(yearly <= res.budget)
    assert np.all(res.best.evaluation.cost <= res.budget)                 # every run, not only the median
    assert res.best.evaluation.failed == 0
    # nothing that overspent was chosen over it
    fits = [c for c in res.candidates if res.scoring.fits(c.evaluation)]
    assert res.scoring.score(res.best.evaluation) == min(res.scoring.score(c.evaluation) for c in fits)


def test_written_scenario_loads_runs_and_reproduces_the_evaluated_costs(results, base_cost, tmp_path):
    res = results["low"]
    paths = res.write(tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {"portfolio.toml", "report.md", "comparison.csv", "candidates.csv", "trace.csv", "trace.png"}
    assert paths["portfolio"].read_text().startswith("# dapsim optimize: the best portfolio found for a budget of")
    sc = dapsim.load_scenario(paths["portfolio"])
    expected = res.space.scenario_for(res.portfolio)
    for key in LEVERS:
        np.testing.assert_array_equal(sc.lever_schedule(key), expected.lever_schedule(key), err_msg=key)
    ds = dapsim.annual(dapsim.simulate(sc, seed=0, scale=SCALE))
    cost = ds["programme_cost_eur"].sum("lever").sel(year=slice(2025, 2030)).values
    np.testing.assert_allclose(cost, res.best.evaluation.cost[0], rtol=1e-12)   # the very run the search scored
    assert np.all(cost <= res.budget)
    deaths = ds["drug_induced_deaths"].sel(year=slice(2025, 2030)).sum().item()
    assert deaths == pytest.approx(res.scoring.score(res.best.evaluation))
    assert "beats" in paths["report"].read_text()


def test_command_line_same_seed_gives_the_same_portfolio(results, short, cluster, tmp_path):
    res = results["low"]
    out = tmp_path / "cli"
    code = main(["optimize", str(short), "--budget", repr(res.budget), "--objective", "deaths",
                 "--levers", ",".join(LEVER_SET), "--point-values", "--seeds", "1", "--fresh-seeds", "0",
                 "--generations", "1", "--scale", str(SCALE), "--seed", "0", "--quiet",
                 "--scheduler", cluster.scheduler.address, "--out", str(out)])
    assert code == 0
    written = dapsim.load_scenario(out / "portfolio.toml")
    mine = sorted((c.key, c.target, str(c.start)) for c in written.levers if c.note == "dapsim optimize")
    assert mine == sorted((a.key, a.target, f"{a.start}-01") for a in res.portfolio.actions)
    trace = pd.read_csv(out / "trace.csv")
    assert trace["generation"].tolist() == [0, 1]
    assert trace["best_objective"].tolist() == res.trace["best_objective"].tolist()
    assert trace["candidates"].tolist() == res.trace["candidates"].tolist()


# --------------------------------------------------------------------------------------------- bad input


def _bad(tmp_path, short, cluster, capsys, *extra, budget="8e9", objective="deaths", levers="naloxone_coverage"):
    out = tmp_path / "never"
    budget_args = [f"--budget{budget}"] if budget.startswith("=") else ["--budget", budget]   # --budget=-5e8 form
    code = main(["optimize", str(short), *budget_args, "--objective", objective, "--levers", levers,
                 "--point-values", "--seeds", "1", "--scale", str(SCALE), "--quiet",
                 "--scheduler", cluster.scheduler.address, "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert not out.exists()
    return err


def test_unknown_lever_is_one_line_and_exit_2(tmp_path, short, cluster, capsys):
    err = _bad(tmp_path, short, cluster, capsys, levers="naloxone_coverage,teleportation")
    assert err == "dapsim: --levers: teleportation: expected levers listed by `dapsim levers`, got unknown lever " \
                  "'teleportation'\n"


@pytest.mark.parametrize("budget", ["-500000000", "=-5e8"])
def test_negative_budget_is_one_line_and_exit_2(tmp_path, short, cluster, capsys, budget):
    err = _bad(tmp_path, short, cluster, capsys, budget=budget)
    assert err == "dapsim: --budget: expected a yearly budget in EUR greater than 0, got -5e+08\n"


def test_unknown_objective_is_one_line_and_exit_2(tmp_path, short, cluster, capsys):
    err = _bad(tmp_path, short, cluster, capsys, objective="happiness")
    assert err == "dapsim: --objective: expected a named objective (deaths, health_and_security) or the path of an " \
                  "objective TOML file, got 'happiness'\n"


def test_objective_file_with_an_unknown_variable_is_one_line_and_exit_2(tmp_path, short, cluster, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('name = "Mine"\n[[terms]]\nvariable = "drug_induced_deaths"\nweight = 1.0\n'
                    '[[terms]]\nvariable = "drug_induced_death"\nweight = 0.5\n')
    err = _bad(tmp_path, short, cluster, capsys, objective=str(path))
    assert err == f"dapsim: {path}: terms[1].variable: expected an output variable listed by `dapsim indicators`, " \
                  "got unknown variable 'drug_induced_death'\n"


def test_budget_below_the_scenarios_own_cost_is_one_line_and_exit_2(tmp_path, short, cluster, capsys, base_cost):
    peak, year = float(base_cost.max()), int(base_cost["year"].values[int(np.argmax(base_cost.values))])
    budget = peak - 1e6
    err = _bad(tmp_path, short, cluster, capsys, budget=repr(budget))
    assert err == (f"dapsim: --budget: expected at least the scenario's own yearly programme cost (EUR {peak:,.0f} in "
                   f"{year}, median over runs), got {budget:,.0f}\n")


def test_other_bad_requests_are_input_errors_before_any_run(short):
    with pytest.raises(InputError, match="--robust"):
        optimize(short, 9e9, "deaths", LEVER_SET, robust="q9", executor="tcp://never:1", **SEARCH)
    with pytest.raises(InputError, match="each lever once"):
        optimize(short, 9e9, "deaths", ["oat_capacity", "oat_capacity"], executor="tcp://never:1", **SEARCH)
    with pytest.raises(InputError, match="at most 3 objectives"):
        load_objectives("deaths,health_and_security,deaths,deaths")
    with pytest.raises(InputError, match="horizon"):
        DecisionSpace(Scenario.from_dict({"horizon": {"start": "2025-01", "end": "2030-12"}}), LEVER_SET)


# --------------------------------------------------------------------------------------------- units (no runs)


@pytest.fixture(scope="module")
def space(short):
    return DecisionSpace(dapsim.load_scenario(short), ["naloxone_coverage", "early_warning", "port_scanning"])


def test_decision_vector_bounds_and_round_trip(space):
    assert space.keys == ("port_scanning", "naloxone_coverage", "early_warning")      # registry order
    lo, hi = np.array(space.bounds()).T
    assert list(lo[:3]) == [0.005, 0.0, 1.0]     # lowest value in force (BE, NL scan 0.5%); early_warning: best end
    assert list(hi[:3]) == [1.0, 1.0, 6.0]
    assert list(lo[3:]) == [START_YEARS[0]] * 3 and list(hi[3:]) == [START_YEARS[1]] * 3
    assert space.integrality().tolist() == [False] * 3 + [True] * 3
    assert space.decode(space.none_vector()) == Portfolio()
    p = space.decode([0.25001, 0.5, 3.0, 2026, 2025, 2027.6])
    assert p.actions == (LeverAction("port_scanning", 0.25, 2026), LeverAction("naloxone_coverage", 0.5, 2025),
                         LeverAction("early_warning", 3.0, 2027))
    assert space.decode(space.encode(p)) == p


def test_a_target_raises_only_the_member_states_below_it(space):
    p = Portfolio((LeverAction("naloxone_coverage", 0.05, 2025),))
    (change,) = space.lever_changes(p)
    below = {m for m, v in zip(MEMBER_STATES, LEVERS["naloxone_coverage"].baseline_values()) if v < 0.05}
    assert set(change.where) == below and "DK" not in change.where        # DK had 10% in 2020: left alone
    sched = space.scenario_for(p).lever_schedule("naloxone_coverage")
    assert np.all(sched >= LEVERS["naloxone_coverage"].baseline_values() - 1e-12)
    # lower is better: early warning cut from 6 to 3 months
    (ew,) = space.lever_changes(Portfolio((LeverAction("early_warning", 3.0, 2026),)))
    assert ew.where is None and ew.target == 3.0 and str(ew.start) == "2026-01"


def test_increments_follow_the_ramp_and_the_start_year(space):
    early = space.increments(Portfolio((LeverAction("port_scanning", 0.52, 2025),)))[0]
    late = space.increments(Portfolio((LeverAction("port_scanning", 0.52, 2027),)))[0]
    assert np.all(np.diff(early) >= 0) and early[-1] == pytest.approx(0.5, abs=0.01)  # 24-month ramp from 2%
    assert late[:2].tolist() == [0.0, 0.0] and np.all(late <= early)


def test_cost_model_interpolates_measured_curves_and_repair_fits(space):
    base = np.full(6, 100.0)
    model = CostModel.from_probes(space, base, {k: np.full(6, 50.0) for k in space.keys})
    model.factor = 1.0
    best = space.best_portfolio("naloxone_coverage")
    np.testing.assert_allclose(model.predict(best), base + 50.0)
    half = space.scaled(best, 0.5)
    assert 100 < model.predict(half)[-1] < 150
    both = space.combine(best, space.best_portfolio("port_scanning"))
    fixed = model.repair(both, budget=170.0)
    assert model.fits(fixed, 170.0) and not model.fits(both, 170.0)
    assert set(fixed.levers) == {"port_scanning", "naloxone_coverage"}
    model.priority = ("port_scanning", "naloxone_coverage")                     # cut scanning first
    cut = model.repair(both, budget=170.0)
    assert model.fits(cut, 170.0)
    assert cut.actions[1] == LeverAction("naloxone_coverage", 1.0, 2025)         # naloxone kept whole
    assert cut.actions[0].key == "port_scanning" and cut.actions[0].target < 1.0
    assert model.repair(both, budget=130.0).levers == ("naloxone_coverage",)      # scanning dropped, then cut
    model.learn([base + 50.0], [base + np.array([40, 50, 52, 54, 55, 55.0])], budget=170.0)  # 10% over in 2029
    assert model.factor == pytest.approx(1 / 1.1)


def test_named_objectives_have_a_reason_for_every_weight():
    named = named_objectives()
    assert set(named) == {"deaths", "health_and_security"}
    assert [(t.variable, t.weight) for t in named["deaths"].terms] == [("drug_induced_deaths", 1.0)]
    terms = {t.label: t for t in named["health_and_security"].terms}
    assert set(terms) == {"drug_induced_deaths", "hcv_new_infections_pwid", "violent_incidents",
                          "delivered_kg[substance=cocaine]"}
    assert all(t.reason for t in terms.values())
    assert load_objective("deaths") is not None and load_objective(named["deaths"]) is named["deaths"]


def test_objective_file_rules(tmp_path):
    def write(text):
        path = tmp_path / "o.toml"
        path.write_text(text)
        return str(path)

    ok = load_objective(write('[[terms]]\nvariable = "seizures_kg"\nweight = -0.01\n'
                              'select = { substance = ["cocaine", "heroin"] }\n'))
    assert ok.terms[0].label == "seizures_kg[substance=cocaine|heroin]" and ok.key == "o"
    for text, match in [('[[terms]]\nvariable = "drug_induced_deaths"\nweight = 0\n', "weight"),
                        ('[[terms]]\nvariable = "drug_induced_deaths"\nweight = 1\nselect = { substance = "x" }\n',
                         "select.substance"),
                        ('[[terms]]\nvariable = "seizures_kg"\nweight = 1\nselect = { substance = "crack" }\n', "crack"),
                        ('colour = "red"\n[[terms]]\nvariable = "drug_induced_deaths"\nweight = 1\n', "colour"),
                        ('name = "empty"\n', "terms")]:
        with pytest.raises(InputError, match=match):
            load_objective(write(text))
    with pytest.raises(InputError, match="no such file"):
        load_objective(str(tmp_path / "missing.toml"))


def _candidate(number, cost, deaths, infections, budget_fits=True):
    ev = Evaluation(Portfolio(), (0,), np.full((3, 6), cost), {
        ("drug_induced_deaths", ()): np.full((3, 6), deaths / 6),
        ("hcv_new_infections_pwid", ()): np.full((3, 6), infections / 6)}, 0)
    return Candidate(number, "search", 0, Portfolio(), ev, np.full(6, cost))


def test_robust_quantile_and_pareto_filter():
    assert parse_robust(None) == 0.5 and parse_robust("q90") == 0.9 and parse_robust(0.75) == 0.75
    for bad in ("q9", "q100", "p90", 1.5):
        with pytest.raises(InputError, match="--robust"):
            parse_robust(bad)
    deaths = Objective("d", "deaths", "", (Term("drug_induced_deaths", 1.0),), "")
    hcv = Objective("h", "hcv", "", (Term("hcv_new_infections_pwid", 1.0),), "")
    ev = _candidate(0, 10.0, 0, 0).evaluation
    ev.totals[("drug_induced_deaths", ())] = np.array([[1.0] * 6, [2.0] * 6, [10.0] * 6])
    assert Scoring([deaths], 0.5, 100).score(ev) == 12.0
    assert Scoring([deaths], 0.9, 100).score(ev) > 12.0                    # the worse futures weigh in
    cands = [_candidate(0, 10, 100, 50), _candidate(1, 20, 90, 60), _candidate(2, 20, 95, 65),   # 2: dominated by 1
             _candidate(3, 30, 80, 40), _candidate(4, 500, 10, 10)]                                # 4: over budget
    front = pareto_front(cands, Scoring([deaths, hcv], 0.5, 100.0))
    assert front["candidate"].tolist() == [0, 1, 3]
    assert math.isclose(front["d"].iloc[-1], 80.0)
