"""What every problem with data stacked per task shares: X of shape (m, n, ·), y of shape (m, n).

Shapes, the rows of a minibatch, and storing arrays read-only on a frozen dataclass. The problem
classes (``MultiTaskProblem``, ``AbsoluteLossProblem``, ``TanhNetProblem``) inherit it; it has no
fields of its own.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v


class StackedTasks:
    """Mixin for a frozen dataclass with fields ``X`` (m, n, ·) and ``y`` (m, n)."""

    X: np.ndarray
    y: np.ndarray
    supports_minibatches = True     # losses(θ, idx) and grads(θ, idx) on sample rows

    @property
    def n_tasks(self) -> int:
        return self.X.shape[0]

    @property
    def n_samples(self) -> int:
        return self.X.shape[1]

    @property
    def dim(self) -> int:
        return self.X.shape[2]

    def _rows(self, idx: object) -> tuple[np.ndarray, np.ndarray]:
        """(X_B, y_B) with task i restricted to its own sample indices idx[i], idx of shape
        (m, b) (``None``: the full training set)."""
        if idx is None:
            return self.X, self.y
        ix = v.sample_indices("idx", idx, self.n_tasks, self.n_samples)
        return np.take_along_axis(self.X, ix[:, :, None], axis=1), \
            np.take_along_axis(self.y, ix, axis=1)

    def _set_readonly(self, **arrays: np.ndarray) -> None:
        """Store each array on the frozen instance, made read-only."""
        for name, a in arrays.items():
            a.setflags(write=False)
            object.__setattr__(self, name, a)
