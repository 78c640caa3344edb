"""PoiMtlNet's ExcessMTL loss.

Source: VitorHugoOli/PoiMtlNet, ``src/losses/excess_mtl/loss.py`` at
84da311128b9d7197e0b41f71ee4230592319650 (class ``ExcessMTLLoss``).

What it does, in our words. The weights start at one each and are moved to the dtype of the
gradients before every update, so in a float64 loop the whole computation is float64. Each call
adds g² to the accumulator and forms Σ g²/sqrt(S + ε) with ε = 1e-7. The first call stores the
estimate as the baseline, floored at ε (``clamp(min=eps)``), and keeps the weights. Later calls
divide the estimate by the baseline (floored at ε again), multiply the weights by
exp(η · ratio) with η = ``robust_step_size`` (default 1e-2) and rescale them to sum to the
number of tasks (the sum floored at ε before dividing).

The floors do nothing while the first estimates exceed 1e-7; a task whose gradient is almost
zero at the first call (a task that starts at its own optimum) has its baseline raised to 1e-7,
which no option of the reference describes.

``PoiMtlNetExcessMTL`` is our NumPy re-implementation of that behaviour.
"""

from __future__ import annotations

import numpy as np


class PoiMtlNetExcessMTL:
    """PoiMtlNet's ExcessMTLLoss: official-convention weights, η = 1e-2, the baseline and the
    weight sum floored at ε = 1e-7, float64 in a float64 loop."""

    def __init__(self, n_tasks: int, robust_step_size: float = 1e-2, eps: float = 1e-7) -> None:
        self.m = int(n_tasks)
        self.eta, self.eps = float(robust_step_size), float(eps)
        self.weights = np.ones(self.m)
        self.accumulator: np.ndarray | None = None
        self.baseline: np.ndarray | None = None

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        g = np.asarray(grads, dtype=np.float64)
        if self.accumulator is None or self.accumulator.shape != g.shape:
            self.accumulator = np.zeros_like(g)
        self.accumulator = self.accumulator + g ** 2
        estimate = np.sum(g * g / np.sqrt(self.accumulator + self.eps), axis=1)
        if self.baseline is None:
            self.baseline = np.maximum(estimate, self.eps)
        else:
            ratio = estimate / np.maximum(self.baseline, self.eps)
            with np.errstate(over="ignore", invalid="ignore"):   # torch overflows silently
                raised = self.weights * np.exp(ratio * self.eta)
                self.weights = raised / max(raised.sum(), self.eps) * self.m
        return self.weights.copy()
