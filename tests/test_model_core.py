"""The model's machinery: random streams, lever access, costs, shocks, dataset assembly and annual sums."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import dapsim
from dapsim import ActionPlanModel, annual
from dapsim.component import Component
from dapsim.dims import MS_INDEX
from dapsim.scenario import Scenario
from dapsim.storage import read_netcdf, write_netcdf


class CountingComponent(Component):
    """Records a known flow (the month number) and a stock, and books a cost, to check the machinery."""

    name = "counting"
    levers = ("naloxone_coverage",)
    fills = ("naloxone_kits_distributed", "oat_clients")

    def step(self, t):
        self.kits = np.full(27, float(t + 1))
        self.model.spend("naloxone_coverage", self.model.lever("naloxone_coverage") * 100.0)

    def record(self, t, out):
        out["naloxone_kits_distributed"][t] = self.kits
        out["oat_clients"][t] = self.rng.random(27)


def _scenario(**extra):
    return Scenario.from_dict({"horizon": {"start": "2019-01", "end": "2020-12"}, **extra})


def test_named_streams_depend_on_seed_and_name_not_on_order():
    sc = _scenario()
    a, b, c = (ActionPlanModel(sc, seed=s, components=[]) for s in (1, 1, 2))
    x = a.stream("users").random(5)
    a.stream("other").random(100)  # using another stream first changes nothing
    assert np.array_equal(b.stream("users").random(5), x)
    assert not np.array_equal(c.stream("users").random(5), x)
    assert not np.array_equal(a.stream("market").random(5), x)


def test_lever_values_per_member_state_and_eu_scalar():
    sc = _scenario(levers={"naloxone_coverage": {"target": 0.8, "from": "2020-01", "ramp_months": 0, "where": ["IE"]},
                           "early_warning": {"target": 3.0, "from": "2019-01", "ramp_months": 0}})
    m = ActionPlanModel(sc, components=[])
    m.t = 12
    values = m.lever("naloxone_coverage")
    assert values.shape == (27,) and values[MS_INDEX["IE"]] == 0.8
    assert isinstance(m.lever("early_warning"), float) and m.lever("early_warning") == 3.0


def test_shock_magnitude_only_while_active_and_where_asked():
    sc = _scenario(shocks=[{"kind": "covid_disruption", "at": "2020-03", "duration_months": 2, "magnitude": 0.4,
                            "where": ["IT"]}])
    m = ActionPlanModel(sc, components=[])
    seen = []
    for t in range(len(m.months)):
        m.t = t
        seen.append(m.shock_magnitude("covid_disruption")[MS_INDEX["IT"]])
        assert m.shock_magnitude("covid_disruption")[MS_INDEX["DE"]] == 0
    assert seen[14:16] == [0.4, 0.4] and sum(seen) == pytest.approx(0.8)


def test_dataset_labels_units_costs_and_provenance():
    sc = _scenario()
    ds = ActionPlanModel(sc, seed=3, components=[CountingComponent]).run()
    kits = ds["naloxone_kits_distributed"]
    assert kits.dims == ("time", "member_state") and kits.attrs["units"] == "count" and kits.attrs["indicator"] == 7
    assert ds.sizes["time"] == 24 and list(ds["member_state"].values[:2]) == ["AT", "BE"]
    assert list(ds["lever"].values) == ["naloxone_coverage"]
    expected = dapsim.LEVERS["naloxone_coverage"].baseline_values().sum() * 100.0
    assert ds["programme_cost_eur"].values[:, 0] == pytest.approx(np.full(24, expected))
    assert ds.attrs["seed"] == 3 and ds.attrs["dapsim_version"] == dapsim.__version__
    assert '"horizon"' in ds.attrs["scenario"]


def test_annual_sums_flows_and_averages_stocks():
    ds = ActionPlanModel(_scenario(), components=[CountingComponent]).run()
    yr = annual(ds)
    assert list(yr["year"].values) == [2019, 2020]
    assert float(yr["naloxone_kits_distributed"].sel(year=2019, member_state="AT")) == sum(range(1, 13))
    assert float(yr["naloxone_kits_distributed"].sel(year=2020, member_state="AT")) == sum(range(13, 25))
    stock = ds["oat_clients"].sel(member_state="AT").values
    assert float(yr["oat_clients"].sel(year=2019, member_state="AT")) == pytest.approx(stock[:12].mean())
    assert yr["naloxone_kits_distributed"].attrs["units"] == "count per year"


def test_annual_drops_incomplete_years():
    sc = Scenario.from_dict({"horizon": {"start": "2019-07", "end": "2021-03"}})
    yr = annual(ActionPlanModel(sc, components=[CountingComponent]).run())
    assert list(yr["year"].values) == [2020]


def test_netcdf_round_trip_is_identical(tmp_path):
    ds = ActionPlanModel(_scenario(), components=[CountingComponent]).run()
    path = write_netcdf(ds, tmp_path / "run.nc")
    back = read_netcdf(path)
    xr.testing.assert_identical(back, ds)
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]  # no temporary left behind


def test_failed_write_leaves_no_file(tmp_path):
    ds = ActionPlanModel(_scenario(), components=[CountingComponent]).run()
    bad = ds.assign_attrs(unserialisable={1, 2})
    with pytest.raises(Exception):
        write_netcdf(bad, tmp_path / "run.nc")
    assert list(tmp_path.iterdir()) == []


def test_seed_must_be_a_non_negative_integer():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        ActionPlanModel(_scenario(), seed=-1, components=[])


def test_full_model_same_seed_identical_other_seed_different():
    sc = Scenario.from_dict({"horizon": {"start": "2015-01", "end": "2017-12"}})
    a = dapsim.simulate(sc, seed=7, scale=20)
    b = dapsim.simulate(sc, seed=7, scale=20)
    c = dapsim.simulate(sc, seed=8, scale=20)
    assert len(a.data_vars) > 0, "the default model records no variables"
    xr.testing.assert_identical(a, b)
    assert any(not a[v].equals(c[v]) for v in a.data_vars)
