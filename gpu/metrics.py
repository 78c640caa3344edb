"""Exact oracles for batched problems, per replica.

``duality_gap`` solves the inner minimum min_θ Σ ᾱ_i E_i(θ) for all replicas at once: a batched
solve for linear regression, batched Newton for logistic regression, and the reference's linear
program per replica for LAD tasks. ``pareto_stationarity`` runs
the reference's exact Wolfe algorithm per replica on the host (on an m × d matrix).
``minmax_solution`` and ``is_dominated`` run the reference's exact oracles per replica on the
host, on ``problem.replica(b)`` (exact for every excess-risk quantity, see its docstring).
"""

from __future__ import annotations

import numpy as np

import reference as R

from . import backend as bk
from .problems import BatchedProblem


def duality_gap(problem: BatchedProblem, theta_bar: object, alpha_bar: object) -> np.ndarray:
    """max_i E_i(θ̄_b) − min_θ Σ ᾱ_{b,i} E_i(θ), for every replica b, shape (B,)."""
    _batched(problem)
    xp = problem.xp
    p = problem._f64()
    B, m, d = p.shape
    th = xp.asarray(R._validate.finite_array("theta_bar", bk.to_numpy(theta_bar), shape=(B, d)))
    a = xp.asarray(R._validate.finite_array("alpha_bar", bk.to_numpy(alpha_bar), shape=(B, m)))
    if bool(xp.any(a < 0)) or bool(xp.any(xp.sum(a, axis=1) <= 0)):
        raise ValueError("alpha_bar must be non-negative with a positive sum in every replica "
                         "(each row is normalised to the simplex)")
    a = a / xp.sum(a, axis=1, keepdims=True)
    if p.loss == "absolute":          # the inner minimum is a linear program, per replica on host
        th_h, a_h = bk.to_numpy(th), bk.to_numpy(a)
        return np.array([R.duality_gap(p.replica(b), th_h[b], a_h[b]).gap for b in range(B)])
    primal = xp.max(p.excess_risks(th), axis=1)
    u = xp.zeros((B, d))
    for _ in range(100):
        _, g = p.losses_and_grads(u)
        G = xp.einsum("bm,bmd->bd", a, g)
        if bool(xp.all(xp.linalg.norm(G, axis=1) <= 1e-12)):
            break
        H = xp.einsum("bm,bmde->bde", a, p.hessians(u))
        step = -xp.linalg.solve(H, G[..., None])[..., 0]
        f0 = xp.einsum("bm,bm->b", a, p.losses(u))
        slope = xp.sum(G * step, axis=1)
        s = xp.ones(B)
        for _ls in range(50):
            fc = xp.einsum("bm,bm->b", a, p.losses(u + s[:, None] * step))
            ok = fc <= f0 + 1e-4 * s * slope + 1e-15 * xp.abs(f0)
            if bool(xp.all(ok)):
                break
            s = xp.where(ok, s, 0.5 * s)
        u = u + s[:, None] * step
    dual = xp.einsum("bm,bm->b", a, p.excess_risks(u))
    return bk.to_numpy(primal - dual)


def _batched(problem: object) -> BatchedProblem:
    if not isinstance(problem, BatchedProblem):
        raise TypeError(f"problem must be a gpu BatchedProblem (see gpu.from_reference), got "
                        f"{type(problem).__name__}")
    return problem


def pareto_stationarity(grads: object) -> tuple[np.ndarray, np.ndarray]:
    """(values (B,), alphas (B, m)) of min_{α∈Δ}‖Σ α_i g_i‖ per replica, from grads (B, m, d)."""
    host = R._validate.finite_array("grads", bk.to_numpy(grads), ndim=3)
    res = [R.pareto_stationarity(g) for g in host]
    return np.array([r.value for r in res]), np.stack([r.alpha for r in res])


def minmax_solution(problem: BatchedProblem, *, scales: object = None) -> list[R.MinmaxSolution]:
    """argmin_θ max_i E_i(θ)/c_i for every replica (``scales`` (B, m) or None), exact."""
    _batched(problem)
    sc = None if scales is None else R._validate.finite_array(
        "scales", bk.to_numpy(scales), shape=(problem.n_replicas, problem.n_tasks))
    return [R.minmax_solution(problem.replica(b), scales=None if sc is None else sc[b])
            for b in range(problem.n_replicas)]


def is_dominated(problem: BatchedProblem, theta: object, **kwargs: object) -> list[R.Dominance]:
    """``reference.is_dominated`` for every replica b at θ_b (``theta`` (B, d))."""
    _batched(problem)
    th = R._validate.finite_array("theta", bk.to_numpy(theta),
                                  shape=(problem.n_replicas, problem.dim))
    return [R.is_dominated(problem.replica(b), th[b], **kwargs)
            for b in range(problem.n_replicas)]
