"""Exact oracles: min-norm point, min-max solution, duality gap, dominance, the 2-task front."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

import reference as R

grads_arrays = st.integers(1, 6).flatmap(lambda m: st.integers(1, 5).flatmap(
    lambda d: arrays(np.float64, (m, d), elements=st.floats(-10, 10, width=64))))


@given(grads_arrays)
def test_pareto_stationarity_is_the_exact_min_norm_point(J):
    """The KKT certificate holds, and no feasible α (SLSQP from the centre, and every vertex) has
    a smaller norm."""
    res = R.pareto_stationarity(J)
    scale = max(1.0, float(np.max(np.sum(J * J, axis=1))))
    assert res.kkt_residual <= 1e-9 * scale
    assert res.alpha.min() >= 0 and res.alpha.sum() == pytest.approx(1.0, abs=1e-12)
    m = J.shape[0]
    slsqp = minimize(lambda a: 0.5 * np.sum((J.T @ a) ** 2), np.full(m, 1 / m),
                     jac=lambda a: J @ (J.T @ a), bounds=[(0, 1)] * m, method="SLSQP",
                     constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
                     options={"ftol": 1e-16, "maxiter": 500})
    assert res.value <= np.linalg.norm(J.T @ slsqp.x) + 1e-7 * np.sqrt(scale)
    assert res.value <= np.min(np.linalg.norm(J, axis=1)) + 1e-12


def test_pareto_stationarity_is_zero_when_the_hull_contains_the_origin():
    res = R.pareto_stationarity(np.array([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0]]))
    assert res.value < 1e-14
    np.testing.assert_allclose(res.alpha, [1 / 3, 1 / 3, 1 / 3], rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: R.make_linear_problem(3, 5, 200, noise=[0.1, 0.1, 1.0], seed=0),
    lambda: R.make_logistic_problem(3, 4, 200, flip=[0.0, 0.1, 0.3], seed=1),
    lambda: R.make_linear_problem(4, 3, 50, noise=0.3, relatedness=0.2, seed=2),
])
def test_minmax_solution_is_certified_by_a_zero_duality_gap(make):
    p = make()
    sol = R.minmax_solution(p)
    assert -1e-14 <= sol.certificate < 1e-10      # a gap, >= 0 up to round-off
    assert sol.value == pytest.approx(np.max(p.excess_risks(sol.theta)), rel=1e-14)
    # no random point does better
    rng = np.random.default_rng(0)
    for _ in range(200):
        theta = sol.theta + 0.1 * rng.standard_normal(p.dim)
        assert np.max(p.excess_risks(theta)) >= sol.value - 1e-12


def test_duality_gap_is_nonnegative_and_zero_exactly_at_the_saddle_point():
    p = R.make_linear_problem(3, 4, 100, noise=[0.1, 0.3, 1.0], seed=3)
    sol = R.minmax_solution(p)
    assert R.duality_gap(p, sol.theta, sol.alpha).gap < 1e-10
    rng = np.random.default_rng(1)
    for _ in range(20):
        gap = R.duality_gap(p, sol.theta + 0.1 * rng.standard_normal(4), rng.random(3))
        assert gap.gap > 0


def test_a_weighted_minimiser_with_positive_weights_is_not_dominated():
    """A minimiser of Σ α_i ℓ_i with every α_i > 0 is Pareto optimal ([OURS]
    docs/sources.md §S7)."""
    p = R.make_linear_problem(3, 4, 100, noise=0.3, seed=4)
    theta = R.minimize_weighted(p, np.array([0.2, 0.3, 0.5])).theta
    assert not R.is_dominated(p, theta).dominated


def test_a_perturbed_point_is_dominated_with_a_valid_witness():
    p = R.make_logistic_problem(2, 3, 100, flip=[0.0, 0.2], seed=5)
    theta = R.minimize_weighted(p, np.array([0.5, 0.5])).theta + np.array([0.05, -0.05, 0.05])
    res = R.is_dominated(p, theta)
    assert res.dominated
    assert np.all(p.losses(res.witness) <= p.losses(theta) + 1e-12)
    assert np.max(p.losses(theta) - p.losses(res.witness)) > 1e-6


def test_front_points_are_on_the_front_and_off_front_points_are_not():
    p = R.make_linear_problem(2, 3, 100, noise=[0.1, 1.0], seed=6)
    front = R.pareto_front(p, 11)
    assert np.all(np.diff(front.losses[:, 0]) <= 1e-12)     # ℓ_1 falls as w goes 0 → 1
    assert np.all(np.diff(front.losses[:, 1]) >= -1e-12)
    for theta in front.thetas[1:-1]:
        assert R.front_gap(p, theta) < 1e-9
    assert R.front_gap(p, front.thetas[5] + 0.1) > 1e-4
