"""The AdaGrad excess-risk estimate as the official code computes it, and as the ports that
copied its ``backward`` compute it too (libmtl, adaomd, stereo; their docstrings cite the
sources): a per-task accumulator S += g², then Σ g²/sqrt(S + 1e-7) per task, written into a
float32 vector."""

from __future__ import annotations

import numpy as np


def adagrad_estimate(accumulator: np.ndarray | None, grads: np.ndarray,
                     dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(S, estimate): S = ``accumulator`` (zeros on the first call) + g² in ``dtype`` (the
    gradients' dtype in the original), and the float32 estimate Σ_j g_ij²/sqrt(S_ij + 1e-7)."""
    g = np.asarray(grads, dtype=dtype)
    acc = np.zeros_like(g) if accumulator is None else accumulator
    acc += g * g
    scale = dtype(1) / np.sqrt(acc + dtype(1e-7))
    estimate = np.array([(g[i] * scale[i]) @ g[i] for i in range(g.shape[0])],
                        dtype=np.float32)
    return acc, estimate
