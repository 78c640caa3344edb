"""Argument checks shared by the reference: each raises a ValueError/TypeError naming the
argument."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def real(name: str, value: object, *, low: float | None = None, high: float | None = None,
         low_open: bool = False) -> float:
    """A finite real in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return v


def per_task(name: str, value: object, n_tasks: int, *, low: float, high: float | None = None
             ) -> np.ndarray:
    """A scalar broadcast to ``n_tasks`` values, or a sequence of exactly ``n_tasks`` values."""
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        arr = as_real_array(name, value)
        if arr.shape != (n_tasks,):
            raise ValueError(f"{name} must be a scalar or have shape ({n_tasks},), got shape "
                             f"{arr.shape}")
        for v in arr:
            real(name, float(v), low=low, high=high)
        return arr
    return np.full(n_tasks, real(name, value, low=low, high=high))


def as_real_array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array, refusing what a silent cast would corrupt: complex numbers
    (the imaginary part would be dropped), strings, ``None`` and ragged nested sequences."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}")
    try:
        raw = np.asarray(value)
    except ValueError as exc:
        if "inhomogeneous" in str(exc):
            raise ValueError(f"{name} must be a rectangular array, got a ragged nested sequence "
                             "(rows of different lengths; e.g. tasks with different sample "
                             "counts)") from None
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    if raw.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array (its imaginary part would be "
                        "dropped); pass value.real explicitly if that is what you mean")
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype} "
                        f"(from {type(value).__name__})")
    return raw.astype(np.float64, copy=False)


def squares_representable(name: str, arr: np.ndarray, count: int) -> None:
    """Sums of ``count`` squares of the entries of ``arr`` (losses, XᵀX/n) must not overflow
    float64: max|a|² · count < max float / 16."""
    big = float(np.max(np.abs(arr))) if arr.size else 0.0
    limit = float(np.sqrt(np.finfo(np.float64).max / 16.0 / max(count, 1)))
    if big > limit:
        raise ValueError(f"{name} has entries up to {big:.3g}: sums of their squares (the losses "
                         f"and XᵀX/n) overflow float64 beyond {limit:.3g}; rescale {name}")


def finite_array(name: str, value: object, *, ndim: int | None = None,
                 shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """A float64 array with no NaN/inf, of the given ndim/shape (None in shape = any size)."""
    if type(value) is np.ndarray and value.dtype == np.float64:   # the fast path of every step
        if shape is not None:
            fits = value.ndim == len(shape) and all(w is None or g == w
                                                    for g, w in zip(value.shape, shape))
        else:
            fits = ndim is None or value.ndim == ndim
        with np.errstate(over="ignore", invalid="ignore"):
            if fits and math.isfinite(value.sum()):    # a finite sum: every entry is finite
                return value
    arr = as_real_array(name, value)
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and arr.ndim != ndim:
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")" if shape else \
            f"{ndim}-D"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    if shape is not None:
        for axis, (got, size) in enumerate(zip(arr.shape, shape)):
            if size is not None and got != size:
                raise ValueError(f"{name} must have size {size} on axis {axis}, got shape "
                                 f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr


def method_protocol(name: str, method: object) -> object:
    """``method`` must be an *instance* with ``init_state(n_tasks, dim)`` and
    ``step(state, losses, grads, ...)`` (the protocol ``reference.WeightingMethod``)."""
    if isinstance(method, type):
        raise TypeError(f"{name} must be an instance, got the class {method.__name__}: write "
                        f"{method.__name__}(...) (e.g. ExcessMTL('exact', 'paper'))")
    if isinstance(method, str):
        raise TypeError(f"{name} must be a weighting-method object such as "
                        f"reference.ExcessMTL(), got the string {method!r}")
    if not (callable(getattr(method, "init_state", None))
            and callable(getattr(method, "step", None))):
        raise TypeError(f"{name} must have init_state(n_tasks, dim) and step(state, losses, "
                        f"grads, *, excess=None, hessians=None), got {type(method).__name__}")
    return method


def sample_indices(name: str, idx: object, n_tasks: int, n_samples: int) -> np.ndarray:
    """Integer sample indices of shape (n_tasks, b), b >= 1, each in [0, n_samples)."""
    ix = np.asarray(idx)
    if ix.ndim != 2 or ix.shape[0] != n_tasks or ix.dtype.kind not in "iu" or \
            ix.size == 0 or ix.min() < 0 or ix.max() >= n_samples:
        raise ValueError(f"{name} must be integer sample indices of shape ({n_tasks}, b) in "
                         f"[0, {n_samples}), got shape {ix.shape} and dtype {ix.dtype}")
    return ix


# ------------------------------------------------------------------ user code
NEEDS = frozenset({"excess", "hessians"})


class UserMethodError(ValueError):
    """A weighting method (or the factory that made it) raised, or returned something that is
    not weights. The message names the method, the call (``init_state``, ``step`` and its step
    t, the factory) and what went wrong, in one line."""


def method_label(method: object) -> str:
    """A short, safe name for messages: a string ``label`` attribute, the repr of a reference
    class (it lists the parameters), else the class name (a user's repr is not called: it is
    user code too, and may be long or raise)."""
    try:
        label = getattr(method, "label", None)
    except Exception:  # noqa: BLE001 - a property of the user's class
        label = None
    if isinstance(label, str) and label:
        return label
    cls = type(method)
    if cls.__module__.startswith("reference."):
        return repr(method)
    return cls.__qualname__


def _passes_through(exc: BaseException) -> bool:
    """Ctrl-C, generator shutdown and the CLI's own SIGTERM exception are not the method's."""
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
        return True
    policy = sys.modules.get("proofs_check.cli_policy")       # loaded whenever it can be raised
    return policy is not None and isinstance(exc, getattr(policy, "Terminated", ()))


passes_through = _passes_through      # the public name, for the command lines


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """('SystemExit(0)', '') or ('ValueError', 'the first line of its message')."""
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r})", ""
    text = str(exc).strip().splitlines()
    return type(exc).__name__, (text[0] if text else "")


def call_user(owner: str, where: str, fn: Callable, *args: object, every: bool = True,
              keep: tuple[type[BaseException], ...] = (), **kwargs: object) -> object:
    """``fn(*args, **kwargs)``, user code: what it raises becomes a ``UserMethodError`` "{owner}
    raised {exception} in {where}" (``SystemExit`` included: a method calling ``sys.exit(0)``
    must not end a check with exit code 0). ``KeyboardInterrupt`` and the CLI's ``Terminated``
    pass through, and so does a ``UserMethodError`` (it already names its method).
    ``every=False`` converts only what is not an ``Exception`` (SystemExit and other
    ``BaseException``s) and lets ordinary exceptions through unchanged; ``keep`` lets those
    types through (e.g. ``FloatingPointError``: the method diverged, a finding, not a crash)."""
    try:
        return fn(*args, **kwargs)
    except UserMethodError:
        raise
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, SystemExit too
        if _passes_through(exc) or isinstance(exc, keep) or \
                (not every and isinstance(exc, Exception)):
            raise
        kind, text = describe_exception(exc)
        raise UserMethodError(f"{owner} raised {kind} in {where}" + (f": {text}" if text else "")
                              ) from exc


def method_needs(name: str, method: object) -> frozenset[str]:
    """The method's optional ``needs``: a set of names among {'excess', 'hessians'}."""
    needs: object = getattr(method, "needs", frozenset())
    if needs is None:
        return frozenset()
    if isinstance(needs, (str, bytes)) or not isinstance(needs, (set, frozenset, list, tuple)) \
            or not all(isinstance(n, str) for n in needs):
        raise TypeError(f"{name}: {method_label(method)}.needs must be a set of names among "
                        f"{sorted(NEEDS)}, got {needs!r}")
    unknown = sorted(set(needs) - NEEDS)
    if unknown:
        raise ValueError(f"{name}: {method_label(method)}.needs lists {unknown}; it may name only "
                         f"{sorted(NEEDS)}")
    return frozenset(needs)
