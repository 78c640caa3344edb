"""gpu/ mirror ≡ reference (NumPy backend here; the same tests run on CuPy with -m cupy)."""

import importlib.util
import os
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import gpu
import reference as R
from gpu.backend import BackendUnavailable

HAS_CUPY = importlib.util.find_spec("cupy") is not None
HAS_NUMBA = importlib.util.find_spec("numba") is not None      # gpu.cpu_fused, the 'fast' extra

METHODS = [
    R.ExcessMTL("adagrad", "official"), R.ExcessMTL("adagrad", "paper", step_size=0.3),
    R.ExcessMTL("exact", "official"), R.ExcessMTL("exact", "paper", scale_processing=False),
    R.ExcessMTL("taylor", "paper", warmup=2), R.ExcessMTL("adagrad", "official", baseline_eps=1e-7,
                                                          sqrt_accumulator=False),
    R.GroupDRO("official"), R.GroupDRO("paper"), R.EqualWeights("official"), R.MGDA(), R.IMTLG(),
]
FIELDS = ("thetas", "weights", "losses", "excess", "estimates", "grad_norms",
          "combined_grad_norms")


def assert_backends_agree(refs, method, steps, lr, backend="numpy", dtype="float64", rtol=1e-10):
    """Every replica of the batched run equals the reference run on that problem (STYLE §4:
    agreement of two backends, written once)."""
    batch = gpu.from_reference(refs, backend=backend, dtype=dtype)
    bt = gpu.run_batched(batch, method, steps, lr=lr)
    for b, problem in enumerate(refs):
        tr = R.run(problem, method, steps, lr=lr)
        for field in FIELDS:
            got, want = getattr(bt, field)[:, b], getattr(tr, field)
            # absolute floor on the problem's natural O(1) scale: a trajectory that never leaves
            # round-off (e.g. θ ≈ 1e-17 when every gradient cancels) has no relative digits
            scale = max(np.nanmax(np.abs(want)), 1.0) if np.any(np.isfinite(want)) else 1.0
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-2 * scale,
                                       equal_nan=True, err_msg=f"{field}, replica {b}")


@given(kind=st.sampled_from(["linear", "logistic"]), m=st.integers(1, 4), d=st.integers(1, 5),
       seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=3, unique=True),
       method=st.sampled_from(METHODS))
def test_numpy_backend_equals_the_reference_to_1e_10(kind, m, d, seeds, method):
    assume(not isinstance(method, R.IMTLG) or d >= m)
    if kind == "linear":
        refs = [R.make_linear_problem(m, d, 40, noise=0.3, l2=0.01, seed=s) for s in seeds]
    else:
        refs = [R.make_logistic_problem(m, d, 40, flip=0.1, seed=s) for s in seeds]
    assert_backends_agree(refs, method, 12, lr=0.1)
    if HAS_NUMBA and kind == "logistic":     # and the NumPy two-pass path, where numba ran above
        with mock.patch.dict(os.environ, {"EXCESSMTL_ORACLE_NO_NUMBA": "1"}):
            assert_backends_agree(refs, method, 12, lr=0.1)


def test_optima_and_metrics_equal_the_reference():
    refs = [R.make_logistic_problem(3, 4, 80, flip=[0, 0.1, 0.3], seed=s) for s in range(3)]
    batch = gpu.from_reference(refs)
    np.testing.assert_allclose(batch.optimal_losses, [r.optimal_losses for r in refs], rtol=1e-12)
    rng = np.random.default_rng(0)
    th, al = rng.standard_normal((3, 4)), rng.random((3, 3))
    gaps = gpu.duality_gap(batch, th, al)
    want = [R.duality_gap(r, th[b], al[b]).gap for b, r in enumerate(refs)]
    np.testing.assert_allclose(gaps, want, rtol=1e-10)
    vals, alphas = gpu.pareto_stationarity(batch.grads(th))
    np.testing.assert_allclose(vals, [R.pareto_stationarity(r.grads(th[b])).value
                                      for b, r in enumerate(refs)], rtol=1e-10)


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_host_oracles_on_replicas_equal_the_reference(kind):
    """minmax_solution / is_dominated per replica; for linear the d-row twin has the same excess
    risks as the original data."""
    refs = ([R.make_linear_problem(3, 4, 60, noise=[0.1, 0.3, 1.0], seed=s) for s in (0, 1)]
            if kind == "linear" else
            [R.make_logistic_problem(3, 4, 60, flip=[0, 0.1, 0.3], seed=s) for s in (0, 1)])
    batch = gpu.from_reference(refs)
    sols = gpu.minmax_solution(batch)
    for sol, ref in zip(sols, refs):
        assert sol.value == pytest.approx(R.minmax_solution(ref).value, rel=1e-9)
        np.testing.assert_allclose(ref.excess_risks(sol.theta), sol.excess_risks, rtol=1e-8)
    perturbed = np.stack([s.theta for s in sols]) + 0.05
    assert all(d.dominated for d in gpu.is_dominated(batch, perturbed))


def test_linear_steps_do_not_depend_on_n():
    """Sufficient statistics: the batched linear problem stores (m, d, d), never (m, n, d)."""
    batch = gpu.make_linear_batch(3, 4, 5000, seeds=[0, 1])
    assert batch.X is None and batch.A.shape == (2, 3, 4, 4)


def test_one_replica_run_has_the_reference_signature():
    problem = R.make_linear_problem(2, 3, 30, seed=4)
    tr = gpu.run(gpu.make_linear_problem(2, 3, 30, seed=4), R.ExcessMTL("exact", "paper"), 20,
                 lr=0.1)
    np.testing.assert_allclose(tr.weights, R.run(problem, R.ExcessMTL("exact", "paper"), 20,
                                                 lr=0.1).weights, rtol=1e-12)


def test_noise_can_be_swept_across_replicas():
    batch = gpu.make_linear_batch(2, 3, 200, seeds=[0, 0], noise=[[0.1, 0.1], [2.0, 0.1]])
    ell = gpu.to_numpy(batch.optimal_losses)
    assert ell[1, 0] > 10 * ell[0, 0] and ell[1, 1] == pytest.approx(ell[0, 1])


def test_record_final_keeps_only_the_end():
    batch = gpu.make_logistic_batch(2, 3, 30, seeds=[0, 1])
    full = gpu.run_batched(batch, R.ExcessMTL(), 15, lr=0.2)
    final = gpu.run_batched(batch, R.ExcessMTL(), 15, lr=0.2, record="final")
    np.testing.assert_allclose(final.thetas[0], full.thetas[-1], rtol=1e-14)
    np.testing.assert_allclose(final.weights[0], full.weights[-1], rtol=1e-14)
    with pytest.raises(ValueError, match="record='full'"):
        final.replica(0)


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here")
def test_asking_for_cupy_without_cupy_raises_instead_of_falling_back():
    with pytest.raises(BackendUnavailable, match="CuPy"):
        gpu.make_linear_problem(2, 3, 20, backend="cupy")
    from proofs_check.cli import main
    assert main(["--backend", "cupy", "--quick", "--no-figures"]) == 2


def test_bad_backend_and_dtype_names_are_rejected():
    with pytest.raises(ValueError, match="backend"):
        gpu.make_linear_problem(2, 3, 20, backend="jax")
    with pytest.raises(ValueError, match="dtype"):
        gpu.make_linear_problem(2, 3, 20, dtype="float16")
    with pytest.raises(TypeError, match="batched form"):
        gpu.batched(object())


def test_fused_kernel_source_is_generated_for_each_dimension():
    from gpu.kernels import kernel_source
    src = kernel_source("float32", 256)
    assert "#define KMAX 8" in src and "typedef float T;" in src
    with pytest.raises(ValueError, match="d <="):
        kernel_source("float32", 5000)


# ------------------------------------------------------------ the same tests on CuPy
@pytest.mark.cupy
@pytest.mark.parametrize("method", METHODS, ids=repr)
def test_cupy_backend_equals_the_reference_to_1e_10(method):
    for kind in ("linear", "logistic"):
        refs = ([R.make_linear_problem(3, 4, 50, noise=0.3, l2=0.01, seed=s) for s in range(3)]
                if kind == "linear" else
                [R.make_logistic_problem(3, 4, 50, flip=0.1, seed=s) for s in range(3)])
        assert_backends_agree(refs, method, 12, lr=0.1, backend="cupy")


@pytest.mark.cupy
@pytest.mark.parametrize("d", [1, 16, 33, 256])
def test_fused_kernel_equals_the_two_pass_path(d):
    import cupy as cp
    batch = gpu.random_logistic_batch(2, 3, 10_000, d, seed=1, backend="cupy", dtype="float64")
    theta = cp.random.default_rng(0).standard_normal((2, d)) / np.sqrt(d)
    fused = batch.losses_and_grads(theta)
    two_pass = gpu.BatchedProblem("logistic", "cupy", "float64", batch.n_samples, batch.l2,
                                  X=batch.X, y=batch.y, fused=False).losses_and_grads(theta)
    for a, b in zip(fused, two_pass):
        np.testing.assert_allclose(gpu.to_numpy(a), gpu.to_numpy(b), rtol=1e-10, atol=1e-13)


@pytest.mark.cupy
def test_float32_fused_kernel_keeps_gradients_accurate():
    """float32 storage, float64 accumulation: gradients within 1e-5 relative of float64."""
    import cupy as cp
    b64 = gpu.random_logistic_batch(1, 4, 200_000, 64, seed=2, backend="cupy", dtype="float64")
    b32 = gpu.BatchedProblem("logistic", "cupy", "float32", b64.n_samples, b64.l2,
                             X=b64.X.astype(cp.float32), y=b64.y.astype(cp.float32))
    theta = cp.full((1, 64), 0.05)
    l64, g64 = b64.losses_and_grads(theta)
    l32, g32 = b32.losses_and_grads(theta)
    rel = float(cp.max(cp.abs(g32 - g64)) / cp.max(cp.abs(g64)))
    assert rel < 1e-5, rel
