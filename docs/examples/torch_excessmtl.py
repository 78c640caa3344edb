"""A PyTorch ExcessMTL weighting written the way LibMTL's weighting/ExcessMTL.py does it, as a
conformance target. Run:

    cd docs/examples && python -m proofs_check conformance torch_excessmtl:make --torch
    cd docs/examples && python -m proofs_check conformance torch_excessmtl:make_torchjd_like --torch
"""

import torch


class TorchExcessMTL:
    def __init__(self, n_tasks: int, robust_step_size: float = 1.0, update_first: bool = False):
        self.loss_weight = torch.ones(n_tasks, dtype=torch.float64)
        self.grad_sum = None
        self.first_epoch = True
        self.eta = robust_step_size
        self.update_first = update_first

    def __call__(self, losses: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        if self.grad_sum is None:
            self.grad_sum = torch.zeros_like(grads)
        w = torch.zeros(len(losses), dtype=grads.dtype)
        for i in range(len(losses)):
            self.grad_sum[i] += grads[i] ** 2
            h_i = torch.sqrt(self.grad_sum[i] + 1e-7)
            w[i] = grads[i] * (1 / h_i) @ grads[i]
        if self.first_epoch:
            self.initial_w = w
            self.first_epoch = False
            if not self.update_first:
                return self.loss_weight.clone()
            w = w * self.initial_w          # undo the division below: raw estimate at step 1
        w = w / self.initial_w
        self.loss_weight = self.loss_weight * torch.exp(w * self.eta)
        self.loss_weight = self.loss_weight / self.loss_weight.sum() * len(losses)
        return self.loss_weight.clone()


def make(n_tasks: int) -> TorchExcessMTL:
    return TorchExcessMTL(n_tasks)


def make_torchjd_like(n_tasks: int) -> TorchExcessMTL:
    """Updates on the first call with the raw estimate (TorchJD 0.17.0 behaviour,
    docs/sources.md §S9.4)."""
    return TorchExcessMTL(n_tasks, update_first=True)
