"""Task-weighting methods with explicit state: ``init_state(m, d)`` and
``step(state, losses, grads, *, excess=None, hessians=None) -> (state, weights)``.

Every method is a small frozen object; its state is a frozen ``WeightState``. At step t the method
sees ℓ(θ_{t−1}), the per-task gradients g_i = ∇ℓ_i(θ_{t−1}) (m×d) and, when it declares them in
``needs``, the exact excess risks E(θ_{t−1}) and Hessians; it returns the weights α_t that the
same step applies, θ_t = θ_{t−1} − η_t Σ_i α_t,i g_i ([CODE] update order,
docs/sources.md §S4).

Conventions (docs/sources.md §S9.5):
* ``"official"`` reproduces yifei-he/ExcessMTL @ b179956: weights start at 1 and are renormalised
  to sum to m after each update.
* ``"paper"``: weights live on the simplex Δ_m and start at 1/m ([REC]/[TJD]).
The α trajectories of the two differ by the factor m exactly; the θ-steps differ by m under GD.
Weights are kept as log-weights with max 0 so exp never overflows: α = c·softmax(log α). The
update log α + η·u is taken as log α + η·(u − max u) (shift before multiply: η·(u − max u) <= 0
cannot overflow upwards, whatever η and u), then shifted back to max 0 and floored at
``LOG_WEIGHT_FLOOR``, below which a weight is exactly 0 in float64 anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from scipy.special import softmax

from . import _validate as v
from .estimators import ESTIMATORS, adagrad_estimate, exact_estimate, taylor_estimate
from .minnorm import min_norm_point

Convention = Literal["official", "paper"]
CONVENTIONS = ("official", "paper")
LOG_WEIGHT_FLOOR = -1e300   # exp(x − max) is exactly 0 in float64 for x − max < −746


@runtime_checkable
class WeightingMethod(Protocol):
    """The method contract every loop, check and oracle of this package drives.

    ``init_state(n_tasks, dim)`` returns a fresh state; ``step(state, losses, grads, *,
    excess=None, hessians=None)`` returns ``(new_state, weights)`` for losses ℓ(θ_{t−1}) (m,),
    gradients g (m, d) and, when listed in the optional attribute ``needs``, the exact excess
    risks E(θ_{t−1}) (m,) and Hessians (m, d, d). Weights may sum to 1 (paper) or m (official);
    they must be finite and non-negative with a positive sum (``reference.loop.checked_weights``;
    a class attribute ``signed_weights = True``, as IMTL-G's, allows negative entries). The
    inputs are copies: a method may write into them without changing the loop's records.
    """

    # The state is the method's own (ours: a ``WeightState``): ``Any``, so that a method's
    # ``step`` may annotate the state it takes as its own type.
    def init_state(self, n_tasks: int, dim: int) -> Any: ...

    def step(self, state: Any, losses: np.ndarray, grads: np.ndarray, *,
             excess: np.ndarray | None = None, hessians: np.ndarray | None = None
             ) -> tuple[Any, np.ndarray]: ...


def log_weight_update(log_alpha: np.ndarray, step_size: float, payoff: np.ndarray,
                      what: str) -> np.ndarray:
    """log α + η·u, re-centred to max 0, computed so that it cannot overflow (module docstring).

    ``payoff`` u must be finite: an infinite u (e.g. Ê/b with a tiny baseline b) raises a
    ``FloatingPointError`` naming ``what`` it is."""
    if not np.all(np.isfinite(payoff)):
        bad = np.flatnonzero(~np.isfinite(payoff)).tolist()
        raise FloatingPointError(f"{what} is not finite for task(s) {bad} ({payoff[bad]}): the "
                                 "weights would be NaN")
    with np.errstate(over="ignore"):
        shifted = payoff - np.max(payoff)            # <= 0; may be -inf only by overflow
        new = log_alpha + step_size * shifted       # the argmax task keeps its finite log α
    new = new - np.max(new)
    return np.maximum(new, LOG_WEIGHT_FLOOR)


@dataclass(frozen=True)
class WeightState:
    """Explicit state of a weighting method.

    t: steps taken; log_alpha: (m,) log-weights (up to a constant); accum: AdaGrad S (m, d) or
    None; warmup_sum: running sum of estimates during the scale-processing warm-up; baseline:
    Ê^{(1)} (or the warm-up mean) once fixed; estimate: the raw Ê of the last step (NaN if the
    method has no estimate).
    """

    t: int
    log_alpha: np.ndarray
    accum: np.ndarray | None = None
    warmup_sum: np.ndarray | None = None
    baseline: np.ndarray | None = None
    estimate: np.ndarray | None = None


def _convention(value: object) -> str:
    if value not in CONVENTIONS:
        raise ValueError(f"convention must be 'official' or 'paper', got {value!r}")
    return str(value)


def _check_inputs(state: WeightState, losses: object, grads: object
                  ) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(state, WeightState):
        raise TypeError(f"state must be the WeightState returned by init_state or step, got "
                        f"{type(state).__name__}")
    m = state.log_alpha.shape[0]
    ls = v.finite_array("losses", losses, shape=(m,))
    gs = v.finite_array("grads", grads, ndim=2)
    if gs.shape[0] != m:
        raise ValueError(f"grads must have shape ({m}, d), got shape {gs.shape}")
    if state.accum is not None and gs.shape != state.accum.shape:
        raise ValueError(f"grads must have shape {state.accum.shape} (n_tasks, dim) as given to "
                         f"init_state, got shape {gs.shape}")
    return ls, gs


class _Method:
    """Shared pieces: weights from log-weights under a convention, init_state, repr."""

    name = "method"
    needs: frozenset[str] = frozenset()
    convention = "paper"

    def weights(self, state: WeightState) -> np.ndarray:
        p = softmax(state.log_alpha)
        return p * p.shape[0] if self.convention == "official" else p

    def init_state(self, n_tasks: int, dim: int) -> WeightState:
        m = v.positive_int("n_tasks", n_tasks)
        d = v.positive_int("dim", dim)
        return WeightState(t=0, log_alpha=np.zeros(m), accum=np.zeros((m, d)))

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        """(new state, weights α_t): each method defines its own."""
        raise NotImplementedError(f"{type(self).__name__} must define step")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={val!r}" for k, val in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict:
        return {}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self._params().items())))


class ExcessMTL(_Method):
    """ExcessMTL: exponentiated-gradient weights on (relative) excess-risk estimates.

    At step t (t = 1, 2, …) with Ê^{(t)} the chosen estimator at θ_{t−1}:

    * scale processing ([CODE], paper §3.2 per [TJD], docs/sources.md §S3): during the first
      W = max(1, ``warmup``) steps the estimates are only recorded, the weights stay at their
      initial value, and the baseline b = mean(Ê^{(1..W)}) is fixed (the official code: W = 1,
      b = Ê^{(1)}, no ε).
      For t > W:  ẽ = Ê^{(t)} / b,   log α ← log α + η_α ẽ.
    * ``scale_processing=False`` (our game-theoretic variant [OURS], used by the convergence
      proof in docs/theory.md): log α ← log α + η_α Ê^{(t)} at every step, including t = 1
      (be-the-leader: α_t already includes the payoff at θ_{t−1}).

    α = m·softmax(log α) (``"official"``) or softmax(log α) (``"paper"``).

    Departures seen in other ports, each off by default (the official code) — docs/sources.md §S9:
    ``baseline_eps`` > 0 divides by (b + ε) instead of b; ``sqrt_accumulator=False`` uses
    Σ g²/(S + ε) (no sqrt); ``first_step_update=True`` also updates on step 1 with the raw
    estimate, log α ← log α + η_α Ê^{(1)} (TorchJD 0.17.0,
    docs/sources.md §S9.4).
    """

    name = "ExcessMTL"

    def __init__(self, estimator: str = "adagrad", convention: Convention = "official",
                 step_size: float = 1.0, warmup: int = 0, scale_processing: bool = True,
                 eps: float = 1e-7, baseline_eps: float = 0.0, sqrt_accumulator: bool = True,
                 first_step_update: bool = False) -> None:
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        self.estimator = estimator
        self.convention = _convention(convention)
        self.step_size = v.real("step_size", step_size, low=0.0, low_open=True)
        self.warmup = v.positive_int("warmup", warmup, minimum=0)
        if not isinstance(scale_processing, bool):
            raise TypeError(f"scale_processing must be a bool, got {scale_processing!r}")
        self.scale_processing = scale_processing
        self.eps = v.real("eps", eps, low=0.0)
        self.baseline_eps = v.real("baseline_eps", baseline_eps, low=0.0)
        for flag, val in (("sqrt_accumulator", sqrt_accumulator),
                          ("first_step_update", first_step_update)):
            if not isinstance(val, bool):
                raise TypeError(f"{flag} must be a bool, got {val!r}")
        self.sqrt_accumulator = sqrt_accumulator
        self.first_step_update = first_step_update
        self.needs = frozenset({"exact": {"excess"}, "taylor": {"hessians"},
                                "adagrad": set()}[estimator])

    def _params(self) -> dict:
        return {"estimator": self.estimator, "convention": self.convention,
                "step_size": self.step_size, "warmup": self.warmup,
                "scale_processing": self.scale_processing, "eps": self.eps,
                "baseline_eps": self.baseline_eps, "sqrt_accumulator": self.sqrt_accumulator,
                "first_step_update": self.first_step_update}

    def estimate(self, state: WeightState, grads: np.ndarray, excess: object, hessians: object
                 ) -> tuple[np.ndarray | None, np.ndarray]:
        """(new accumulator, Ê) for the configured estimator."""
        if self.estimator == "exact":
            if excess is None:
                raise ValueError("ExcessMTL(estimator='exact') needs excess=E(θ) at each step")
            m = grads.shape[0]
            return state.accum, exact_estimate(v.finite_array("excess", excess, shape=(m,)))
        if self.estimator == "taylor":
            if hessians is None:
                raise ValueError("ExcessMTL(estimator='taylor') needs hessians=∇²ℓ(θ) at each step")
            m, d = grads.shape
            H = v.finite_array("hessians", hessians, shape=(m, d, d))
            return state.accum, taylor_estimate(grads, H)
        accum = np.zeros_like(grads) if state.accum is None else state.accum
        return adagrad_estimate(accum, grads, self.eps, sqrt=self.sqrt_accumulator)

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        _, g = _check_inputs(state, losses, grads)
        accum, e = self.estimate(state, g, excess, hessians)
        t = state.t + 1
        log_alpha, warm, base = state.log_alpha, state.warmup_sum, state.baseline
        if not self.scale_processing:
            log_alpha = log_weight_update(log_alpha, self.step_size, e, "the estimate Ê")
        elif t <= max(1, self.warmup):
            warm = e.copy() if warm is None else warm + e
            if t == 1 and self.first_step_update:
                log_alpha = log_weight_update(log_alpha, self.step_size, e, "the estimate Ê")
            if t == max(1, self.warmup):
                base = warm / t
                tiny = np.finfo(np.float64).tiny
                if np.any(base + self.baseline_eps < tiny):
                    bad = np.flatnonzero(base + self.baseline_eps < tiny).tolist()
                    raise ValueError(f"scale processing: the baseline estimate of task(s) {bad} is "
                                     f"{base[bad]} (0 or subnormal), so Ê/Ê^(1) is undefined or "
                                     "overflows (θ_0 is already optimal for them); use "
                                     "scale_processing=False or baseline_eps > 0")
        else:
            assert base is not None      # set at t == max(1, warmup), before any later step
            with np.errstate(over="ignore"):
                ratio = e / (base + self.baseline_eps)
            log_alpha = log_weight_update(log_alpha, self.step_size, ratio,
                                          "the scaled estimate Ê/b (scale processing)")
        new = replace(state, t=t, log_alpha=log_alpha, accum=accum, warmup_sum=warm,
                      baseline=base, estimate=e)
        return new, self.weights(new)


class GroupDRO(_Method):
    """The loss-based twin ([CODE] weighting/GroupDRO.py, docs/sources.md §S9.8): at
    every step log α ← log α + η_α ℓ(θ_{t−1}), α = m·softmax (official) or softmax (paper)."""

    name = "GroupDRO"

    def __init__(self, convention: Convention = "official", step_size: float = 1.0) -> None:
        self.convention = _convention(convention)
        self.step_size = v.real("step_size", step_size, low=0.0, low_open=True)

    def _params(self) -> dict:
        return {"convention": self.convention, "step_size": self.step_size}

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        ls, _ = _check_inputs(state, losses, grads)
        log_alpha = log_weight_update(state.log_alpha, self.step_size, ls, "the losses")
        new = replace(state, t=state.t + 1, log_alpha=log_alpha, estimate=ls)
        return new, self.weights(new)


class EqualWeights(_Method):
    """α_i = 1 (official LibMTL 'EW', Σ = m) or 1/m (paper)."""

    name = "EqualWeights"

    def __init__(self, convention: Convention = "official") -> None:
        self.convention = _convention(convention)

    def _params(self) -> dict:
        return {"convention": self.convention}

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        _check_inputs(state, losses, grads)
        new = replace(state, t=state.t + 1)
        return new, self.weights(new)


class MGDA(_Method):
    """MGDA (Désidéri 2012; Sener & Koltun 2018): α = argmin_{α∈Δ} ‖Σ α_i g_i‖, solved exactly
    (Wolfe's active-set algorithm, ``reference.minnorm``; LibMTL uses Frank–Wolfe). Σα = 1."""

    name = "MGDA"

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        _, g = _check_inputs(state, losses, grads)
        alpha = min_norm_point(g).alpha
        return replace(state, t=state.t + 1, estimate=None), alpha


class IMTLG(_Method):
    """IMTL-G (Liu et al. 2021), closed form: with u_i = g_i/‖g_i‖, D = [g_1 − g_i]_{i≥2},
    U = [u_1 − u_i]_{i≥2}: α_{2:m} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ_{i≥2} α_i, so that the combined
    gradient has equal projections on every u_i. Σα = 1 (as LibMTL's IMTL). Raises ValueError
    where D Uᵀ is singular, where LibMTL would invert a singular matrix."""

    name = "IMTLG"
    signed_weights = True        # the closed form may give a task a negative weight (Σα = 1)

    def step(self, state: WeightState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[WeightState, np.ndarray]:
        _, g = _check_inputs(state, losses, grads)
        m = g.shape[0]
        if m == 1:
            return replace(state, t=state.t + 1), np.ones(1)
        norms = np.linalg.norm(g, axis=1)
        if np.any(norms == 0):
            raise ValueError("IMTL-G is undefined when a task gradient is exactly 0")
        u = g / norms[:, None]
        D = g[0] - g[1:]
        U = u[0] - u[1:]
        B = D @ U.T
        if np.linalg.cond(B) > 1e12:
            raise ValueError("IMTL-G is undefined here: the unit task gradients are affinely "
                             "dependent (D Uᵀ is singular; e.g. more than d+1 tasks, or parallel "
                             "gradients)")
        rest = np.linalg.solve(B.T, g[0] @ U.T)
        return replace(state, t=state.t + 1), np.concatenate([[1.0 - rest.sum()], rest])


METHODS = {cls.name: cls for cls in (ExcessMTL, GroupDRO, EqualWeights, MGDA, IMTLG)}
