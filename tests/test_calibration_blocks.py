"""Separable calibration blocks: the NPS block is really separable, is calibrated alone, and joins the main posterior."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dapsim.calibration.blocks import BLOCKS, check_separable, get_block, join
from dapsim.calibration.cli import cmd_calibrate
from dapsim.calibration.posterior import posterior_dataset, read_posterior, write_posterior
from dapsim.errors import InputError
from dapsim.model import ActionPlanModel
from dapsim.params import ParameterSet
from dapsim.scenario import load_scenario

from .test_calibration_abc import _parser

ROOT = Path(__file__).resolve().parents[1]
NPS = BLOCKS["nps"]


@pytest.fixture(scope="module")
def short_baseline():
    import dataclasses

    sc = load_scenario(ROOT / "scenarios" / "baseline.toml")
    return dataclasses.replace(sc, end=np.datetime64("2017-12", "M"))


def _run(scenario, values=None, components=None):
    params = ParameterSet.defaults().updated(values or {})
    return ActionPlanModel(scenario, seed=3, scale=400, params=params, components=components).run()


def test_nps_parameters_change_nothing_outside_the_nps_outputs(short_baseline):
    """The claim the block rests on: the full model with other NPS parameters differs only in the NPS outputs."""
    base = _run(short_baseline)
    changed = _run(short_baseline, {"nps.appearances_per_year": 64.0, "nps.appearances_2015_per_year": 82.0,
                                    "nps.wave_half_life_years": 2.4})
    owned = {v for c in NPS.components() if c.name == "nps" for v in c.fills}
    assert not base["nps_new_notified"].equals(changed["nps_new_notified"])
    others = [v for v in base.data_vars if v not in owned]
    assert len(others) > 20
    for name in others:
        xr.testing.assert_identical(base[name], changed[name])


def test_a_block_run_gives_the_full_runs_nps_notifications(short_baseline):
    """Named random streams: the block's components alone draw the same substances as the full model."""
    full = _run(short_baseline)
    alone = _run(short_baseline, components=NPS.components())
    assert [c.name for c in NPS.components()] == ["services", "nps"]
    np.testing.assert_array_equal(full["nps_new_notified"].values, alone["nps_new_notified"].values)
    assert float(alone["nps_new_notified"].sum()) > 100  # 2015-2017: about 200 substances notified


def test_a_parameter_read_outside_the_block_is_refused():
    check_separable(NPS, NPS.parameters)
    with pytest.raises(InputError) as err:
        check_separable(NPS, ["overdose.drug_checking_use"])
    assert str(err.value) == ("--params: overdose.drug_checking_use: expected a parameter read only by the 'nps' "
                              "component, got read by nps, overdose")
    with pytest.raises(InputError, match="expected one of nps, got 'prices'"):
        get_block("prices")


def _posterior(values: dict, weights) -> xr.Dataset:
    return posterior_dataset({k: np.asarray(v, dtype=float) for k, v in values.items()}, np.asarray(weights, dtype=float))


def test_join_replaces_the_block_columns_by_weight_and_keeps_the_main_weights(tmp_path):
    main = _posterior({"users.oat_preference": [0.5, 0.6, 0.7, 0.8], "nps.wave_half_life_years": [2.0, 2.1, 2.2, 2.3]},
                      [0.1, 0.2, 0.3, 0.4])
    block = _posterior({"nps.wave_half_life_years": [0.4, 0.9, 1.5], "nps.appearances_per_year": [40.0, 50.0, 60.0]},
                       [0.0, 1.0, 0.0])
    block.attrs.update({"block": "nps", "targets_used": json.dumps(["nps_new_notified|EU|2017"]),
                        "epsilons": json.dumps([3.0, 1.2]), "total_simulations": 900})
    path = write_posterior(block, tmp_path / "posterior_nps.nc")
    out = join(main, [(str(path), read_posterior(path))])
    # four equally weighted draws: the main particles by weight (0.1, 0.2, 0.3, 0.4 -> one each of the last three
    # and one more of the heaviest, by systematic resampling), the block's all on its only weighted particle
    np.testing.assert_array_equal(out["weight"].values, [0.25] * 4)
    assert sorted(out["users.oat_preference"].values.tolist()) == [0.6, 0.7, 0.8, 0.8]
    np.testing.assert_array_equal(out["nps.wave_half_life_years"].values, [0.9] * 4)
    np.testing.assert_array_equal(out["nps.appearances_per_year"].values, [50.0] * 4)
    record = json.loads(out.attrs["joined_blocks"])
    assert record == [{"file": str(path), "block": "nps", "parameters": ["nps.wave_half_life_years",
                       "nps.appearances_per_year"], "replaced": ["nps.wave_half_life_years"],
                       "targets_used": ["nps_new_notified|EU|2017"], "epsilons": [3.0, 1.2], "total_simulations": 900}]
    with pytest.raises(InputError, match="expected a block posterior written by `dapsim calibrate --block NAME`"):
        join(main, [("main.nc", main)])


def test_join_pairs_blocks_at_random_and_reproducibly():
    n = 400
    main = _posterior({"users.oat_preference": np.linspace(0.2, 0.9, n)}, np.ones(n))
    block = _posterior({"nps.wave_half_life_years": np.linspace(0.3, 2.4, n)}, np.ones(n))
    block.attrs["block"] = "nps"
    a, b = join(main, [("b.nc", block)]), join(main, [("b.nc", block)])
    xr.testing.assert_identical(a, b)
    assert sorted(a["users.oat_preference"].values.tolist()) == sorted(main["users.oat_preference"].values.tolist())
    # independent pairing: no rank correlation between the main column and the joined one
    x, y = a["users.oat_preference"].values, a["nps.wave_half_life_years"].values
    assert abs(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1]) < 0.15
    assert sorted(y.tolist()) == sorted(block["nps.wave_half_life_years"].values.tolist())


def test_cli_block_calibration_then_join_end_to_end(tmp_path, capsys):
    """The NPS block on the real targets (few particles), then a toy-free main posterior rewritten with --join."""
    out = tmp_path / "posterior_nps.nc"
    args = _parser().parse_args(["calibrate", "--block", "nps", "--targets", str(ROOT / "calibration" / "targets"),
                                 "--particles", "8", "--generations", "2", "--workers", "1", "--scale", "400",
                                 "--out", str(out)])
    assert cmd_calibrate(args) == 0
    block = read_posterior(out)
    assert sorted(block.data_vars) == sorted(NPS.parameters)
    assert block.attrs["block"] == "nps" and json.loads(block.attrs["block_components"]) == ["services", "nps"]
    assert {t.split("|")[0] for t in json.loads(block.attrs["targets_used"])} == {"nps_new_notified"}
    assert json.loads(block.attrs["epsilons"])[-1] <= json.loads(block.attrs["epsilons"])[0]
    assert (tmp_path / "posterior_nps_history.db").is_file()
    # the block's history rewritten with --join is refused; a main one would take the block's columns
    bad = _parser().parse_args(["calibrate", "--block", "nps", "--join", str(out), "--out", str(tmp_path / "x.nc")])
    with pytest.raises(InputError, match="--join: expected no --join with --block"):
        cmd_calibrate(bad)
    assert not (tmp_path / "x.nc").exists()
    missing = _parser().parse_args(["calibrate", "--join", str(tmp_path / "none.nc"), "--out", str(tmp_path / "y.nc")])
    with pytest.raises(InputError, match="none.nc"):
        cmd_calibrate(missing)
    not_a_block = write_posterior(_posterior({"nps.appearances_per_year": [45.0]}, [1.0]), tmp_path / "plain.nc")
    wrong = _parser().parse_args(["calibrate", "--join", str(not_a_block), "--out", str(tmp_path / "y.nc")])
    with pytest.raises(InputError) as err:
        cmd_calibrate(wrong)  # refused before any simulation
    assert str(err.value) == (f"{not_a_block}: block: expected a block posterior written by `dapsim calibrate "
                              "--block NAME`, got a posterior without a block attribute")
    assert not (tmp_path / "y.nc").exists()


def test_join_keeps_the_blocks_marginal_when_the_main_weights_are_uneven():
    """A main posterior resting on one heavy particle must not shrink the block's marginal to one draw."""
    main = _posterior({"users.oat_preference": np.linspace(0.5, 0.9, 50)}, [100.0] + [1.0] * 49)
    block = _posterior({"nps.wave_half_life_years": np.linspace(0.3, 2.4, 400)}, np.ones(400))
    block.attrs["block"] = "nps"
    out = join(main, [("b.nc", block)])
    assert out.sizes["draw"] == 400
    np.testing.assert_allclose(out["weight"].values, 1 / 400)
    assert len(np.unique(out["nps.wave_half_life_years"].values)) == 400
    # the heavy main particle (weight 100 of 149) keeps its share of the draws
    assert np.mean(out["users.oat_preference"].values == 0.5) == pytest.approx(100 / 149, abs=0.01)


def test_cli_join_puts_a_block_into_a_main_calibration(tmp_path, capsys):
    from .test_calibration_toy import ToyHarms, toy_registry, toy_scenario, write_toy_targets

    block = _posterior({"nps.wave_half_life_years": [0.6, 0.8], "nps.appearances_per_year": [45.0, 50.0]}, [0.5, 0.5])
    block.attrs["block"] = "nps"
    block_file = write_posterior(block, tmp_path / "posterior_nps.nc")
    folder = write_toy_targets(tmp_path / "t", years=(2017, 2018))
    out = tmp_path / "posterior.nc"
    args = _parser().parse_args(["calibrate", "--targets", str(folder), "--particles", "6", "--generations", "1",
                                 "--workers", "1", "--params", "toy.*", "--join", str(block_file), "--out", str(out)])
    with toy_registry():
        assert cmd_calibrate(args, components=[ToyHarms], scenario=toy_scenario("2018-12")) == 0
    post = read_posterior(out)
    assert post.sizes["draw"] == 6
    assert sorted(post["nps.wave_half_life_years"].values.tolist()) == [0.6] * 3 + [0.8] * 3
    assert json.loads(post.attrs["joined_blocks"])[0]["block"] == "nps"
    assert f"joined block 'nps' from {block_file}" in capsys.readouterr().out.replace("\n", "")
