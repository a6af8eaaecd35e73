"""The speed-ups of issue 8 keep behaviour: the person table's census kept current row by row equals a fresh count
every month, its in-place xorshift32 uniforms are the per-person generators' values, the quick top-k path of the
investigations selects what the partition does, and the allocator tuning of ensemble workers acts only in workers."""

import numpy as np
import pytest

from dapsim.demand.users import DEAD, N_LOC, OAT, OUT, PersonTable
from dapsim.dims import N_MS
from dapsim.model import ActionPlanModel
from dapsim.scenario import Scenario


def fresh_census(table: PersonTable) -> np.ndarray:
    """Count the rows from their columns, ignoring every cache."""
    n = table.n
    code = ((((table.ms[:n] * 2 + table.male[:n]) * 2 + table.inject[:n]).astype(np.intp) * N_LOC
             + table.loc[:n]) * 2 + table.synthetic[:n])
    return np.bincount(code, minlength=N_MS * 4 * N_LOC * 2).reshape(N_MS, 2, 2, N_LOC, 2).transpose(0, 3, 1, 2, 4)


@pytest.fixture(scope="module")
def run_months():
    # an opium ban makes heroin scarce, so users switch to synthetic opioids (the table's full recode path)
    sc = Scenario.from_dict({"name": "census", "horizon": {"start": "2015-01", "end": "2016-12"},
                             "shocks": [{"kind": "afghan_opium_ban", "at": "2015-02"}]})
    model = ActionPlanModel(sc, seed=3, scale=50)
    checks = []
    while model.t < len(model.months):
        model.step()
        table = model.state.people
        checks.append((np.array(table.census()), fresh_census(table)))
    return model, checks


def test_census_kept_current_equals_a_fresh_count_every_month(run_months):
    _, checks = run_months
    for month, (kept, fresh) in enumerate(checks):
        np.testing.assert_array_equal(kept, fresh, err_msg=f"month {month}")
    assert checks[-1][0][:, :DEAD].sum() > 0


def test_census_follows_moves_adds_and_regrouping():
    table = PersonTable(8, scale=1.0, n_months=1, seed_key=7)
    rows = table.add(20)
    table.ms[rows] = np.arange(20) % N_MS
    table.set_groups(rows)
    before = table.census().copy()
    assert before[:, OUT].sum() == 20
    table.move(np.array([0, 5, 7]), OAT)  # the table grows past its capacity on the way (8 -> 20)
    np.testing.assert_array_equal(table.census(), fresh_census(table))
    assert table.census()[:, OAT].sum() == 3 and before[:, OAT].sum() == 0  # earlier results are not changed
    more = table.add(4)
    table.ms[more] = 26
    table.inject[more] = True
    table.set_groups(more)
    table.move(np.r_[0:6, 20:24], DEAD)
    np.testing.assert_array_equal(table.census(), fresh_census(table))
    table.compact()  # 10 of 24 rows dead: more than a quarter, so they are dropped
    np.testing.assert_array_equal(table.census(), fresh_census(table))
    assert table.n == 14 and table.census()[:, DEAD].sum() == 0


def test_uniforms_are_each_persons_xorshift32_draws():
    table = PersonTable(64, scale=1.0, n_months=1, seed_key=12345)
    table.add(1000)
    state = table.rng[: table.n].astype(np.uint64)
    got = table.uniforms("test", 0, n_streams=3)
    for j in range(3):
        state ^= (state << np.uint64(13)) & np.uint64(0xFFFFFFFF)
        state ^= state >> np.uint64(17)
        state ^= (state << np.uint64(5)) & np.uint64(0xFFFFFFFF)
        np.testing.assert_array_equal(got[j], (state >> np.uint64(8)).astype(np.float64) / 2**24)
    assert got.dtype == np.float32 and 0.45 < got.mean() < 0.55
    np.testing.assert_array_equal(table.rng[: table.n], state.astype(np.uint32))


def test_top_k_rows_small_k_path_selects_like_the_partition(monkeypatch):
    from dapsim.enforcement import investigations

    rng = np.random.default_rng(1)
    keys = rng.random((27, 800)) / rng.standard_exponential((27, 800))
    keys[rng.random((27, 800)) < 0.3] = -np.inf
    keys[3, :] = -np.inf  # a Member State that knows no group
    k = rng.integers(0, 12, 27)
    k[5] = 0
    fast = investigations.top_k_rows(keys, k)
    monkeypatch.setattr(investigations, "SMALL_K", 0)  # force the partition
    slow = investigations.top_k_rows(keys, k)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    assert fast[0].size == sum(min(int(k[r]), int(np.isfinite(keys[r]).sum())) for r in range(27))
    assert not np.any(fast[1] == 3) and not np.any(fast[1] == 5)


def test_tune_allocator_only_acts_where_eager_trimming_was_set(monkeypatch):
    import platform

    from dapsim import ensemble

    monkeypatch.setattr(ensemble, "_ALLOCATOR_TUNED", False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert ensemble.tune_allocator() is False  # a plain process keeps glibc's adaptive defaults
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as Dask's nanny starts its workers
    done = ensemble.tune_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert done is True
    assert ensemble.tune_allocator() is False  # once per process
