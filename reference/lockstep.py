"""Many runs of ``reference.loop.run`` in lockstep: R replicas (a problem, a copy of the method,
θ_0 and a minibatch seed each) advance one step together, so that the problem oracles are a few
batched array operations per step for all replicas instead of R small ones.

Per replica r and step t (the loop of ``reference.loop``):

    g_i = ∇ℓ_i(θ_{t−1});   α_t = method_r.step(ℓ(θ_{t−1}), g, [E(θ_{t−1})])
    θ_t = Π_Θ(θ_{t−1} − η_t Σ_i α_t,i g_i)

Each replica gets its own deep copy of the method, called exactly as ``run`` calls it (copies of
its inputs; its weights checked by ``checked_weights``), so a method that keeps state in ``self``
behaves as if it had a fresh instance per run. The result of replica r equals
``run(problems[r], method, steps, theta0=theta0[r], seed=seeds[r], ...)`` to round-off: the
oracles are the same formulas, summed in another order (``tests/test_lockstep.py`` asserts
1e-10 on every recorded array).

Oracles, for a stack of ``MultiTaskProblem``s (or ``AbsoluteLossProblem``s) of one loss, shape
and λ:

* linear, full batch: the sufficient statistics H_i = X_iᵀX_i/n + λI and b_i = X_iᵀy_i/n, so a
  step costs O(m·d²) whatever n: g_i = H_i θ − b_i, E_i = ½ (θ − θ_i^*)ᵀ H_i (θ − θ_i^*) (the
  reference's exact quadratic form) and ℓ_i = ℓ_i^* + E_i;
* logistic, full batch: z = X_i θ for all replicas in one matrix product, and g_i = X_iᵀr/n;
* the tanh network (``TanhNetProblem``, no optimum, so E is NaN): forward and backward passes
  for all replicas at once;
* LAD (``AbsoluteLossProblem``): z = X_i θ in one matrix product, the subgradient
  X_iᵀ sign(z − y_i)/n;
* minibatches (any loss): the rows each replica's own ``MinibatchSampler`` draws, gathered for
  all replicas at once.

A method may also offer the optional batched protocol (``offers_batch``): ``init_states(n_tasks,
dim, replicas)`` and ``step_batch(state, losses (R, m), grads (R, m, d), *, excess=None)``
returning (R, m) weights, so that one call per step serves every replica (a replica's rows are
its own: the method must treat the rows independently).

Anything else (other problem types, a method that needs Hessians, one that cannot be copied)
is not lockstepped: ``lockstep_supported`` says so and the callers run replica by replica.

A replica that diverges (a non-finite θ, loss or weight; a ``FloatingPointError`` in the method;
a final loss ``DIVERGENCE_FACTOR`` above its start) stops alone: its entry of the result is the
exception (a ``DivergenceError``, the method's ``FloatingPointError`` or a
``DivergenceWarning``), where ``run`` would have raised or warned. Every other exception (a
``UserMethodError``, a bug) propagates at once.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Protocol, cast

import numpy as np
from scipy.special import expit

from . import _validate as v
from .loop import (DIVERGENCE_FACTOR, DivergenceError, DivergenceWarning, Problem, Trajectory,
                   _step, checked_weights)
from .absolute import AbsoluteLossProblem
from .nonconvex import TanhNetProblem
from .problems import MultiTaskProblem
from .sampling import MinibatchSampler, SamplerKind
from .weighting import WeightingMethod

__all__ = ["BatchedWeightingMethod", "lockstep_supported", "offers_batch", "run_lockstep"]


class BatchedWeightingMethod(WeightingMethod, Protocol):
    """A method that also offers the optional batched protocol (``offers_batch``): one call per
    step for R replicas, on arrays with a leading replica axis."""

    def init_states(self, n_tasks: int, dim: int, replicas: int) -> object: ...

    def step_batch(self, state: object, losses: np.ndarray, grads: np.ndarray, *,
                   excess: np.ndarray | None = None, hessians: np.ndarray | None = None
                   ) -> tuple[object, np.ndarray]: ...


def _copies(method: WeightingMethod, count: int) -> list[WeightingMethod] | None:
    try:
        return [copy.deepcopy(method) for _ in range(count)]
    except Exception:  # noqa: BLE001 - a method holding a lock, a file, a device handle
        return None


def lockstep_supported(problems: Sequence[object], method: object) -> bool:
    """Whether ``run_lockstep`` can run these replicas: ``MultiTaskProblem``s of one loss, one
    shape and one λ, and a method that needs no Hessians and can be deep-copied."""
    if not problems or not all(type(p) in KINDS for p in problems):
        return False
    ps = cast("list[Problem]", list(problems))       # exactly of the KINDS (no subclass)
    p0 = ps[0]
    if any(_kind(p) != _kind(p0) or p.X.shape != p0.X.shape or _l2(p) != _l2(p0)
           or getattr(p, "hidden", None) != getattr(p0, "hidden", None) for p in ps):
        return False
    try:
        needs = v.method_needs("method", method)
    except (TypeError, ValueError):
        return False
    if "excess" in needs and type(p0) is TanhNetProblem:
        return False                         # no optimum, no excess risk: reference.run says so
    return "hessians" not in needs and _copies(cast(WeightingMethod, method), 1) is not None


KINDS = (MultiTaskProblem, AbsoluteLossProblem, TanhNetProblem)


def _l2(problem: object) -> float:
    return float(getattr(problem, "l2", 0.0))


def _kind(problem: Problem) -> str:
    return "tanh" if isinstance(problem, TanhNetProblem) else problem.loss


class _Oracles:
    """Batched ℓ, ∇ℓ and E for replicas r whose problem is ``problems[owner[r]]``."""

    def __init__(self, problems: list[Problem], owner: np.ndarray) -> None:
        p0 = problems[0]
        self.loss, self.l2, self.owner = _kind(p0), _l2(p0), owner
        self.hidden = getattr(p0, "hidden", 0)
        self.X = np.stack([p.X for p in problems])                     # (P, m, n, d)
        self.y = np.stack([p.y for p in problems])                     # (P, m, n)
        exact = [p for p in problems if not isinstance(p, TanhNetProblem)]   # all or none
        self.opt = np.stack([p.optimal_losses for p in exact]) if self.loss != "tanh" \
            else np.full((len(problems), p0.n_tasks), np.nan)            # (P, m)
        P, m, n, d = self.X.shape
        self.m, self.n, self.d = m, n, d
        if self.loss == "linear":
            eye = self.l2 * np.eye(d)
            self.H = np.einsum("pmnd,pmne->pmde", self.X, self.X) / n + eye    # (P, m, d, d)
            self.b = np.einsum("pmnd,pmn->pmd", self.X, self.y) / n            # (P, m, d)
            self.star = np.stack([p.optimal_params for p in exact])            # (P, m, d)
            self.H_r, self.b_r, self.star_r = self.H[owner], self.b[owner], self.star[owner]
        self.opt_r = self.opt[owner]
        self.single = P == 1
        self.identity = bool(np.array_equal(owner, np.arange(P)))

    def _per_replica(self, a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``a[owner[rows]]`` for an array with a leading problem axis, without a copy when every
        replica is live and each has its own problem (the common cases: no gather per step)."""
        if self.single:
            return a[:1]                                   # broadcast over the replica axis
        return a if rows.size == self.owner.size and self.identity else a[self.owner[rows]]

    def full(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """(losses (R, m), grads (R, m, d), excess (R, m)) on the full training set, at θ of the
        replicas ``rows``."""
        reg = 0.5 * self.l2 * np.einsum("rd,rd->r", theta, theta)[:, None]
        opt = self.opt_r if rows.size == self.owner.size else self.opt_r[rows]
        if self.loss == "linear":
            full = rows.size == self.owner.size
            H = self.H_r if full else self.H_r[rows]
            b = self.b_r if full else self.b_r[rows]
            star = self.star_r if full else self.star_r[rows]
            g = np.matmul(H, theta[:, None, :, None])[..., 0] - b           # (R, m, d)
            delta = theta[:, None, :] - star
            excess = 0.5 * np.einsum("rmd,rmd->rm", np.matmul(H, delta[..., None])[..., 0],
                                     delta)
            return opt + excess, g, excess
        R, m, n, d = rows.size, self.m, self.n, self.d
        if self.loss == "tanh":
            losses, g = self._tanh(theta, self._per_replica(self.X, rows),
                                   self._per_replica(self.y, rows))
            return losses, g, np.full_like(losses, np.nan)
        if self.loss == "absolute":
            X, y = self._per_replica(self.X, rows), self._per_replica(self.y, rows)
            res = np.matmul(X, theta[:, None, :, None])[..., 0] - y          # (R, m, n)
            losses = np.mean(np.abs(res), axis=2)
            g = np.matmul(np.sign(res)[:, :, None, :], X)[:, :, 0, :] / n
            return losses, g, losses - opt
        if self.single:
            X, y = self.X[0], self.y[0]                                  # (m, n, d), (m, n)
            z = (X.reshape(m * n, d) @ theta.T).reshape(m, n, R).transpose(2, 0, 1)
            soft, r = _softplus_sigmoid(z)
            r -= y
            g = np.matmul(r.transpose(1, 0, 2), X).transpose(1, 0, 2)    # (R, m, d)
        else:
            X, y = self._per_replica(self.X, rows), self._per_replica(self.y, rows)
            z = np.matmul(X.reshape(R, m * n, d), theta[:, :, None]).reshape(R, m, n)
            soft, r = _softplus_sigmoid(z)
            r -= y
            g = np.matmul(r[:, :, None, :], X)[:, :, 0, :]
        losses = np.mean(soft - y * z, axis=2) + reg
        g = g / n + self.l2 * theta[:, None, :]
        return losses, g, losses - opt

    def batch(self, theta: np.ndarray, rows: np.ndarray, idx: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """(losses (R, m), grads (R, m, d)) on the minibatch rows idx (R, m, b)."""
        p = self.owner[rows][:, None, None]
        task = np.arange(self.m)[None, :, None]
        X, y = self.X[p, task, idx], self.y[p, task, idx]                # (R, m, b, d), (R, m, b)
        if self.loss == "tanh":
            return self._tanh(theta, X, y)
        z = np.einsum("rmbd,rd->rmb", X, theta)
        reg = 0.5 * self.l2 * np.einsum("rd,rd->r", theta, theta)[:, None]
        if self.loss == "linear":
            res = z - y
            losses = 0.5 * np.mean(res ** 2, axis=2) + reg
        elif self.loss == "absolute":
            res = np.sign(z - y)
            losses = np.mean(np.abs(z - y), axis=2)
        else:
            res = expit(z) - y
            losses = np.mean(np.logaddexp(0.0, z) - y * z, axis=2) + reg
        g = np.einsum("rmb,rmbd->rmd", res, X) / idx.shape[2] + self.l2 * theta[:, None, :]
        return losses, g


    def _tanh(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """ℓ_i and backpropagated ∇ℓ_i of the tanh network θ = (W, v) (``TanhNetProblem``) on
        rows X (R or 1, m, n, p), y: a = tanh(W x), r = vᵀa − y, ∂ℓ/∂v = (1/n) Σ r a,
        ∂ℓ/∂W = (1/n) Σ r (v ⊙ (1 − a²)) xᵀ."""
        h, p = self.hidden, X.shape[-1]
        R = theta.shape[0]
        W, vv = theta[:, :h * p].reshape(R, 1, h, p), theta[:, h * p:]
        a = np.tanh(np.matmul(X, W.transpose(0, 1, 3, 2)))                   # (R, m, n, h)
        r = np.matmul(a, vv[:, None, :, None])[..., 0] - y                    # (R, m, n)
        n = X.shape[2]
        gv = np.matmul(r[:, :, None, :], a)[:, :, 0, :] / n                 # (R, m, h)
        delta = r[..., None] * (1.0 - a * a) * vv[:, None, None, :]         # (R, m, n, h)
        gW = np.matmul(delta.transpose(0, 1, 3, 2), X) / n                  # (R, m, h, p)
        losses = 0.5 * np.mean(r * r, axis=2)
        return losses, np.concatenate([gW.reshape(R, self.m, h * p), gv], axis=2)


def _softplus_sigmoid(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log(1 + e^z), σ(z)) from one exponential e = e^{−|z|}: softplus = max(z, 0) + log1p(e),
    σ = 1/(1 + e) for z >= 0 and e/(1 + e) below (both exact to a few ulps, no overflow; the
    reference's ``logaddexp(0, z)`` and ``expit(z)`` cost three exponentials)."""
    e = np.exp(-np.abs(z))
    soft = np.maximum(z, 0.0) + np.log1p(e)
    inv = 1.0 / (1.0 + e)
    return soft, np.where(z >= 0, inv, e * inv)


def _project(theta: np.ndarray, center: np.ndarray, radius: float | None) -> np.ndarray:
    if radius is None:
        return theta
    delta = theta - center
    norm = np.sqrt(np.einsum("rd,rd->r", delta, delta))
    scale = np.where(norm <= radius, 1.0, radius / np.where(norm > 0, norm, 1.0))
    return center + delta * scale[:, None]


def run_lockstep(problems: Sequence[Problem], method: WeightingMethod, steps: int, *,
                 theta0: np.ndarray, lr: float, schedule: str = "constant",
                 project_radius: float | None = None, project_center: object = None,
                 batch_size: int | None = None, sampler: SamplerKind = "with_replacement",
                 seeds: Sequence[int] | None = None) -> list[Trajectory | BaseException]:
    """One ``Trajectory`` per replica r (problem ``problems[r]``, start ``theta0[r]``, minibatch
    stream ``seeds[r]``), or the exception that ended it (module docstring). The arguments mean
    what they mean for ``reference.loop.run``; check ``lockstep_supported`` first.

    A method that offers the batched protocol (``offers_batch``) is called once per step for all
    replicas; if one of them stops (diverges), the run is made again replica by replica, so that
    the others still get their trajectories."""
    def attempt(batch: bool) -> list[Trajectory | BaseException]:
        return _run(problems, method, steps, batch=batch, theta0=theta0, lr=lr,
                    schedule=schedule, project_radius=project_radius,
                    project_center=project_center, batch_size=batch_size, sampler=sampler,
                    seeds=seeds)

    try:
        return attempt(offers_batch(method))
    except _BatchBroken:
        return attempt(False)


def offers_batch(method: object) -> bool:
    """Whether ``method`` offers the optional batched protocol: ``init_states(n_tasks, dim,
    replicas)`` and ``step_batch(state, losses (R, m), grads (R, m, d), *, excess=None,
    hessians=None) -> (state, weights (R, m))``, one call for R independent replicas (its
    ``offers_batch`` attribute, where it has one, decides: a wrapper says whether what it wraps
    offers it)."""
    flag = getattr(method, "offers_batch", None)
    if isinstance(flag, bool):
        return flag
    return callable(getattr(method, "init_states", None)) and \
        callable(getattr(method, "step_batch", None))


class _BatchBroken(Exception):
    """A replica of a batched run stopped: run again one replica at a time."""


def _batch_step(method: BatchedWeightingMethod, label: str, t: int, state: object,
                losses: np.ndarray, grads: np.ndarray, extra: dict, R: int, m: int
                ) -> tuple[object, np.ndarray]:
    """``method.step_batch`` at step t (``loop._step``), its weights checked row by row
    (``checked_weights``)."""
    state, w = _step(method, label, t, state, losses, grads, extra, call="step_batch")
    try:
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise v.UserMethodError(f"method {label}: step_batch returned {type(w).__name__} as "
                                f"weights at step t={t}, not an ({R}, {m}) array") from None
    if w.shape != (R, m):
        raise v.UserMethodError(f"method {label}: step_batch returned weights of shape "
                                f"{getattr(w, 'shape', None)} at step t={t}, expected ({R}, {m}) "
                                "(one row per replica)")
    ok = np.isfinite(w.sum(axis=1)) & (w.min(axis=1) >= 0) & (w.sum(axis=1) > 0)
    for r in np.flatnonzero(~ok):                  # the per-row message of the serial loop
        checked_weights(method, w[r], m, t)
    return state, w


def _run(problems_in: Sequence[Problem], method: WeightingMethod, steps: int, *, batch: bool,
         theta0: np.ndarray, lr: float, schedule: str, project_radius: float | None,
         project_center: object, batch_size: int | None, sampler: SamplerKind,
         seeds: Sequence[int] | None) -> list[Trajectory | BaseException]:
    problems = list(problems_in)
    if not lockstep_supported(problems, method):
        raise TypeError("run_lockstep needs MultiTaskProblems of one loss, shape and λ, and a "
                        "method that needs no Hessians and can be deep-copied "
                        "(lockstep_supported); run them one by one with reference.run")
    v.method_protocol("method", method)
    T = v.positive_int("steps", steps)
    lr = v.real("lr", lr, low=0.0, low_open=True)
    if schedule not in ("constant", "inv_sqrt"):
        raise ValueError(f"schedule must be 'constant' or 'inv_sqrt', got {schedule!r}")
    R = len(problems)
    m, d = problems[0].n_tasks, problems[0].dim
    th = v.finite_array("theta0", theta0, shape=(R, d)).copy()
    center = np.zeros(d) if project_center is None else \
        v.finite_array("project_center", project_center, shape=(d,))
    radius = None if project_radius is None else \
        v.real("project_radius", project_radius, low=0.0, low_open=True)
    seed_list = [0] * R if seeds is None else \
        [v.positive_int("seeds", s, minimum=0) for s in seeds]
    if len(seed_list) != R:
        raise ValueError(f"seeds must have one entry per replica ({R}), got {len(seed_list)}")
    draws = None
    if batch_size is not None:
        draws = [MinibatchSampler(m, problems[0].n_samples, batch_size, sampler, s).next
                 for s in seed_list]
    needs = v.method_needs("method", method)
    label = v.method_label(method)
    uniq = list({id(p): p for p in problems}.values())     # each distinct problem once
    keys = {id(p): k for k, p in enumerate(uniq)}
    owner = np.array([keys[id(p)] for p in problems])
    oracles = _Oracles(uniq, owner)
    th = _project(th, center, radius)

    thetas = np.empty((T + 1, R, d))
    losses = np.empty((T + 1, R, m))
    excess = np.empty((T + 1, R, m))
    gnorms = np.empty((T + 1, R, m))
    weights = np.empty((T, R, m))
    estimates = np.full((T, R, m), np.nan)
    combined = np.empty((T, R))
    etas = lr * np.ones(T) if schedule == "constant" else lr / np.sqrt(np.arange(1, T + 1))
    methods = _copies(method, 1 if batch else R)   # each replica its own copy
    if methods is None:
        raise TypeError(f"method {label} cannot be deep-copied (lockstep_supported)")
    if batch:
        batched = cast(BatchedWeightingMethod, methods[0])  # offers_batch(method) said so
        batch_state = v.call_user(f"method {label}", "init_states", batched.init_states, m, d, R,
                                  every=False)
    else:
        states = [v.call_user(f"method {label}", "init_state", mk.init_state, m, d, every=False)
                  for mk in methods]
    failed: list[BaseException | None] = [None] * R
    live = np.arange(R)
    alpha = np.empty((R, m))
    for t in range(T + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            L, G, E = oracles.full(th[live], live)
        bad = ~(np.isfinite(L).all(axis=1) & np.isfinite(G).all(axis=(1, 2)))
        if bad.any():
            for kb in np.flatnonzero(bad):
                failed[live[kb]] = DivergenceError(
                    f"the losses or gradients became non-finite at θ_{t} (max |θ_j| = "
                    f"{np.max(np.abs(th[live[kb]])):.3g}): the θ-step diverged; lower lr "
                    f"(= {lr:g})")
            keep = ~bad
            live, L, G, E = live[keep], L[keep], G[keep], E[keep]
        thetas[t, live] = th[live]
        losses[t, live] = L
        excess[t, live] = E
        gnorms[t, live] = np.sqrt(np.einsum("rmd,rmd->rm", G, G))
        if t == T or live.size == 0:
            break
        seen, g = L, G
        if draws is not None:
            idx = np.stack([draws[r]() for r in live])
            seen, g = oracles.batch(th[live], live, idx)
        extra_excess = None
        if "excess" in needs:
            extra_excess = E if draws is None else seen - oracles.opt_r[live]
        keep = np.ones(live.size, dtype=bool)
        if batch:                                   # one call for every replica
            if live.size < R:                       # a replica stopped: the batch cannot shrink
                raise _BatchBroken
            kw = {} if extra_excess is None else {"excess": extra_excess.copy()}
            try:
                batch_state, a = _batch_step(batched, label, t + 1, batch_state, seen.copy(),
                                             g.copy(), kw, R, m)
            except FloatingPointError as exc:
                raise _BatchBroken from exc
            alpha[:] = a
            est = getattr(batch_state, "estimate", None)
            if est is not None:
                estimates[t] = est
        for k, r in enumerate(live.tolist() if not batch else []):
            extra = {} if extra_excess is None else {"excess": extra_excess[k].copy()}
            try:
                states[r], w_r = _step(methods[r], label, t + 1, states[r], seen[k].copy(),
                                       g[k].copy(), extra)
                alpha[r] = checked_weights(methods[r], w_r, m, t + 1)
            except FloatingPointError as exc:        # the method diverged (a finding)
                failed[r], keep[k] = exc, False
                continue
            est = getattr(states[r], "estimate", None)
            if est is not None:
                estimates[t, r] = est
        if not keep.all():
            live, g = live[keep], g[keep]
        if live.size == 0:
            break
        a = alpha[live]
        weights[t, live] = a
        direction = np.einsum("rm,rmd->rd", a, g)
        combined[t, live] = np.sqrt(np.einsum("rd,rd->r", direction, direction)) / a.sum(axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            th[live] = _project(th[live] - etas[t] * direction, center, radius)
        fin = np.isfinite(th[live]).all(axis=1)
        if not fin.all():
            for rf in live[~fin]:
                failed[rf] = DivergenceError(f"θ became non-finite at step {t + 1}: the θ-step "
                                            f"diverged; lower lr (= {lr:g})")
            live = live[fin]
    out: list[Trajectory | BaseException] = []
    for r in range(R):
        err = failed[r]
        if err is not None:
            out.append(err)
            continue
        start = max(1.0, float(np.max(np.abs(losses[0, r]))))
        if float(np.max(np.abs(losses[T, r]))) > DIVERGENCE_FACTOR * start:
            out.append(DivergenceWarning(
                f"the run diverged: max_i |ℓ_i| grew from {np.max(np.abs(losses[0, r])):.3g} at "
                f"θ_0 to {np.max(np.abs(losses[T, r])):.3g} at θ_{T}; lower lr (= {lr:g})"))
            continue
        out.append(Trajectory(
            method=repr(method), problem=repr(problems[r]), thetas=thetas[:, r].copy(),
            weights=weights[:, r].copy(), losses=losses[:, r].copy(),
            excess=excess[:, r].copy(), estimates=estimates[:, r].copy(),
            grad_norms=gnorms[:, r].copy(), step_sizes=etas.copy(),
            combined_grad_norms=combined[:, r].copy(), schedule=schedule, lr=lr,
            project_radius=radius, project_center=center,
            batch_size=None if draws is None or batch_size is None else int(batch_size),
            sampler=None if draws is None else sampler,
            seed=None if draws is None else int(seed_list[r])))
    return out
