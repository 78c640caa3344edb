"""Problems: derivatives agree with finite differences, optima satisfy optimality, bad input."""

import numpy as np
import pytest

import reference as R

PROBLEMS = {
    "linear": lambda: R.make_linear_problem(3, 4, 60, noise=[0.1, 0.5, 1.0], seed=1),
    "linear_l2": lambda: R.make_linear_problem(2, 3, 40, noise=0.3, l2=0.1, seed=2),
    "logistic": lambda: R.make_logistic_problem(3, 4, 80, flip=[0.0, 0.1, 0.3], seed=3),
    "underdetermined": lambda: R.make_linear_problem(2, 8, 5, noise=0.2, seed=4),
}


@pytest.fixture(params=sorted(PROBLEMS))
def problem(request):
    return PROBLEMS[request.param]()


def test_gradients_match_central_differences(problem):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(problem.dim)
    h = 1e-6
    fd = np.stack([(problem.losses(theta + h * e) - problem.losses(theta - h * e)) / (2 * h)
                   for e in np.eye(problem.dim)], axis=1)
    np.testing.assert_allclose(problem.grads(theta), fd, rtol=1e-6, atol=1e-8)


def test_hessians_match_central_differences_of_gradients(problem):
    theta = np.random.default_rng(1).standard_normal(problem.dim)
    h = 1e-6
    fd = np.stack([(problem.grads(theta + h * e) - problem.grads(theta - h * e)) / (2 * h)
                   for e in np.eye(problem.dim)], axis=2)
    np.testing.assert_allclose(problem.hessians(theta), fd, rtol=1e-6, atol=1e-8)


def test_optima_satisfy_first_order_conditions_to_1e_12(problem):
    assert np.all(problem.optimal_grad_norms <= 1e-12)
    for i in range(problem.n_tasks):
        assert np.linalg.norm(problem.grads(problem.optimal_params[i])[i]) <= 1e-12
        np.testing.assert_allclose(problem.losses(problem.optimal_params[i])[i],
                                   problem.optimal_losses[i], rtol=1e-14, atol=1e-15)


def test_optimal_loss_is_a_minimum_against_random_points(problem):
    rng = np.random.default_rng(2)
    for _ in range(50):
        theta = problem.optimal_params.mean(axis=0) + rng.standard_normal(problem.dim)
        assert np.all(problem.losses(theta) >= problem.optimal_losses - 1e-14)
        assert np.all(problem.excess_risks(theta) >= -1e-14)


def test_linear_optimum_is_the_normal_equations_solution():
    p = R.make_linear_problem(2, 3, 50, noise=0.2, seed=5)
    for i in range(2):
        X, y = p.X[i], p.y[i]
        np.testing.assert_allclose(p.optimal_params[i], np.linalg.solve(X.T @ X, X.T @ y),
                                   rtol=1e-12)


def test_linear_bayes_error_is_half_the_noise_variance_for_large_n():
    """[OURS] docs/sources.md §S1.5: for a well-specified linear model ℓ_i^* ≈ σ_i²/2 when
    n >> d."""
    p = R.make_linear_problem(2, 3, 20000, noise=[0.5, 2.0], seed=6)
    np.testing.assert_allclose(p.optimal_losses, [0.125, 2.0], rtol=0.05)


def test_label_flips_raise_the_logistic_optimal_loss():
    clean = R.make_logistic_problem(1, 3, 4000, flip=0.0, seed=7)
    noisy = R.make_logistic_problem(1, 3, 4000, flip=0.3, seed=7)
    assert noisy.optimal_losses[0] > clean.optimal_losses[0] + 0.1


def test_generators_are_seeded_and_reproducible():
    a = R.make_logistic_problem(2, 3, 30, flip=0.1, seed=11)
    b = R.make_logistic_problem(2, 3, 30, flip=0.1, seed=11)
    c = R.make_logistic_problem(2, 3, 30, flip=0.1, seed=12)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_user_arrays_are_copied_and_read_only():
    X = np.ones((1, 3, 2))
    y = np.zeros((1, 3))
    p = R.problem_from_arrays("linear", X, y)
    X[0, 0, 0] = 5.0
    assert p.X[0, 0, 0] == 1.0
    with pytest.raises(ValueError):
        p.X[0, 0, 0] = 2.0


def test_separable_logistic_without_l2_reports_no_minimum():
    X = np.array([[[1.0], [-1.0]]])
    y = np.array([[1.0, 0.0]])
    p = R.problem_from_arrays("logistic", X, y, l2=0.0)
    with pytest.raises(ValueError, match="separable.*l2 > 0"):
        p.optimal_losses
    # the same data with one overlapping point is not separable and has an attained minimum
    q = R.problem_from_arrays("logistic", [[[1.0], [-1.0], [1.0]]], [[1.0, 0.0, 0.0]], l2=0.0)
    assert q.optimal_grad_norms[0] <= 1e-12


@pytest.mark.parametrize("call, arg", [
    (lambda: R.make_linear_problem(0, 2, 10), "n_tasks"),
    (lambda: R.make_linear_problem(2, 0, 10), "dim"),
    (lambda: R.make_linear_problem(2, 2, 0), "n_samples"),
    (lambda: R.make_linear_problem(2, 2, 10, noise=-0.1), "noise"),
    (lambda: R.make_linear_problem(2, 2, 10, noise=[0.1, 0.2, 0.3]), "noise"),
    (lambda: R.make_linear_problem(2, 2, 10, noise=float("nan")), "noise"),
    (lambda: R.make_linear_problem(2, 2, 10, relatedness=1.5), "relatedness"),
    (lambda: R.make_linear_problem(2, 2, 10, l2=-1.0), "l2"),
    (lambda: R.make_logistic_problem(2, 2, 10, flip=0.6), "flip"),
    (lambda: R.make_logistic_problem(2, 2, 10, flip=-0.1), "flip"),
    (lambda: R.problem_from_arrays("linear", np.ones((2, 3)), np.ones((2, 3))), "X"),
    (lambda: R.problem_from_arrays("linear", np.ones((2, 3, 1)), np.ones((2, 4))), "y"),
    (lambda: R.problem_from_arrays("linear", np.full((1, 2, 1), np.nan), np.ones((1, 2))), "X"),
    (lambda: R.problem_from_arrays("linear", np.ones((1, 2, 1)), [[np.inf, 1.0]]), "y"),
    (lambda: R.problem_from_arrays("logistic", np.ones((1, 2, 1)), [[0.5, 1.0]]), "y"),
    (lambda: R.problem_from_arrays("poisson", np.ones((1, 2, 1)), [[0.0, 1.0]]), "loss"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="n_tasks"):
        R.make_linear_problem(2.5, 2, 10)
    with pytest.raises(TypeError, match="theta"):
        R.make_linear_problem(1, 2, 10).losses(["a", "b"])


def test_theta_of_the_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match="theta"):
        R.make_linear_problem(1, 2, 10).grads(np.zeros(3))
