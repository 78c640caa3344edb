"""Estimators Ê_i of the excess risk E_i(θ) = ℓ_i(θ) − ℓ_i^*.

* ``exact``   Ê_i = E_i(θ), using the true optimum ℓ_i^* (only possible on our synthetic problems).
* ``taylor``  Ê_i = ½ g_iᵀ H_i⁻¹ g_i with the true Hessian H_i = ∇²ℓ_i(θ): the minimum of the
  second-order model of ℓ_i at θ subtracted from ℓ_i(θ) ([OURS/REC] docs/sources.md §S2.2). Exact on
  quadratics.
* ``adagrad`` the official code's estimator ([CODE] LibMTL/weighting/ExcessMTL.py,
  docs/sources.md §S2.3):
      S_i ← S_i + g_i ⊙ g_i,   h_i = sqrt(S_i + ε),   Ê_i = Σ_j g_ij² / h_ij,   ε = 1e-7,
  S_i starts at 0, is never reset, and includes the current gradient. No ½.

Each is a pure function; ``adagrad`` threads its accumulator S (m, d) explicitly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.linalg as sla

EstimatorName = Literal["exact", "taylor", "adagrad"]
ESTIMATORS: tuple[str, ...] = ("exact", "taylor", "adagrad")
ADAGRAD_EPS = 1e-7  # [CODE] inside the sqrt


def exact_estimate(excess: np.ndarray) -> np.ndarray:
    """Ê_i = E_i(θ) (the true excess risk, supplied by the problem)."""
    return np.asarray(excess, dtype=float).copy()


def _array(name: str, value: object, ndim: int, want: str) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions, or a ValueError naming ``name`` and
    the expected shape ``want`` (a shape check only: the estimators run at every step)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real array of shape {want}, got "
                        f"{type(value).__name__}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    return arr


def taylor_estimate(grads: np.ndarray, hessians: np.ndarray) -> np.ndarray:
    """Ê_i = ½ g_iᵀ H_i⁻¹ g_i; a singular H_i is inverted on its range (least squares).
    ``grads`` (m, d), ``hessians`` (m, d, d)."""
    grads = _array("grads", grads, 2, "(m, d)")
    m, d = grads.shape
    hessians = _array("hessians", hessians, 3, f"(m, d, d) = ({m}, {d}, {d})")
    if hessians.shape != (m, d, d):
        raise ValueError(f"hessians must have shape (m, d, d) = ({m}, {d}, {d}) to match grads "
                         f"{grads.shape}, got shape {hessians.shape}")
    out = np.empty(m)
    for i, (g, H) in enumerate(zip(grads, hessians)):
        try:
            x = sla.solve(H, g, assume_a="pos")
        except (sla.LinAlgError, ValueError):
            x = sla.lstsq(H, g)[0]
        out[i] = 0.5 * float(g @ x)
    return out


def adagrad_estimate(accum: np.ndarray, grads: np.ndarray, eps: float = ADAGRAD_EPS, *,
                     sqrt: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(S_new, Ê) with S_new = S + g⊙g and Ê_i = Σ_j g_ij² / sqrt(S_new,ij + ε).

    ``sqrt=False`` gives the plain diagonal-Fisher variant Ê_i = Σ_j g_ij² / (S_new,ij + ε), which
    the paper's Eq. 7 may intend (unverified, docs/sources.md §S9.1). ``accum`` and ``grads`` are
    (m, d)."""
    grads = _array("grads", grads, 2, "(m, d)")
    accum = _array("accum", accum, 2, f"(m, d) = {grads.shape}, the shape of grads")
    if accum.shape != grads.shape:
        raise ValueError(f"accum must have the shape of grads (m, d) = {grads.shape}, got shape "
                         f"{accum.shape}")
    S = accum + grads * grads
    h = np.sqrt(S + eps) if sqrt else S + eps
    return S, np.sum(grads * grads / h, axis=1)
