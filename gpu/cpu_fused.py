"""Fused CPU pass (numba) for the logistic family: ℓ_i and ∇ℓ_i from one read of X.

For every replica-task pair (b, i), with n rows x_k ∈ R^d and labels y_k:

    z_k = x_kᵀθ,   r_k = σ(z_k) − y_k,
    ℓ_i = (1/n) Σ_k [max(z_k, 0) + log1p(e^{−|z_k|}) − y_k z_k],   ∇ℓ_i = (1/n) Σ_k r_k x_k

(the L2 term (λ/2)‖θ‖² is added by the caller, ``gpu.problems``). The NumPy path reads X twice
(z = Xθ, then Xᵀr, two BLAS calls). Here the rows are taken in blocks of 64: z for the block, then
e^{−|z|}, σ(z) and r, then the gradient from the same rows while they are still in L1. X is
therefore read from memory once. The kernels are in ``gpu._cpu_kernels``.

Accuracy:

* The products x_kj·θ_j are formed in float64. For float32 data, θ is first rounded to float32, as
  in the NumPy path and the CUDA kernel. Every product of two float32 numbers is exact in
  float64, and z, ℓ and ∇ℓ accumulate in float64. The float32 result is therefore the float64
  result on the float32 data, up to summation order.
* e^{−|z|} and log1p use branch-free polynomials that the compiler vectorises; libm's scalar exp
  costs about 9 ns a call here. They are within 3 ulp of NumPy's (tests/test_cpu_fused.py checks
  the whole range, subnormals and underflow included). They are compiled without fast-math
  flags, so the Cody–Waite reduction is kept. Only the dot products and the sums may be
  reassociated.
* NaN and ±inf propagate as in the NumPy path, so a diverged θ still surfaces as non-finite
  values.

Parallelism: the work is split into (replica, task, row-chunk) items, each with its own float64
accumulators. A serial reduction then adds the chunks of each pair in chunk order. The number of
chunks depends only on the shape, so a result does not change with the number of threads. The
items run on a small pool of Python threads, calling kernels compiled with ``nogil=True``. The
calling thread works too, and a thread that is late finds no work left. The pool is not numba's
``prange``, for three reasons measured here:

* GNU OpenMP, numba's threading layer on this machine, terminates a forked child that uses it
  ("fork() called from a process already using GNU OpenMP").
* Its workers spin-wait at every barrier. On a shared 2-core machine with one core busy, a
  per-step parallel region took 38 ms where one thread took 18 ms; this pool takes 22 ms.
* Each parallel function costs about 5 s more to compile.

The number of threads is ``numba.config.NUMBA_NUM_THREADS`` (numba's default: the CPU count),
capped by ``OMP_NUM_THREADS`` where that is set (Dask sets it to 1 in its worker processes).

``run_final`` runs a whole ``gpu.run_batched(..., record="final")`` of a logistic problem as
compiled code, one replica per task. The replicas are independent, so replica b runs all of its
T steps while its X_b (m·n·d values) stays in cache. The batched step reads all of X from memory
at every step instead: at B = 256, m = 4, n = 512, d = 16 that is 67 MB a step. It covers
ExcessMTL ('adagrad' and 'exact'), GroupDRO and EqualWeights. Its arithmetic is that of
``gpu.weighting`` and ``gpu.loop``, step for step, so it equals the batched loop up to summation
order.

numba is an optional extra (``pip install 'excessmtl-oracle[fast]'``). It is imported on first use
and never at package import. Without numba, or with ``EXCESSMTL_ORACLE_NO_NUMBA=1`` in the
environment (read at each call), ``available()`` is False and the callers use the NumPy path. The
compiled code is cached on disk by numba (``cache=True``), so a process compiles only what no
earlier process has compiled. Where numba has no writable cache location (a read-only install
without a user cache directory), it compiles without a cache, once per process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from types import ModuleType

import numpy as np

import reference as R

ENV_DISABLE = "EXCESSMTL_ORACLE_NO_NUMBA"
MIN_CHUNK = 1024           # rows per item at least
TARGET_ITEMS = 64          # split the rows of few pairs into about this many items
PARALLEL_MIN = 1 << 20     # values of X below which the calling thread does the pass alone
TASKS_PER_THREAD = 8       # tasks of a parallel call, per thread (late threads find none left)
COMPILED_RUN = True        # False: record="final" runs take the per-step loop too (benchmarks)


@lru_cache(maxsize=1)
def numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def available() -> bool:
    """True where the fused kernels run: numba is installed and ``EXCESSMTL_ORACLE_NO_NUMBA`` is
    unset, empty or "0"."""
    return os.environ.get(ENV_DISABLE, "") in ("", "0") and numba_installed()


@lru_cache(maxsize=1)
def kernels() -> ModuleType:
    """``gpu._cpu_kernels``, imported (numba with it) on the first call only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # numba's own import-time notices
        from . import _cpu_kernels
    return _cpu_kernels


def threads() -> int:
    """Threads of a parallel call: NUMBA_NUM_THREADS, at most OMP_NUM_THREADS where it is set."""
    from numba.core import config
    n = int(config.NUMBA_NUM_THREADS)
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    return max(1, n)


# ------------------------------------------------------------------ the thread pool
class _Job:
    """Tasks 0 … n−1 of one parallel call, claimed one at a time by whichever thread is free."""

    def __init__(self, task: Callable[[int], None], n: int) -> None:
        self.task, self.n = task, n
        self.lock = threading.Lock()
        self.next = 0                    # the next task to claim; n once none is left
        self.started = 0
        self.done = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()    # set once every started task has ended

    def stop(self) -> None:
        """Start no more tasks (an error, or Ctrl-C in the calling thread)."""
        with self.lock:
            self.next = self.n
            if self.done == self.started:
                self.finished.set()

    def work(self) -> None:
        while True:
            with self.lock:
                if self.next >= self.n:
                    return
                i = self.next
                self.next += 1
                self.started += 1
            try:
                self.task(i)
            except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
                with self.lock:
                    self.error = self.error or exc
                    self.next = self.n
            with self.lock:
                self.done += 1
                if self.next >= self.n and self.done == self.started:
                    self.finished.set()


class _Pool:
    """Daemon worker threads on one queue, started as needed (never stopped: they wait on the
    queue) and started afresh after a fork (the child has none)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.workers = 0
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    def grow(self, workers: int) -> None:
        while self.workers < workers:
            threading.Thread(target=self._serve, daemon=True,
                             name="excessmtl-oracle-cpu-fused").start()
            self.workers += 1

    def _serve(self) -> None:
        while True:
            self.queue.get().work()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool(workers: int) -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool()
        _pool.grow(workers)
        return _pool


def parallel_for(task: Callable[[int], None], n: int) -> None:
    """task(i) for i = 0 … n−1 on ``threads()`` threads, the calling thread included; ``task``
    must release the GIL (a nogil numba call) for the threads to overlap. The first exception of
    a task is raised here, after the tasks already started have ended."""
    workers = min(threads(), n) - 1
    if workers <= 0:
        for i in range(n):
            task(i)
        return
    job = _Job(task, n)
    pool = _get_pool(workers)
    for _ in range(workers):
        pool.queue.put(job)
    try:
        job.work()
    except BaseException:                # Ctrl-C in the calling thread: start nothing more
        job.stop()
        raise
    job.finished.wait()
    if job.error is not None:
        raise job.error


def _split(n_items: int, n_threads: int) -> list[tuple[int, int]]:
    """[i0, i1) ranges covering 0 … n_items−1: about TASKS_PER_THREAD per thread."""
    tasks = max(1, min(n_items, TASKS_PER_THREAD * n_threads))
    per = math.ceil(n_items / tasks)
    return [(i, min(n_items, i + per)) for i in range(0, n_items, per)]


@lru_cache(maxsize=1)
def _numba_warning() -> type:
    from numba.core.errors import NumbaWarning
    return NumbaWarning


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """numba's warnings (compile-time notices) silenced. Entered by the calling thread only,
    around a whole parallel call: ``warnings.catch_warnings`` is not thread-safe."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _numba_warning())
        yield


# ------------------------------------------------------------------ one pass over X
def n_chunks(pairs: int, n: int) -> int:
    """Row chunks per pair: enough items to balance the threads when there are few pairs, at
    least ``MIN_CHUNK`` rows each; a function of the shape only (see the module docstring)."""
    return max(1, min(math.ceil(n / MIN_CHUNK), math.ceil(TARGET_ITEMS / pairs)))


def logistic_loss_grad(X: np.ndarray, y: np.ndarray, theta: np.ndarray, *,
                       want_loss: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """(ℓ (B, m) or None, ∇ℓ (B, m, d)), float64, from X (B, m, n, d), y (B, m, n) and θ
    (B, m, d) or (B, 1, d), in one pass over X. The λ term is added by the caller.
    ``want_loss=False`` skips the log1p of every row and returns None for ℓ (the gradient is the
    same)."""
    B, m, n, d = X.shape
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}")
    Xc = np.ascontiguousarray(X).reshape(B * m, n, d)
    yc = np.ascontiguousarray(y, dtype=X.dtype).reshape(B * m, n)
    # θ rounded to the storage dtype (as the NumPy path does), then exact in float64; a fresh
    # C-contiguous array, so that one compiled specialisation serves every call
    tc = np.empty((B * m, d))
    tc.reshape(B, m, d)[...] = np.asarray(theta, dtype=X.dtype)
    chunks = n_chunks(B * m, n)
    items = B * m * chunks
    part_l = np.zeros(items)
    part_g = np.zeros((items, d))
    k = kernels()
    want = bool(want_loss)
    ranges = _split(items, threads() if X.size >= PARALLEL_MIN else 1)

    def task(i: int) -> None:
        k.loss_grad_items(Xc, yc, tc, chunks, want, ranges[i][0], ranges[i][1], part_l, part_g)
    loss = np.empty(B * m)
    grad = np.empty((B * m, d))
    with _quiet():
        parallel_for(task, len(ranges))
        k.reduce_items(n, chunks, part_l, part_g, loss, grad)
    return (loss.reshape(B, m) if want else None), grad.reshape(B, m, d)


# ------------------------------------------------------------------ a whole run, compiled
def _method_code(ref: object) -> int | None:
    """The run_final code of a reference method, or None where it has no compiled form."""
    k = kernels()
    if type(ref) is R.ExcessMTL:
        return {"adagrad": k.EXCESS_ADAGRAD, "exact": k.EXCESS_EXACT}.get(ref.estimator)
    if type(ref) is R.GroupDRO:
        return k.GROUP_DRO
    if type(ref) is R.EqualWeights:
        return k.EQUAL_WEIGHTS
    return None


def supports_run(problem: object, ref: object, *, record: str, batch_size: object) -> bool:
    """Whether ``run_final`` can run this ``gpu.run_batched`` call: NumPy backend, logistic
    losses in float64 with ``fused=True``, full batch, ``record="final"``, and ExcessMTL
    ('adagrad' or 'exact'), GroupDRO or EqualWeights, with numba available and
    ``COMPILED_RUN`` on."""
    return (COMPILED_RUN and record == "final" and batch_size is None
            and problem.backend == "numpy" and problem.loss == "logistic"
            and problem.dtype == "float64" and problem.fused
            and type(ref) in (R.ExcessMTL, R.GroupDRO, R.EqualWeights)
            and getattr(ref, "estimator", "adagrad") in ("adagrad", "exact") and available())


def run_final(problem: object, ref: object, theta: np.ndarray, etas: np.ndarray,
              center: np.ndarray, radius: float | None, *, record: str = "final") -> dict:
    """The recorded arrays of ``gpu.run_batched(problem, ref, len(etas), ...)`` from θ_0 =
    ``theta`` (B, d), already projected, with step sizes ``etas`` (η_1 … η_T): thetas, losses,
    excess, grad_norms (n_rec, B, ·), weights, estimates (n_w, B, m), combined_grad_norms
    (n_w, B), where n_rec = n_w = 1 for ``record="final"`` (T+1 and T for "full", which the
    tests use to compare every step), and ``bad_baseline`` (B,): the replicas whose
    scale-processing baseline is 0 or subnormal."""
    k = kernels()
    code = _method_code(ref)
    if code is None:
        raise ValueError(f"run_final has no compiled form of {ref!r}")
    X, y = problem.X, problem.y
    B, m, n, d = X.shape
    T = len(etas)
    n_rec, n_w = (T + 1, T) if record == "full" else (1, 1)
    out = {"thetas": np.empty((B, n_rec, d)), "losses": np.empty((B, n_rec, m)),
           "excess": np.empty((B, n_rec, m)), "grad_norms": np.empty((B, n_rec, m)),
           "weights": np.empty((B, n_w, m)), "estimates": np.empty((B, n_w, m)),
           "combined_grad_norms": np.empty((B, n_w)), "bad_baseline": np.zeros((B, 1), np.int64)}
    keys = tuple(out)
    args = (np.ascontiguousarray(X), np.ascontiguousarray(y),
            np.ascontiguousarray(theta, dtype=np.float64),
            np.ascontiguousarray(problem.optimal_losses, dtype=np.float64),
            np.ascontiguousarray(etas, dtype=np.float64), n_chunks(B * m, n), float(problem.l2),
            np.ascontiguousarray(center, dtype=np.float64),
            np.inf if radius is None else float(radius), int(code),
            getattr(ref, "convention", "paper") == "official",
            float(getattr(ref, "step_size", 1.0)), int(getattr(ref, "warmup", 0)),
            bool(getattr(ref, "scale_processing", False)),
            bool(getattr(ref, "first_step_update", False)), float(getattr(ref, "eps", 0.0)),
            float(getattr(ref, "baseline_eps", 0.0)),
            bool(getattr(ref, "sqrt_accumulator", True))) + tuple(out[key] for key in keys)
    ranges = _split(B, threads())          # Ctrl-C acts between two tasks of the calling thread

    def task(i: int) -> None:
        k.run_replicas(ranges[i][0], ranges[i][1], *args)
    with _quiet():
        parallel_for(task, len(ranges))
    res = {key: np.ascontiguousarray(np.swapaxes(out[key], 0, 1)) for key in keys[:-1]}
    res["bad_baseline"] = out["bad_baseline"][:, 0].astype(bool)
    return res
