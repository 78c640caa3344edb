"""Batched weighting methods: the maths of ``reference.weighting`` over a leading replica axis.

Each method is built from its reference twin (``batched(R.ExcessMTL(...))``) so parameters,
conventions and validation are shared, and only the array code is written again, against ``xp``:
log α (B, m), AdaGrad accumulator S (B, m, d), baseline (B, m). MGDA's exact min-norm point is
solved per replica by the reference's Wolfe algorithm on the host (exactness over speed; it is
O(m³) per replica on an (m, m) Gram matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

import reference as R

from . import backend as bk


BASELINE_ERROR = ("scale processing: a baseline estimate is 0 or subnormal, so Ê/Ê^(1) is "
                  "undefined or overflows (θ_0 already optimal for that task); use "
                  "scale_processing=False or baseline_eps > 0")


@dataclass(frozen=True)
class BatchedState:
    t: int
    log_alpha: object
    accum: object = None
    warmup_sum: object = None
    baseline: object = None
    estimate: object = None


def _log_update(xp, la, step_size, payoff):
    """``reference.weighting.log_weight_update`` per replica (shift before multiply). A
    non-finite payoff is not checked here (that would cost a device sync per step): it makes the
    weights NaN, which ``gpu.run_batched`` reports at the end."""
    with np.errstate(over="ignore", invalid="ignore"):
        new = la + step_size * (payoff - xp.max(payoff, axis=1, keepdims=True))
    new = new - xp.max(new, axis=1, keepdims=True)
    return xp.maximum(new, R.weighting.LOG_WEIGHT_FLOOR)


def _softmax(xp, la):
    e = xp.exp(la - xp.max(la, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


class BatchedMethod:
    """Wraps a reference method; ``step(state, losses, grads, excess=, hessians=)`` on (B, ...)."""

    def __init__(self, method: object, xp: object) -> None:
        if isinstance(method, type) and method in (R.ExcessMTL, R.GroupDRO, R.EqualWeights,
                                                   R.MGDA, R.IMTLG):
            raise TypeError(f"method must be an instance, got the class {method.__name__}: "
                            f"write {method.__name__}(...)")
        if type(method) not in (R.ExcessMTL, R.GroupDRO, R.EqualWeights, R.MGDA, R.IMTLG):
            raise TypeError(f"method has no batched form ({type(method).__name__}); use one of "
                            "the reference methods ExcessMTL, GroupDRO, EqualWeights, MGDA, "
                            "IMTLG")
        self.ref = method
        self.xp = xp
        self.needs = getattr(method, "needs", frozenset())
        self.uses_losses = type(method) is R.GroupDRO    # the only one whose step reads ℓ

    def __repr__(self) -> str:
        return f"batched({self.ref!r})"

    def init_state(self, replicas: int, n_tasks: int, dim: int) -> BatchedState:
        xp = self.xp
        return BatchedState(t=0, log_alpha=xp.zeros((replicas, n_tasks)),
                            accum=xp.zeros((replicas, n_tasks, dim)))

    def weights(self, state: BatchedState) -> object:
        p = _softmax(self.xp, state.log_alpha)
        return p * p.shape[1] if getattr(self.ref, "convention", "paper") == "official" else p

    def step(self, state: BatchedState, losses: object, grads: object, *, excess: object = None,
             hessians: object = None) -> tuple[BatchedState, object]:
        xp, ref = self.xp, self.ref
        if isinstance(ref, R.ExcessMTL):
            return self._excess_step(state, grads, excess, hessians)
        if isinstance(ref, R.GroupDRO):
            la = _log_update(xp, state.log_alpha, ref.step_size, losses)
            new = replace(state, t=state.t + 1, log_alpha=la, estimate=losses)
            return new, self.weights(new)
        if isinstance(ref, R.EqualWeights):
            new = replace(state, t=state.t + 1)
            return new, self.weights(new)
        if isinstance(ref, R.MGDA):
            host = bk.to_numpy(grads)
            alpha = np.stack([R.pareto_stationarity(g).alpha for g in host])
            return replace(state, t=state.t + 1), xp.asarray(alpha)
        return replace(state, t=state.t + 1), self._imtlg(grads)

    def _excess_step(self, state, g, excess, hessians):
        xp, ref = self.xp, self.ref
        accum = state.accum
        if ref.estimator == "exact":
            if excess is None:
                raise ValueError("ExcessMTL(estimator='exact') needs excess=E(θ) at each step")
            e = excess
        elif ref.estimator == "taylor":
            if hessians is None:
                raise ValueError("ExcessMTL(estimator='taylor') needs hessians at each step")
            e = 0.5 * xp.sum(g * xp.linalg.solve(hessians, g[..., None])[..., 0], axis=-1)
        else:
            accum = accum + g * g
            h = xp.sqrt(accum + ref.eps) if ref.sqrt_accumulator else accum + ref.eps
            e = xp.sum(g * g / h, axis=-1)
        t = state.t + 1
        la, warm, base = state.log_alpha, state.warmup_sum, state.baseline
        W = max(1, ref.warmup)
        if not ref.scale_processing:
            la = _log_update(xp, la, ref.step_size, e)
        elif t <= W:
            warm = e if warm is None else warm + e
            if t == 1 and ref.first_step_update:
                la = _log_update(xp, la, ref.step_size, e)
            if t == W:
                base = warm / t
                if bool(xp.any(base + ref.baseline_eps < np.finfo(np.float64).tiny)):
                    raise ValueError(BASELINE_ERROR)
        else:
            with np.errstate(over="ignore"):
                ratio = e / (base + ref.baseline_eps)
            la = _log_update(xp, la, ref.step_size, ratio)
        new = replace(state, t=t, log_alpha=la, accum=accum, warmup_sum=warm, baseline=base,
                      estimate=e)
        return new, self.weights(new)

    def _imtlg(self, g):
        xp = self.xp
        if g.shape[1] == 1:
            return xp.ones((g.shape[0], 1))
        u = g / xp.linalg.norm(g, axis=-1, keepdims=True)
        D = g[:, :1] - g[:, 1:]
        U = u[:, :1] - u[:, 1:]
        B = D @ xp.swapaxes(U, 1, 2)
        rhs = (g[:, 0:1] @ xp.swapaxes(U, 1, 2))[:, 0]
        sv = xp.linalg.svd(B, compute_uv=False)                # 2-norm condition, as the reference
        cond = sv[:, 0] / xp.maximum(sv[:, -1], 1e-300)
        if not bool(xp.all(xp.isfinite(rhs))) or float(xp.max(cond)) > 1e12:
            raise ValueError("IMTL-G is undefined here: the unit task gradients are affinely "
                             "dependent in some replica")
        rest = xp.linalg.solve(xp.swapaxes(B, 1, 2), rhs[..., None])[..., 0]
        return xp.concatenate([1.0 - xp.sum(rest, axis=1, keepdims=True), rest], axis=1)


def batched(method: object, backend: str = "numpy") -> BatchedMethod:
    """The batched form of a reference method on ``backend``."""
    return BatchedMethod(method, bk.namespace(backend))
