"""The known departures of other ports (docs/sources.md §S9), and the search for the smallest
combination of them that reproduces an implementation.

A departure is a reference keyword option (``first_step_update=True``, ``baseline_eps=1e-7``,
``convention="paper"``, …) or one of two harness options that no reference class has:
``sign_flip=True`` (weights move against the estimates) and ``lagged=True`` (the weights the
implementation applies at step t are the reference's of step t − 1: updated *after* the model
step). ``explain`` tries every combination of up to three departures on a grid of values,
smallest first, and returns the first that reproduces every recorded step within tolerance; the
harness no longer relies on it (it fits the values instead, ``fit.py``), and a closest miss it
returns must agree for more steps than the claim itself (``baseline``).

Departures that ``fit.py`` infers and no reference class has, each a harness option replayed by
a class below: ``weight_sum=c`` (the weights are normalised to sum to c, ``Rescaled``),
``clamp_min``/``clamp_max`` (clamped after normalising, the clamped weights kept as the state,
or only returned with ``clamp_output_only=True``, ``Clamped``), ``eps_outside=True``
(Σg²/(sqrt(S) + ε)) and ``accumulate_after=True`` (the estimate uses the accumulator before the
current gradient is added, Σg_t²/sqrt(S_{t−1} + ε)), both ``AdaGradVariant``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from itertools import combinations, product
from typing import Any, Protocol, cast

import numpy as np

import reference as R


STEP_SIZES = (1e-2, 0.1, 0.5, 1.0, 2.0, 10.0)
BASELINE_EPS = (1e-12, 1e-10, 1e-8, 1e-7, 1e-6, 1e-5)
ACCUMULATOR_EPS = (0.0, 1e-10, 1e-8, 1e-6)
WARMUPS = (2, 3, 4, 5)


class InnerMethod(R.WeightingMethod, Protocol):
    """What the wrappers below wrap: a reference method, or another wrapper. ``weights(state)``
    gives its weights at a state (``Lagged`` starts from them)."""

    def weights(self, state: Any) -> np.ndarray: ...


class Lagged:
    """The weights of ``inner`` one step late: step t returns the weights ``inner`` gave at step
    t − 1 (its initial weights at t = 1): an implementation that updates α after the model step
    and so applies the previous step's weights."""

    def __init__(self, inner: InnerMethod) -> None:
        self.inner = inner
        self.needs: frozenset[str] = getattr(inner, "needs", frozenset())

    def init_state(self, n_tasks: int, dim: int):
        state = self.inner.init_state(n_tasks, dim)
        return state, self.inner.weights(state)

    def step(self, state, losses, grads, **kw):
        inner_state, previous = state
        inner_state, w = self.inner.step(inner_state, losses, grads, **kw)
        return (inner_state, np.asarray(w, dtype=float)), previous


class _MappedWeights:
    """``inner``'s weights passed through ``_map`` (the state is the inner method's)."""

    def __init__(self, inner: InnerMethod) -> None:
        self.inner = inner
        self.needs: frozenset[str] = getattr(inner, "needs", frozenset())

    def _map(self, w: object) -> np.ndarray:
        raise NotImplementedError

    def init_state(self, n_tasks: int, dim: int):
        return self.inner.init_state(n_tasks, dim)

    def weights(self, state) -> np.ndarray:
        return self._map(self.inner.weights(state))

    def step(self, state, losses, grads, **kw):
        state, w = self.inner.step(state, losses, grads, **kw)
        return state, self._map(w)


class Rescaled(_MappedWeights):
    """The weights of ``inner`` normalised to sum to ``total`` (a port whose Σα is neither 1 nor
    m). The state is the inner method's."""

    def __init__(self, inner: InnerMethod, total: float) -> None:
        super().__init__(inner)
        self.total = float(total)

    def _map(self, w: object) -> np.ndarray:
        w = np.asarray(w, dtype=float)
        return w * (self.total / w.sum())


class Clamped(_MappedWeights):
    """The weights of ``inner`` clipped to [``low``, ``high``] after normalising. By default the
    clipped weights are kept: the next multiplicative update starts from them (a port that writes
    ``loss_weight = clamp(loss_weight, lo, hi)``); ``output_only=True`` clips only what is
    returned. ``inner``'s state must be (or wrap) a ``reference.WeightState``."""

    def __init__(self, inner: InnerMethod, low: float | None, high: float | None, *,
                 output_only: bool = False) -> None:
        super().__init__(inner)
        self.low, self.high, self.output_only = low, high, output_only

    def _map(self, w: object) -> np.ndarray:
        return np.clip(np.asarray(w, dtype=float), self.low, self.high)

    def step(self, state, losses, grads, **kw):
        state, w = self.inner.step(state, losses, grads, **kw)
        clipped = self._map(w)
        if not self.output_only and np.any(clipped != w):
            with np.errstate(divide="ignore"):
                log_w = np.log(clipped)
            state = replace(state, log_alpha=np.maximum(log_w - np.max(log_w),
                                                        R.weighting.LOG_WEIGHT_FLOOR))
        return state, clipped


class AdaGradVariant(R.ExcessMTL):
    """The reference ExcessMTL (AdaGrad estimator) with the accumulator departures that no
    reference option has: ``eps_outside`` (h = sqrt(S) + ε instead of sqrt(S + ε)),
    ``accumulate_after`` (the estimate at step t uses S_{t−1}; g_t² is added afterwards) and
    ``sign`` = −1 (log α ← log α − η ẽ, the weights move against the estimates)."""

    name = "ExcessMTL"

    def __init__(self, convention: R.weighting.Convention = "official", *,
                 eps_outside: bool = False, accumulate_after: bool = False, sign: float = 1.0,
                 **kw: Any) -> None:
        super().__init__("adagrad", convention, **kw)
        for flag, val in (("eps_outside", eps_outside), ("accumulate_after", accumulate_after)):
            if not isinstance(val, bool):
                raise TypeError(f"{flag} must be a bool, got {val!r}")
        if sign not in (1.0, -1.0):
            raise ValueError(f"sign must be 1 or -1, got {sign!r}")
        self.eps_outside, self.accumulate_after, self.sign = eps_outside, accumulate_after, sign

    def _params(self) -> dict:
        return {**super()._params(), "eps_outside": self.eps_outside,
                "accumulate_after": self.accumulate_after, "sign": self.sign}

    def estimate(self, state, grads, excess, hessians):
        accum = np.zeros_like(grads) if state.accum is None else state.accum
        g2 = grads * grads
        new = accum + g2
        used = accum if self.accumulate_after else new
        if not self.sqrt_accumulator:
            h = used + self.eps
        elif self.eps_outside:
            h = np.sqrt(used) + self.eps
        else:
            h = np.sqrt(used + self.eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(g2 > 0, g2 / h, 0.0)
        return new, np.sum(terms, axis=1)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, w = super().step(state, losses, grads, excess=excess, hessians=hessians)
        if self.sign > 0:
            return new, w
        flipped = 2 * state.log_alpha - new.log_alpha     # the update, subtracted instead
        flipped = replace(new, log_alpha=np.maximum(flipped - np.max(flipped),
                                                    R.weighting.LOG_WEIGHT_FLOOR))
        return flipped, self.weights(flipped)


class NegatedLosses:
    """GroupDRO with the sign of the exponent flipped (a known bug shape)."""

    def __init__(self, inner: InnerMethod) -> None:
        self.inner = inner

    def init_state(self, m: int, d: int):
        return self.inner.init_state(m, d)

    def weights(self, state):
        return self.inner.weights(state)

    def step(self, state, losses, grads, **kw):
        return self.inner.step(state, -np.asarray(losses), grads, **kw)


def groups(method: str, convention: str, step_size: float, options: Mapping[str, object],
           *, rescaled: bool = False) -> list[tuple[str, tuple[object, ...]]]:
    """The departures that apply to ``method``, as (option, values it may take instead of the
    claimed one). ``rescaled``: weights are compared up to scale, so the convention is moot."""
    out: list[tuple[str, tuple[object, ...]]] = []
    if method in ("excessmtl", "groupdro", "equalweights") and not rescaled:
        out.append(("convention", ("paper" if convention == "official" else "official",)))
    if method == "excessmtl":
        claimed = {"first_step_update": False, "warmup": 0, "baseline_eps": 0.0, "eps": 1e-7,
                   "sqrt_accumulator": True, **options}
        out += [("first_step_update", (not claimed["first_step_update"],)),
                ("warmup", tuple(w for w in WARMUPS if w != claimed["warmup"])),
                ("baseline_eps", tuple(e for e in BASELINE_EPS if e != claimed["baseline_eps"])),
                ("eps", tuple(e for e in ACCUMULATOR_EPS if e != claimed["eps"])),
                ("sqrt_accumulator", (not claimed["sqrt_accumulator"],))]
    if method in ("excessmtl", "groupdro"):
        out.append(("sign_flip", (True,)))
        out.append(("step_size", tuple(e for e in STEP_SIZES if not np.isclose(e, step_size))))
    if method in ("excessmtl", "groupdro", "equalweights"):
        out.append(("lagged", (True,)))
    return out


def candidates(group_list: list[tuple[str, tuple[object, ...]]], max_size: int = 3
               ) -> Iterator[dict[str, object]]:
    """Every combination of at most ``max_size`` departures (one value per option), smallest
    combinations first."""
    for size in range(1, max_size + 1):
        for chosen in combinations(group_list, size):
            names = [name for name, _ in chosen]
            for values in product(*(vals for _, vals in chosen)):
                yield dict(zip(names, values))


def first_mismatch(method: R.WeightingMethod, losses: np.ndarray, grads: np.ndarray,
                   actual: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False) -> int:
    """0-based index of the first step where ``method`` replayed on the inputs departs from
    ``actual`` (len(actual) when it reproduces every step). Stops at the first departure."""
    T, m = actual.shape
    try:
        with np.errstate(all="ignore"):
            state = method.init_state(m, grads.shape[2])
            for t in range(T):
                state, w = method.step(state, losses[t], grads[t])
                w = np.asarray(w, dtype=float)
                a = actual[t]
                if rescaled:           # up to a positive factor only (−1·w is not w)
                    if not (a.sum() > 0 and np.all(a >= 0)):
                        return t
                    w, a = w / w.sum(), a / a.sum()
                if not (np.all(np.isfinite(a)) and np.allclose(a, w, rtol=rtol, atol=atol)):
                    return t
    except (ValueError, FloatingPointError, ZeroDivisionError):
        return 0
    return T


def explain(build, group_list, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
            rtol: float, atol: float, *, rescaled: bool = False, max_size: int = 3,
            baseline: int = 0
            ) -> tuple[dict[str, object] | None, list[dict[str, object]], tuple[int, dict]]:
    """(smallest combination reproducing every step or None, the other combinations of that
    size that also do, (steps agreed, combination) of the closest miss).

    ``build(**options)`` makes the reference method with those departures applied. The closest
    miss must agree for more steps than ``baseline`` (the steps the claimed reference itself
    agrees for); otherwise it is ``(baseline, {})``: no candidate improves on the claim."""
    T = len(actual)
    found: list[dict[str, object]] = []
    closest: tuple[int, dict] = (baseline, {})
    size_found = None
    for combo in candidates(group_list, max_size):
        if size_found is not None and len(combo) > size_found:
            break
        agreed = first_mismatch(build(**combo), losses, grads, actual, rtol, atol,
                                rescaled=rescaled)
        if agreed == T:
            found.append(combo)
            size_found = len(combo)
        elif agreed > closest[0]:
            closest = (agreed, combo)
    return (found[0] if found else None), found[1:], closest


def describe(option: str, value: object, claimed: Mapping[str, object]) -> str:
    """One departure in plain words (``claimed``: the options the implementation claims)."""
    was = claimed.get(option)
    if option == "convention":
        return (f"weights sum to {'1' if value == 'paper' else 'm'} instead of "
                f"{'m' if value == 'paper' else '1'} ({value} convention)")
    if option == "first_step_update":
        return ("updated on the first step with the raw estimate instead of only storing the "
                "baseline" if value else "the first step only stores the baseline")
    if option == "warmup":
        before = max(1, cast(int, was or 0))
        return f"baseline averaged over a warm-up of {value} steps instead of {before}"
    if option == "baseline_eps":
        return f"ε = {value:g} added to the baseline in the scale-processing division"
    if option == "eps":
        return f"accumulator ε = {value:g} instead of {1e-7 if was is None else was:g}"
    if option == "sqrt_accumulator":
        return ("missing sqrt in the accumulator: Σg²/(S+ε) instead of Σg²/sqrt(S+ε)"
                if not value else "sqrt in the accumulator")
    if option == "sign_flip":
        return "sign flip: weights move against the estimates"
    if option == "step_size":
        return f"step size η_α = {value:g} instead of {1.0 if was is None else was:g}"
    if option == "lagged":
        return ("weights applied one step late (updated after the model step): step t uses the "
                "weights of step t − 1")
    if option == "weight_sum":
        return f"weights normalised to sum to {value:g}"
    if option == "clamp_min":
        return f"weights clamped from below at {value:g} after normalising"
    if option == "clamp_max":
        return f"weights clamped from above at {value:g} after normalising"
    if option == "clamp_output_only":
        return ("only the returned weights are clamped (the update continues from the unclamped "
                "ones)" if value else "the clamped weights are kept as the state")
    if option == "eps_outside":
        return ("ε outside the sqrt in the accumulator: Σg²/(sqrt(S)+ε) instead of "
                "Σg²/sqrt(S+ε)" if value else "ε inside the sqrt")
    if option == "accumulate_after":
        return ("accumulator updated after the estimate: Σg_t²/sqrt(S_(t−1)+ε) instead of "
                "Σg_t²/sqrt(S_t+ε)" if value else "accumulator updated before the estimate")
    if option == "scale_processing":
        return ("no scale processing: the raw estimate at every step" if not value else
                "scale processing (Ê divided by the baseline)")
    return f"{option} = {value!r}"


__all__ = ["AdaGradVariant", "Clamped", "Lagged", "NegatedLosses", "Rescaled", "candidates",
           "describe", "explain", "first_mismatch", "groups"]
