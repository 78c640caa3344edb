"""Exact oracles on a convex problem: the min–max solution, the duality gap, Pareto stationarity,
Pareto dominance and the two-task Pareto front.

All work with (optionally scaled) excess risks f_i(θ) = E_i(θ)/c_i, c_i > 0 (``scales``; c = 1 is
the paper's objective min_θ max_i E_i(θ) [OURS] docs/sources.md §S1.3; c = E(θ_0) is the objective
the official scale processing targets, see docs/theory.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.optimize import minimize

from . import _validate as v
from .minnorm import MinNormResult, min_norm_point
from .optimize import minimize_weighted
from .absolute import AbsoluteLossProblem
from .problems import MultiTaskProblem

EXACT = (MultiTaskProblem, AbsoluteLossProblem)      # problems whose optima are computed exactly
ExactProblem = MultiTaskProblem | AbsoluteLossProblem
"""The problems of ``EXACT``: ``duality_gap`` and ``minmax_solution`` take either."""


def _problem(problem: object, kinds: tuple = EXACT) -> ExactProblem:
    if not isinstance(problem, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        why = "exact optima are needed" if kinds == EXACT else \
            "smooth losses are needed; LAD tasks support duality_gap and minmax_solution"
        raise TypeError(f"problem must be a {names} ({why}), got {type(problem).__name__}")
    return cast(ExactProblem, problem)


def _scales(problem: ExactProblem, scales: object) -> np.ndarray:
    if scales is None:
        return np.ones(problem.n_tasks)
    c = v.finite_array("scales", scales, shape=(problem.n_tasks,))
    if np.any(c <= 0):
        raise ValueError("scales must be positive (one c_i > 0 per task)")
    return c


def _simplex(name: str, alpha: object, m: int) -> np.ndarray:
    a = v.finite_array(name, alpha, shape=(m,))
    if np.any(a < 0) or a.sum() <= 0:
        raise ValueError(f"{name} must be non-negative with a positive sum (it is normalised to "
                         "the simplex)")
    return a / a.sum()


# ------------------------------------------------------------------ duality gap
@dataclass(frozen=True)
class DualityGap:
    """gap = primal − dual, primal = max_i f_i(θ̄), dual = min_θ Σ ᾱ_i f_i(θ) (attained at
    ``inner_theta``)."""

    gap: float
    primal: float
    dual: float
    inner_theta: np.ndarray


def weighted_excess_minimum(problem: ExactProblem, alpha: np.ndarray, scales: np.ndarray
                            ) -> tuple[float, np.ndarray]:
    """min_θ Σ α_i E_i(θ)/c_i and its minimiser, solved exactly (Newton, ‖∇‖ <= 1e-12; a linear
    program for LAD tasks)."""
    w = alpha / scales
    if isinstance(problem, AbsoluteLossProblem):
        sol = problem.weighted_minimum(w)
        return float(w @ problem.excess_risks(sol.theta)), sol.theta
    res = minimize_weighted(problem, w)
    return float(w @ problem.excess_risks(res.theta)), res.theta


def duality_gap(problem: ExactProblem, theta_bar: object, alpha_bar: object, *,
                scales: object = None) -> DualityGap:
    """max_i E_i(θ̄)/c_i − min_θ Σ ᾱ_i E_i(θ)/c_i (ᾱ normalised to the simplex), >= 0.

    The inner minimum is over all of R^d; when the iterates were projected on a ball, this is an
    upper bound on the gap restricted to the ball (the unconstrained minimum is smaller).
    """
    c = _scales(_problem(problem), scales)
    th = v.finite_array("theta_bar", theta_bar, shape=(problem.dim,))
    a = _simplex("alpha_bar", alpha_bar, problem.n_tasks)
    primal = float(np.max(problem.excess_risks(th) / c))
    dual, inner = weighted_excess_minimum(problem, a, c)
    return DualityGap(gap=primal - dual, primal=primal, dual=dual, inner_theta=inner)


# ---------------------------------------------------------------- min-max point
@dataclass(frozen=True)
class MinmaxSolution:
    """θ* = argmin_θ max_i f_i(θ), ``value`` = max_i f_i(θ*), α* the optimal simplex weights (the
    dual solution), ``certificate`` = duality gap of (θ*, α*) (0 at an exact saddle point; the true
    optimum lies in [value − certificate, value])."""

    theta: np.ndarray
    value: float
    alpha: np.ndarray
    excess_risks: np.ndarray
    certificate: float
    kkt_residual: float


def _kkt_newton(problem: MultiTaskProblem, c: np.ndarray, theta: np.ndarray, s: float,
                alpha: np.ndarray, active: np.ndarray, iters: int = 30
                ) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Newton on Σ_A α_i ∇f_i(θ) = 0, f_i(θ) = s (i ∈ A), Σ_A α_i = 1."""
    A = np.flatnonzero(active)
    k, d = len(A), problem.dim

    def residual(th: np.ndarray, s_: float, a: np.ndarray) -> np.ndarray:
        f = problem.excess_risks(th)[A] / c[A]
        G = problem.grads(th)[A] / c[A, None]
        return np.concatenate([a @ G, f - s_, [a.sum() - 1.0]])

    a = alpha[A].copy()
    best = (theta, s, a, float(np.linalg.norm(residual(theta, s, a))))
    for _ in range(iters):
        r = residual(theta, s, a)
        if np.linalg.norm(r) < 1e-15:
            break
        G = problem.grads(theta)[A] / c[A, None]
        H = np.einsum("k,kde->de", a / c[A], problem.hessians(theta)[A])
        K = np.zeros((d + k + 1, d + 1 + k))
        K[:d, :d] = H
        K[:d, d + 1:] = G.T
        K[d:d + k, :d] = G
        K[d:d + k, d] = -1.0
        K[d + k, d + 1:] = 1.0
        delta = np.linalg.lstsq(K, -r, rcond=None)[0]
        theta, s, a = theta + delta[:d], s + delta[d], a + delta[d + 1:]
        nr = float(np.linalg.norm(residual(theta, s, a)))
        if nr < best[3]:
            best = (theta, s, a, nr)
    full = np.zeros(problem.n_tasks)
    full[A] = best[2]
    return best[0], best[1], full, best[3]


def minmax_solution(problem: ExactProblem, *, scales: object = None) -> MinmaxSolution:
    """The exact minimiser of max_i E_i(θ)/c_i, via the epigraph problem

        min_{θ, s} s   subject to   E_i(θ)/c_i <= s  for all i,

    solved by SLSQP, then polished by Newton's method on the KKT system of its active set, and
    certified by the duality gap at (θ*, α*). For LAD tasks the epigraph problem is a linear
    program (``AbsoluteLossProblem.minmax``), and α* are its multipliers.
    """
    c = _scales(_problem(problem), scales)
    if isinstance(problem, AbsoluteLossProblem):
        theta, alpha = problem.minmax(c)
        f = problem.excess_risks(theta) / c
        dual, _ = weighted_excess_minimum(problem, alpha, c)
        return MinmaxSolution(theta=theta, value=float(np.max(f)), alpha=alpha,
                              excess_risks=f * c, certificate=float(np.max(f)) - dual,
                              kkt_residual=float("nan"))
    m, d = problem.n_tasks, problem.dim
    theta0 = minimize_weighted(problem, np.full(m, 1.0 / m) / c).theta
    s0 = float(np.max(problem.excess_risks(theta0) / c))
    cons = [{"type": "ineq",
             "fun": lambda z: z[d] - problem.excess_risks(z[:d]) / c,
             "jac": lambda z: np.hstack([-problem.grads(z[:d]) / c[:, None], np.ones((m, 1))])}]
    res = minimize(lambda z: z[d], np.append(theta0, s0), jac=lambda z: np.eye(d + 1)[d],
                   constraints=cons, method="SLSQP", options={"ftol": 1e-16, "maxiter": 2000})
    theta, s = res.x[:d], float(np.max(problem.excess_risks(res.x[:d]) / c))
    if s > s0:
        theta, s = theta0, s0
    f = problem.excess_risks(theta) / c
    active = f >= s - 1e-6 * max(s, 1e-12)
    G = problem.grads(theta) / c[:, None]
    alpha = np.zeros(m)
    alpha[active] = min_norm_point(G[active]).alpha
    # Newton polish, accepted only if it keeps α >= 0, the inactive tasks below s, and lowers max f
    th2, s2, a2, kkt = _kkt_newton(problem, c, theta, s, alpha, active)
    f2 = problem.excess_risks(th2) / c
    if np.all(a2 >= -1e-14) and np.max(f2) <= s * (1 + 1e-12) + 1e-15 and \
            np.all(f2[~active] <= s2):
        theta, alpha = th2, np.clip(a2, 0.0, None) / np.clip(a2, 0.0, None).sum()
        f = f2
    else:
        kkt = float(np.linalg.norm(alpha @ G))
    value = float(np.max(f))
    dual, _ = weighted_excess_minimum(problem, alpha, c)
    return MinmaxSolution(theta=theta, value=value, alpha=alpha, excess_risks=f * c,
                          certificate=value - dual, kkt_residual=float(kkt))


# ------------------------------------------------------------ Pareto measures
def pareto_stationarity(grads: object) -> MinNormResult:
    """min_{α∈Δ_m} ‖Σ_i α_i g_i‖ with its α and a KKT residual, solved exactly (Wolfe's
    active-set algorithm). θ is Pareto stationary iff the value is 0 ([REC]
    docs/sources.md §S7)."""
    return min_norm_point(grads)


@dataclass(frozen=True)
class Dominance:
    """``dominated``: some θ' (``witness``) has ℓ_i(θ') <= ℓ_i(θ) for all i (within
    ``feasibility_tol``) and ℓ_j(θ') < ℓ_j(θ) − ``tol`` for some j.
    ``improvement`` = ℓ(θ) − ℓ(θ')."""

    dominated: bool
    witness: np.ndarray
    improvement: np.ndarray
    tol: float


def is_dominated(problem: MultiTaskProblem, theta: object, *, tol: float = 1e-9,
                 feasibility_tol: float = 1e-12) -> Dominance:
    """Solve the convex program max Σ_i [ℓ_i(θ) − ℓ_i(θ')] s.t. ℓ_i(θ') <= ℓ_i(θ) (SLSQP from θ).

    θ is dominated when the best θ' improves some task by more than ``tol`` without worsening any
    by more than ``feasibility_tol``. Differences are taken on excess risks (E_i(θ) − E_i(θ'),
    equal to the loss differences) for precision.
    """
    _problem(problem, (MultiTaskProblem,))
    th = v.finite_array("theta", theta, shape=(problem.dim,))
    tol = v.real("tol", tol, low=0.0, low_open=True)
    feasibility_tol = v.real("feasibility_tol", feasibility_tol, low=0.0)
    e0 = problem.excess_risks(th)
    cons = [{"type": "ineq", "fun": lambda z: e0 - problem.excess_risks(z),
             "jac": lambda z: -problem.grads(z)}]
    res = minimize(lambda z: float(np.sum(problem.excess_risks(z))), th,
                   jac=lambda z: problem.grads(z).sum(axis=0), constraints=cons,
                   method="SLSQP", options={"ftol": 1e-16, "maxiter": 2000})
    witness = res.x if np.all(np.isfinite(res.x)) else th
    imp = e0 - problem.excess_risks(witness)
    feasible = bool(np.all(imp >= -feasibility_tol * (1 + np.abs(e0))))
    if not feasible:
        witness, imp = th, np.zeros_like(e0)
    dominated = bool(np.max(imp) > tol)
    return Dominance(dominated=dominated, witness=witness, improvement=imp, tol=tol)


@dataclass(frozen=True)
class ParetoFront:
    """Points (ℓ_1, ℓ_2) of the exact front of a 2-task problem, from weighted scalarisation
    θ(w) = argmin w ℓ_1 + (1 − w) ℓ_2, w ∈ [0, 1]."""

    weights: np.ndarray
    thetas: np.ndarray
    losses: np.ndarray


def pareto_front(problem: MultiTaskProblem, n_points: int = 101) -> ParetoFront:
    """The exact Pareto front of a two-task convex problem by weighted scalarisation."""
    if _problem(problem, (MultiTaskProblem,)).n_tasks != 2:
        raise ValueError(f"problem: pareto_front needs a 2-task problem, got "
                         f"n_tasks={problem.n_tasks}")
    n = v.positive_int("n_points", n_points, minimum=2)
    ws = np.linspace(0.0, 1.0, n)
    thetas = np.stack([minimize_weighted(problem, np.array([w, 1.0 - w])).theta for w in ws])
    losses = np.stack([problem.losses(t) for t in thetas])
    return ParetoFront(weights=ws, thetas=thetas, losses=losses)


def front_gap(problem: MultiTaskProblem, theta: object) -> float:
    """Distance above the 2-task front: ℓ_2(θ) − min{ℓ_2(θ') : ℓ_1(θ') <= ℓ_1(θ)} (>= 0; 0 on the
    front), by the ε-constraint program (SLSQP). Computed on excess risks for precision."""
    if _problem(problem, (MultiTaskProblem,)).n_tasks != 2:
        raise ValueError(f"problem: front_gap needs a 2-task problem, got "
                         f"n_tasks={problem.n_tasks}")
    th = v.finite_array("theta", theta, shape=(problem.dim,))
    e = problem.excess_risks(th)
    cons = [{"type": "ineq", "fun": lambda z: e[0] - problem.excess_risks(z)[0],
             "jac": lambda z: -problem.grads(z)[0]}]
    res = minimize(lambda z: float(problem.excess_risks(z)[1]), th,
                   jac=lambda z: problem.grads(z)[1], constraints=cons, method="SLSQP",
                   options={"ftol": 1e-16, "maxiter": 2000})
    best = min(e[1], float(problem.excess_risks(res.x)[1])) if \
        problem.excess_risks(res.x)[0] <= e[0] * (1 + 1e-12) + 1e-15 else e[1]
    return float(e[1] - best)
