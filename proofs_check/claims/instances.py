"""Instances built to make a claim check sharp where the default families are lenient.

``inactive_task_problem``: a task that is inactive at the min–max solution (α*_i = 0). On the
default families every task is active with α*_i ≥ 0.2/m, so a method that keeps a floor of
weight on every task (e.g. ε-greedy mixing with the uniform distribution) still plays α* and
converges to the right point; here it cannot, and ``rate`` sees it converge elsewhere.

``tight_bound_problem``: the tight family of ``rate``, where the theorem's bound is nearly
attained (docs/theory.md §3c): measured gap / data-dependent bound reaches 0.19–0.25 (median over
seeds of its maximum over T, problem seeds 0–7), so a method whose gap is 5× the theorem
dynamics' fails the bound there instead of hiding in 100× slack.
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


def tight_bound_problem(seed: int = 0, *, scale: float = 0.03, n_inactive: int = 4,
                        inactive_ratio: float = 0.1) -> R.AbsoluteLossProblem:
    """LAD tasks (nonsmooth, so E_i grows linearly away from the optimum): two conflicting tasks
    (d = 2, n = 8, Laplace noise 0.1 and 1.0) and ``n_inactive`` copies of the first scaled by
    ``inactive_ratio`` (ℓ = ratio·ℓ_1, so α* = 0 on them), all losses multiplied by ``scale``.

    Why it is tight ([OURS] docs/theory.md §3c): Hedge starts with weight 1/m on each inactive task
    and sheds it at the speed η_α·Δ, Δ = the active value minus the inactive tasks' E at θ*. Its
    regret then approaches ln(m)/η_α, the bound's third term, and the gap of ᾱ_T is linear in the
    misplaced weight. ``scale`` shrinks the θ-terms of the bound (∝ G) until Hedge's term
    dominates over T ∈ [20, 2000] at η_α = 1."""
    v = R._validate
    scale = v.real("scale", scale, low=0.0, low_open=True)
    k = v.positive_int("n_inactive", n_inactive)
    ratio = v.real("inactive_ratio", inactive_ratio, low=0.0, high=1.0, low_open=True)
    if ratio >= 1.0:
        raise ValueError(f"inactive_ratio must be < 1 (inactive tasks below the first), "
                         f"got {ratio}")
    base = R.make_absolute_problem(2, 2, 8, noise=[0.1, 1.0], seed=seed)
    X = np.concatenate([base.X, np.repeat(base.X[:1] * ratio, k, axis=0)]) * scale
    y = np.concatenate([base.y, np.repeat(base.y[:1] * ratio, k, axis=0)]) * scale
    return R.AbsoluteLossProblem(X, y, seed=seed)


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
