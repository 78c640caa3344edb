"""Peers written with PyTorch (imported only by tests that skip without torch)."""

from __future__ import annotations

import torch


class LibMTLExcessMTL:
    """LibMTL's ExcessMTL.backward transcribed faithfully (weighting/ExcessMTL.py), minus the
    autograd part: ``loss_weight`` is ``torch.tensor([1.0]*task_num)`` and ``w`` is
    ``torch.zeros(task_num)``, both float32 by default, whatever the gradients' dtype."""

    def __init__(self, task_num: int, robust_step_size: float = 1.0) -> None:
        self.task_num = task_num
        self.robust_step_size = robust_step_size
        self.loss_weight = torch.tensor([1.0] * task_num, requires_grad=False)
        self.grad_sum = None
        self.first_epoch = True

    def __call__(self, losses: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        if self.grad_sum is None:
            self.grad_sum = torch.zeros_like(grads)
        w = torch.zeros(self.task_num)
        for i in range(self.task_num):
            self.grad_sum[i] += grads[i] ** 2
            grad_i = grads[i]
            h_i = torch.sqrt(self.grad_sum[i] + 1e-7)
            w[i] = grad_i * (1 / h_i) @ grad_i.t()
        if self.first_epoch:
            self.initial_w = w
            self.first_epoch = False
        else:
            w = w / self.initial_w
            self.loss_weight = self.loss_weight * torch.exp(w * self.robust_step_size)
            self.loss_weight = self.loss_weight / self.loss_weight.sum() * self.task_num
            self.loss_weight = self.loss_weight.detach().clone()
        return self.loss_weight
