"""Exact minimum-norm point of the convex hull of the task gradients.

    min_{α ∈ Δ_m} ‖Σ_i α_i g_i‖            (MGDA's direction; Pareto-stationarity measure)

solved by Wolfe's (1976) active-set algorithm for the minimum-norm point in a polytope: finite,
exact up to round-off, no step-size or iteration-count approximation as in Frank–Wolfe. The final
support is polished by solving its KKT system exactly, and a KKT residual is returned as a
certificate. [OURS; the definition of Pareto stationarity is
docs/sources.md §S7, REC]

KKT conditions (G = J Jᵀ, the Gram matrix of the gradients): with λ = αᵀGα,
(Gα)_i = λ for α_i > 0, (Gα)_i >= λ for α_i = 0, α >= 0, Σα = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v


@dataclass(frozen=True)
class MinNormResult:
    """``value`` = ‖Jᵀα‖, ``alpha`` ∈ Δ_m, ``kkt_residual`` (relative: in units of max_i ‖g_i‖²,
    so the same for J and c·J and finite for any finite J, even entries near 1e300 whose ‖g‖²
    overflows; 0 at the exact solution), ``support`` = indices with α_i > 0."""

    value: float
    alpha: np.ndarray
    kkt_residual: float
    support: tuple[int, ...]


def _affine_minimiser(G: np.ndarray, S: list[int]) -> np.ndarray:
    """argmin_{Σμ=1} μᵀ G_SS μ (affine hull of the points in S), by its KKT system."""
    k = len(S)
    K = np.zeros((k + 1, k + 1))
    K[:k, :k] = G[np.ix_(S, S)]
    K[:k, k] = 1.0
    K[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    return sol[:k]


def kkt_residual(G: np.ndarray, alpha: np.ndarray) -> float:
    """Largest violation of the KKT conditions of min_{α∈Δ} αᵀGα at ``alpha``."""
    Ga = G @ alpha
    lam = float(alpha @ Ga)
    supp = alpha > 0
    r = [abs(alpha.sum() - 1.0), max(0.0, -float(alpha.min())), max(0.0, lam - float(Ga.min()))]
    if supp.any():
        r.append(float(np.max(np.abs(Ga[supp] - lam))))
    return max(r)


def min_norm_point(grads: object, *, tol: float = 1e-13, max_iter: int = 1000) -> MinNormResult:
    """min_{α∈Δ_m} ‖Σ α_i g_i‖ for ``grads`` of shape (m, d), by Wolfe's algorithm."""
    J = v.finite_array("grads", grads, ndim=2)
    m = J.shape[0]
    if m < 1:
        raise ValueError("grads must have at least one row (one task)")
    # the problem is invariant to scaling J; J/s with s = max|J_ij| (not a norm, which would
    # itself overflow for entries near 1e300) keeps J Jᵀ far from overflow
    s = float(np.max(np.abs(J))) if J.size else 0.0
    if s == 0.0:
        lam = np.full(m, 1.0 / m)
        return MinNormResult(0.0, lam, 0.0, tuple(range(m)))
    Js = J / s
    norms = np.linalg.norm(Js, axis=1)
    Js = Js / np.max(norms)
    s = s * float(np.max(norms))          # J = s·Js with max_i ‖Js_i‖ = 1 (s may overflow to inf)
    G = Js @ Js.T
    eps = tol
    j = int(np.argmin(np.diag(G)))
    S = [j]
    lam = np.zeros(m)
    lam[j] = 1.0
    for _ in range(max_iter):
        Gl = G @ lam
        xx = float(lam @ Gl)
        k = int(np.argmin(Gl))
        if Gl[k] >= xx - eps or k in S:
            break
        S.append(k)
        for _minor in range(m + 1):
            mu = _affine_minimiser(G, S)
            if np.all(mu > 0):
                lam = np.zeros(m)
                lam[S] = mu
                break
            cur = lam[S]
            neg = mu <= 0
            theta = float(np.min(cur[neg] / (cur[neg] - mu[neg])))
            new = cur + theta * (mu - cur)
            new[np.argmin(np.where(neg, new, np.inf))] = 0.0   # the blocking point leaves
            keep = new > 0
            S = [s for s, kp in zip(S, keep) if kp]
            lam = np.zeros(m)
            lam[S] = new[keep] / new[keep].sum()
    # polish: exact KKT solution on the final support, kept only if it is feasible and better
    mu = _affine_minimiser(G, S)
    if np.all(mu >= 0) and mu.sum() > 0:
        cand = np.zeros(m)
        cand[S] = mu / mu.sum()
        if kkt_residual(G, cand) <= kkt_residual(G, lam):
            lam = cand
    lam = np.clip(lam, 0.0, None)
    lam /= lam.sum()
    with np.errstate(over="ignore"):      # values beyond 1.8e308 are reported as inf, never NaN
        value = float(np.linalg.norm(Js.T @ lam)) * s
    # G is the Gram matrix of J/s (max row norm 1): its residual is the scale-free one
    kkt = max(float(kkt_residual(G, lam)), 0.0)
    return MinNormResult(value=value, alpha=lam, kkt_residual=kkt,
                         support=tuple(int(i) for i in np.flatnonzero(lam > 0)))
