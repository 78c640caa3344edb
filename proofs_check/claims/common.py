"""Pieces shared by several claim checks."""

from __future__ import annotations

import numpy as np

import reference as R


def lr_for(problem: R.MultiTaskProblem, method: object) -> float:
    """A stable constant step: 1/L (L = the largest task curvature at θ = 0), divided by Σα when
    the method's weights sum to m (official convention)."""
    L = max(float(np.linalg.eigvalsh(H)[-1]) for H in problem.hessians(np.zeros(problem.dim)))
    if problem.loss == "logistic":
        L = max(L, 0.25 * max(float(np.linalg.eigvalsh(x.T @ x / len(x))[-1]) for x in problem.X))
    scale = problem.n_tasks if getattr(method, "convention", "paper") == "official" and \
        not isinstance(method, (R.MGDA, R.IMTLG)) else 1
    return 1.0 / (L * scale)
