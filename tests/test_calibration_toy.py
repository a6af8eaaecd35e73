"""A toy model with two known parameters, for testing calibration and analysis machinery on a known truth.

The real components are built in parallel with the calibration layer, so the machinery is tested on a tiny
component whose outputs follow from its parameters in a way we can write down:

* drug-induced deaths per month in each Member State ~ Poisson(rate per million aged 15-64 / 12 × population);
* cocaine seized per month = 70.9 t / 12 × growth ** (years since 2016), spread over the Member States;
* nothing else (the other variables stay unfilled, as in a partly built model).

:func:`toy_registry` adds the two parameters (with priors) to the registry for the duration of a test.
"""

from __future__ import annotations

import contextlib
from types import MappingProxyType

import numpy as np
import pytest

import dapsim.params as params_module
from dapsim.component import Component
from dapsim.dims import SUBSTANCE_INDEX
from dapsim.memberstates import POPULATION_15_64
from dapsim.params import Parameter, Prior
from dapsim.scenario import Scenario

TRUE_DEATH_RATE = 20.0  # deaths per million aged 15-64 per year
TRUE_GROWTH = 1.4  # yearly growth of cocaine seizures

COLUMNS = "indicator,variable,geography,year,value,lower,upper,unit,source_url,note"


class ToyHarms(Component):
    """Deaths and cocaine seizures driven by two parameters (see the module docstring)."""

    name = "toy_harms"
    parameters = ("toy.death_rate_per_million", "toy.cocaine_seizure_growth")
    fills = ("drug_induced_deaths", "seizures_kg")

    def step(self, t):
        rate = self.params["toy.death_rate_per_million"]
        self.deaths = self.rng.poisson(rate * POPULATION_15_64 / 1e6 / 12.0).astype(float)
        years = (self.model.month.astype("datetime64[M]").astype(int) / 12.0 + 1970.0) - 2016.0
        self.cocaine = 70_900.0 / 12.0 * self.params["toy.cocaine_seizure_growth"] ** years

    def record(self, t, out):
        out["drug_induced_deaths"][t] = np.outer(self.deaths, [0.25, 0.75])
        seized = np.zeros((27, 7))
        seized[:, SUBSTANCE_INDEX["cocaine"]] = self.cocaine * POPULATION_15_64 / POPULATION_15_64.sum()
        out["seizures_kg"][t] = seized


class FragileToy(ToyHarms):
    """The toy, failing whenever the death rate exceeds 30 (to test how failed runs are handled)."""

    name = "toy_fragile"

    def step(self, t):
        if self.params["toy.death_rate_per_million"] > 30.0:
            raise FloatingPointError("toy model diverged")
        super().step(t)


TOY_PARAMETERS = {
    "toy.death_rate_per_million": Parameter(
        "toy.death_rate_per_million", 15.0, "deaths per million aged 15-64 per year",
        Prior("lognormal", MappingProxyType({"median": 15.0, "sigma": 0.5})), "", "test parameter", "", "tests"),
    "toy.cocaine_seizure_growth": Parameter(
        "toy.cocaine_seizure_growth", 1.2, "ratio per year",
        Prior("uniform", MappingProxyType({"low": 1.0, "high": 1.8})), "", "test parameter", "", "tests"),
}


@contextlib.contextmanager
def toy_registry():
    """The registry plus the toy's parameters, for the duration of a ``with`` block."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(params_module, "PARAMETERS", MappingProxyType({**params_module.PARAMETERS, **TOY_PARAMETERS}))
        yield


def toy_scenario(end: str = "2022-12") -> Scenario:
    return Scenario.from_dict({"name": "toy baseline", "horizon": {"start": "2016-01", "end": end}})


def expected_deaths(rate: float = TRUE_DEATH_RATE) -> float:
    return rate * POPULATION_15_64.sum() / 1e6


def expected_cocaine(year: int, growth: float = TRUE_GROWTH) -> float:
    months = np.arange(12) / 12.0 + (year - 2016)
    return float(np.sum(70_900.0 / 12.0 * growth ** months))


def write_toy_targets(folder, years=(2017, 2018, 2019, 2020, 2021, 2022), relative=0.10):
    """Targets computed from the true parameters (deaths and cocaine seized, EU-27), +/- ``relative``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [COLUMNS]
    for y in years:
        d, c = expected_deaths(), expected_cocaine(y)
        rows.append(f"5,drug_induced_deaths,EU-27,{y},{d:.1f},{d*(1-relative):.1f},{d*(1+relative):.1f},count per year,"
                    f"https://example.org/toy,toy truth")
        rows.append(f"3,seizures_kg[substance=cocaine],EU-27,{y},{c:.1f},{c*(1-relative):.1f},{c*(1+relative):.1f},"
                    f"kg per year,https://example.org/toy,toy truth")
    (folder / "toy.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_toy_statistics_follow_the_parameters(tmp_path):
    from dapsim.calibration.simulator import TargetSimulator
    from dapsim.calibration.targets import load_targets

    with toy_registry():
        targets = load_targets(write_toy_targets(tmp_path / "t"))
        sim = TargetSimulator(toy_scenario(), targets, components=(ToyHarms,))
        stats = sim({"toy.death_rate_per_million": TRUE_DEATH_RATE, "toy.cocaine_seizure_growth": TRUE_GROWTH}, seed=1)
    for t in targets:
        assert abs(stats[t.id] - t.value) / t.value < 0.03, t.id
