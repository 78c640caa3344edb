"""The LibMTL family: the official code and the ports that copied its ``backward``.

Sources, read at these commits (the weighting step only; the autograd part is the training
loop's job here):

* yifei-he/ExcessMTL, ``LibMTL/LibMTL/weighting/ExcessMTL.py`` at
  b179956021c9ac26f93f986a35d034ffea38f790 (the official code; its README runs
  ``--robust_step_size 1``, its ``LibMTL/LibMTL/config.py`` at
  1f831d0bd79cd1de541e71e860458bb731622c86 defaults to 1e-2);
* median-research-group/LibMTL, ``LibMTL/weighting/ExcessMTL.py`` at
  b65c9140c6b51a0cf8b38e4a00e9ab73c768954c (η from ``LibMTL/config.py`` at
  4336804847eaa5e0b924b743d76beec7ac3fdc97, default 1e-2);
* srikesh-07/VT-Solution, ``LibMTL/weighting/ExcessMTL.py`` at
  3a6e1d948decc754d4b570c1e95982d725373925 (η from ``LibMTL/args.py`` at
  77079a812cbd4f41fb2d39aee8a9f81d879ac970, default 1e-2);
* panda0xm/MMRRec, ``weighting/ExcessMTL.py`` at 34766f8ca11c46662ccd53a4a437a91b373f36f1
  (η written into the code as 1e-2).

All four compute the same thing. What they do, in our words: the task weights start at one
each; every call adds g² to a per-task accumulator S (kept in the gradients' dtype) and forms
the AdaGrad estimate Σ g²/sqrt(S + 1e-7); the first call keeps the estimates as the baseline and
leaves the weights alone; every later call multiplies the weights by exp(η · estimate/baseline)
and rescales them to sum to the number of tasks. The estimates are written into a vector made
with ``torch.zeros(task_num)`` and the weights start as ``torch.tensor([1.0] * task_num)``: both
float32 whatever the gradients' dtype, so from the estimate on the arithmetic is float32.

``LibMTLExcessMTL`` is our NumPy re-implementation of that behaviour (not a transcription): the
accumulator in float64 (the loop's dtype), the estimates, ratios and weights in float32. The
originals return a float32 array; the recorder gets float64 copies of those float32 values, so
that the oracle has to decide the precision from the numbers (by replay) rather than from a
dtype tag.
"""

from __future__ import annotations

import numpy as np

from .adagrad import adagrad_estimate

F32 = np.float32


class LibMTLExcessMTL:
    """ExcessMTL as the LibMTL family computes it: linear-space weights starting at 1, the first
    call only stores the baseline, Σα = m, float32 from the estimate on."""

    def __init__(self, n_tasks: int, robust_step_size: float = 1e-2) -> None:
        self.m = int(n_tasks)
        self.eta = F32(robust_step_size)
        self.weights = np.ones(self.m, dtype=F32)
        self.accumulator: np.ndarray | None = None
        self.baseline: np.ndarray | None = None

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        self.accumulator, estimate = adagrad_estimate(self.accumulator, grads)
        if self.baseline is None:
            self.baseline = estimate
        else:
            ratio = estimate / self.baseline
            raised = self.weights * np.exp(ratio * self.eta)
            self.weights = (raised / raised.sum() * F32(self.m)).astype(F32)
        return self.weights.astype(np.float64)
