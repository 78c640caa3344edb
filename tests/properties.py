"""Properties written once (STYLE §4): each helper asserts one property of a weighting method."""

from __future__ import annotations

import numpy as np

import reference as R


def drive(method, inputs):
    """Feed a recorded sequence of step inputs to ``method``; return the weights (T, m)."""
    losses, grads, excess, hessians = inputs
    return R.replay(method, losses, grads, excess=excess, hessians=hessians)


def recorded_inputs(problem, steps=15, lr=0.05):
    """(losses, grads, excess, hessians) along an equal-weights trajectory of ``problem``."""
    traj = R.run(problem, R.EqualWeights("paper"), steps, lr=lr)
    th = traj.thetas[:-1]
    return (np.array([problem.losses(t) for t in th]), np.array([problem.grads(t) for t in th]),
            np.array([problem.excess_risks(t) for t in th]),
            np.array([problem.hessians(t) for t in th]))


def assert_weights_normalised(method, weights):
    """Weights are >= 0 and sum to m (official) or 1 (paper and MGDA/IMTL-G sum to 1)."""
    m = weights.shape[1]
    target = m if getattr(method, "convention", "paper") == "official" and \
        not isinstance(method, (R.MGDA, R.IMTLG)) else 1.0
    assert np.all(np.isfinite(weights))
    if not isinstance(method, R.IMTLG):          # IMTL-G weights may be negative by design
        assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), target, rtol=1e-12)


def assert_permutation_equivariant(problem, method, perm, steps=20, lr=0.05):
    """Permuting the tasks permutes weights, losses and excess risks; θ is unchanged."""
    permuted = R.problem_from_arrays(problem.loss, problem.X[perm], problem.y[perm], l2=problem.l2)
    a = R.run(problem, method, steps, lr=lr)
    b = R.run(permuted, method, steps, lr=lr)
    np.testing.assert_allclose(b.thetas, a.thetas, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.weights, a.weights[:, perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.excess, a.excess[:, perm], rtol=1e-8, atol=1e-12)


def shift_losses(inputs, task, c):
    """The same inputs with the constant c added to task ``task``'s loss (gradients, Hessians and
    excess risks are unchanged, since ℓ_i^* moves with ℓ_i)."""
    losses = inputs[0].copy()
    losses[:, task] += c
    return (losses, *inputs[1:])
