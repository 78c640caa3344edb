"""Independent implementations written for the tests: different code from the reference (linear
space, explicit loops, like LibMTL's ExcessMTL.backward), with switches that reproduce the
departures other ports make."""

from __future__ import annotations

import numpy as np


class ExcessMTLLinearSpace:
    """LibMTL's ExcessMTL.backward transcribed: loss_weight starts at ones; S += g²;
    w_i = g_i·(g_i/sqrt(S_i + 1e-7)); the first call stores initial_w; later calls
    loss_weight *= exp(η w/initial_w) and rescale to sum m."""

    def __init__(self, n_tasks: int, eta: float = 1.0, *, first_step_update: bool = False,
                 sum_to_one: bool = False, baseline_eps: float = 0.0, sqrt: bool = True,
                 sign: float = 1.0, warmup: int = 1) -> None:
        self.m, self.eta = n_tasks, eta
        self.first_step_update, self.sum_to_one = first_step_update, sum_to_one
        self.baseline_eps, self.sqrt, self.sign, self.warmup = baseline_eps, sqrt, sign, warmup
        self.loss_weight = np.ones(n_tasks)
        self.grad_sum = None
        self.calls = 0
        self.warm_sum = np.zeros(n_tasks)
        self.initial_w = None

    def __call__(self, losses, grads):
        grads = np.asarray(grads)
        if self.grad_sum is None:
            self.grad_sum = np.zeros_like(grads)
        w = np.zeros(self.m)
        for i in range(self.m):
            self.grad_sum[i] += grads[i] ** 2
            h = np.sqrt(self.grad_sum[i] + 1e-7) if self.sqrt else self.grad_sum[i] + 1e-7
            w[i] = grads[i] @ (grads[i] / h)
        self.calls += 1
        if self.calls <= self.warmup:
            self.warm_sum += w
            if self.calls == self.warmup:
                self.initial_w = self.warm_sum / self.warmup
            if self.first_step_update and self.calls == 1:
                self._update(w)
        else:
            self._update(w / (self.initial_w + self.baseline_eps))
        return self.loss_weight / self.m if self.sum_to_one else self.loss_weight.copy()

    def _update(self, payoff):
        self.loss_weight = self.loss_weight * np.exp(self.sign * self.eta * payoff)
        self.loss_weight = self.loss_weight / self.loss_weight.sum() * self.m


class GroupDROLinearSpace:
    def __init__(self, n_tasks: int, eta: float = 1.0, sum_to_one: bool = False) -> None:
        self.w, self.eta, self.sum_to_one = np.ones(n_tasks), eta, sum_to_one

    def __call__(self, losses, grads):
        self.w = self.w * np.exp(self.eta * np.asarray(losses))
        self.w = self.w / self.w.sum() * len(self.w)
        return self.w / len(self.w) if self.sum_to_one else self.w.copy()


class FrankWolfeMGDA:
    """LibMTL-style MGDA with a fixed number of Frank–Wolfe iterations (approximate)."""

    def __init__(self, iters: int = 25) -> None:
        self.iters = iters

    def __call__(self, losses, grads):
        G = grads @ grads.T
        a = np.full(len(G), 1.0 / len(G))
        for _ in range(self.iters):
            j = int(np.argmin(G @ a))
            d = -a.copy()
            d[j] += 1.0
            denom = d @ G @ d
            if denom <= 0:
                break
            step = float(np.clip(-(a @ G @ d) / denom, 0.0, 1.0))
            a = a + step * d
        return a
