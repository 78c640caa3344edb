"""Pieces shared by several claim checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import reference as R


# Exact reference classes whose gpu/ twin is held to them and runs on the device (gpu/ also
# batches MGDA, but its min-norm solver runs on the host). A subclass is not batched: it runs as
# it is, through reference.run.
BATCHED = (R.ExcessMTL, R.GroupDRO, R.EqualWeights, R.IMTLG)


def weight_sum(problem: R.MultiTaskProblem, method: object) -> float:
    """Σα of the method's weights: m for the reference methods' official convention, else 1.
    (A user method's weights are put on the simplex before they reach the θ-step.)"""
    official = getattr(method, "convention", "paper") == "official" and \
        isinstance(method, (R.ExcessMTL, R.GroupDRO, R.EqualWeights))
    return float(problem.n_tasks) if official else 1.0


def smoothness(problem: R.MultiTaskProblem) -> float:
    """L = the largest task curvature at θ = 0 (for logistic tasks, at least ¼λ_max(XᵀX/n),
    the largest curvature anywhere)."""
    L = max(float(np.linalg.eigvalsh(H)[-1]) for H in problem.hessians(np.zeros(problem.dim)))
    if problem.loss == "logistic":
        L = max(L, 0.25 * max(float(np.linalg.eigvalsh(x.T @ x / len(x))[-1]) for x in problem.X))
    return L


def lr_for(problem: R.MultiTaskProblem, method: object) -> float:
    """A stable constant step: 1/L, divided by Σα when the method's weights sum to m."""
    return 1.0 / (smoothness(problem) * weight_sum(problem, method))


def start_points(problem: R.MultiTaskProblem, seeds: list[int]) -> np.ndarray:
    """θ_0 per seed for the constant-step claims: 0 for seed 0 (the suite's single run), else
    N(0, I)·s/√d with s = the largest ‖θ_i*‖ (a start as far out as the task optima)."""
    scale = float(np.max(np.linalg.norm(problem.optimal_params, axis=1))) / np.sqrt(problem.dim)
    return np.array([np.zeros(problem.dim) if s == 0 else
                     np.random.default_rng([s, 7]).standard_normal(problem.dim) * scale
                     for s in seeds])


def worst_over_seeds(name: str, per_seed: list, seeds: list[int]) -> object:
    """The sub-check of the worst seed (largest measured/bound), its note naming the rule and the
    spread: the decision rule is "every seed passes"."""
    def badness(c: object) -> tuple[int, float]:
        excess = c.measured - c.bound if c.kind == "upper" else c.bound - c.measured
        return (0 if c.passed else 1, float(excess) if np.isfinite(excess) else np.inf)
    k = max(range(len(per_seed)), key=lambda i: badness(per_seed[i]))
    passing = sum(c.passed for c in per_seed)
    return replace(per_seed[k], name=f"{name} (worst of {len(seeds)} seeds: seed {seeds[k]})",
                   note=f"{passing}/{len(seeds)} seeds pass; rule: every seed must pass. "
                        f"{per_seed[k].note}".strip())
