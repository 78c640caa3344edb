"""Estimators Ê_i of the excess risk E_i(θ) = ℓ_i(θ) − ℓ_i^*.

* ``exact``   Ê_i = E_i(θ), using the true optimum ℓ_i^* (only possible on our synthetic problems).
* ``taylor``  Ê_i = ½ g_iᵀ H_i⁻¹ g_i with the true Hessian H_i = ∇²ℓ_i(θ): the minimum of the
  second-order model of ℓ_i at θ subtracted from ℓ_i(θ) ([OURS/REC] NOTES §2). Exact on quadratics.
* ``adagrad`` the official code's estimator ([CODE] LibMTL/weighting/ExcessMTL.py, NOTES §2):
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


def taylor_estimate(grads: np.ndarray, hessians: np.ndarray) -> np.ndarray:
    """Ê_i = ½ g_iᵀ H_i⁻¹ g_i; a singular H_i is inverted on its range (least squares)."""
    out = np.empty(grads.shape[0])
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
    the paper's Eq. 7 may intend (unverified, NOTES §9.1)."""
    S = accum + grads * grads
    h = np.sqrt(S + eps) if sqrt else S + eps
    return S, np.sum(grads * grads / h, axis=1)
