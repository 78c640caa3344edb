"""The known departures of other ports (NOTES §9), and the search for the smallest combination
of them that reproduces an implementation.

A departure is a reference keyword option (``first_step_update=True``, ``baseline_eps=1e-7``,
``convention="paper"``, …) or one of two harness options that no reference class has:
``sign_flip=True`` (weights move against the estimates) and ``lagged=True`` (the weights the
implementation applies at step t are the reference's of step t − 1: updated *after* the model
step). ``explain`` tries every combination of up to three departures, smallest first, and
returns the first that reproduces every recorded step within tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import combinations, product

import numpy as np


STEP_SIZES = (1e-2, 0.1, 0.5, 1.0, 2.0, 10.0)
BASELINE_EPS = (1e-12, 1e-10, 1e-8, 1e-7, 1e-6, 1e-5)
ACCUMULATOR_EPS = (0.0, 1e-10, 1e-8, 1e-6)
WARMUPS = (2, 3, 4, 5)


class Lagged:
    """The weights of ``inner`` one step late: step t returns the weights ``inner`` gave at step
    t − 1 (its initial weights at t = 1): an implementation that updates α after the model step
    and so applies the previous step's weights."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.needs = getattr(inner, "needs", frozenset())

    def init_state(self, n_tasks: int, dim: int):
        state = self.inner.init_state(n_tasks, dim)
        return state, self.inner.weights(state)

    def step(self, state, losses, grads, **kw):
        inner_state, previous = state
        inner_state, w = self.inner.step(inner_state, losses, grads, **kw)
        return (inner_state, np.asarray(w, dtype=float)), previous


class NegatedLosses:
    """GroupDRO with the sign of the exponent flipped (a known bug shape)."""

    def __init__(self, inner: object) -> None:
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


def first_mismatch(method: object, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
                   rtol: float, atol: float, *, rescaled: bool = False) -> int:
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
            rtol: float, atol: float, *, rescaled: bool = False, max_size: int = 3
            ) -> tuple[dict[str, object] | None, list[dict[str, object]], tuple[int, dict]]:
    """(smallest combination reproducing every step or None, the other combinations of that
    size that also do, (steps agreed, combination) of the closest miss).

    ``build(**options)`` makes the reference method with those departures applied."""
    T = len(actual)
    found: list[dict[str, object]] = []
    closest: tuple[int, dict] = (0, {})
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
        return f"baseline averaged over a warm-up of {value} steps instead of {max(1, was or 0)}"
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
    return f"{option} = {value!r}"


__all__ = ["Lagged", "NegatedLosses", "candidates", "describe", "explain", "first_mismatch",
           "groups"]
