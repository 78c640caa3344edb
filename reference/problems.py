"""Convex multi-task problems with exact per-task optima.

m tasks share one parameter θ ∈ R^d. Task i has data X_i ∈ R^{n×d}, y_i ∈ R^n and loss

* linear regression  ℓ_i(θ) = (1/2n) ‖X_i θ − y_i‖² + (λ/2)‖θ‖²
* logistic regression ℓ_i(θ) = (1/n) Σ_k [log(1 + e^{z_k}) − y_k z_k] + (λ/2)‖θ‖²,  z = X_i θ,
  y ∈ {0, 1}.

The excess risk is E_i(θ) = ℓ_i(θ) − ℓ_i^*, with ℓ_i^* = min_θ ℓ_i(θ) the *empirical* minimum of
task i's training loss ([OURS] docs/sources.md §S1.5: on a finite sample this is the Bayes-optimal
error the paper's E_i refers to; [ABS] "excess risk"). Optima are computed to a gradient norm
<= 1e-12 (closed form for linear regression, damped Newton for logistic regression).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy.optimize import linprog
from scipy.special import expit

from . import _validate as v
from ._stacked import StackedTasks
from .optimize import NewtonResult, minimize_weighted

LossKind = Literal["linear", "logistic"]


@dataclass(frozen=True, eq=False)
class MultiTaskProblem(StackedTasks):
    """m convex tasks sharing θ ∈ R^d; data stacked as ``X`` (m, n, d) and ``y`` (m, n).

    Attributes ``true_params`` (m, d) and ``noise`` (m,) (Gaussian std for regression, flip rate
    for classification) describe how a generated problem was made; they are ``None`` for a
    problem built from user arrays. ``losses``, ``grads`` and ``hessians`` take ``idx`` (m, b)
    for minibatch rows (``StackedTasks``).
    """

    loss: LossKind
    X: np.ndarray
    y: np.ndarray
    l2: float = 0.0
    true_params: np.ndarray | None = None
    noise: np.ndarray | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.loss not in ("linear", "logistic"):
            raise ValueError(f"loss must be 'linear' or 'logistic', got {self.loss!r}")
        X = v.finite_array("X", self.X, ndim=3).copy()
        m, n, d = X.shape
        if m < 1 or n < 1 or d < 1:
            raise ValueError(f"X must have shape (n_tasks, n_samples, dim) with every size >= 1, "
                             f"got {X.shape}")
        y = v.finite_array("y", self.y, shape=(m, n)).copy()
        if self.loss == "logistic" and not np.all((y == 0) | (y == 1)):
            raise ValueError("y must contain only labels 0 and 1 for loss='logistic'")
        v.squares_representable("X", X, n * d)
        v.squares_representable("y", y, n)
        l2 = v.real("l2", self.l2, low=0.0)
        self._set_readonly(X=X, y=y)
        object.__setattr__(self, "l2", l2)

    def __repr__(self) -> str:
        noise = None if self.noise is None else np.round(self.noise, 6).tolist()
        return (f"MultiTaskProblem(loss={self.loss!r}, n_tasks={self.n_tasks}, dim={self.dim}, "
                f"n_samples={self.n_samples}, l2={self.l2}, noise={noise}, seed={self.seed})")

    def _theta(self, theta: object) -> np.ndarray:
        return v.finite_array("theta", theta, shape=(self.dim,))

    # --------------------------------------------------------- per-task oracles
    def losses(self, theta: object, idx: object = None) -> np.ndarray:
        """ℓ_i(θ) for every task, shape (m,); with ``idx`` (m, b), the minibatch losses
        ℓ_{i,B}(θ) = (1/b) Σ_{k∈B_i} loss_k(θ) + (λ/2)‖θ‖² (unbiased for ℓ_i under uniform
        sampling)."""
        th = self._theta(theta)
        X, y = self._rows(idx)
        z = X @ th                                        # (m, b)
        if self.loss == "linear":
            data = 0.5 * np.mean((z - y) ** 2, axis=1)
        else:
            data = np.mean(np.logaddexp(0.0, z) - y * z, axis=1)
        return data + 0.5 * self.l2 * float(th @ th)

    def grads(self, theta: object, idx: object = None) -> np.ndarray:
        """∇ℓ_i(θ) for every task, shape (m, d) (row i is g_i); minibatch gradients with
        ``idx``."""
        th = self._theta(theta)
        X, y = self._rows(idx)
        z = X @ th
        r = z - y if self.loss == "linear" else expit(z) - y   # (m, b)
        return np.einsum("mnd,mn->md", X, r) / X.shape[1] + self.l2 * th

    def hessians(self, theta: object, idx: object = None) -> np.ndarray:
        """∇²ℓ_i(θ) for every task, shape (m, d, d); minibatch Hessians with ``idx``."""
        th = self._theta(theta)
        X, y = self._rows(idx)
        if self.loss == "linear":
            curv = np.ones_like(y)
        else:
            p = expit(X @ th)
            curv = p * (1.0 - p)
        H = np.einsum("mnd,mn,mne->mde", X, curv, X) / X.shape[1]
        return H + self.l2 * np.eye(self.dim)

    # ----------------------------------------------------------------- optima
    def _solve_task(self, i: int) -> NewtonResult:
        w = np.zeros(self.n_tasks)
        w[i] = 1.0
        return minimize_weighted(self, w)

    def _check_attained(self) -> None:
        """For logistic loss with λ = 0, ℓ_i has a minimiser iff no direction u has margins
        (2y_k − 1) x_kᵀu >= 0 for all k with a positive sum (weak separability): along such a u the
        loss decreases forever. Decided exactly by a linear program."""
        if self.loss != "logistic" or self.l2 > 0:
            return
        for i in range(self.n_tasks):
            A = (2.0 * self.y[i] - 1.0)[:, None] * self.X[i]          # rows: margins' normals
            res = linprog(np.zeros(self.dim), A_ub=-A, b_ub=np.zeros(self.n_samples),
                          A_eq=A.sum(axis=0)[None, :], b_eq=[1.0],
                          bounds=[(None, None)] * self.dim, method="highs")
            if res.status == 0:
                raise ValueError(f"task {i} is linearly separable, so its logistic loss has no "
                                 "minimiser and ℓ_i^* is not attained: use l2 > 0")

    @cached_property
    def _optima(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_attained()
        results = [self._solve_task(i) for i in range(self.n_tasks)]
        params = np.stack([r.theta for r in results])
        values = np.array([r.value for r in results])
        gnorms = np.array([r.grad_norm for r in results])
        for a in (params, values, gnorms):
            a.setflags(write=False)
        return params, values, gnorms

    @property
    def optimal_params(self) -> np.ndarray:
        """θ_i^* = argmin ℓ_i, shape (m, d) (minimum-norm solution when ℓ_i is not strictly
        convex)."""
        return self._optima[0]

    @property
    def optimal_losses(self) -> np.ndarray:
        """ℓ_i^* = min_θ ℓ_i(θ), shape (m,)."""
        return self._optima[1]

    @property
    def optimal_grad_norms(self) -> np.ndarray:
        """‖∇ℓ_i(θ_i^*)‖ reached by the solver: the certificate of ``optimal_losses``."""
        return self._optima[2]

    def excess_risks(self, theta: object) -> np.ndarray:
        """E_i(θ) = ℓ_i(θ) − ℓ_i^*, shape (m,).

        For linear regression this is evaluated as the exact quadratic form
        E_i(θ) = ½ (θ − θ_i^*)ᵀ H_i (θ − θ_i^*), which is free of the cancellation in
        ℓ_i(θ) − ℓ_i^* near the optimum. For logistic regression it is the difference, so values
        below ~1e-15·ℓ_i are round-off.
        """
        th = self._theta(theta)
        if self.loss == "linear":
            delta = th[None, :] - self.optimal_params                       # (m, d)
            H = self.hessians(th)
            return 0.5 * np.einsum("md,mde,me->m", delta, H, delta)
        return self.losses(th) - self.optimal_losses


# ------------------------------------------------------------------- builders
def _task_parameters(rng: np.random.Generator, n_tasks: int, dim: int, relatedness: float,
                     scale: float) -> np.ndarray:
    """θ_i = scale·(√r·u_0 + √(1−r)·u_i) with u ~ N(0, I/d): r = 1 gives identical tasks."""
    shared = rng.standard_normal(dim)
    own = rng.standard_normal((n_tasks, dim))
    return scale * (np.sqrt(relatedness) * shared + np.sqrt(1.0 - relatedness) * own) / np.sqrt(dim)


def make_linear_problem(n_tasks: int, dim: int, n_samples: int, *, noise: object = 0.1,
                        relatedness: float = 0.5, l2: float = 0.0, seed: int = 0
                        ) -> MultiTaskProblem:
    """Linear regression tasks: x ~ N(0, I_d), y = xᵀθ_i + σ_i ε, ε ~ N(0, 1).

    ``noise`` is σ_i (a scalar for all tasks or one value per task, >= 0); ``relatedness``
    r ∈ [0, 1] sets the correlation of the true parameters (see ``_task_parameters``, ‖θ_i‖ ≈ 1).
    With n >> d, ℓ_i^* ≈ σ_i²/2 (the population value, [OURS]
    docs/sources.md §S1.5).
    """
    m = v.positive_int("n_tasks", n_tasks)
    d = v.positive_int("dim", dim)
    n = v.positive_int("n_samples", n_samples)
    sigma = v.per_task("noise", noise, m, low=0.0)
    r = v.real("relatedness", relatedness, low=0.0, high=1.0)
    v.real("l2", l2, low=0.0)
    seed = v.positive_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    theta_true = _task_parameters(rng, m, d, r, scale=np.sqrt(d))
    X = rng.standard_normal((m, n, d))
    y = np.einsum("mnd,md->mn", X, theta_true) + sigma[:, None] * rng.standard_normal((m, n))
    return MultiTaskProblem("linear", X, y, l2=l2, true_params=theta_true, noise=sigma, seed=seed)


def make_logistic_problem(n_tasks: int, dim: int, n_samples: int, *, flip: object = 0.0,
                          relatedness: float = 0.5, l2: float = 1e-3, signal: float = 2.0,
                          seed: int = 0) -> MultiTaskProblem:
    """Logistic regression tasks: x ~ N(0, I_d), y ~ Bernoulli(σ(xᵀθ_i)), then each label is
    flipped independently with probability ``flip`` (symmetric label noise, per task, in [0, 0.5]).

    ``signal`` is ‖θ_i‖ (roughly): larger means cleaner labels before flipping. ``l2`` > 0 keeps
    ℓ_i^* attained even when a task's sample happens to be separable.
    """
    m = v.positive_int("n_tasks", n_tasks)
    d = v.positive_int("dim", dim)
    n = v.positive_int("n_samples", n_samples)
    rho = v.per_task("flip", flip, m, low=0.0, high=0.5)
    r = v.real("relatedness", relatedness, low=0.0, high=1.0)
    v.real("l2", l2, low=0.0)
    s = v.real("signal", signal, low=0.0)
    seed = v.positive_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    theta_true = _task_parameters(rng, m, d, r, scale=s * np.sqrt(d))
    X = rng.standard_normal((m, n, d))
    p = expit(np.einsum("mnd,md->mn", X, theta_true))
    y = (rng.random((m, n)) < p).astype(float)
    flips = rng.random((m, n)) < rho[:, None]
    y = np.where(flips, 1.0 - y, y)
    return MultiTaskProblem("logistic", X, y, l2=l2, true_params=theta_true, noise=rho, seed=seed)


def problem_from_arrays(loss: LossKind, X: object, y: object, *, l2: float = 0.0
                        ) -> MultiTaskProblem:
    """A problem from user data: ``X`` of shape (m, n, d), ``y`` of shape (m, n)."""
    return MultiTaskProblem(loss, X, y, l2=l2)  # type: ignore[arg-type]
