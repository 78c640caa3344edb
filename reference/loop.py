"""The full-batch training loop shared by every method, and the ``Trajectory`` it records.

For t = 1, …, T ([CODE] update order, docs/sources.md §S4):

    g_i = ∇ℓ_i(θ_{t−1});   α_t = method.step(ℓ(θ_{t−1}), g, [E(θ_{t−1}), H(θ_{t−1})])
    θ_t = Π_Θ(θ_{t−1} − η_t Σ_i α_t,i g_i),   η_t = lr (constant) or lr/√t (inv_sqrt)

Stochastic regime (``batch_size`` = b): each task draws b of its samples per step
(``reference.sampling``), and the method and the θ-step see the minibatch losses ℓ_{i,B}, gradients
g_{i,B}, Hessians and excess estimates ℓ_{i,B}(θ) − ℓ_i^* (unbiased for E_i(θ)) instead; the AdaGrad
estimator accumulates minibatch gradients, as the official code does. What the trajectory records
(losses, excess risks, gradient norms) is always measured on the full training set.

where Π_Θ is the Euclidean projection on the ball ‖θ − c‖ <= R when ``project_radius`` = R is given
(the domain of diameter D = 2R assumed by the convergence bound, docs/theory.md), else identity.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import _validate as v
from .absolute import AbsoluteLossProblem
from .nonconvex import TanhNetProblem
from .problems import MultiTaskProblem
from .sampling import MinibatchSampler, SamplerKind
from .weighting import WeightingMethod

Schedule = Literal["constant", "inv_sqrt"]
DIVERGENCE_FACTOR = 1e6     # a loss this many times above max(1, ℓ(θ_0)) means the run diverged


class DivergenceError(FloatingPointError):
    """A run produced a non-finite θ, loss or weight; the message names the cause."""


class NonFiniteWeightsError(DivergenceError, ValueError):
    """A method returned NaN or infinite weights: the weighting method diverged (a
    ``DivergenceError``, so the claim checks count it as a failed run, and a ``ValueError``: the
    weights are refused)."""


class DivergenceWarning(RuntimeWarning):
    """A run ended with a loss more than ``DIVERGENCE_FACTOR`` times its start: it diverged."""


Problem = MultiTaskProblem | AbsoluteLossProblem | TanhNetProblem
"""The problems ``run`` takes (any object with ``n_tasks``, ``dim``, ``losses`` and ``grads``
runs too; without ``excess_risks`` its excess column is NaN)."""


@dataclass(frozen=True)
class Trajectory:
    """Everything one run saw. Index t of per-step arrays is step t+1 (t = 0 … T−1).

    thetas (T+1, d): θ_0 … θ_T.      losses, excess (T+1, m): ℓ(θ_t), E(θ_t) (true values).
    weights (T, m): α_1 … α_T (as the method returns them, in its convention).
    estimates (T, m): the method's raw estimate at step t (NaN when it has none).
    grad_norms (T+1, m): ‖∇ℓ_i(θ_t)‖.   step_sizes (T,): η_1 … η_T.
    combined_grad_norms (T,): ‖Σ_i α_t,i g_i(θ_{t−1})‖ (α normalised to the simplex) for the
    gradients the θ-step used (minibatch ones in the stochastic regime): the ‖ĝ_t‖ of the
    θ-player's regret bound. ``batch_size`` None is the full-batch regime.
    """

    method: str
    problem: str
    thetas: np.ndarray
    weights: np.ndarray
    losses: np.ndarray
    excess: np.ndarray
    estimates: np.ndarray
    grad_norms: np.ndarray
    step_sizes: np.ndarray
    combined_grad_norms: np.ndarray
    schedule: str
    lr: float
    project_radius: float | None
    project_center: np.ndarray
    batch_size: int | None = None
    sampler: str | None = None
    seed: int | None = None

    @property
    def steps(self) -> int:
        return self.weights.shape[0]

    @property
    def simplex_weights(self) -> np.ndarray:
        """α_t normalised to Δ_m (removes the ×m of the official convention)."""
        return self.weights / self.weights.sum(axis=1, keepdims=True)

    @property
    def theta_bar(self) -> np.ndarray:
        """θ̄_t = (1/t) Σ_{s<t} θ_s for t = 1 … T, shape (T, d) (the iterates the θ-player
        played)."""
        return np.cumsum(self.thetas[:-1], axis=0) / np.arange(1, self.steps + 1)[:, None]

    @property
    def alpha_bar(self) -> np.ndarray:
        """ᾱ_t = (1/t) Σ_{s<=t} α_s on the simplex, t = 1 … T, shape (T, m)."""
        return np.cumsum(self.simplex_weights, axis=0) / np.arange(1, self.steps + 1)[:, None]

    @property
    def max_excess(self) -> np.ndarray:
        """max_i E_i(θ_t), t = 0 … T."""
        return self.excess.max(axis=1)


def project_ball(theta: np.ndarray, center: np.ndarray, radius: float | None) -> np.ndarray:
    """Π onto {‖θ − c‖ <= R}: c + (θ − c)·min(1, R/‖θ − c‖)."""
    if radius is None:
        return theta
    delta = theta - center
    norm = float(np.linalg.norm(delta))
    return theta if norm <= radius else center + delta * (radius / norm)


def step_size(lr: float, schedule: str, t: int) -> float:
    """η_t for t = 1, 2, …: lr or lr/√t."""
    return lr if schedule == "constant" else lr / np.sqrt(t)


def replay(method: WeightingMethod, losses: object, grads: object, *, excess: object = None,
           hessians: object = None) -> np.ndarray:
    """Feed a recorded input sequence to a fresh ``method``: losses (T, m), grads (T, m, d) and,
    when the method needs them, excess (T, m) and hessians (T, m, d, d). Returns the weights
    (T, m) it produces at each step."""
    v.method_protocol("method", method)
    L = v.finite_array("losses", losses, ndim=2)
    T, m = L.shape
    G = v.finite_array("grads", grads, ndim=3)
    if G.shape[:2] != (T, m):
        raise ValueError(f"grads must have shape ({T}, {m}, d) to match losses {L.shape}, got "
                         f"shape {G.shape}")
    d = G.shape[2]
    E = None if excess is None else v.finite_array("excess", excess, shape=(T, m))
    H = None if hessians is None else v.finite_array("hessians", hessians, shape=(T, m, d, d))
    needs = v.method_needs("method", method)
    label = v.method_label(method)
    for need, given in (("excess", E), ("hessians", H)):
        if need in needs and given is None:
            raise ValueError(f"{need}: method {label} needs {need} (its needs = "
                             f"{sorted(needs)}), so replay needs the recorded {need}")
    state = v.call_user(f"method {label}", "init_state", method.init_state, m, d, every=False)
    out = np.empty_like(L)
    for t in range(T):
        kw = {}                      # copies: a method that writes in place must not change them
        if E is not None:
            kw["excess"] = E[t].copy()
        if H is not None:
            kw["hessians"] = H[t].copy()
        state, w = _step(method, label, t + 1, state, L[t].copy(), G[t].copy(), kw)
        out[t] = checked_weights(method, w, m, t + 1)
    return out


def _step(method: WeightingMethod, label: str, t: int, state: object, losses: np.ndarray,
          grads: np.ndarray, extra: dict, *, call: str = "step") -> tuple[object, object]:
    """``method.step`` (or its ``call``, e.g. "step_batch") at step t (user code: a SystemExit in
    it is a ``UserMethodError``), and its (state, weights) pair, or a ``UserMethodError`` saying
    what it returned instead. An ordinary exception keeps its type (a FloatingPointError is a
    divergence). No per-step cost beyond the call: the error text is built only when there is an
    error."""
    try:
        out = method.step(state, losses, grads, **extra) if call == "step" else \
            getattr(method, call)(state, losses, grads, **extra)
    except Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit and the like, from user code
        if v.passes_through(exc):
            raise
        kind, text = v.describe_exception(exc)
        raise v.UserMethodError(f"method {label} raised {kind} in {call} at t={t}"
                                + (f": {text}" if text else "")) from exc
    if type(out) is not tuple or len(out) != 2:
        if isinstance(out, tuple) and len(out) == 2:
            return out
        raise v.UserMethodError(f"method {label}: {call} must return (state, weights), got "
                                f"{type(out).__name__} at step t={t}")
    return out


def checked_weights(method: object, alpha: object, m: int, t: int, *,
                    signed: bool | None = None) -> np.ndarray:
    """The weights ``method`` returned at step t, as (m,) float64, or a named error: the one
    check every loop applies (``run``, ``replay``, ``proofs_check.verify``), O(m) per step.

    Weights must be finite (else ``NonFiniteWeightsError``, a divergence), of shape (m,),
    non-negative and with a positive sum (else ``UserMethodError``): the loops normalise them by
    their sum, which would silently flip the sign of negative weights. ``signed`` (default: the
    method's ``signed_weights`` attribute, True for IMTL-G whose closed form may give a task a
    negative weight) allows negative entries; the sum must still be positive."""
    if type(alpha) is np.ndarray and alpha.shape == (m,) and alpha.dtype == np.float64:
        total, low = alpha.sum(), alpha.min()   # the fast path: a finite sum means finite entries
        if total > 0 and low >= 0 and total < np.inf:
            return alpha
    try:
        if alpha is None or isinstance(alpha, (str, bytes)):
            raise TypeError
        a = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise v.UserMethodError(f"method {v.method_label(method)} returned "
                                f"{type(alpha).__name__} as weights at step t={t}, not an array "
                                f"of {m} weights") from None
    if a.shape != (m,):
        raise v.UserMethodError(f"method {v.method_label(method)} returned weights of shape "
                                f"{a.shape} at step t={t}, expected ({m},) (one per task)")
    if not np.all(np.isfinite(a)):
        raise NonFiniteWeightsError(
            f"the weights returned by method {v.method_label(method)} at step t={t} are not "
            f"finite ({a}): the weighting method diverged (check its step size η_α and the scale "
            "of what it is fed), not the θ-step")
    with np.errstate(over="ignore"):
        total = float(np.sum(a))
    if not np.isfinite(total):
        raise v.UserMethodError(f"method {v.method_label(method)} returned weights whose sum "
                                f"overflows float64 at step t={t} ({a}); rescale them")
    if signed is None:
        signed = getattr(method, "signed_weights", False) is True
    if not signed and float(np.min(a)) < 0:
        bad = np.flatnonzero(a < 0).tolist()
        raise v.UserMethodError(f"method {v.method_label(method)} returned negative weights at "
                                f"step t={t} (task(s) {bad}: {a}); weights must be >= 0 with a "
                                "positive sum (they are normalised by their sum)")
    if total <= 0:
        raise v.UserMethodError(f"method {v.method_label(method)} returned weights summing to "
                                f"{total:.3g} at step t={t} ({a}); the sum must be positive "
                                "(they are normalised by their sum)")
    return a


def _stability_note(problem: object, theta: np.ndarray, alpha: np.ndarray, lr: float) -> str:
    """'lr·Σα = … vs 2/L = …' for the θ-step, where the problem has Hessians, else ''."""
    if not hasattr(problem, "hessians") or not np.all(np.isfinite(theta)):
        return ""
    try:
        with np.errstate(all="ignore"):
            H = np.einsum("m,mde->de", alpha / alpha.sum(), problem.hessians(theta))
            L = float(np.max(np.linalg.eigvalsh(H)))
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return ""
    if not np.isfinite(L) or L <= 0:
        return ""
    return (f"; the effective step lr·Σα = {lr * alpha.sum():.3g} exceeds the stability limit "
            f"2/L = {2.0 / L:.3g} (L = largest eigenvalue of the α-weighted Hessian, "
            "normalised weights)" if lr * alpha.sum() * L > 2 else "")


def run(problem: Problem, method: WeightingMethod, steps: int, *, lr: float = 0.1,
        schedule: Schedule = "constant", theta0: object = None,
        project_radius: float | None = None, project_center: object = None,
        batch_size: int | None = None, sampler: SamplerKind = "with_replacement", seed: int = 0
        ) -> Trajectory:
    """Run ``method`` for ``steps`` steps on ``problem`` and record the trajectory.

    ``problem`` is a ``MultiTaskProblem`` or any object with ``n_tasks``, ``dim``, ``losses`` and
    ``grads`` (e.g. ``reference.TanhNetProblem``); without ``excess_risks`` the excess column is
    NaN.
    ``batch_size`` None (or >= n_samples with ``sampler="epoch"``, not special-cased) is full
    batch; an integer b runs the stochastic regime (module docstring) with minibatches drawn by
    ``sampler`` ("with_replacement" or "epoch") from ``numpy.random.default_rng(seed)``.
    """
    if not all(hasattr(problem, a) for a in ("n_tasks", "dim", "losses", "grads")):
        raise TypeError("problem must provide n_tasks, dim, losses(θ) and grads(θ) (e.g. a "
                        f"MultiTaskProblem), got {type(problem).__name__}")
    v.method_protocol("method", method)
    T = v.positive_int("steps", steps)
    lr = v.real("lr", lr, low=0.0, low_open=True)
    if schedule not in ("constant", "inv_sqrt"):
        raise ValueError(f"schedule must be 'constant' or 'inv_sqrt', got {schedule!r}")
    m, d = problem.n_tasks, problem.dim
    theta = np.zeros(d) if theta0 is None else v.finite_array("theta0", theta0, shape=(d,)).copy()
    center = np.zeros(d) if project_center is None else \
        v.finite_array("project_center", project_center, shape=(d,))
    radius = None if project_radius is None else \
        v.real("project_radius", project_radius, low=0.0, low_open=True)
    theta = project_ball(theta, center, radius)
    needs = v.method_needs("method", method)
    label = v.method_label(method)
    if "hessians" in needs and not hasattr(problem, "hessians"):
        raise TypeError(f"method {label} needs hessians(θ), which problem "
                        f"{type(problem).__name__} does not provide (e.g. LAD losses have no "
                        "Hessian)")
    has_excess = hasattr(problem, "excess_risks")
    # the optional oracles (excess_risks, optimal_losses, hessians), each checked above with
    # hasattr before it is used: duck-typed, as any problem with the four required members runs
    optional: Any = problem
    if "excess" in needs and not has_excess:
        raise TypeError(f"method {label} needs the exact excess risks E(θ) (its needs include "
                        f"'excess'), which problem {type(problem).__name__} does not provide "
                        "(it has no excess_risks(θ): its optima are unknown, e.g. a non-convex "
                        "network); use a method that needs neither, such as "
                        "ExcessMTL('adagrad')")
    draw = None
    if batch_size is not None:
        if not getattr(problem, "supports_minibatches", False):
            raise TypeError("batch_size needs a problem with minibatch oracles losses(θ, idx) "
                            f"and grads(θ, idx), got {type(problem).__name__}")
        if "excess" in needs and not hasattr(problem, "optimal_losses"):
            raise TypeError(f"method {label} needs excess risks, which in the stochastic regime "
                            f"are ℓ_B(θ) − ℓ*: problem {type(problem).__name__} has no "
                            "optimal_losses")
        draw = MinibatchSampler(m, problem.n_samples, batch_size, sampler, seed).next

    thetas = np.empty((T + 1, d))
    losses = np.empty((T + 1, m))
    excess = np.empty((T + 1, m))
    gnorms = np.empty((T + 1, m))
    weights = np.empty((T, m))
    estimates = np.full((T, m), np.nan)
    etas = np.empty(T)
    combined = np.empty(T)
    state = v.call_user(f"method {label}", "init_state", method.init_state, m, d, every=False)
    alpha = np.full(m, 1.0 / m)
    for t in range(T + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            loss_t = np.asarray(problem.losses(theta), dtype=float)
            g = np.asarray(problem.grads(theta), dtype=float)
        if not (np.all(np.isfinite(loss_t)) and np.all(np.isfinite(g))):
            prev = thetas[t - 1] if t else theta
            raise DivergenceError(
                f"the losses or gradients became non-finite at θ_{t} (max |θ_j| = "
                f"{np.max(np.abs(theta)):.3g}): the θ-step diverged; lower lr (= {lr:g})"
                + _stability_note(problem, prev, alpha, lr))
        thetas[t] = theta
        losses[t] = loss_t
        excess[t] = optional.excess_risks(theta) if has_excess else np.nan
        gnorms[t] = np.linalg.norm(g, axis=1)
        if t == T:
            break
        seen_losses, idx = losses[t], None
        if draw is not None:
            idx = draw()
            seen_losses = np.asarray(problem.losses(theta, idx), dtype=float)
            g = np.asarray(problem.grads(theta, idx), dtype=float)
        # the method gets copies: one that writes into its inputs (losses /= losses.sum()) must
        # change neither the records nor the gradients of the θ-step
        extra = {}
        if "excess" in needs:
            extra["excess"] = excess[t].copy() if idx is None else \
                seen_losses - optional.optimal_losses
        if "hessians" in needs:
            extra["hessians"] = np.array(optional.hessians(theta, idx) if idx is not None else
                                         optional.hessians(theta), dtype=float)
        state, w = _step(method, label, t + 1, state, seen_losses.copy(), g.copy(), extra)
        alpha = checked_weights(method, w, m, t + 1)
        weights[t] = alpha
        est = getattr(state, "estimate", None)
        if est is not None:
            estimates[t] = est
        direction = alpha @ g
        combined[t] = np.linalg.norm(direction) / alpha.sum()
        etas[t] = step_size(lr, schedule, t + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            theta = project_ball(theta - etas[t] * direction, center, radius)
        if not np.all(np.isfinite(theta)):
            raise DivergenceError(f"θ became non-finite at step {t + 1}: the θ-step diverged; "
                                  f"lower lr (= {lr:g})"
                                  + _stability_note(problem, thetas[t], alpha, lr))
    start = max(1.0, float(np.max(np.abs(losses[0]))))
    if float(np.max(np.abs(losses[T]))) > DIVERGENCE_FACTOR * start:
        warnings.warn(DivergenceWarning(
            f"the run diverged: max_i |ℓ_i| grew from {np.max(np.abs(losses[0])):.3g} at θ_0 to "
            f"{np.max(np.abs(losses[T])):.3g} at θ_{T}; lower lr (= {lr:g})"
            + _stability_note(problem, thetas[T - 1], weights[T - 1], lr)), stacklevel=2)
    return Trajectory(method=repr(method), problem=repr(problem), thetas=thetas, weights=weights,
                      losses=losses, excess=excess, estimates=estimates, grad_norms=gnorms,
                      step_sizes=etas, combined_grad_norms=combined, schedule=schedule, lr=lr,
                      project_radius=radius, project_center=center,
                      batch_size=None if draw is None or batch_size is None else int(batch_size),
                      sampler=None if draw is None else sampler,
                      seed=None if draw is None else int(seed))
