"""Instances built to make a claim check sharp where the default families are lenient.

``inactive_task_problem``: a task that is inactive at the min–max solution (α*_i = 0). On the
default families every task is active with α*_i ≥ 0.2/m, so a method that keeps a floor of
weight on every task (e.g. ε-greedy mixing with the uniform distribution) still plays α* and
converges to the right point; here it cannot, and ``rate`` sees it converge elsewhere.
"""

from __future__ import annotations

import numpy as np

import reference as R


def inactive_task_problem(seed: int = 0, *, ratio: float = 0.1, dim: int = 5,
                          n_samples: int = 200) -> R.MultiTaskProblem:
    """Two conflicting linear tasks (noise σ = 0.1 and 1.0) and a third whose data are the first
    task's scaled by √ratio, so that ℓ_3 = ratio·ℓ_1 and E_3(θ) = ratio·E_1(θ) < E_1(θ) for every
    θ off the first task's optimum: max_i E_i never involves task 3, and α*_3 = 0 exactly."""
    ratio = R._validate.real("ratio", ratio, low=0.0, high=1.0, low_open=True)
    if ratio >= 1.0:
        raise ValueError(f"ratio must be < 1 (the third task below the first), got {ratio}")
    base = R.make_linear_problem(2, dim, n_samples, noise=[0.1, 1.0], seed=seed)
    scale = np.sqrt(ratio)
    X = np.concatenate([base.X, base.X[:1] * scale])
    y = np.concatenate([base.y, base.y[:1] * scale])
    return R.MultiTaskProblem("linear", X, y, seed=seed)


def degenerate_pareto_problem(n_samples: int = 40, seed: int = 0) -> R.MultiTaskProblem:
    """3 linear tasks in R²: ℓ_A = ½(θ_1 + 1)², ℓ_B = ½(θ_1 − 1)² (both blind to θ_2) and
    ℓ_C = ½‖θ‖² (in expectation; x ~ N(0, I), y = 0). Every θ with θ_1 ∈ [−1, 1] is weakly Pareto
    optimal (A and B conflict on θ_1), but only θ_2 = 0 is strictly Pareto optimal. A min–max
    method stops moving θ_2 once α_C → 0 (task C is inactive: E_C < E_A = E_B), so it ends weakly
    but not strictly optimal; any method with α_C bounded away from 0 reaches θ_2 = 0."""
    n = R._validate.positive_int("n_samples", n_samples)
    one_coordinate = np.tile([1.0, 0.0], (n, 1))
    X = np.stack([one_coordinate, one_coordinate,
                  np.random.default_rng(seed).standard_normal((n, 2))])
    y = np.stack([np.full(n, -1.0), np.full(n, 1.0), np.zeros(n)])
    return R.MultiTaskProblem("linear", X, y, seed=seed)
