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


def hedge_gain(problem: R.MultiTaskProblem, method: R.WeightingMethod,
               theta0: np.ndarray | None = None) -> float:
    """η of the method's log-weight update per unit of excess risk, near the min–max point: η_α
    for ExcessMTL with the exact or Taylor estimator and for GroupDRO (its payoff, the losses,
    has the same gradient as the excess risks), η_α / min_i E_i(θ_0) with scale processing (the
    payoff is E/Ê(θ_0)); 0 for methods without such a feedback (EqualWeights, MGDA, IMTL-G, the
    AdaGrad estimator, whose payoff Σ g²/√S fades as S grows, and user methods: their gain is
    unknown, and ``compare``'s oscillation warning stays their safety net)."""
    eta = float(getattr(method, "step_size", 0.0) or 0.0)
    if isinstance(method, R.GroupDRO):
        return eta
    if not isinstance(method, R.ExcessMTL) or method.estimator == "adagrad":
        return 0.0
    if not method.scale_processing:
        return eta
    start = np.zeros(problem.dim) if theta0 is None else theta0
    base = float(np.min(problem.excess_risks(start))) + method.baseline_eps
    return eta / base if base > 0 else float("inf")


def game_curvature(problem: R.MultiTaskProblem, eta: float) -> float:
    """λ_max(H_α* + (η/2)·JᵀPJ) at the min–max point (θ*, α*) (docs/theory.md §3d): H_α* =
    Σ α*_i ∇²ℓ_i(θ*), J the (m, d) excess-risk gradients at θ*, P = diag(α*) − α*α*ᵀ (the
    softmax Jacobian). The coupled θ/α map is stable for lr < 2/λ; the period-2 cycle that
    appears above it is the one ``compare`` warns about."""
    sol = R.minmax_solution(problem)
    alpha, theta = np.asarray(sol.alpha, dtype=float), np.asarray(sol.theta, dtype=float)
    H = np.einsum("m,mde->de", alpha, problem.hessians(theta))
    J = problem.grads(theta)
    P = np.diag(alpha) - np.outer(alpha, alpha)
    M = H + 0.5 * eta * (J.T @ P @ J)
    return float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1])


def game_step(problem: R.MultiTaskProblem, methods: list[R.WeightingMethod]) -> float:
    """The default θ-step of ``compare`` for weights on the simplex: min(1/L, 1/λ) with λ the
    largest ``game_curvature`` over the methods — half of the coupled map's stability limit 2/λ,
    as 1/L is half of gradient descent's 2/L (docs/theory.md §3d)."""
    lam = max([game_curvature(problem, hedge_gain(problem, m)) for m in methods
               if hedge_gain(problem, m) > 0] or [0.0])
    L = smoothness(problem)
    return 1.0 / max(L, lam) if np.isfinite(lam) else 1.0 / L
