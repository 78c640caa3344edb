"""A stereo-distillation port of ExcessMTL with a clamp on the weights.

Source: the ``ysstereo`` package, the module that defines ``StereoLabelDistiller`` (class
``ExcessMTL(torch.nn.Module)``, commented "ref: https://github.com/median-research-group/LibMTL").
The code index we searched holds this file (index id 53886281944) but does not name its
repository, path or commit, and no repository called ysstereo could be found by name; the
citation is therefore incomplete: repository, path and commit unknown.

What it does, in our words. Two tasks: the sum of the first seven losses (disparity) and the sum
of the rest (segmentation). The task gradients are written into ``torch.zeros(task_num,
grad_dim)``, so they, the accumulator, the estimates and the weights are all float32. The weights
start at one each. Each call accumulates g² and forms Σ g²/sqrt(S + 1e-7); the first call stores
the baseline and keeps the weights; later calls multiply the weights by exp(1e-2 · estimate /
baseline) (η written into the code), rescale them to sum to 2, then clamp them to [0.1, 5.0] and
keep the clamped values for the next update. With two tasks summing to 2 the upper bound is
never reached.

``StereoDistillExcessMTL`` is our NumPy re-implementation of that behaviour (float64 copies of
the float32 weights are returned).
"""

from __future__ import annotations

import numpy as np

from .adagrad import adagrad_estimate

F32 = np.float32


class StereoDistillExcessMTL:
    """ExcessMTL with η = 1e-2, Σα = m, weights clamped to [0.1, 5] after normalising and kept,
    everything in float32."""

    def __init__(self, n_tasks: int = 2, step_size: float = 1e-2,
                 bounds: tuple[float, float] = (0.1, 5.0)) -> None:
        self.m = int(n_tasks)
        self.eta = F32(step_size)
        self.low, self.high = F32(bounds[0]), F32(bounds[1])
        self.weights = np.ones(self.m, dtype=F32)
        self.accumulator: np.ndarray | None = None
        self.baseline: np.ndarray | None = None

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        self.accumulator, estimate = adagrad_estimate(self.accumulator, grads, F32)
        if self.baseline is None:
            self.baseline = estimate
        else:
            raised = self.weights * np.exp(estimate / self.baseline * self.eta)
            normalised = raised / raised.sum() * F32(self.m)
            self.weights = np.clip(normalised, self.low, self.high).astype(F32)
        return self.weights.astype(np.float64)
