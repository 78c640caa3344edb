"""uiuctml/AdaOMD-TCH: two ExcessMTL ports, one for federated learning, one for the synthetic
(libmoon-style) benchmarks.

Sources, uiuctml/AdaOMD-TCH:

* ``FL/scripts/methods/ExcessMTL.py`` and ``FL/scripts/methods/AdaExcessMTL.py`` at
  92d3499907e587beb78db19b2f19c3032f052792 (``dynamic_lambdas_update``; the two files share the
  same weighting step and differ only in how the reported model is averaged). The step size is
  ``--learning-rate-lambda``, swept over 0.001 … 1 in
  ``FL/experiments/workflow/run_rotation.sh`` at 92d3499907e587beb78db19b2f19c3032f052792.
* ``synthetic/libmoonRAW/solver/gradient/methods/core/core_solver.py`` at
  463a959c9c1288bbe3ccb9dd7ac1dd5eda5e16d6 (class ``ExcessMTLCore``), driven by
  ``synthetic/libmoonRAW/solver/gradient/methods/base_solver.py`` at the same commit. The step
  size is ``--eta``: ``synthetic/libmoonRAW/tester/run_syn_discrete.sh`` at
  33686616f7ae9ecc4fd12a55bc772c697ad271ad passes 1.0; the argparse default of the runner,
  ``synthetic/libmoonRAW/tester/run_syn_discrete.py`` at
  463a959c9c1288bbe3ccb9dd7ac1dd5eda5e16d6, is 0.

What they do, in our words. Both keep the weights on the simplex, starting at 1/m, as float32
tensors (``torch.ones(m) / m``, estimates in ``torch.zeros(m)``). Each call accumulates g² and
forms the AdaGrad estimate Σ g²/sqrt(S + 1e-7); on the first call the estimate becomes the
baseline and the update is then made with estimate/baseline, all ones, which leaves the weights
where they are; later calls update with estimate/baseline. The update multiplies each weight by
exp(η · payoff) and divides by the sum.

* Federated: the round applies the weights it has *before* this round's update (the server step
  uses ``dynamic_lambdas`` and only then calls ``dynamic_lambdas_update`` on the clients'
  pseudo-gradients at the same model): the weights are one step late.
* Synthetic: ``get_alpha`` returns the updated weights and the solver applies them at the same
  step. The gradients it sees are those of the preference-scaled objectives p_i·f_i (the
  Jacobian of ``prefs * fs_var``) and the weights multiply those same objectives, so for the
  weighting the tasks are the scaled objectives: our loop's tasks stand for them.

``FederatedExcessMTL`` and ``SyntheticExcessMTL`` are our NumPy re-implementations (float64
accumulator as in a float64 loop, float32 estimates and weights, float64 copies returned so that
the oracle decides the precision from the numbers).
"""

from __future__ import annotations

import numpy as np

from .adagrad import adagrad_estimate

F32 = np.float32


class _SimplexFloat32:
    """The shared update: float32 simplex weights, the first call's estimate as the baseline."""

    def __init__(self, n_tasks: int, step_size: float) -> None:
        self.m = int(n_tasks)
        self.eta = F32(step_size)
        self.weights = np.ones(self.m, dtype=F32) / F32(self.m)
        self.accumulator: np.ndarray | None = None
        self.baseline: np.ndarray | None = None

    def _update(self, grads: np.ndarray) -> None:
        self.accumulator, estimate = adagrad_estimate(self.accumulator, grads)
        if self.baseline is None:
            self.baseline = estimate
        payoff = estimate / self.baseline
        raised = np.array([w * np.exp(self.eta * u) for w, u in zip(self.weights, payoff)],
                          dtype=F32)
        self.weights = (raised / raised.sum()).astype(F32)


class FederatedExcessMTL(_SimplexFloat32):
    """AdaOMD-TCH's federated ExcessMTL: returns the weights the round applies (normalised once
    more, as the server does), then updates them."""

    def __init__(self, n_tasks: int, learning_rate_lambda: float = 0.1) -> None:
        super().__init__(n_tasks, learning_rate_lambda)

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        applied = (self.weights / self.weights.sum()).astype(F32)
        self._update(grads)
        return applied.astype(np.float64)


class SyntheticExcessMTL(_SimplexFloat32):
    """AdaOMD-TCH's ``ExcessMTLCore.get_alpha``: updates, then returns the new weights."""

    def __init__(self, n_tasks: int, eta: float = 1.0) -> None:
        super().__init__(n_tasks, eta)

    def __call__(self, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        self._update(grads)
        return self.weights.astype(np.float64)
