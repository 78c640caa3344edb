"""TorchJD's ExcessMTL weighting, in two versions of the same file.

Sources: SimplexLab/TorchJD, ``src/torchjd/aggregation/_excess_mtl.py``

* at 5a373b436cbd9f5ea30d4f5d4c3a6ecf87f40fa3 ("feat(aggregation): Add ExcessMTL (#747)", the
  merged version, first released in v0.17.0): ``n_warmup_steps`` defaults to 0;
* at ceaaf1289c32334bb543fc2b6d41d688f8074d06 (a commit of the same pull request, before the
  review changed the default): ``n_warmup_steps`` defaults to 1.

What it does, in our words. The weighting sees only the matrix of task gradients. It keeps the
weights on the simplex, starting at 1/m, in the dtype of the gradients (float64 in a float64
loop). Each call adds g² to the accumulator S and forms Σ g²/sqrt(S + 1e-7). During the first W
= ``n_warmup_steps`` calls it sums those estimates and returns the weights unchanged. On the
first call after them it fixes the baseline: the mean of the W warm-up estimates, and divides the
estimate by (baseline + 1e-7); with W = 0 there is nothing to average, so the first call's own
estimate becomes the baseline and that call updates with the raw estimate. Every later call
divides by (baseline + 1e-7). The update multiplies the weights by exp(η · payoff) and
renormalises them to sum to 1 (the installed v0.18 does the same in log space with a softmax).

``TorchJDExcessMTL`` is our NumPy re-implementation of that behaviour.
"""

from __future__ import annotations

import numpy as np


class TorchJDExcessMTL:
    """TorchJD's ExcessMTLWeighting: simplex weights from 1/m, a warm-up of ``n_warmup_steps``
    calls, the baseline divided with ε = 1e-7, the raw estimate on the first call when W = 0."""

    def __init__(self, n_tasks: int, robust_step_size: float = 1.0, n_warmup_steps: int = 0
                 ) -> None:
        self.m = int(n_tasks)
        self.eta = float(robust_step_size)
        self.warmup = int(n_warmup_steps)
        self.weights = np.full(self.m, 1.0 / self.m)
        self.accumulator: np.ndarray | None = None
        self.warm_total = np.zeros(self.m)
        self.baseline: np.ndarray | None = None
        self.calls = 0

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        g = np.asarray(grads, dtype=np.float64)
        if self.accumulator is None:
            self.accumulator = np.zeros_like(g)
        self.accumulator = self.accumulator + g * g
        estimate = np.sum(g * g / np.sqrt(self.accumulator + 1e-7), axis=1)
        call, self.calls = self.calls, self.calls + 1
        if call < self.warmup:
            self.warm_total = self.warm_total + estimate
            return self.weights.copy()
        if self.baseline is None and self.warmup == 0:
            self.baseline, payoff = estimate, estimate
        else:
            if self.baseline is None:
                self.baseline = self.warm_total / self.warmup
            payoff = estimate / (self.baseline + 1e-7)
        raised = self.weights * np.exp(payoff * self.eta)
        self.weights = raised / raised.sum()
        return self.weights.copy()
