"""Batched multi-task problems: B independent replicas of m tasks sharing θ_b ∈ R^d.

Arrays carry a leading replica axis: θ (B, d), losses (B, m), grads (B, m, d).

* Linear regression keeps only per-task sufficient statistics, A_i = X_iᵀX_i/n, b_i = X_iᵀy_i/n and
  c_i = y_iᵀy_i/(2n). Then ℓ_i(θ) = ½θᵀA_iθ − b_iᵀθ + c_i + (λ/2)‖θ‖², and a step costs O(m·d²)
  whatever n is.
* LAD regression ("absolute", ``reference.AbsoluteLossProblem``, the tight family) reads X once per
  step: ℓ_i = mean|Xθ − y|, subgradient Xᵀsign(Xθ − y)/n. Its optima are linear programs, solved
  per replica on the host by the reference.
* Logistic regression reads X once per step. On CuPy a fused kernel (``gpu.kernels``) computes
  the losses and the gradients in one pass over X; on NumPy the numba kernel of ``gpu.cpu_fused``
  does, where numba is installed (the ``fast`` extra) and ``EXCESSMTL_ORACLE_NO_NUMBA`` is unset.
  Otherwise (and as the "two-pass" baseline, ``fused=False``) it uses z = Xθ followed by
  Xᵀ(σ(z) − y).

The maths is that of ``reference.problems`` (see its docstring and docs/sources.md §S1.5). The
optima θ_i* and ℓ_i* are solved on the device: a batched solve for linear regression, batched
damped Newton to ‖∇‖ ≤ 1e-12 in float64 for logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

import reference as R

from . import backend as bk
from . import cpu_fused


@dataclass(frozen=True, eq=False)
class BatchedProblem:
    loss: str                     # "linear" | "logistic" | "absolute"
    backend: str
    dtype: str
    n_samples: int
    l2: float
    A: object = None              # linear: (B, m, d, d)
    b: object = None              # linear: (B, m, d)
    c: object = None              # linear: (B, m)
    X: object = None              # logistic, and linear for minibatches: (B, m, n, d)
    y: object = None              # logistic, and linear for minibatches: (B, m, n)
    fused: bool = True            # logistic: the fused pass (CUDA kernel, or numba on NumPy)

    @property
    def xp(self):
        return bk.namespace(self.backend)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(B, m, d)."""
        arr = self.b if self.loss == "linear" else self.X
        return arr.shape[0], arr.shape[1], arr.shape[-1]

    @property
    def n_replicas(self) -> int:
        return self.shape[0]

    @property
    def n_tasks(self) -> int:
        return self.shape[1]

    @property
    def dim(self) -> int:
        return self.shape[2]

    def __repr__(self) -> str:
        B, m, d = self.shape
        return (f"BatchedProblem(loss={self.loss!r}, replicas={B}, n_tasks={m}, dim={d}, "
                f"n_samples={self.n_samples}, l2={self.l2}, backend={self.backend!r}, "
                f"dtype={self.dtype!r})")

    # ------------------------------------------------------------------ oracles
    def _theta(self, theta: object) -> object:
        xp = self.xp
        th = xp.asarray(theta, dtype=bk.dtype_of(self.dtype))
        B, m, d = self.shape
        if th.shape not in ((B, d), (B, m, d)):
            raise ValueError(f"theta must have shape ({B}, {d}) (or ({B}, {m}, {d}) per task), "
                             f"got {th.shape}")
        return th

    def _per_task(self, th: object) -> object:
        return th if th.ndim == 3 else self.xp.broadcast_to(th[:, None, :], self.shape)

    def losses_and_grads(self, theta: object) -> tuple[object, object]:
        """(ℓ (B, m), ∇ℓ (B, m, d)) in one pass over the data."""
        return self._losses_and_grads(theta, want_loss=True)

    def _losses_and_grads(self, theta: object, *, want_loss: bool) -> tuple[object, object]:
        """``losses_and_grads``; with ``want_loss=False`` the fused CPU pass skips the losses and
        returns None for them (the gradients are the same). Logistic losses use a fused pass
        where there is one (``fused=True``): the CUDA kernel on CuPy (``gpu.kernels``), the
        numba kernel on NumPy where numba is installed (``gpu.cpu_fused``); otherwise the
        two-pass NumPy path ``_data_terms``."""
        xp = self.xp
        th = self._theta(theta)
        th_task = self._per_task(th)
        if self.loss == "linear":
            reg = 0.5 * self.l2 * xp.sum(th_task * th_task, axis=-1)
            At = xp.einsum("bmde,bme->bmd", self.A, th_task)
            loss = 0.5 * xp.sum(th_task * At, axis=-1) - xp.sum(self.b * th_task, axis=-1) + \
                self.c + reg
            return loss, At - self.b + self.l2 * th_task
        fused_cpu = False
        if self.fused and self.loss == "logistic" and bk.is_cupy(xp):
            from .kernels import logistic_loss_grad
            loss, grad = logistic_loss_grad(self.X, self.y, th_task)
        elif self.fused and self.loss == "logistic" and cpu_fused.available():
            fused_cpu = True
            loss, grad = cpu_fused.logistic_loss_grad(
                self.X, self.y, th[:, None, :] if th.ndim == 2 else th, want_loss=want_loss)
        else:
            loss, grad = self._data_terms(self.X, self.y, th_task)
        grad = grad + self.l2 * th_task
        if fused_cpu and not want_loss:
            return None, grad
        return loss + 0.5 * self.l2 * xp.sum(th_task * th_task, axis=-1), grad

    def _data_terms(self, X: object, y: object, th: object) -> tuple[object, object]:
        """The data part of (ℓ, ∇ℓ) on sample rows X (B, m, k, d), y (B, m, k): the mean loss
        and its gradient, without the λ term (the two-pass path: z = Xθ, then Xᵀ(r))."""
        xp = self.xp
        z = (X @ th[..., None])[..., 0]                                      # (B, m, k)
        if self.loss == "linear":
            loss, r = 0.5 * xp.mean((z - y) ** 2, axis=-1), z - y
        elif self.loss == "absolute":
            loss, r = xp.mean(xp.abs(z - y), axis=-1), xp.sign(z - y)
        else:     # one exp for both: softplus(z) = max(z, 0) + log1p(e), σ(z) from e = e^{−|z|}
            e = xp.exp(-xp.abs(z))
            inv = 1.0 / (1.0 + e)
            loss = xp.mean(xp.maximum(z, 0.0) + xp.log1p(e) - y * z, axis=-1)
            r = xp.where(z >= 0, inv, e * inv) - y
        return loss, (xp.swapaxes(X, -1, -2) @ r[..., None])[..., 0] / X.shape[2]

    def _hessians_on(self, X: object, th: object) -> object:
        """∇²ℓ_i on sample rows X (B, m, k, d): XᵀWX/k + λI, W = 1 (linear) or σ(1 − σ)."""
        xp = self.xp
        if self.loss == "absolute":
            raise ValueError("LAD (absolute) losses have no Hessian: a method that needs "
                             "hessians cannot run on them")
        if self.loss == "linear":
            Xw = X
        else:
            p = 1.0 / (1.0 + xp.exp(-(X @ th[..., None])[..., 0]))
            Xw = X * (p * (1.0 - p))[..., None]
        return xp.swapaxes(Xw, -1, -2) @ X / X.shape[2] + \
            self.l2 * xp.eye(self.dim, dtype=th.dtype)

    def _rows(self, idx: object) -> tuple[object, object]:
        """(X_B, y_B): replica b, task i restricted to its sample indices idx[b, i] (B, m, k)."""
        if self.X is None:
            raise ValueError("batch_size: minibatches need the samples X, y, and this linear "
                             "problem keeps only its sufficient statistics; build it with "
                             "keep_samples=True")
        xp = self.xp
        ix = xp.asarray(idx)
        return xp.take_along_axis(self.X, ix[..., None], axis=2), \
            xp.take_along_axis(self.y, ix, axis=2)

    def minibatch_losses_and_grads(self, theta: object, idx: object) -> tuple[object, object]:
        """(ℓ_B (B, m), ∇ℓ_B (B, m, d)) on the sample indices ``idx`` (B, m, k): the reference's
        ``losses(θ, idx)`` and ``grads(θ, idx)`` per replica."""
        th = self._per_task(self._theta(theta))
        loss, grad = self._data_terms(*self._rows(idx), th)
        return loss + 0.5 * self.l2 * self.xp.sum(th * th, axis=-1), grad + self.l2 * th

    def minibatch_hessians(self, theta: object, idx: object) -> object:
        """∇²ℓ_{i,B} per replica, (B, m, d, d)."""
        return self._hessians_on(self._rows(idx)[0], self._per_task(self._theta(theta)))

    def losses(self, theta: object) -> object:
        return self.losses_and_grads(theta)[0]

    def grads(self, theta: object) -> object:
        return self.losses_and_grads(theta)[1]

    def hessians(self, theta: object) -> object:
        """∇²ℓ_i, (B, m, d, d)."""
        th = self._per_task(self._theta(theta))
        if self.loss == "linear":
            return self.A + self.l2 * self.xp.eye(self.dim, dtype=th.dtype)
        return self._hessians_on(self.X, th)

    @cached_property
    def _lad_replicas(self) -> list[R.AbsoluteLossProblem]:
        """LAD: each replica as a reference problem, built once (its LP optima are cached)."""
        return [R.AbsoluteLossProblem(bk.to_numpy(self.X[b]).astype(float),
                                      bk.to_numpy(self.y[b]).astype(float))
                for b in range(self.n_replicas)]

    def _lp_optima(self) -> tuple[object, object]:
        """LAD: each replica's exact optima from the reference's linear programs."""
        reps = self._lad_replicas
        xp = self.xp
        return (xp.asarray(np.stack([r.optimal_params for r in reps])),
                xp.asarray(np.stack([r.optimal_losses for r in reps])))

    # ------------------------------------------------------------------- optima
    @cached_property
    def _optima(self) -> tuple[object, object]:
        xp = self.xp
        B, m, d = self.shape
        if self.loss == "linear":
            H = (self.A + self.l2 * xp.eye(d)).astype(xp.float64)
            try:
                theta = xp.linalg.solve(H, self.b.astype(xp.float64)[..., None])[..., 0]
                ok = bool(xp.all(xp.isfinite(theta)))       # CuPy returns NaN instead of raising
            except np.linalg.LinAlgError:
                ok = False
            if not ok:
                raise ValueError("a task's Hessian is singular (n < d with l2 = 0): the gpu mirror "
                                 "needs l2 > 0 there")
            return theta, self._f64().losses_and_grads(theta)[0]
        if self.loss == "absolute":
            return self._lp_optima()
        return _newton_per_task(self._f64())

    def _f64(self) -> BatchedProblem:
        """The same problem in float64 (optima are always computed in float64)."""
        if self.dtype == "float64":
            return self
        xp = self.xp
        conv = {k: (None if getattr(self, k) is None else getattr(self, k).astype(xp.float64))
                for k in ("A", "b", "c", "X", "y")}
        return BatchedProblem(self.loss, self.backend, "float64", self.n_samples, self.l2,
                              fused=self.fused, **conv)

    @property
    def optimal_params(self) -> object:
        """θ_i* per replica and task, (B, m, d), float64."""
        return self._optima[0]

    @property
    def optimal_losses(self) -> object:
        """ℓ_i*, (B, m), float64."""
        return self._optima[1]

    def excess_risks(self, theta: object) -> object:
        """E_i(θ), (B, m): the exact quadratic form ½δᵀHδ for linear regression (as the reference),
        ℓ_i(θ) − ℓ_i* for logistic regression."""
        xp = self.xp
        th = self._theta(theta)
        if self.loss == "linear":
            delta = self._per_task(th).astype(xp.float64) - self.optimal_params
            H = (self.A + self.l2 * xp.eye(self.dim)).astype(xp.float64)
            return 0.5 * xp.einsum("bmd,bmde,bme->bm", delta, H, delta)
        return self.losses(th).astype(xp.float64) - self.optimal_losses

    def excess_given_losses(self, theta: object, losses: object) -> object:
        """E_i(θ), (B, m), reusing ``losses`` = ℓ(θ) just computed where E = ℓ − ℓ* (logistic,
        LAD): the same numbers as ``excess_risks(θ)`` without a second pass over the data."""
        if self.loss == "linear":
            return self.excess_risks(theta)
        return self.xp.asarray(losses).astype(self.xp.float64) - self.optimal_losses

    def replica(self, index: int) -> R.MultiTaskProblem:
        """Replica ``index`` as a reference problem, for the host-side exact oracles.

        Logistic: the replica's own data. Linear: only A = XᵀX/n and b = Xᵀy/n are kept, so this
        is the d-row twin X' = √d·Lᵀ, y' = √d·L⁻¹b (A = LLᵀ). It has the same A and b, hence the
        same θ_i*, gradients, Hessians and **excess risks**; its losses differ from the original
        ones by a per-task constant. Every oracle built on excess risks or on loss differences
        (min–max, duality gap, dominance, Pareto front) is therefore exact on it.
        """
        index = replica_index(index, self.n_replicas)
        if self.loss == "absolute":
            return self._lad_replicas[index]
        if self.loss == "logistic":
            return R.problem_from_arrays("logistic", bk.to_numpy(self.X[index]).astype(float),
                                         bk.to_numpy(self.y[index]).astype(float), l2=self.l2)
        A = bk.to_numpy(self.A[index]).astype(float)
        b = bk.to_numpy(self.b[index]).astype(float)
        d = A.shape[-1]
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError as exc:
            raise ValueError("replica(): a task's XᵀX/n is singular (n < d), so no d-row twin "
                             "exists") from exc
        X = np.sqrt(d) * np.swapaxes(L, -1, -2)                           # (m, d, d)
        y = np.sqrt(d) * np.linalg.solve(L, b[..., None])[..., 0]           # (m, d)
        return R.problem_from_arrays("linear", X, y, l2=self.l2)


def replica_index(index: object, n_replicas: int, name: str = "index") -> int:
    """``index`` as a replica number in [0, n_replicas), or an error naming it (``name``) and
    the valid range."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{name} must be an integer replica number in [0, {n_replicas}), got "
                        f"{index!r}")
    if not 0 <= index < n_replicas:
        raise IndexError(f"{name} {int(index)} is out of range: this batch has {n_replicas} "
                         f"replica(s), valid indices are 0 … {n_replicas - 1}")
    return int(index)


def _newton_per_task(p: BatchedProblem, gtol: float = 1e-12, max_iter: int = 100
                     ) -> tuple[object, object]:
    """Batched damped Newton on every ℓ_i separately, float64, to ‖∇ℓ_i‖ <= gtol."""
    xp = p.xp
    B, m, d = p.shape
    theta = xp.zeros((B, m, d))
    f, g = p.losses_and_grads(theta)
    for _ in range(max_iter):
        gn = xp.linalg.norm(g, axis=-1)
        if bool(xp.all(gn <= gtol)):
            break
        H = p.hessians(theta)
        step = -xp.linalg.solve(H, g[..., None])[..., 0]
        slope = xp.sum(g * step, axis=-1)
        t = xp.ones((B, m))
        active = gn > gtol
        for _ls in range(50):
            cand = theta + t[..., None] * step
            fc, _ = p.losses_and_grads(cand)
            ok = (fc <= f + 1e-4 * t * slope + 1e-15 * xp.abs(f)) | ~active
            if bool(xp.all(ok)):
                break
            t = xp.where(ok, t, 0.5 * t)
        theta = xp.where(active[..., None], theta + t[..., None] * step, theta)
        f, g = p.losses_and_grads(theta)
    gn = xp.linalg.norm(g, axis=-1)
    if not bool(xp.all(gn <= max(gtol, 1e-8))):
        raise RuntimeError(f"logistic optimum not reached (max ‖∇‖ = {float(xp.max(gn)):.3e}); "
                           "a separable task needs l2 > 0")
    return theta, f


# ------------------------------------------------------------------ builders
def from_reference(problems: list[R.MultiTaskProblem], *, backend: str = "numpy",
                   dtype: str = "float64", fused: bool = True, keep_samples: bool = False
                   ) -> BatchedProblem:
    """Stack reference problems of one shape (and one loss and l2) into B replicas.

    Linear problems keep only A, b, c (memory and full-batch steps independent of n) unless
    ``keep_samples``, which the stochastic regime (``run_batched(..., batch_size=b)``) needs."""
    if isinstance(problems, R.EXACT_PROBLEMS):
        problems = [problems]
    if not isinstance(problems, (list, tuple)) or not problems:
        raise TypeError("problems must be a non-empty list of reference MultiTaskProblem (or "
                        f"AbsoluteLossProblem), got {type(problems).__name__}")
    bad = [type(p).__name__ for p in problems if not isinstance(p, R.EXACT_PROBLEMS)]
    if bad:
        raise TypeError(f"problems must hold reference MultiTaskProblem or AbsoluteLossProblem "
                        f"only, got {bad[0]}")
    if not isinstance(fused, bool):
        raise TypeError(f"fused must be a bool, got {fused!r}")
    p0 = problems[0]
    l2 = getattr(p0, "l2", 0.0)
    for p in problems:
        if (p.loss, p.X.shape, getattr(p, "l2", 0.0)) != (p0.loss, p0.X.shape, l2):
            raise ValueError("problems must share loss, shape (m, n, d) and l2")
    xp = bk.namespace(backend)
    dt = bk.dtype_of(dtype)
    X = np.stack([p.X for p in problems])
    y = np.stack([p.y for p in problems])
    n = X.shape[2]
    if p0.loss == "linear":
        A = np.einsum("bmnd,bmne->bmde", X, X) / n
        b = np.einsum("bmnd,bmn->bmd", X, y) / n
        c = 0.5 * np.einsum("bmn,bmn->bm", y, y) / n
        return BatchedProblem("linear", backend, dtype, n, p0.l2, A=xp.asarray(A, dtype=dt),
                              b=xp.asarray(b, dtype=dt), c=xp.asarray(c, dtype=dt),
                              X=xp.asarray(X, dtype=dt) if keep_samples else None,
                              y=xp.asarray(y, dtype=dt) if keep_samples else None, fused=fused)
    return BatchedProblem(p0.loss, backend, dtype, n, l2, X=xp.asarray(X, dtype=dt),
                          y=xp.asarray(y, dtype=dt), fused=fused)


def _seeds(seeds: object) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty list of non-negative integers (one per "
                        f"replica), got {seeds!r}")
    return [R._validate.positive_int("seeds", s, minimum=0) for s in seeds]


def _per_replica(value: object, B: int, m: int, name: str) -> np.ndarray:
    arr = R._validate.finite_array(name, value)
    if arr.ndim <= 1:
        return np.broadcast_to(arr if arr.ndim else np.full(m, float(arr)), (B, m))
    if arr.shape != (B, m):
        raise ValueError(f"{name} must be a scalar, shape ({m},) or shape ({B}, {m}); got "
                         f"{arr.shape}")
    return arr


def make_linear_batch(n_tasks: int, dim: int, n_samples: int, *, seeds: list[int],
                      noise: object = 0.1, relatedness: float = 0.5, l2: float = 0.0,
                      backend: str = "numpy", dtype: str = "float64",
                      keep_samples: bool = False) -> BatchedProblem:
    """B = len(seeds) replicas, replica b = ``reference.make_linear_problem(..., seed=seeds[b])``
    with noise row ``noise[b]`` (a per-task or per-replica-and-task array sweeps noise levels)."""
    seeds = _seeds(seeds)
    noise = _per_replica(noise, len(seeds), n_tasks, "noise")
    return from_reference([R.make_linear_problem(n_tasks, dim, n_samples, noise=list(nz),
                                                 relatedness=relatedness, l2=l2, seed=s)
                           for s, nz in zip(seeds, noise)], backend=backend, dtype=dtype,
                          keep_samples=keep_samples)


def make_logistic_batch(n_tasks: int, dim: int, n_samples: int, *, seeds: list[int],
                        flip: object = 0.0, relatedness: float = 0.5, l2: float = 1e-3,
                        signal: float = 2.0, backend: str = "numpy", dtype: str = "float64",
                        fused: bool = True) -> BatchedProblem:
    """B = len(seeds) replicas of ``reference.make_logistic_problem`` (``flip`` per task or per
    replica and task)."""
    seeds = _seeds(seeds)
    flip = _per_replica(flip, len(seeds), n_tasks, "flip")
    return from_reference([R.make_logistic_problem(n_tasks, dim, n_samples, flip=list(f),
                                                   relatedness=relatedness, l2=l2, signal=signal,
                                                   seed=s)
                           for s, f in zip(seeds, flip)], backend=backend, dtype=dtype,
                          fused=fused)


def make_linear_problem(n_tasks: int, dim: int, n_samples: int, *, backend: str = "numpy",
                        dtype: str = "float64", seed: int = 0, **kwargs: object) -> BatchedProblem:
    """The reference generator's problem as a one-replica batch (same data, same seed)."""
    return make_linear_batch(n_tasks, dim, n_samples, seeds=[seed], backend=backend, dtype=dtype,
                             **kwargs)


def make_logistic_problem(n_tasks: int, dim: int, n_samples: int, *, backend: str = "numpy",
                          dtype: str = "float64", seed: int = 0, **kwargs: object
                          ) -> BatchedProblem:
    return make_logistic_batch(n_tasks, dim, n_samples, seeds=[seed], backend=backend,
                               dtype=dtype, **kwargs)


def random_logistic_batch(replicas: int, n_tasks: int, n_samples: int, dim: int, *,
                          seed: int = 0, backend: str = "numpy", dtype: str = "float32",
                          l2: float = 1e-3, fused: bool = True) -> BatchedProblem:
    """Large logistic problems generated directly on the device (for benchmarks): x ~ N(0, I),
    y ~ Bernoulli(σ(xᵀθ_i)), θ_i ~ N(0, 4I/d). Not bit-identical to the reference generator."""
    replicas = R._validate.positive_int("replicas", replicas)
    n_tasks = R._validate.positive_int("n_tasks", n_tasks)
    n_samples = R._validate.positive_int("n_samples", n_samples)
    dim = R._validate.positive_int("dim", dim)
    seed = R._validate.positive_int("seed", seed, minimum=0)
    l2 = R._validate.real("l2", l2, low=0.0)
    xp = bk.namespace(backend)
    dt = bk.dtype_of(dtype)
    rng = xp.random.default_rng(seed)
    X = rng.standard_normal((replicas, n_tasks, n_samples, dim), dtype=dt)
    theta = (2.0 / np.sqrt(dim)) * rng.standard_normal((replicas, n_tasks, dim), dtype=dt)
    p = 1.0 / (1.0 + xp.exp(-(X @ theta[..., None])[..., 0]))
    y = (rng.random((replicas, n_tasks, n_samples), dtype=dt) < p).astype(dt)
    return BatchedProblem("logistic", backend, dtype, n_samples, l2, X=X, y=y, fused=fused)
