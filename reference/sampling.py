"""Minibatch samplers for the stochastic regime: each task draws its own b sample indices per step,
as each task of a multi-task model has its own data loader.

* ``"with_replacement"``: i.i.d. uniform indices, idx ~ U{0, …, n−1}^{m×b} (the setting of the
  stochastic-approximation analysis: unbiased, independent across steps).
* ``"epoch"``: each task walks through its own random permutation b samples at a time and draws a
  new permutation when fewer than b remain (``drop_last``, as a PyTorch ``DataLoader`` with
  ``shuffle=True, drop_last=True``).

The stream is ``numpy.random.default_rng(seed)``, drawn in a fixed order, so the gpu mirror
reproduces it index for index on the host.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import _validate as v

SamplerKind = Literal["with_replacement", "epoch"]
SAMPLERS = ("with_replacement", "epoch")


class MinibatchSampler:
    """``next()`` returns the (m, b) sample indices of the next step."""

    def __init__(self, n_tasks: int, n_samples: int, batch_size: int,
                 kind: SamplerKind = "with_replacement", seed: int = 0) -> None:
        self.m = v.positive_int("n_tasks", n_tasks)
        self.n = v.positive_int("n_samples", n_samples)
        self.b = v.positive_int("batch_size", batch_size)
        if kind not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {kind!r}")
        if kind == "epoch" and self.b > self.n:
            raise ValueError(f"batch_size must be <= n_samples = {self.n} for sampler='epoch', "
                             f"got {self.b}")
        self.kind = kind
        self.rng = np.random.default_rng(v.positive_int("seed", seed, minimum=0))
        self._perm = np.empty((self.m, 0), dtype=np.int64)

    def next(self) -> np.ndarray:
        if self.kind == "with_replacement":
            return self.rng.integers(0, self.n, size=(self.m, self.b))
        if self._perm.shape[1] < self.b:
            self._perm = np.stack([self.rng.permutation(self.n) for _ in range(self.m)])
        idx, self._perm = self._perm[:, :self.b], self._perm[:, self.b:]
        return idx
