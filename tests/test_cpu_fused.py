"""The fused CPU pass (gpu.cpu_fused, numba) ≡ the NumPy path, and the compiled record="final" run
≡ the per-step batched loop ≡ the reference.

The NumPy fallback (no numba, or EXCESSMTL_ORACLE_NO_NUMBA=1) is tested everywhere; the numba
tests skip where numba is not installed. Tolerances:

* float64, one pass: 1e-12 relative to the largest |value| of the pair (ℓ_i, or the entries of
  ∇ℓ_i). Only the summation order differs from the two BLAS passes (about n·2^-53 in the worst
  case, far less in practice), and an entry of ∇ℓ_i near 0 has no relative digits of its own.
* float32 data: θ is rounded to float32 and every product of two float32 numbers is exact in
  float64, so the fused pass equals the float64 NumPy path on the same (float32-valued) data to
  the same 1e-12. Against the NumPy float32 path the difference is that path's own float32
  accumulation; we assert 1e-5 relative, the bound the CUDA kernel's float32 test asserts.
* whole runs: 1e-10, the tolerance of tests/test_gpu.py for the batched loop against the
  reference (the differences of summation order grow over the steps).
"""

import multiprocessing
import subprocess
import sys

import numpy as np
import pytest

import gpu
import reference as R
from gpu import cpu_fused

needs_numba = pytest.mark.usefixtures("require_numba")
FIELDS = ("thetas", "weights", "losses", "excess", "estimates", "grad_norms",
          "combined_grad_norms")
COMPILED = [R.ExcessMTL("adagrad", "official"), R.ExcessMTL("adagrad", "paper", step_size=0.3,
                                                             warmup=3),
            R.ExcessMTL("exact", "official"), R.ExcessMTL("exact", "paper", scale_processing=False),
            R.ExcessMTL("adagrad", "official", baseline_eps=1e-7, sqrt_accumulator=False,
                        first_step_update=True),
            R.GroupDRO("official"), R.GroupDRO("paper", step_size=0.5),
            R.EqualWeights("official"), R.EqualWeights("paper")]


@pytest.fixture
def require_numba(monkeypatch):
    """Skip where numba (the 'fast' extra) is not installed; where it is, these tests run it even
    under EXCESSMTL_ORACLE_NO_NUMBA=1 (which a suite-wide run of the fallback sets)."""
    pytest.importorskip("numba")
    monkeypatch.delenv(cpu_fused.ENV_DISABLE, raising=False)


@pytest.fixture
def no_numba(monkeypatch):
    monkeypatch.setenv(cpu_fused.ENV_DISABLE, "1")


def two_pass(batch):
    return gpu.BatchedProblem(batch.loss, batch.backend, batch.dtype, batch.n_samples, batch.l2,
                              X=batch.X, y=batch.y, fused=False)


def assert_close_per_pair(got, want, rtol, what):
    """|got − want| <= rtol · max|want| over the last axis (or per entry for (B, m))."""
    got, want = np.asarray(got), np.asarray(want)
    scale = np.max(np.abs(want), axis=-1, keepdims=True) if want.ndim == 3 else np.abs(want)
    err = np.abs(got - want) / np.maximum(scale, 1e-300)
    assert np.all(err <= rtol), f"{what}: max relative error {np.max(err):.3g} > {rtol:g}"


def assert_runs_agree(got, want, rtol=1e-10):
    for field in FIELDS:
        a, b = getattr(got, field), getattr(want, field)
        scale = max(np.nanmax(np.abs(b)), 1.0) if np.any(np.isfinite(b)) else 1.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2 * scale, equal_nan=True,
                                   err_msg=field)


# ------------------------------------------------------------------ the fallback, always
def test_the_switch_turns_numba_off(no_numba):
    assert not cpu_fused.available()
    batch = gpu.make_logistic_batch(2, 3, 40, seeds=[0, 1])
    assert not cpu_fused.supports_run(batch, R.ExcessMTL(), record="final", batch_size=None)
    th = np.random.default_rng(0).standard_normal((2, 3)) * 0.5
    loss, g = batch.losses_and_grads(th)
    want_l, want_g = two_pass(batch).losses_and_grads(th)
    np.testing.assert_allclose(loss, want_l, rtol=1e-15)
    np.testing.assert_allclose(g, want_g, rtol=1e-15)


def test_fallback_run_equals_the_reference(no_numba):
    refs = [R.make_logistic_problem(3, 4, 50, flip=0.1, seed=s) for s in range(2)]
    bt = gpu.run_batched(gpu.from_reference(refs), R.ExcessMTL(), 15, lr=0.2, record="final")
    for b, p in enumerate(refs):
        tr = R.run(p, R.ExcessMTL(), 15, lr=0.2)
        np.testing.assert_allclose(bt.thetas[0, b], tr.thetas[-1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bt.weights[0, b], tr.weights[-1], rtol=1e-10)


def test_import_gpu_does_not_import_numba():
    code = "import sys, gpu; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_parallel_for_runs_every_task_once_and_raises_the_first_error(monkeypatch):
    monkeypatch.setattr(cpu_fused, "threads", lambda: 3)
    seen = []
    cpu_fused.parallel_for(seen.append, 50)
    assert sorted(seen) == list(range(50))

    def task(i):
        if i == 7:
            raise ZeroDivisionError("task 7")
    with pytest.raises(ZeroDivisionError, match="task 7"):
        cpu_fused.parallel_for(task, 20)
    cpu_fused.parallel_for(seen.append, 3)          # the pool still works afterwards


@needs_numba
def test_threads_respects_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_fused.threads() == 1


# ------------------------------------------------------------------ numba: the one-pass kernel
@needs_numba
def test_exp_and_log1p_polynomials_are_within_3_ulp_of_numpy():
    k = cpu_fused.kernels()
    z = np.concatenate([np.linspace(-760, 760, 400_001), [0.0, -0.0, 5e-324, -5e-324, 1e-300,
                                                         745.1, 745.2, 746.0, 1e308, -np.inf,
                                                         np.inf]])
    e = np.empty_like(z)
    k.exp_neg_block(z, e, np.empty(z.size, dtype=np.int64), z.size)
    want = np.exp(-np.abs(z))
    normal = want >= np.finfo(np.float64).tiny
    np.testing.assert_allclose(e[normal], want[normal], rtol=3 * 2.0 ** -52, atol=0)
    np.testing.assert_allclose(e[~normal], want[~normal], rtol=0, atol=2 * 5e-324)
    nan = np.full(3, np.nan)
    out = np.empty(3)
    k.exp_neg_block(nan, out, np.empty(3, dtype=np.int64), 3)
    assert np.all(np.isnan(out))

    u = np.concatenate([np.linspace(0.0, 1.0, 200_001), np.geomspace(5e-324, 1.0, 20_001)])
    lg = np.empty_like(u)
    k.log1p_block(u, lg, u.size)
    np.testing.assert_allclose(lg, np.log1p(u), rtol=3 * 2.0 ** -52, atol=0)


@needs_numba
@pytest.mark.parametrize("shape", [(2, 3, 37, 5), (1, 2, 5000, 7), (3, 1, 64, 16), (1, 1, 3, 1)])
def test_fused_pass_equals_the_two_pass_path_to_1e_12(shape):
    B, m, n, d = shape
    batch = gpu.random_logistic_batch(B, m, n, d, seed=1, dtype="float64")
    rng = np.random.default_rng(2)
    for scale in (0.3, 30.0):                   # moderate z, and saturated σ (|z| up to ~300)
        th = rng.standard_normal((B, d)) * scale / np.sqrt(d)
        got, want = batch.losses_and_grads(th), two_pass(batch).losses_and_grads(th)
        assert_close_per_pair(got[0], want[0], 1e-12, "losses")
        assert_close_per_pair(got[1], want[1], 1e-12, "gradients")
    per_task = rng.standard_normal((B, m, d)) * 0.5            # θ per task, (B, m, d)
    assert_close_per_pair(batch.grads(per_task), two_pass(batch).grads(per_task), 1e-12, "per task")


@needs_numba
def test_float32_data_accumulates_in_float64():
    b32 = gpu.random_logistic_batch(1, 3, 20_000, 24, seed=3, dtype="float32")
    X64, y64 = b32.X.astype(np.float64), b32.y.astype(np.float64)
    b64 = gpu.BatchedProblem("logistic", "numpy", "float64", b32.n_samples, b32.l2, X=X64, y=y64,
                             fused=False)
    th = np.random.default_rng(4).standard_normal((1, 24)) * 0.4
    th32 = th.astype(np.float32).astype(np.float64)    # what the float32 pass multiplies by
    got_l, got_g = cpu_fused.logistic_loss_grad(b32.X, b32.y, th[:, None])
    assert got_l.dtype == np.float64 and got_g.dtype == np.float64
    want_l, want_g = b64._data_terms(X64, y64, np.broadcast_to(th32[:, None], (1, 3, 24)))
    assert_close_per_pair(got_l, want_l, 1e-12, "float32 data, float64 accumulation: losses")
    assert_close_per_pair(got_g, want_g, 1e-12, "float32 data, float64 accumulation: gradients")
    # the NumPy float32 path accumulates in float32: within the CUDA kernel's bound of 1e-5
    assert_close_per_pair(b32.grads(th), two_pass(b32).grads(th), 1e-5,
                          "against the NumPy float32 path")


@needs_numba
def test_skipping_the_losses_and_the_thread_count_do_not_change_the_gradient(monkeypatch):
    batch = gpu.random_logistic_batch(2, 2, 3000, 9, seed=5, dtype="float64")
    th = np.random.default_rng(6).standard_normal((2, 1, 9)) * 0.3
    loss, g = cpu_fused.logistic_loss_grad(batch.X, batch.y, th)
    none, g_only = cpu_fused.logistic_loss_grad(batch.X, batch.y, th, want_loss=False)
    assert none is None
    np.testing.assert_allclose(g_only, g, rtol=1e-15, atol=0)
    monkeypatch.setattr(cpu_fused, "PARALLEL_MIN", 0)          # the thread pool, on 3 threads
    monkeypatch.setattr(cpu_fused, "threads", lambda: 3)
    loss3, g3 = cpu_fused.logistic_loss_grad(batch.X, batch.y, th)
    np.testing.assert_allclose(loss3, loss, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g3, g, rtol=1e-15, atol=0)


@needs_numba
def test_non_finite_theta_stays_non_finite():
    batch = gpu.random_logistic_batch(1, 2, 100, 3, seed=7, dtype="float64")
    for bad in (np.nan, np.inf):
        th = np.array([[bad, 0.0, 0.0]])
        got = cpu_fused.logistic_loss_grad(batch.X, batch.y, th[:, None])
        with np.errstate(all="ignore"):
            want = two_pass(batch)._data_terms(batch.X, batch.y,
                                               np.broadcast_to(th[:, None], (1, 2, 3)))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))


# ------------------------------------------------------------------ numba: the compiled run
@needs_numba
@pytest.mark.parametrize("method", COMPILED, ids=repr)
def test_compiled_run_equals_the_per_step_loop(method, monkeypatch):
    refs = [R.make_logistic_problem(3, 5, 120, flip=[0.2, 0.0, 0.1], seed=s) for s in range(3)]
    batch = gpu.from_reference(refs)
    assert cpu_fused.supports_run(batch, method, record="final", batch_size=None)
    for kw in ({}, {"project_radius": 0.5, "schedule": "inv_sqrt", "theta0": np.full(5, 0.3)}):
        compiled = gpu.run_batched(batch, method, 30, lr=0.3, record="final", **kw)
        with monkeypatch.context() as mp:
            mp.setattr(cpu_fused, "COMPILED_RUN", False)
            per_step = gpu.run_batched(batch, method, 30, lr=0.3, record="final", **kw)
            mp.setenv(cpu_fused.ENV_DISABLE, "1")
            numpy_only = gpu.run_batched(batch, method, 30, lr=0.3, record="final", **kw)
        assert_runs_agree(compiled, per_step)
        assert_runs_agree(compiled, numpy_only)


@needs_numba
@pytest.mark.parametrize("method", COMPILED[:6], ids=repr)
def test_compiled_run_equals_the_reference_at_every_step(method):
    """record="full" of the compiled run (what run_batched never asks of it) against
    reference.run, field by field and step by step."""
    refs = [R.make_logistic_problem(3, 4, 50, flip=0.1, seed=s) for s in range(2)]
    batch = gpu.from_reference(refs)
    T, lr = 12, 0.1
    etas = np.full(T, lr)
    rec = cpu_fused.run_final(batch, method, np.zeros((2, 4)), etas, np.zeros(4), None,
                              record="full")
    for b, problem in enumerate(refs):
        tr = R.run(problem, method, T, lr=lr)
        for field in FIELDS:
            got, want = rec[field][:, b], getattr(tr, field)
            scale = max(np.nanmax(np.abs(want)), 1.0) if np.any(np.isfinite(want)) else 1.0
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale,
                                       equal_nan=True, err_msg=f"{field}, replica {b}")


@needs_numba
def test_compiled_run_raises_what_the_loop_raises(monkeypatch):
    # a task with X = 0: its gradient at θ_0 = 0 is exactly 0, so its AdaGrad baseline is 0
    p = R.make_logistic_problem(2, 3, 40, seed=0)
    X = np.array(p.X)
    X[0] = 0.0
    batch = gpu.from_reference([R.problem_from_arrays("logistic", X, np.array(p.y), l2=p.l2)] * 2)
    errors = []
    for compiled in (True, False):
        monkeypatch.setattr(cpu_fused, "COMPILED_RUN", compiled)
        with pytest.raises(ValueError, match="baseline estimate is 0") as exc:
            gpu.run_batched(batch, R.ExcessMTL(), 5, record="final")
        errors.append(str(exc.value))
        with pytest.raises(R.DivergenceError) as exc:
            gpu.run_batched(gpu.make_logistic_batch(2, 3, 40, seeds=[0, 1]),
                            R.EqualWeights(), 20, lr=1e300, record="final")
        errors.append(str(exc.value))
    assert errors[:2] == errors[2:]


@needs_numba
def test_the_compiled_run_is_not_taken_where_it_does_not_apply():
    batch = gpu.make_logistic_batch(2, 3, 40, seeds=[0, 1])
    ok = {"record": "final", "batch_size": None}
    assert cpu_fused.supports_run(batch, R.ExcessMTL(), **ok)
    assert not cpu_fused.supports_run(batch, R.ExcessMTL(), record="full", batch_size=None)
    assert not cpu_fused.supports_run(batch, R.ExcessMTL(), record="final", batch_size=8)
    assert not cpu_fused.supports_run(batch, R.ExcessMTL("taylor"), **ok)
    assert not cpu_fused.supports_run(batch, R.MGDA(), **ok)
    f32 = gpu.make_logistic_batch(2, 3, 40, seeds=[0, 1], dtype="float32")
    assert not cpu_fused.supports_run(f32, R.ExcessMTL(), **ok)
    lin = gpu.make_linear_batch(2, 3, 40, seeds=[0, 1])
    assert not cpu_fused.supports_run(lin, R.ExcessMTL(), **ok)


# ------------------------------------------------------------------ numba: robustness
@needs_numba
def test_without_a_writable_cache_numba_compiles_without_one(monkeypatch):
    from numba.core import caching, config
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl   # _CacheImpl in older numba
    monkeypatch.setattr(config, "CACHE_LOCATOR_CLASSES", "", raising=False)
    monkeypatch.setattr(impl, "_locator_classes", [])
    with pytest.raises(RuntimeError, match="no locator"):      # what numba does by itself
        __import__("numba").njit(cache=True)(lambda x: x + 1)
    fn = cpu_fused.kernels().jit()(lambda x: x + 1)
    assert fn(1) == 2 and type(fn._cache).__name__ == "NullCache"


def _child(q):
    batch = gpu.random_logistic_batch(1, 2, 200, 3, seed=0, dtype="float64")
    q.put(float(cpu_fused.logistic_loss_grad(batch.X, batch.y, np.zeros((1, 1, 3)))[0][0, 0]))


@needs_numba
def test_a_forked_child_can_use_the_kernels(monkeypatch):
    """GNU OpenMP would terminate the child (the reason the pool is not numba's prange)."""
    monkeypatch.setattr(cpu_fused, "PARALLEL_MIN", 0)
    monkeypatch.setattr(cpu_fused, "threads", lambda: 2)
    batch = gpu.random_logistic_batch(1, 2, 200, 3, seed=0, dtype="float64")
    want = float(cpu_fused.logistic_loss_grad(batch.X, batch.y, np.zeros((1, 1, 3)))[0][0, 0])
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q,))
    proc.start()
    got = q.get(timeout=60)
    proc.join(timeout=60)
    assert proc.exitcode == 0 and got == pytest.approx(want, rel=1e-15)
