"""The tight family's LAD tasks: exact optima (linear programs, checked against the vertex
enumeration they must agree with), exact min–max points, the gap's lower bound Δ·Σ_J ᾱ_j, and
the gpu twin held to the reference at 1e-10."""

from itertools import combinations

import numpy as np
import pytest

import gpu
import reference as R
from proofs_check.claims import rate, theory
from proofs_check.claims.instances import tight_bound_problem


def vertex_minimum(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """min_θ Σ_k w_k |x_kᵀθ − y_k| by enumeration: with X of full column rank a minimiser
    interpolates d rows (a vertex of the LP), so the minimum over all d-row interpolants is it."""
    d = X.shape[1]
    best = np.inf
    for rows in combinations(range(len(y)), d):
        A = X[list(rows)]
        if abs(np.linalg.det(A)) < 1e-12:
            continue
        th = np.linalg.solve(A, y[list(rows)])
        best = min(best, float(w @ np.abs(X @ th - y)))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_task_minimum_is_the_best_vertex(seed):
    p = R.make_absolute_problem(3, 2, 9, noise=[0.1, 0.5, 1.0], seed=seed)
    for i in range(3):
        brute = vertex_minimum(p.X[i], p.y[i], np.full(9, 1 / 9))
        assert p.optimal_losses[i] == pytest.approx(brute, rel=1e-13, abs=1e-15)
    assert np.all(np.abs(p.optimal_certificates) <= 1e-12)
    np.testing.assert_allclose(p.losses(p.optimal_params[0])[0], p.optimal_losses[0], rtol=1e-14)


def test_a_weighted_minimum_is_the_best_vertex_of_the_stacked_rows():
    p = R.make_absolute_problem(3, 2, 6, noise=0.5, seed=4)
    w = np.array([0.2, 0.5, 0.3])
    sol = p.weighted_minimum(w)
    brute = vertex_minimum(p.X.reshape(-1, 2), p.y.reshape(-1), np.repeat(w / 6, 6))
    assert sol.value == pytest.approx(brute, rel=1e-13)
    assert abs(sol.certificate) <= 1e-12


def test_the_minmax_point_is_certified_and_the_inactive_tasks_get_no_weight():
    p = tight_bound_problem(0)
    sol = R.minmax_solution(p)
    assert sol.certificate <= 1e-12
    np.testing.assert_allclose(sol.alpha[2:], 0.0, atol=1e-12)
    active = sol.alpha > 1e-9
    np.testing.assert_allclose(sol.excess_risks[active], sol.value, rtol=1e-9)
    assert np.all(sol.excess_risks[~active] < sol.value)


def test_the_gap_is_at_least_delta_times_the_inactive_weight_along_a_run():
    """theory §3c: gap(θ̄, ᾱ) >= Δ·Σ_{j∈J} ᾱ_j for any (θ̄, ᾱ), checked along a real run."""
    p = tight_bound_problem(0)
    sol = R.minmax_solution(p)
    J = np.flatnonzero(sol.alpha <= 1e-12)
    delta = float(np.min(sol.value - sol.excess_risks[J]))
    setup = theory.game_setup(p)
    runs = rate.run_seeds("tight", p, R.ExcessMTL("exact", "paper", scale_processing=False),
                          setup, 400, [0, 1])
    tr = R.run(p, R.ExcessMTL("exact", "paper", scale_processing=False), 400,
               lr=setup.eta_theta, schedule="inv_sqrt", theta0=rate.seed_starts(setup, [0])[0],
               project_radius=setup.radius, project_center=setup.center)
    abar = np.cumsum(tr.weights, axis=0) / np.arange(1, 401)[:, None]
    lower = delta * abar[runs.T - 1][:, J].sum(axis=1)
    assert np.all(runs.gaps[0] >= lower - 1e-12)
    assert np.max(lower / runs.gaps[0]) > 0.3          # and it is not vacuous here


@pytest.mark.parametrize("batch_size", [None, 4])
def test_the_gpu_twin_follows_the_reference(batch_size):
    p = R.make_absolute_problem(3, 2, 8, noise=[0.1, 1.0, 0.5], seed=0)
    setup = theory.game_setup(p)
    method = R.ExcessMTL("exact", "paper", scale_processing=False)
    starts = rate.seed_starts(setup, [0, 1, 2])
    common = dict(lr=setup.eta_theta, schedule="inv_sqrt", project_radius=setup.radius,
                  project_center=setup.center, batch_size=batch_size)
    batch = gpu.from_reference([p] * 3, keep_samples=True)
    tr = gpu.run_batched(batch, method, 200, theta0=starts, seeds=[0, 1, 2], **common)
    for s in range(3):
        ref = R.run(p, method, 200, theta0=starts[s], seed=s, **common)
        np.testing.assert_allclose(tr.thetas[:, s], ref.thetas, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tr.weights[:, s], ref.weights, rtol=1e-10, atol=1e-12)
    gaps = gpu.duality_gap(batch, tr.thetas[-1], tr.weights[-1])
    ref_gaps = [R.duality_gap(p, tr.thetas[-1][s], tr.weights[-1][s]).gap for s in range(3)]
    np.testing.assert_allclose(gaps, ref_gaps, rtol=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda: R.make_absolute_problem(2, 3, 2), "n_samples"),
    (lambda: R.AbsoluteLossProblem(np.zeros((1, 4, 2)), np.zeros((1, 4))), "X"),
    (lambda: R.make_absolute_problem(2, 2, 5).weighted_minimum([1.0, -1.0]), "weights"),
    (lambda: R.make_absolute_problem(2, 2, 5).losses([1.0]), "theta"),
    (lambda: tight_bound_problem(scale=0.0), "scale"),
    (lambda: tight_bound_problem(inactive_ratio=1.0), "inactive_ratio"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_method_that_needs_hessians_is_refused_on_lad_tasks():
    with pytest.raises(TypeError, match="hessians"):
        R.run(R.make_absolute_problem(2, 2, 5), R.ExcessMTL("taylor", "paper"), 5, lr=0.1)
