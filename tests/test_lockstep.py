"""Replicas run in lockstep are the runs ``reference.run`` makes one by one: every recorded array
agrees to 1e-10 (relative to its scale), in both losses, both regimes, with and without the
projection, for a method that keeps state in ``self``; a replica that diverges stops alone."""

import numpy as np
import pytest

import reference as R
from reference.lockstep import lockstep_supported, run_lockstep

FIELDS = ("thetas", "weights", "losses", "excess", "grad_norms", "combined_grad_norms",
          "step_sizes")


class CountingHedge:
    """Hedge on the excess risks that counts its calls in ``self`` (hidden state, as ports do)."""

    needs = frozenset({"excess"})
    step_size = 0.5

    def init_state(self, n_tasks, dim):
        self.calls = 0
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        self.calls += 1
        logits = state + self.step_size * excess
        w = np.exp(logits - logits.max())
        return logits, w / w.sum()


def assert_same(a: R.Trajectory, b: R.Trajectory) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if f == "excess" and np.isnan(y).all():
            continue
        scale = max(1.0, float(np.max(np.abs(y))))
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-10 * scale, err_msg=f)


@pytest.mark.parametrize("loss", ["linear", "logistic"])
@pytest.mark.parametrize("batch_size", [None, 8], ids=["full batch", "batch 8"])
def test_lockstep_replicas_are_the_serial_runs(loss, batch_size):
    make = R.make_linear_problem if loss == "linear" else R.make_logistic_problem
    problem = make(3, 5, 60, seed=1)
    starts = np.random.default_rng(0).standard_normal((4, 5))
    kw = dict(lr=0.3, schedule="inv_sqrt", project_radius=2.0, batch_size=batch_size)
    many = run_lockstep([problem] * 4, CountingHedge(), 150, theta0=starts, seeds=[0, 1, 2, 3],
                        **kw)
    for r in range(4):
        assert_same(many[r], R.run(problem, CountingHedge(), 150, theta0=starts[r], seed=r, **kw))


def test_each_replica_may_have_its_own_problem():
    problems = [R.make_logistic_problem(2, 4, 40, flip=[f, 0.0], seed=s)
                for f in (0.0, 0.2) for s in (0, 1)]
    starts = np.zeros((4, 4))
    many = run_lockstep(problems, R.ExcessMTL("exact", "paper"), 100, theta0=starts, lr=0.5)
    for p, tr in zip(problems, many):
        assert_same(tr, R.run(p, R.ExcessMTL("exact", "paper"), 100, lr=0.5))


def test_a_replica_that_diverges_stops_alone():
    problem = R.make_linear_problem(2, 3, 30, seed=0)
    starts = np.array([[0.0, 0.0, 0.0], [1e200, 1e200, 1e200]])
    out = run_lockstep([problem] * 2, CountingHedge(), 50, theta0=starts, lr=0.1)
    assert isinstance(out[0], R.Trajectory)
    assert isinstance(out[1], R.DivergenceError)


def test_what_cannot_be_lockstepped_is_said_up_front():
    linear, logistic = R.make_linear_problem(2, 3, 30), R.make_logistic_problem(2, 3, 30)
    assert lockstep_supported([linear, linear], CountingHedge())
    assert not lockstep_supported([linear, logistic], CountingHedge())
    assert not lockstep_supported([linear], R.ExcessMTL("taylor"))      # needs Hessians
    net = R.make_tanh_problem()
    assert lockstep_supported([net], R.ExcessMTL("adagrad"))
    assert not lockstep_supported([net], R.ExcessMTL("exact"))          # no excess risk here
    with pytest.raises(TypeError, match="lockstep_supported"):
        run_lockstep([linear, logistic], CountingHedge(), 10, theta0=np.zeros((2, 3)), lr=0.1)


@pytest.mark.parametrize("batch_size", [None, 4], ids=["full batch", "batch 4"])
def test_lad_replicas_are_the_serial_runs(batch_size):
    problem = R.make_absolute_problem(2, 3, 20, seed=2)
    starts = np.random.default_rng(1).standard_normal((3, 3))
    kw = dict(lr=0.05, schedule="inv_sqrt", project_radius=3.0, batch_size=batch_size)
    many = run_lockstep([problem] * 3, CountingHedge(), 120, theta0=starts, seeds=[4, 5, 6], **kw)
    for r in range(3):
        assert_same(many[r], R.run(problem, CountingHedge(), 120, theta0=starts[r], seed=4 + r,
                                   **kw))


@pytest.mark.parametrize("batch_size", [None, 16], ids=["full batch", "batch 16"])
def test_tanh_network_replicas_are_the_serial_runs(batch_size):
    nets = [R.make_tanh_problem(2, 3, 4, 64, noise=[0.1, 1.0], seed=s) for s in (0, 1, 2)]
    starts = np.array([R.nonconvex.initial_point(n, seed=s) for s, n in enumerate(nets)])
    method = R.ExcessMTL("adagrad", "paper")
    many = run_lockstep(nets, method, 200, theta0=starts, lr=0.1, batch_size=batch_size,
                        seeds=[0, 1, 2])
    for s, (net, tr) in enumerate(zip(nets, many)):
        serial = R.run(net, R.ExcessMTL("adagrad", "paper"), 200, lr=0.1, theta0=starts[s],
                       batch_size=batch_size, seed=s)
        assert np.isnan(tr.excess).all() and np.isnan(serial.excess).all()
        assert_same(tr, serial)


class BatchedHedge(CountingHedge):
    """CountingHedge with the batched protocol: every replica's row in one call."""

    def init_states(self, n_tasks, dim, replicas):
        return np.zeros((replicas, n_tasks))

    def step_batch(self, state, losses, grads, *, excess=None, hessians=None):
        logits = state + self.step_size * excess
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits, w / w.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("batch_size", [None, 8], ids=["full batch", "batch 8"])
def test_a_batched_method_gives_the_per_replica_runs(batch_size):
    problem = R.make_logistic_problem(3, 5, 60, seed=3)
    starts = np.random.default_rng(2).standard_normal((4, 5))
    kw = dict(lr=0.3, schedule="inv_sqrt", project_radius=2.0, batch_size=batch_size,
              seeds=[0, 1, 2, 3], theta0=starts)
    one_call = run_lockstep([problem] * 4, BatchedHedge(), 120, **kw)
    per_row = run_lockstep([problem] * 4, CountingHedge(), 120, **kw)
    for a, b in zip(one_call, per_row):
        assert_same(a, b)


def test_a_batched_run_whose_replica_diverges_is_run_again_replica_by_replica():
    problem = R.make_linear_problem(2, 3, 30, seed=0)
    starts = np.array([[0.0, 0.0, 0.0], [1e200, 1e200, 1e200]])
    out = run_lockstep([problem] * 2, BatchedHedge(), 50, theta0=starts, lr=0.1)
    assert isinstance(out[0], R.Trajectory) and isinstance(out[1], R.DivergenceError)
    assert_same(out[0], R.run(problem, CountingHedge(), 50, lr=0.1))


def test_verify_takes_the_batched_protocol_through_its_wrapper():
    import proofs_check as pc
    kw = dict(claims=["rate", "pareto-optimal"], seeds=2, steps=200, batch_size=[None, 8],
              workers=1)
    a, b = pc.verify(BatchedHedge(), **kw), pc.verify(CountingHedge(), **kw)
    for ca, cb in zip(a.claims, b.claims):
        np.testing.assert_allclose([c.measured for c in ca.checks],
                                   [c.measured for c in cb.checks], rtol=1e-9, atol=1e-12)
    bad = BatchedHedge()
    bad.step_batch = lambda state, losses, grads, **kw: (state, -np.ones(losses.shape))
    with pytest.raises(R.UserMethodError, match="negative weights at step t=1"):
        pc.verify(bad, **kw)
