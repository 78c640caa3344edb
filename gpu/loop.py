"""The batched loop: ``reference.loop.run`` for B replicas at once, on NumPy or CuPy.

Per step, for all replicas b: α_t = method.step(ℓ(θ_{t−1}), g, [E, H]),
θ_t = Π(θ_{t−1} − η_t Σ_i α_t,i g_i). θ and the weights are float64 whatever the data dtype.

On NumPy with numba installed, ``record="final"`` full-batch runs of float64 logistic problems by
ExcessMTL ('adagrad', 'exact'), GroupDRO or EqualWeights run as compiled code, one replica at a
time per thread, all T steps while the replica's data is in cache (``gpu.cpu_fused.run_final``).
The steps and the records are the same; tests/test_cpu_fused.py checks it against this loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import reference as R
from reference.loop import Trajectory, step_size

from . import backend as bk
from . import cpu_fused
from .problems import BatchedProblem, replica_index
from .weighting import BASELINE_ERROR, BatchedMethod, batched


@dataclass(frozen=True)
class BatchedTrajectory:
    """Host arrays with a replica axis after the time axis: thetas (T+1, B, d), weights (T, B, m),
    losses/excess/grad_norms (T+1, B, m), estimates (T, B, m), step_sizes (T,),
    combined_grad_norms (T, B). With ``record="final"`` the time axis has length 1 (the end)."""

    method: str
    problem: str
    thetas: np.ndarray
    weights: np.ndarray
    losses: np.ndarray
    excess: np.ndarray
    estimates: np.ndarray
    grad_norms: np.ndarray
    step_sizes: np.ndarray
    combined_grad_norms: np.ndarray
    schedule: str
    lr: float
    project_radius: float | None
    record: str
    project_center: np.ndarray | None = None

    def replica(self, b: int) -> Trajectory:
        """Replica ``b`` as a reference ``Trajectory`` (``record="full"`` only)."""
        if self.record != "full":
            raise ValueError("replica() needs a run with record='full'")
        b = replica_index(b, self.weights.shape[1], "b")
        return Trajectory(method=self.method, problem=self.problem, thetas=self.thetas[:, b],
                          weights=self.weights[:, b], losses=self.losses[:, b],
                          excess=self.excess[:, b], estimates=self.estimates[:, b],
                          grad_norms=self.grad_norms[:, b], step_sizes=self.step_sizes,
                          combined_grad_norms=self.combined_grad_norms[:, b],
                          schedule=self.schedule, lr=self.lr, project_radius=self.project_radius,
                          project_center=self.project_center)


def run_batched(problem: BatchedProblem, method: object, steps: int, *, lr: float = 0.1,
                schedule: str = "constant", theta0: object = None,
                project_radius: float | None = None, project_center: object = None,
                record: str = "full", batch_size: int | None = None,
                sampler: str = "with_replacement", seeds: object = None) -> BatchedTrajectory:
    """Run ``method`` (a reference method or its batched form) on every replica of ``problem``.

    ``batch_size`` b runs the stochastic regime of ``reference.run``: replica r draws its
    minibatches from its own stream ``default_rng(seeds[r])`` (default seeds 0, 1, …, B−1), index
    for index as ``reference.run(..., seed=seeds[r])`` does."""
    if not isinstance(problem, BatchedProblem):
        raise TypeError(f"problem must be a gpu BatchedProblem, got {type(problem).__name__}")
    xp = problem.xp
    meth = method if isinstance(method, BatchedMethod) else batched(method, problem.backend)
    T = R._validate.positive_int("steps", steps)
    lr = R._validate.real("lr", lr, low=0.0, low_open=True)
    if schedule not in ("constant", "inv_sqrt"):
        raise ValueError(f"schedule must be 'constant' or 'inv_sqrt', got {schedule!r}")
    if record not in ("full", "final"):
        raise ValueError(f"record must be 'full' or 'final', got {record!r}")
    B, m, d = problem.shape
    theta = xp.zeros((B, d)) if theta0 is None else \
        xp.asarray(R._validate.finite_array("theta0", bk.to_numpy(theta0)))
    if theta.shape == (d,):
        theta = xp.broadcast_to(theta, (B, d)).copy()
    if theta.shape != (B, d):
        raise ValueError(f"theta0 must have shape ({d},) or ({B}, {d}), got {theta.shape}")
    radius = None if project_radius is None else \
        R._validate.real("project_radius", project_radius, low=0.0, low_open=True)

    center_host = np.zeros(d) if project_center is None else \
        R._validate.finite_array("project_center", bk.to_numpy(project_center), shape=(d,))
    center = xp.asarray(center_host)

    def project(th):
        if radius is None:
            return th
        delta = th - center
        nrm = xp.linalg.norm(delta, axis=1, keepdims=True)
        return center + delta * xp.minimum(1.0, radius / xp.maximum(nrm, 1e-300))

    theta = project(theta)
    if type(meth) is BatchedMethod and cpu_fused.supports_run(problem, meth.ref, record=record,
                                                              batch_size=batch_size):
        return _run_compiled(problem, meth, T, lr, schedule, theta, radius, center_host)
    draws = None
    if batch_size is not None:
        seeds = list(range(B)) if seeds is None else list(seeds)
        if len(seeds) != B:
            raise ValueError(f"seeds must give one sampler seed per replica ({B}), got "
                             f"{len(seeds)}")
        draws = [R.sampling.MinibatchSampler(m, problem.n_samples, batch_size, sampler, s).next
                 for s in seeds]
    full = record == "full"
    n_rec = T + 1 if full else 1
    thetas = xp.empty((n_rec, B, d))
    losses = xp.empty((n_rec, B, m))
    excess = xp.full((n_rec, B, m), xp.nan)
    gnorms = xp.empty((n_rec, B, m))
    weights = xp.empty((T if full else 1, B, m))
    estimates = xp.full((T if full else 1, B, m), xp.nan)
    combined = xp.empty((T if full else 1, B))
    etas = np.empty(T)
    need_excess = "excess" in meth.needs
    # the losses of a step are needed to record them, for E = ℓ − ℓ*, or by a loss-based method;
    # without them the fused CPU pass skips a log1p per row
    need_losses = full or need_excess or meth.uses_losses or draws is not None
    state = meth.init_state(B, m, d)
    # non-finite values are diagnosed once, at the end (no per-step device sync)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(T + 1):
            loss, g = problem._losses_and_grads(theta, want_loss=need_losses or t == T)
            g = g.astype(xp.float64, copy=False)
            rec = t if full else 0
            if full or t == T:
                thetas[rec] = theta
                losses[rec] = loss
                gnorms[rec] = xp.linalg.norm(g, axis=-1)
            ex = problem.excess_given_losses(theta, loss) if (need_excess or full or t == T) \
                else None
            if ex is not None and (full or t == T):
                excess[rec] = ex
            if t == T:
                break
            extra = {}
            if draws is not None:
                idx = np.stack([draw() for draw in draws])
                loss, g = problem.minibatch_losses_and_grads(theta, idx)
                g = g.astype(xp.float64, copy=False)
                if need_excess:
                    ex = loss.astype(xp.float64) - problem.optimal_losses
            if need_excess:
                extra["excess"] = ex
            if "hessians" in meth.needs:
                H = problem.hessians(theta) if draws is None else \
                    problem.minibatch_hessians(theta, idx)
                extra["hessians"] = H.astype(xp.float64)
            state, alpha = meth.step(state, None if loss is None else loss.astype(xp.float64),
                                     g, **extra)
            direction = xp.einsum("bm,bmd->bd", alpha, g)
            w = t if full else 0
            if full or t == T - 1:
                weights[w] = alpha
                if state.estimate is not None:
                    estimates[w] = state.estimate
                combined[w] = xp.linalg.norm(direction, axis=1) / xp.sum(alpha, axis=1)
            etas[t] = step_size(lr, schedule, t + 1)
            theta = project(theta - etas[t] * direction)
    if not (bool(xp.all(xp.isfinite(theta))) and bool(xp.all(xp.isfinite(alpha)))):
        raise R.DivergenceError(_divergence_cause(bk.to_numpy(losses), bk.to_numpy(weights),
                                                  full, lr))
    h = bk.to_numpy
    return BatchedTrajectory(method=repr(meth.ref), problem=repr(problem), thetas=h(thetas),
                             weights=h(weights), losses=h(losses), excess=h(excess),
                             estimates=h(estimates), grad_norms=h(gnorms), step_sizes=etas,
                             combined_grad_norms=h(combined), schedule=schedule, lr=lr,
                             project_radius=radius, record=record, project_center=center_host)


def _run_compiled(problem: BatchedProblem, meth: BatchedMethod, T: int, lr: float,
                  schedule: str, theta: np.ndarray, radius: float | None,
                  center: np.ndarray) -> BatchedTrajectory:
    """``run_batched(..., record="final")`` as one compiled run per replica
    (``gpu.cpu_fused.run_final``): the same steps and the same records, the same errors."""
    etas = np.array([step_size(lr, schedule, t + 1) for t in range(T)], dtype=np.float64)
    rec = cpu_fused.run_final(problem, meth.ref, theta, etas, center, radius)
    if rec["bad_baseline"].any():
        raise ValueError(BASELINE_ERROR)
    if not (np.all(np.isfinite(rec["thetas"])) and np.all(np.isfinite(rec["weights"]))):
        raise R.DivergenceError(_divergence_cause(rec["losses"], rec["weights"], False, lr))
    return BatchedTrajectory(method=repr(meth.ref), problem=repr(problem), thetas=rec["thetas"],
                             weights=rec["weights"], losses=rec["losses"], excess=rec["excess"],
                             estimates=rec["estimates"], grad_norms=rec["grad_norms"],
                             step_sizes=etas, combined_grad_norms=rec["combined_grad_norms"],
                             schedule=schedule, lr=lr, project_radius=radius, record="final",
                             project_center=center)


def _divergence_cause(losses: np.ndarray, weights: np.ndarray, full: bool, lr: float) -> str:
    """Which went non-finite first: the losses (the θ-step: lr) or the weights (the method)."""
    head = "θ or the weights became non-finite in some replica"
    if not full:
        return (f"{head}: lower lr (= {lr:g}) if the θ-step diverged, or check the method's η_α "
                "and scale-processing baseline (run with record='full' to tell which)")
    bad_l = np.flatnonzero(~np.all(np.isfinite(losses), axis=(1, 2)))
    bad_w = np.flatnonzero(~np.all(np.isfinite(weights), axis=(1, 2)))
    t_l = int(bad_l[0]) if bad_l.size else np.inf      # θ_t
    t_w = int(bad_w[0]) + 1 if bad_w.size else np.inf   # α_t is computed at θ_{t-1}
    if t_w <= t_l:
        return (f"{head}: the weights returned at step {t_w} are not finite while the losses "
                "were: the weighting method overflowed (its η_α, or a tiny scale-processing "
                "baseline), not the θ-step")
    return (f"{head}: the losses became non-finite at θ_{t_l}: the θ-step diverged; "
            f"lower lr (= {lr:g})")


def run(problem: BatchedProblem, method: object, steps: int, **kwargs: object) -> Trajectory:
    """The reference's ``run`` signature on a one-replica batch; returns a reference Trajectory."""
    if problem.n_replicas != 1:
        raise ValueError("gpu.run takes a one-replica problem; use run_batched for B > 1")
    return run_batched(problem, method, steps, record="full", **kwargs).replica(0)
