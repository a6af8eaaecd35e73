"""ABC-SMC calibration of the uncertain registry parameters to the published targets (pyabc).

Why ABC: the model is stochastic and agent-based, so its likelihood cannot be written down; approximate Bayesian
computation only needs to simulate. pyabc's sequential Monte Carlo shrinks the acceptance threshold generation
by generation and keeps every particle in an SQLite history, so a long calibration can be inspected
(``abc-server``, :class:`pyabc.History`) and continued (``resume=True``) instead of restarted.

The distance respects each target's uncertainty: the mean over targets of the squared standardised error
``((simulated - observed) / sigma)^2``, with ``sigma`` half the distance from the value to ``lower`` (below) or
``upper`` (above) — the published range read as two standard deviations. A value of 1 means the run sits about
one standard deviation from the data on average. A run that fails or gives a non-finite statistic has an
infinite distance: it is never accepted, and it is logged.

Samplers: pyabc's :class:`~pyabc.sampler.DaskDistributedSampler` when a Dask scheduler (address or
``distributed.Client``) is given, otherwise the :class:`~pyabc.sampler.MulticoreEvalParallelSampler` on this
machine's cores (the single-core sampler for ``workers=1``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyabc
import scipy.stats
import xarray as xr

from .. import __version__
from ..errors import InputError
from ..scenario import Scenario
from .posterior import posterior_dataset
from .simulator import TargetSimulator, filled_variables, horizon_to, registry, uncertain_parameters
from .targets import TargetSet

log = logging.getLogger("dapsim.calibration")

FAILED = "_failed"
"""Summary-statistic key that marks a failed simulation (1.0) in the history."""


class NormalScores:
    """Map between parameter values and their normal scores ``z = Phi^-1(F(x))`` under the registry priors.

    ABC-SMC runs on the normal-score scale, where every prior is a standard normal: pyabc's multivariate normal
    transition then never proposes values outside a prior's support (with hundreds of bounded priors almost
    every proposal would fall outside one of them), and the posterior maps back through the prior's quantile
    function. The frozen scipy distributions travel with the object, so it works on any worker.
    """

    EPS = 1e-12

    def __init__(self, keys: Sequence[str]):
        reg = registry()
        self.keys = list(keys)
        self.dists = {}
        for key in self.keys:
            frozen = reg[key].prior.frozen()
            if frozen is None:
                raise InputError("--params", key, "an uncertain parameter (a prior other than fixed)", "a fixed parameter")
            self.dists[key] = frozen

    def values(self, scores) -> dict[str, float]:
        """Normal scores (a mapping or pyabc Parameter) -> parameter values."""
        from scipy.stats import norm

        out = {}
        for key in self.keys:
            u = float(np.clip(norm.cdf(float(scores[key])), self.EPS, 1 - self.EPS))
            out[key] = float(self.dists[key].ppf(u))
        return out

    def values_array(self, key: str, scores: np.ndarray) -> np.ndarray:
        from scipy.stats import norm

        return self.dists[key].ppf(np.clip(norm.cdf(np.asarray(scores, dtype=float)), self.EPS, 1 - self.EPS))

    def prior(self):
        """The pyabc prior on the normal-score scale: independent standard normals."""
        import pyabc

        return pyabc.Distribution(**{k: pyabc.RV("norm", 0.0, 1.0) for k in self.keys})


class TargetDistance:
    """Mean squared standardised error over the targets (see the module docstring); picklable."""

    def __init__(self, targets: TargetSet):
        self.ids = [t.id for t in targets]
        self.value = np.array([t.value for t in targets])
        self.sigma_below = np.array([t.sigma_below for t in targets])
        self.sigma_above = np.array([t.sigma_above for t in targets])

    def z(self, simulated: np.ndarray) -> np.ndarray:
        sim = np.asarray(simulated, dtype=float)
        sigma = np.where(sim >= self.value, self.sigma_above, self.sigma_below)
        return (sim - self.value) / sigma

    def __call__(self, x: dict, x_0: dict | None = None) -> float:
        if x.get(FAILED, 0.0):
            return math.inf
        sim = np.array([x.get(i, math.nan) for i in self.ids], dtype=float)
        if not np.all(np.isfinite(sim)):
            return math.inf
        return float(np.mean(self.z(sim) ** 2))


class ABCModel:
    """pyabc model: a parameter draw -> target statistics, with a fresh seed per simulation; picklable."""

    def __init__(self, simulator: TargetSimulator, scores: NormalScores):
        self.simulator = simulator
        self.scores = scores

    def __call__(self, parameter) -> dict:
        seed = int(np.random.randint(0, 2**31 - 1))  # pyabc seeds each worker's numpy stream
        try:
            values = self.scores.values(parameter)
            stats = self.simulator(values, seed)
            stats[FAILED] = 0.0
        except Exception as exc:  # noqa: BLE001 - a failed run is rejected (infinite distance), and logged
            log.warning("simulation failed (seed %d): %s: %s", seed, type(exc).__name__, exc)
            stats = {t.id: math.nan for t in self.simulator.targets}
            stats[FAILED] = 1.0
        return stats


def twice_the_variance(effective_sample_size: float, dimension: int) -> float:
    """Bandwidth factor of the perturbation kernel: its covariance is twice the weighted particle covariance.

    Beaumont et al. (2009, Biometrika 96:983) derive 2 x the particle variance for the ABC-PMC kernel (Filippi et
    al. 2013 show it minimises the divergence between successive populations). pyabc's default, Silverman's rule,
    shrinks the kernel with the number of particles (to 0.46 x the covariance for 150 particles in 12 dimensions):
    the kernels of neighbouring particles then barely overlap, a particle's proposal density is little more than
    its parent's weight, the next weights are roughly prior / parent weight, and the effective sample size
    collapsed to 2-4 of 150 particles in the calibrations of November 2026. The wider kernel lowers the
    acceptance rate a little and keeps the weights even.
    """
    return math.sqrt(2.0)


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of importance weights, ``1 / sum(w^2)`` for weights summing to 1."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w ** 2))


class DiagonalNormalTransition(pyabc.MultivariateNormalTransition):
    """pyabc's multivariate normal kernel with the covariance cut to its diagonal: each parameter is perturbed
    independently, scaled by the weighted particle variance (see :func:`make_transition`)."""

    def fit(self, X, w):
        super().fit(X, w)
        var = np.nan_to_num(np.diag(self.cov), nan=1.0)
        self.cov = np.diag(np.maximum(var, 1e-6))
        self.normal = scipy.stats.multivariate_normal(cov=self.cov)


def make_transition(n_parameters: int, particles: int):
    """The perturbation kernel: a multivariate normal with twice the weighted particle covariance
    (:func:`twice_the_variance`) when there are clearly more particles than parameters; otherwise its diagonal
    version, because a covariance estimated from fewer particles than dimensions is singular and proposals then
    collapse onto the particles' subspace (weights degenerate)."""
    import pyabc

    if particles > 2 * n_parameters:
        return pyabc.MultivariateNormalTransition(bandwidth_selector=twice_the_variance)
    return DiagonalNormalTransition(bandwidth_selector=twice_the_variance)


def make_sampler(scheduler=None, workers: int | None = None):
    """The Dask sampler for a scheduler address or client; otherwise multicore (or single-core for 1 worker)."""
    import pyabc

    if scheduler is not None:
        from distributed import Client

        from .simulator import _connect

        client = scheduler if isinstance(scheduler, Client) else _connect(scheduler)
        return pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=1)
    if workers == 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers or os.cpu_count() or 1)


def calibrate(
    targets: TargetSet,
    scenario: Scenario,
    *,
    parameters: Sequence[str] | None = None,
    particles: int = 200,
    generations: int = 8,
    scale: float | None = None,
    db: str | Path = "calibration/abc_history.db",
    resume: bool = False,
    scheduler=None,
    workers: int | None = None,
    min_epsilon: float = 0.0,
    max_simulations: int | None = None,
    components: Sequence[type] | None = None,
    report: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Fit the uncertain parameters to the targets with ABC-SMC and return the posterior dataset.

    Args:
        targets: the published figures; those on variables the model does not fill yet are left out (and listed
            in the posterior's ``targets_not_used`` attribute).
        scenario: the scenario whose runs are compared with the data (the baseline); cut to the last target year.
        parameters: registry keys to calibrate (default: every uncertain parameter); others keep registry values.
        particles: population size per generation.
        generations: number of SMC generations (after the prior calibration sample).
        scale: people per high-risk-user agent in calibration runs (large = fast).
        db: the SQLite history file; with ``resume`` the latest run in it continues for ``generations`` more.
        scheduler: Dask scheduler address or ``distributed.Client`` (uses pyabc's Dask sampler).
        workers: processes on this machine when no scheduler is given (default: all cores).
        min_epsilon: stop early once the acceptance threshold falls to this mean squared standardised error.
        max_simulations: stop after this many simulations in total.
        components: component classes (default: the full model).
        report: called with one line of progress text per event.
    """
    import pyabc

    say = report or (lambda line: None)
    keys = list(parameters) if parameters is not None else uncertain_parameters()
    if not keys:
        raise InputError("parameter registry", "", "at least one uncertain parameter to calibrate (see `dapsim params`)",
                         "none: every registered parameter is fixed or none is registered yet")
    if particles < 2:
        raise InputError("--particles", "", "at least 2 particles", str(particles))
    if generations < 0 or (generations == 0 and not resume):
        raise InputError("--generations", "", "at least 1 generation (0 only with --resume: write the posterior of "
                         "the latest finished generation)", str(generations))
    used, unused = targets.split_by_variables(filled_variables(components))
    if not len(used):
        raise InputError("--targets", "", "targets on variables the model fills (see `dapsim indicators`)",
                         f"none of {len(targets)} targets ({', '.join(sorted(targets.variables))})")
    run_scenario = horizon_to(scenario, used.last_year)
    simulator = TargetSimulator(run_scenario, used, scale, None if components is None else tuple(components))
    # A pilot run at the registry values: a target the model cannot compute yet (NaN) would make every
    # distance infinite, so it is left out and listed, like targets on unfilled variables.
    reg = registry()
    try:
        pilot = simulator({k: reg[k].value for k in keys}, 0)
    except Exception as exc:  # noqa: BLE001 - re-raised with context: calibration cannot start
        raise RuntimeError(f"the pilot run at the registry values failed: {type(exc).__name__}: {exc}") from exc
    nan_ids = {i for i, v in pilot.items() if not math.isfinite(v)}
    if nan_ids:
        unused = TargetSet(unused.targets + tuple(t for t in used if t.id in nan_ids), targets.sources)
        used = used.where(lambda t: t.id not in nan_ids)
        say(f"{len(nan_ids)} targets left out: not finite in a pilot run ({', '.join(sorted(nan_ids)[:5])}...)")
        if not len(used):
            raise InputError("--targets", "", "targets the model computes (finite in a pilot run)",
                             f"none of {len(targets)} targets")
        run_scenario = horizon_to(scenario, used.last_year)
        simulator = TargetSimulator(run_scenario, used, scale, simulator.components)
    distance = TargetDistance(used)
    logging.getLogger("ABC").setLevel(logging.WARNING)
    sampler = make_sampler(scheduler, workers)
    scores = NormalScores(keys)
    abc = pyabc.ABCSMC(ABCModel(simulator, scores), scores.prior(), distance, population_size=particles,
                       sampler=sampler, transitions=make_transition(len(keys), particles))
    db = Path(db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{db}"
    observed = {t.id: t.value for t in used}
    observed[FAILED] = 0.0
    if resume and db.is_file():
        history = pyabc.History(url, create=False)
        run_id = history.id
        if run_id is None:
            raise InputError(str(db), "", "an ABC-SMC history with at least one finished generation", "none")
        stored = set(history.get_distribution(m=0, t=history.max_t)[0].columns)
        if stored != set(keys):
            raise InputError(str(db), f"run {run_id}", f"the parameters being calibrated ({len(keys)})",
                             f"a history of other parameters ({len(stored)}); calibrate without --resume")
        if set(history.observed_sum_stat()) != set(observed):
            raise InputError(str(db), f"run {run_id}", "the same targets as the history",
                             "different targets; calibrate without --resume")
        abc.load(url, run_id)
        say(f"resuming run {run_id} in {db} after generation {history.max_t}")
    else:
        abc.new(url, observed)
    say(f"calibrating {len(keys)} parameters to {len(used)} targets ({len(unused)} not computable yet): "
        f"{particles} particles x {generations} generations, scale {simulator.scale or 'default'}")
    if generations > 0:
        history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=generations,
                          max_total_nr_simulations=max_simulations if max_simulations else np.inf)
    else:  # a calibration stopped by hand: its latest finished generation is the posterior
        history = abc.history
    t = history.max_t
    if t < 0:
        raise RuntimeError("ABC-SMC finished without an accepted generation")
    df, w = history.get_distribution(m=0, t=t)
    pops = history.get_all_populations()
    seconds = float(pops["wall_time"].fillna(0).sum())  # every generation of the run, across resumes
    pops = pops[pops["t"] >= 0]
    attrs = {
        "title": "dapsim posterior (ABC-SMC)",
        "method": "ABC-SMC (pyabc) on the priors' normal-score scale; distance = mean squared standardised error",
        "dapsim_version": __version__,
        "pyabc_version": pyabc.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenario": run_scenario.name,
        "horizon": f"{run_scenario.start} to {run_scenario.end}",
        "scale_people_per_agent": float(simulator.scale) if simulator.scale else "default",
        "particles": particles,
        "generations": int(t + 1),
        "epsilons": [float(e) for e in pops["epsilon"]],
        "effective_sample_sizes": [round(effective_sample_size(history.get_distribution(m=0, t=int(g))[1]), 1)
                                   for g in pops["t"]],
        "simulations_per_generation": [int(s) for s in pops["samples"]],
        "total_simulations": int(history.total_nr_simulations),
        "run_seconds": round(seconds, 1),
        "history_db": str(db.relative_to(Path.cwd())) if db.is_relative_to(Path.cwd()) else str(db),
        "history_run_id": int(history.id),
        "targets_used": used.ids,
        "targets_not_used": unused.ids,
        "target_files": list(targets.sources),
        "parameters": keys,
    }
    return posterior_dataset({k: scores.values_array(k, df[k].to_numpy()) for k in keys}, np.asarray(w), attrs)
