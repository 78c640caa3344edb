"""The θ-step of the constant-step runs: Σα of a method's weights (``weight_sum``), the
problem's smoothness L (``smoothness``) and the stable step 1/(L·Σα) (``lr_for``). Pure functions
of a reference problem and a method; below the config and the claims, which both use them
(docs/api.md, "Layers")."""

from __future__ import annotations

import numpy as np

import reference as R


def weight_sum(problem: R.MultiTaskProblem, method: R.WeightingMethod) -> float:
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


def lr_for(problem: R.MultiTaskProblem, method: R.WeightingMethod) -> float:
    """A stable constant step: 1/L, divided by Σα when the method's weights sum to m."""
    return 1.0 / (smoothness(problem) * weight_sum(problem, method))
