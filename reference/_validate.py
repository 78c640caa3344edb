"""Argument checks shared by the reference: each raises a ValueError/TypeError naming the argument."""

from __future__ import annotations

from collections.abc import Sequence
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
        arr = np.asarray(value, dtype=float)
        if arr.shape != (n_tasks,):
            raise ValueError(f"{name} must be a scalar or have shape ({n_tasks},), got shape "
                             f"{arr.shape}")
        for v in arr:
            real(name, float(v), low=low, high=high)
        return arr
    return np.full(n_tasks, real(name, value, low=low, high=high))


def finite_array(name: str, value: object, *, ndim: int | None = None,
                 shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """A float64 array with no NaN/inf, of the given ndim/shape (None in shape = any size)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers: {exc}") from None
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and arr.ndim != ndim:
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")" if shape else \
            f"{ndim}-D"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(arr.shape, shape)):
            if want is not None and got != want:
                raise ValueError(f"{name} must have size {want} on axis {axis}, got shape "
                                 f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr
