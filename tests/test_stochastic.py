"""The stochastic regime: minibatch oracles, samplers, the loop, and the gpu mirror held to the
reference at 1e-10."""

import numpy as np
import pytest

import gpu
import reference as R

LIN = R.make_linear_problem(3, 4, 48, noise=[0.1, 0.3, 1.0], seed=0)
LOG = R.make_logistic_problem(3, 4, 48, flip=[0.0, 0.1, 0.3], seed=0)


@pytest.mark.parametrize("problem", [LIN, LOG], ids=["linear", "logistic"])
def test_minibatch_oracles_on_every_row_are_the_full_oracles(problem):
    theta = np.linspace(-0.5, 0.5, problem.dim)
    every = np.tile(np.arange(problem.n_samples), (problem.n_tasks, 1))
    for oracle in (problem.losses, problem.grads, problem.hessians):
        np.testing.assert_allclose(oracle(theta, every), oracle(theta), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("problem", [LIN, LOG], ids=["linear", "logistic"])
def test_minibatch_losses_and_gradients_are_unbiased(problem):
    """The average over all one-sample minibatches is the full-set value (uniform sampling)."""
    theta = np.linspace(-0.5, 0.5, problem.dim)
    singles = [np.full((problem.n_tasks, 1), k) for k in range(problem.n_samples)]
    for oracle in (problem.losses, problem.grads):
        mean = np.mean([oracle(theta, idx) for idx in singles], axis=0)
        np.testing.assert_allclose(mean, oracle(theta), rtol=1e-12, atol=1e-14)


def test_the_epoch_sampler_visits_every_sample_once_per_epoch():
    s = R.MinibatchSampler(3, 48, 8, "epoch", seed=4)
    epoch = np.concatenate([s.next() for _ in range(6)], axis=1)      # 6 × 8 = 48
    for task in epoch:
        assert sorted(task) == list(range(48))


def test_the_with_replacement_sampler_is_uniform_and_seeded():
    a, b = (R.MinibatchSampler(2, 10, 5, seed=1).next() for _ in range(2))
    np.testing.assert_array_equal(a, b)
    counts = np.bincount(R.MinibatchSampler(1, 10, 1000, seed=2).next()[0], minlength=10)
    assert counts.min() > 60 and counts.max() < 140          # 100 ± 4σ


def test_a_full_epoch_batch_reproduces_the_full_batch_run():
    """batch_size = n with the epoch sampler sees every sample each step: the same run."""
    method = R.ExcessMTL("adagrad", "official")
    full = R.run(LIN, method, 40, lr=0.05)
    stoch = R.run(LIN, method, 40, lr=0.05, batch_size=LIN.n_samples, sampler="epoch", seed=7)
    np.testing.assert_allclose(stoch.weights, full.weights, rtol=1e-10)
    np.testing.assert_allclose(stoch.thetas, full.thetas, rtol=1e-10, atol=1e-13)


def test_the_recorded_quantities_are_measured_on_the_full_training_set():
    tr = R.run(LOG, R.ExcessMTL("exact", "paper", scale_processing=False), 30, lr=0.3,
               batch_size=4, seed=1)
    for t in (0, 7, 30):
        np.testing.assert_allclose(tr.excess[t], LOG.excess_risks(tr.thetas[t]), rtol=1e-14)
        np.testing.assert_allclose(tr.losses[t], LOG.losses(tr.thetas[t]), rtol=1e-14)
    assert (tr.batch_size, tr.sampler, tr.seed) == (4, "with_replacement", 1)


def test_the_stochastic_run_is_seeded():
    method = R.GroupDRO("paper")
    a, b = (R.run(LIN, method, 20, lr=0.05, batch_size=4, seed=s) for s in (3, 3))
    c = R.run(LIN, method, 20, lr=0.05, batch_size=4, seed=4)
    np.testing.assert_array_equal(a.thetas, b.thetas)
    assert not np.allclose(a.thetas, c.thetas)


def test_the_exact_estimator_sees_unbiased_minibatch_excess_risks():
    """With minibatches, ExcessMTL(exact) is fed ℓ_B(θ) − ℓ*, whose mean over draws is E(θ)."""
    seen = []

    class Spy(R.ExcessMTL):
        def step(self, state, losses, grads, *, excess=None, hessians=None):
            seen.append(np.array(excess))
            return super().step(state, losses, grads, excess=excess, hessians=hessians)

    R.run(LIN, Spy("exact", "paper", scale_processing=False), 1, lr=1e-9, batch_size=4, seed=0)
    sampler = R.MinibatchSampler(3, LIN.n_samples, 4, seed=0)
    idx = sampler.next()
    np.testing.assert_allclose(seen[0], LIN.losses(np.zeros(4), idx) - LIN.optimal_losses,
                               rtol=1e-14)


METHODS = [R.ExcessMTL("exact", "paper", scale_processing=False),
           R.ExcessMTL("adagrad", "official"),
           R.ExcessMTL("taylor", "paper", scale_processing=False), R.GroupDRO("paper")]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("cupy", marks=pytest.mark.cupy)])
@pytest.mark.parametrize("sampler", ["with_replacement", "epoch"])
@pytest.mark.parametrize("kind", ["linear", "logistic"])
@pytest.mark.parametrize("method", METHODS, ids=lambda m: repr(m)[:40])
def test_the_gpu_mirror_follows_the_reference_minibatch_for_minibatch(kind, sampler, method,
                                                                      backend):
    make = (lambda s: R.make_linear_problem(3, 4, 40, noise=[0.1, 0.3, 1.0], seed=s)) \
        if kind == "linear" else \
        (lambda s: R.make_logistic_problem(3, 4, 40, flip=[0.0, 0.1, 0.3], seed=s))
    problems, seeds = [make(0), make(1)], [5, 9]
    batch = gpu.run_batched(gpu.from_reference(problems, keep_samples=True, backend=backend),
                            method, 40, lr=0.1, batch_size=8, sampler=sampler, seeds=seeds)
    for r, (p, s) in enumerate(zip(problems, seeds)):
        ref = R.run(p, method, 40, lr=0.1, batch_size=8, sampler=sampler, seed=s)
        np.testing.assert_allclose(batch.weights[:, r], ref.weights, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch.thetas[:, r], ref.thetas, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch.excess[:, r], ref.excess, rtol=1e-10, atol=1e-12)


def test_a_linear_batch_without_its_samples_refuses_minibatches_by_name():
    with pytest.raises(ValueError, match="keep_samples"):
        gpu.run_batched(gpu.from_reference([LIN]), METHODS[0], 3, batch_size=4)
