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
