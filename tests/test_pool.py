"""verify's (claim, method) jobs on worker processes give bit-identical results to the serial run
(same machine, same code, same inputs: exact equality is the claim here, not a float tolerance);
a job's error is raised as the serial run raises it; the worker count is validated."""

import numpy as np
import pytest

import proofs_check as pc
import reference as R
from proofs_check import pool


class LocalHedge:
    """A user's method defined in a test module (a pool that pickled its jobs could not take a
    class defined inside a function; this one is at module level, the next one is not)."""

    needs = frozenset({"excess"})
    step_size = 1.0

    def init_state(self, n_tasks, dim):
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        logits = state + self.step_size * excess
        w = np.exp(logits - logits.max())
        return logits, w / w.sum()


def same(a: pc.Report, b: pc.Report) -> bool:
    for ca, cb in zip(a.claims, b.claims, strict=True):
        if [(c.name, c.note) for c in ca.checks] != [(c.name, c.note) for c in cb.checks]:
            return False
        if not np.array_equal([c.measured for c in ca.checks], [c.measured for c in cb.checks],
                              equal_nan=True):
            return False
        if ca.arrays.keys() != cb.arrays.keys() or not all(
                np.array_equal(ca.arrays[k], cb.arrays[k], equal_nan=True) for k in ca.arrays):
            return False
    return True


@pytest.mark.skipif(not pool.forking_allowed(), reason="the pool forks (Linux)")
def test_two_workers_give_the_serial_results_bit_for_bit():
    class InnerHedge(LocalHedge):           # defined in a function: nothing is pickled
        pass
    kw = dict(claims=["rate", "pareto-optimal", "pareto-stationary"], seeds=2, steps=200,
              batch_size=[None, 8])
    serial = pc.verify([InnerHedge(), R.GroupDRO()], workers=1, **kw)
    pooled = pc.verify([InnerHedge(), R.GroupDRO()], workers=2, **kw)
    assert len(serial.claims) == 6 and same(serial, pooled)


class RaisesAtStep50(LocalHedge):
    def step(self, state, losses, grads, *, excess=None, hessians=None):
        if state.sum() > 20:
            raise RuntimeError("my bug")
        return super().step(state, losses, grads, excess=excess)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_jobs_user_method_error_is_raised_as_in_the_serial_run(workers):
    with pytest.raises(R.UserMethodError, match="raised RuntimeError in step at t=.*my bug"):
        pc.verify(RaisesAtStep50(), claims=["rate", "pareto-optimal"], seeds=2, steps=200,
                  workers=workers)


def test_the_worker_count_is_validated(monkeypatch):
    assert pool.worker_count(8, 3) == 3 and pool.worker_count(1, 5) == 1
    monkeypatch.setenv(pool.ENV, "2")
    assert pool.worker_count(None, 5) == 2
    monkeypatch.setenv(pool.ENV, "two")
    with pytest.raises(ValueError, match="EXCESSMTL_ORACLE_WORKERS must be a positive integer"):
        pool.worker_count(None, 5)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            pool.worker_count(bad, 5)
