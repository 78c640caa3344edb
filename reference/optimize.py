"""Exact minimisation of a weighted sum of task losses, f(θ) = Σ_i w_i ℓ_i(θ), w_i >= 0.

Damped Newton with Armijo backtracking, iterated to ‖∇f(θ)‖ <= ``gtol`` (default 1e-12). For a
quadratic (linear regression) the first full step lands on the optimum, so this is the closed form
H⁻¹b written as one Newton step; a singular H (n < d and λ = 0) is handled by least squares, which
gives the minimum-norm minimiser. [OURS]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.linalg as sla

from . import _validate as v


class SmoothTasks(Protocol):
    """What ``minimize_weighted`` needs of a problem (a ``MultiTaskProblem`` has it): the sizes,
    and full-set losses (m,), gradients (m, d) and Hessians (m, d, d) at θ. A protocol, so that
    this module sits below ``problems`` (which calls it for each task's optimum)."""

    @property
    def n_tasks(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def losses(self, theta: np.ndarray) -> np.ndarray: ...

    def grads(self, theta: np.ndarray) -> np.ndarray: ...

    def hessians(self, theta: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class NewtonResult:
    theta: np.ndarray
    value: float
    grad_norm: float
    iterations: int


def _newton_direction(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        return -sla.solve(H, g, assume_a="pos")
    except (sla.LinAlgError, ValueError):
        return -sla.lstsq(H, g)[0]


def minimize_weighted(problem: SmoothTasks, weights: np.ndarray, *,
                      theta0: np.ndarray | None = None, gtol: float = 1e-12,
                      max_iter: int = 200) -> NewtonResult:
    """argmin_θ Σ_i w_i ℓ_i(θ) to a gradient norm <= ``gtol``.

    Raises RuntimeError when the minimum is not attained (e.g. logistic regression on separable
    data with l2 = 0) or when round-off stops progress above ``max(gtol, 1e-8)``.
    """
    m = problem.n_tasks
    w = v.finite_array("weights", weights, shape=(m,))
    if np.any(w < 0) or not np.sum(w) > 0:
        raise ValueError(f"weights must be {m} non-negative numbers with a positive sum (f(θ) = "
                         f"Σ_i w_i ℓ_i(θ) must be a convex combination up to scale), got {w}")
    theta = np.zeros(problem.dim) if theta0 is None else \
        v.finite_array("theta0", theta0, shape=(problem.dim,)).copy()

    def f(th: np.ndarray) -> float:
        return float(w @ problem.losses(th))

    value = f(theta)
    g = w @ problem.grads(theta)
    it = 0
    for it in range(1, max_iter + 1):
        if np.linalg.norm(g) <= gtol:
            it -= 1
            break
        H = np.einsum("m,mde->de", w, problem.hessians(theta))
        p = _newton_direction(H, g)
        slope = float(g @ p)
        if slope >= 0:  # singular H with g outside its range: fall back to steepest descent
            p, slope = -g, -float(g @ g)
        step, accepted = 1.0, False
        for _ in range(60):
            cand = theta + step * p
            cv = f(cand)
            if cv <= value + 1e-4 * step * slope + 1e-15 * abs(value):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        if np.linalg.norm(cand - theta) <= 1e-17 * (1.0 + np.linalg.norm(theta)):
            theta, value = cand, cv
            g = w @ problem.grads(theta)
            break
        theta, value = cand, cv
        g = w @ problem.grads(theta)
        if np.linalg.norm(theta) > 1e12:
            break
    gnorm = float(np.linalg.norm(g))
    if gnorm > max(gtol, 1e-8) or not np.all(np.isfinite(theta)):
        raise RuntimeError(
            f"minimisation of the weighted loss did not converge (‖∇f‖ = {gnorm:.3e} after {it} "
            "Newton steps); for logistic regression on separable data the minimum is not "
            "attained: use l2 > 0")
    return NewtonResult(theta=theta, value=value, grad_norm=gnorm, iterations=it)
