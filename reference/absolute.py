"""The tight family: least-absolute-deviation (LAD) regression tasks, a nonsmooth convex problem
whose gap is linear in the distance to the saddle point, so the convergence bound is nearly
attained (docs/theory.md §3c).

m tasks share θ ∈ R^d. Task i has data X_i ∈ R^{n×d}, y_i ∈ R^n and loss

    ℓ_i(θ) = (1/n) Σ_k |x_kᵀθ − y_k|,     subgradient  g_i(θ) = (1/n) Σ_k sign(x_kᵀθ − y_k) x_k

(sign(0) = 0). Everything exact is a linear program, solved by HiGHS' dual simplex (a vertex)
and then polished: ℓ_i^* = min ℓ_i, min_θ Σ w_i ℓ_i(θ) (the inner problem of the duality gap),
and the min–max point min_θ max_i E_i(θ)/c_i with its weights α* from the LP's multipliers.
Polishing re-solves the rows the vertex interpolates (x_kᵀθ = y_k) by least squares, so θ is exact
to round-off when the vertex is; the LP's dual value certifies each minimum
(``optimal_certificates``). [OURS]

Why this family: on smooth tasks E_i is quadratic near the optimum and the gap of the averaged
iterates falls well below the O(1/√T) bound, which then has 100× slack. Here ‖g_i‖ does not
vanish near the optimum and E_i grows linearly away from it, so gap_T and the bound are of the same
order during the transient (measured/bound ≥ 0.1, docs/claims.md): a method that is slower than
the theorem's dynamics cannot hide in slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import OptimizeResult, linprog

from . import _validate as v
from ._stacked import StackedTasks

_ACTIVE_ROW = 1e-9       # |x_kᵀθ − y_k| below this (relative to 1 + |y_k|) is an interpolated row


@dataclass(frozen=True)
class LPMinimum:
    """min_θ Σ_i w_i ℓ_i(θ): ``value``, ``theta``, and ``certificate`` = value − the LP's dual
    bound (>= 0 up to round-off; the true minimum lies in [value − certificate, value])."""

    value: float
    theta: np.ndarray
    certificate: float


def _abs_rows(X: np.ndarray, y: np.ndarray, extra: int) -> tuple[np.ndarray, np.ndarray]:
    """Inequalities ±(Xθ − y) <= t over variables [θ (d), extra, t (rows)]."""
    rows, d = X.shape
    eye = np.eye(rows)
    pad = np.zeros((rows, extra))
    A = np.vstack([np.hstack([X, pad, -eye]), np.hstack([-X, pad, -eye])])
    return A, np.concatenate([y, -y])


def _solve(c: np.ndarray, A: np.ndarray, b: np.ndarray, bounds: list) -> OptimizeResult:
    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"the linear program of the LAD problem failed: {res.message}")
    return res


def _polish(X: np.ndarray, y: np.ndarray, theta: np.ndarray, objective) -> np.ndarray:
    """Re-solve the interpolated rows exactly; keep the result only if it is no worse."""
    r = X @ theta - y
    act = np.abs(r) <= _ACTIVE_ROW * (1.0 + np.abs(y))
    if act.sum() < X.shape[1]:
        return theta
    cand = np.linalg.lstsq(X[act], y[act], rcond=None)[0]
    return cand if objective(cand) <= objective(theta) else theta


@dataclass(frozen=True, eq=False)
class AbsoluteLossProblem(StackedTasks):
    """m LAD regression tasks sharing θ ∈ R^d; data stacked as ``X`` (m, n, d), ``y`` (m, n)."""

    X: np.ndarray
    y: np.ndarray
    true_params: np.ndarray | None = None
    noise: np.ndarray | None = None
    seed: int | None = None

    loss = "absolute"

    def __post_init__(self) -> None:
        X = v.finite_array("X", self.X, ndim=3).copy()
        m, n, d = X.shape
        if m < 1 or n < d or d < 1:
            raise ValueError(f"X must have shape (n_tasks, n_samples, dim) with n_samples >= dim "
                             f">= 1 (so each ℓ_i attains its minimum), got {X.shape}")
        y = v.finite_array("y", self.y, shape=(m, n)).copy()
        for i in range(m):
            if np.linalg.matrix_rank(X[i]) < d:
                raise ValueError(f"X[{i}] must have full column rank {d}, or ℓ_{i} has a flat "
                                 "direction and no unique minimiser")
        self._set_readonly(X=X, y=y)

    def __repr__(self) -> str:
        noise = None if self.noise is None else np.round(self.noise, 6).tolist()
        return (f"AbsoluteLossProblem(n_tasks={self.n_tasks}, dim={self.dim}, "
                f"n_samples={self.n_samples}, noise={noise}, seed={self.seed})")

    # --------------------------------------------------------------- oracles
    def losses(self, theta: object, idx: object = None) -> np.ndarray:
        """ℓ_i(θ), shape (m,); the minibatch mean over rows ``idx`` (m, b) when given."""
        th = v.finite_array("theta", theta, shape=(self.dim,))
        X, y = self._rows(idx)
        return np.mean(np.abs(X @ th - y), axis=1)

    def grads(self, theta: object, idx: object = None) -> np.ndarray:
        """The subgradient (1/n) Σ_k sign(x_kᵀθ − y_k) x_k of every task, shape (m, d)."""
        th = v.finite_array("theta", theta, shape=(self.dim,))
        X, y = self._rows(idx)
        return np.einsum("mnd,mn->md", X, np.sign(X @ th - y)) / X.shape[1]

    def excess_risks(self, theta: object) -> np.ndarray:
        """E_i(θ) = ℓ_i(θ) − ℓ_i^*, shape (m,)."""
        return self.losses(theta) - self.optimal_losses

    # ---------------------------------------------------------------- optima
    def weighted_minimum(self, weights: object) -> LPMinimum:
        """min_θ Σ_i w_i ℓ_i(θ) (w_i >= 0, not all 0) as an LP over [θ, t]."""
        w = v.finite_array("weights", weights, shape=(self.n_tasks,))
        if np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        keep = np.flatnonzero(w > 0)
        X = self.X[keep].reshape(-1, self.dim)
        y = self.y[keep].reshape(-1)
        cost = np.concatenate([np.zeros(self.dim), np.repeat(w[keep] / self.n_samples,
                                                              self.n_samples)])
        A, b = _abs_rows(X, y, 0)
        res = _solve(cost, A, b, [(None, None)] * self.dim + [(0, None)] * len(y))

        def objective(th: np.ndarray) -> float:
            return float(w @ self.losses(th))

        theta = _polish(X, y, res.x[:self.dim], objective)
        value = objective(theta)
        dual = float(res.ineqlin.marginals @ b)        # the LP's dual value (t >= 0 bounds add 0)
        return LPMinimum(value=value, theta=theta, certificate=value - dual)

    @cached_property
    def _optima(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sols = [self.weighted_minimum(np.eye(self.n_tasks)[i]) for i in range(self.n_tasks)]
        out = (np.stack([s.theta for s in sols]), np.array([s.value for s in sols]),
               np.array([s.certificate for s in sols]))
        for a in out:
            a.setflags(write=False)
        return out

    @property
    def optimal_params(self) -> np.ndarray:
        """θ_i^* = argmin ℓ_i (a vertex of the LP), shape (m, d)."""
        return self._optima[0]

    @property
    def optimal_losses(self) -> np.ndarray:
        """ℓ_i^* = min_θ ℓ_i(θ), shape (m,)."""
        return self._optima[1]

    @property
    def optimal_certificates(self) -> np.ndarray:
        """ℓ_i(θ_i^*) − the LP's dual bound: how far ``optimal_losses`` can be from the minimum."""
        return self._optima[2]

    def minmax(self, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(θ*, α*) of min_θ max_i E_i(θ)/c_i: the epigraph LP min s s.t. ℓ_i(θ) − ℓ_i^* <= c_i s,
        and α*_i = c_i λ_i from its multipliers λ (Σ c_i λ_i = 1 is the LP's stationarity in s)."""
        m, d, n = self.n_tasks, self.dim, self.n_samples
        X, y = self.X.reshape(-1, d), self.y.reshape(-1)
        A_abs, b_abs = _abs_rows(X, y, 1)
        A_epi = np.zeros((m, d + 1 + m * n))
        for i in range(m):
            A_epi[i, d] = -scales[i]
            A_epi[i, d + 1 + i * n: d + 1 + (i + 1) * n] = 1.0 / n
        A = np.vstack([A_abs, A_epi])
        b = np.concatenate([b_abs, self.optimal_losses])
        cost = np.zeros(d + 1 + m * n)
        cost[d] = 1.0
        res = _solve(cost, A, b, [(None, None)] * (d + 1) + [(0, None)] * (m * n))
        lam = np.clip(-res.ineqlin.marginals[-m:], 0.0, None)
        alpha = lam * scales
        alpha = alpha / alpha.sum() if alpha.sum() > 0 else np.full(m, 1.0 / m)
        return res.x[:d], alpha


def make_absolute_problem(n_tasks: int, dim: int, n_samples: int, *, noise: object = 0.5,
                          relatedness: float = 0.5, seed: int = 0) -> AbsoluteLossProblem:
    """LAD tasks: x ~ N(0, I_d), y = xᵀθ_i + σ_i ε with Laplace ε (scale 1), θ_i as in
    ``reference.make_linear_problem`` (‖θ_i‖ ≈ 1). Few samples (n a few times d) keep each ℓ_i
    sharp: it has few kinks, so it looks like |·| and not like a quadratic, near θ_i^*."""
    from .problems import _task_parameters
    m = v.positive_int("n_tasks", n_tasks)
    d = v.positive_int("dim", dim)
    n = v.positive_int("n_samples", n_samples)
    if n < d:
        raise ValueError(f"n_samples must be >= dim (= {d}) so each ℓ_i has a minimiser, got {n}")
    sigma = v.per_task("noise", noise, m, low=0.0)
    r = v.real("relatedness", relatedness, low=0.0, high=1.0)
    seed = v.positive_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    theta_true = _task_parameters(rng, m, d, r, scale=np.sqrt(d))
    X = rng.standard_normal((m, n, d))
    y = np.einsum("mnd,md->mn", X, theta_true) + sigma[:, None] * rng.laplace(size=(m, n))
    return AbsoluteLossProblem(X, y, true_params=theta_true, noise=sigma, seed=seed)
