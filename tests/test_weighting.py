"""Weighting methods: golden cases with arithmetic, properties (Hypothesis), the noisy-task case."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as R
from tests.properties import (assert_permutation_equivariant, assert_weights_normalised, drive,
                              recorded_inputs, shift_losses)

GOLDEN_GRADS = [np.array(g, float) for g in ([[1, 0], [0, 2]], [[1, 0], [0, 1]], [[0, 1], [1, 1]])]


def _drive_grads(method, grads_seq):
    return R.replay(method, np.zeros((len(grads_seq), 2)), np.stack(grads_seq))


def test_golden_excessmtl_official_three_steps():
    """Official ExcessMTL (adagrad, η_α = 1, ε = 1e-7), 2 tasks, 2 parameters.

    Step 1: g_1 = (1, 0), g_2 = (0, 2).  S_1 = (1, 0), S_2 = (0, 4).
        Ê_1 = 1/√(1+ε) + 0/√ε = 0.99999995,  Ê_2 = 4/√(4+ε) = 1.99999998.
        First call: baseline b = Ê, weights stay α = (1, 1).
    Step 2: g_1 = (1, 0), g_2 = (0, 1).  S_1 = (2, 0), S_2 = (0, 5).
        Ê_1 = 1/√(2+ε), Ê_2 = 1/√(5+ε);  ẽ = Ê/b = (√(1+ε)/√(2+ε), √(4+ε)/(4√(5+ε)))
          = (0.70710680, 0.22360680).
        α ∝ exp(ẽ), Σα = 2:  α_1 = 2/(1 + e^{ẽ_2 − ẽ_1}) = 2/(1 + e^{−0.48350000}) = 1.23714802,
        α_2 = 0.76285198.
    Step 3: g_1 = (0, 1), g_2 = (1, 1).  S_1 = (2, 1), S_2 = (1, 6).
        Ê_1 = 0 + 1/√(1+ε), Ê_2 = 1/√(1+ε) + 1/√(6+ε);  ẽ = (1.0, 0.70412413).
        log α accumulates: α_1 = 2/(1 + e^{(0.22360680+0.70412413) − (0.70710680+1.0)})
          = 1.37109117, α_2 = 0.62890883.
    """
    eps = 1e-7
    b = np.array([1 / np.sqrt(1 + eps), 4 / np.sqrt(4 + eps)])
    e2 = np.array([1 / np.sqrt(2 + eps), 1 / np.sqrt(5 + eps)]) / b
    e3 = np.array([1 / np.sqrt(1 + eps), 1 / np.sqrt(1 + eps) + 1 / np.sqrt(6 + eps)]) / b
    a2 = 2 / (1 + np.exp(e2[1] - e2[0]))
    a3 = 2 / (1 + np.exp((e2[1] + e3[1]) - (e2[0] + e3[0])))
    expected = np.array([[1.0, 1.0], [a2, 2 - a2], [a3, 2 - a3]])
    np.testing.assert_allclose(expected, [[1, 1], [1.23714802, 0.76285198],
                                          [1.37109117, 0.62890883]], atol=5e-9)
    got = _drive_grads(R.ExcessMTL("adagrad", "official", step_size=1.0), GOLDEN_GRADS)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_golden_excessmtl_paper_is_official_divided_by_m():
    """Paper convention: α starts at 1/m and stays on Δ_m; same arithmetic, so the weights are
    (0.5, 0.5), (0.61857401, 0.38142599), (0.68554559, 0.31445441)."""
    got = _drive_grads(R.ExcessMTL("adagrad", "paper", step_size=1.0), GOLDEN_GRADS)
    np.testing.assert_allclose(got, [[0.5, 0.5], [0.61857401, 0.38142599],
                                     [0.68554559, 0.31445441]], atol=5e-9)


def test_golden_excessmtl_without_scale_processing_updates_from_step_one():
    """scale_processing=False, η_α = 0.5, exact estimates E = (1, 3) then (2, 0):
    step 1: α ∝ (e^{0.5}, e^{1.5}) → α_1 = 1/(1+e) = 0.26894142;
    step 2: α ∝ (e^{1.5}, e^{1.5}) → (0.5, 0.5)."""
    m = R.ExcessMTL("exact", "paper", step_size=0.5, scale_processing=False)
    s = m.init_state(2, 2)
    s, w1 = m.step(s, np.zeros(2), np.ones((2, 2)), excess=np.array([1.0, 3.0]))
    s, w2 = m.step(s, np.zeros(2), np.ones((2, 2)), excess=np.array([2.0, 0.0]))
    np.testing.assert_allclose(w1, [0.26894142, 0.73105858], atol=1e-8)
    np.testing.assert_allclose(w2, [0.5, 0.5], rtol=1e-14)


def test_golden_groupdro_official():
    """GroupDRO, η = 1, losses (0, ln 3): α ∝ (1, 3), Σα = 2 → (0.5, 1.5)."""
    m = R.GroupDRO("official", step_size=1.0)
    _, w = m.step(m.init_state(2, 1), np.array([0.0, np.log(3.0)]), np.zeros((2, 1)))
    np.testing.assert_allclose(w, [0.5, 1.5], rtol=1e-14)


def test_mgda_and_imtlg_closed_forms_on_two_orthogonal_gradients():
    """g_1 = (1, 0), g_2 = (0, 2): MGDA's min-norm point is α = (4/5, 1/5) (‖α_1 g_1 + α_2 g_2‖²
    = α_1² + 4α_2² is minimal at α_1 = 4α_2); IMTL-G equalises the projections on u_i:
    α_1 = 2α_2 → (2/3, 1/3)."""
    g = np.array([[1.0, 0.0], [0.0, 2.0]])
    for method, expected in ((R.MGDA(), [0.8, 0.2]), (R.IMTLG(), [2 / 3, 1 / 3])):
        _, w = method.step(method.init_state(2, 2), np.zeros(2), g)
        np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_imtlg_refuses_affinely_dependent_gradients():
    method = R.IMTLG()
    with pytest.raises(ValueError, match="IMTL-G is undefined"):
        method.step(method.init_state(2, 1), np.zeros(2), np.array([[1.0], [2.0]]))


def test_weights_never_overflow_in_log_space():
    m = R.GroupDRO("paper", step_size=1.0)
    s = m.init_state(2, 1)
    for _ in range(100):
        s, w = m.step(s, np.array([1000.0, 0.0]), np.zeros((2, 1)))
    assert np.all(np.isfinite(w)) and w[0] == pytest.approx(1.0)


# --------------------------------------------------------------------- properties
ALL_METHODS = [
    R.ExcessMTL("adagrad", "official"), R.ExcessMTL("adagrad", "paper", step_size=0.5),
    R.ExcessMTL("exact", "official"), R.ExcessMTL("taylor", "paper", warmup=3),
    R.ExcessMTL("exact", "paper", scale_processing=False),
    R.GroupDRO("official"), R.GroupDRO("paper"), R.EqualWeights("official"),
    R.EqualWeights("paper"), R.MGDA(), R.IMTLG(),
]
EXCESS_METHODS = [m for m in ALL_METHODS if isinstance(m, R.ExcessMTL)]

problems = st.builds(
    lambda kind, m, d, seed: (R.make_linear_problem(m, d, 30, noise=0.3, seed=seed)
                              if kind == "linear" else
                              R.make_logistic_problem(m, d, 40, flip=0.1, seed=seed)),
    st.sampled_from(["linear", "logistic"]), st.integers(1, 4), st.integers(1, 4),
    st.integers(0, 10_000))


@given(problems, st.sampled_from(ALL_METHODS))
def test_weights_stay_normalised(problem, method):
    assume(not isinstance(method, R.IMTLG) or problem.dim >= problem.n_tasks)
    assert_weights_normalised(method, drive(method, recorded_inputs(problem, steps=8)))


@given(problems, st.sampled_from(ALL_METHODS), st.randoms(use_true_random=False))
def test_permuting_tasks_permutes_the_trajectory(problem, method, rnd):
    assume(not isinstance(method, R.IMTLG) or problem.dim >= problem.n_tasks)
    perm = list(range(problem.n_tasks))
    rnd.shuffle(perm)
    assert_permutation_equivariant(problem, method, np.array(perm), steps=10)


@given(problems, st.sampled_from(EXCESS_METHODS), st.floats(0.5, 50.0), st.data())
def test_adding_a_constant_to_a_task_loss_leaves_excessmtl_unchanged(problem, method, c, data):
    task = data.draw(st.integers(0, problem.n_tasks - 1))
    inputs = recorded_inputs(problem, steps=8)
    np.testing.assert_array_equal(drive(method, shift_losses(inputs, task, c)),
                                  drive(method, inputs))


def test_adding_a_constant_to_a_task_loss_changes_groupdro():
    problem = R.make_linear_problem(3, 2, 30, seed=0)
    inputs = recorded_inputs(problem, steps=8)
    method = R.GroupDRO("paper")
    shifted = drive(method, shift_losses(inputs, 1, 1.0))
    assert np.all(shifted[:, 1] > drive(method, inputs)[:, 1])


@given(st.integers(1, 5), st.floats(1e-3, 10.0), st.sampled_from(["official", "paper"]),
       st.booleans(), st.integers(0, 4))
def test_excessmtl_with_a_constant_estimate_equals_equal_weights(m, value, convention, scale,
                                                                 warmup):
    method = R.ExcessMTL("exact", convention, step_size=0.7, scale_processing=scale,
                         warmup=warmup)
    T = 10
    inputs = (np.zeros((T, m)), np.ones((T, m, 2)), np.full((T, m), value), None)
    np.testing.assert_allclose(drive(method, inputs), drive(R.EqualWeights(convention), inputs),
                               rtol=1e-13)


# ------------------------------------------------------------------ the noisy task
@pytest.fixture(scope="module")
def noisy_problem():
    """3 linear tasks, task 2 with 10× the label noise of the others."""
    return R.make_linear_problem(3, 5, 200, noise=[0.1, 0.1, 1.0], seed=0)


def test_groupdro_puts_most_weight_on_the_noisy_task(noisy_problem):
    traj = R.run(noisy_problem, R.GroupDRO("paper", step_size=1.0), 2000, lr=0.3)
    assert np.argmax(traj.weights[-1]) == 2


def test_excessmtl_exact_reaches_the_minmax_solution(noisy_problem):
    """Without scale processing the α-player's payoff is E itself, so the target is
    min_θ max_i E_i(θ)."""
    sol = R.minmax_solution(noisy_problem)
    assert sol.certificate < 1e-12
    traj = R.run(noisy_problem, R.ExcessMTL("exact", "paper", scale_processing=False), 2000,
                 lr=0.3)
    assert traj.max_excess[-1] == pytest.approx(sol.value, rel=1e-3)
    assert np.argmax(traj.weights[-1]) != 2


def test_excessmtl_exact_with_scale_processing_reaches_the_scaled_minmax_solution(noisy_problem):
    """With the official scale processing the payoff is E_i/E_i(θ_0): the target becomes
    min_θ max_i E_i(θ)/E_i(θ_0) (docs/theory.md)."""
    scales = noisy_problem.excess_risks(np.zeros(noisy_problem.dim))
    sol = R.minmax_solution(noisy_problem, scales=scales)
    traj = R.run(noisy_problem, R.ExcessMTL("exact", "official"), 2000, lr=0.1)
    assert np.max(traj.excess[-1] / scales) == pytest.approx(sol.value, rel=1e-3)


# -------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, arg", [
    (lambda: R.ExcessMTL(step_size=0.0), "step_size"),
    (lambda: R.ExcessMTL(step_size=-1.0), "step_size"),
    (lambda: R.ExcessMTL(estimator="fisher"), "estimator"),
    (lambda: R.ExcessMTL(convention="sum1"), "convention"),
    (lambda: R.ExcessMTL(warmup=-1), "warmup"),
    (lambda: R.GroupDRO(step_size=float("inf")), "step_size"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 10, lr=0.0), "lr"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 10, lr=-0.1), "lr"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 0), "steps"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 5, schedule="cos"),
     "schedule"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 5, theta0=np.zeros(3)),
     "theta0"),
    (lambda: R.run(R.make_linear_problem(1, 2, 5), R.EqualWeights(), 5, project_radius=0.0),
     "project_radius"),
    (lambda: R.ExcessMTL().step(R.ExcessMTL().init_state(2, 2), np.zeros(3), np.zeros((2, 2))),
     "losses"),
    (lambda: R.ExcessMTL().step(R.ExcessMTL().init_state(2, 2), np.zeros(2),
                                np.full((2, 2), np.nan)), "grads"),
    (lambda: R.ExcessMTL("exact").step(R.ExcessMTL().init_state(2, 2), np.zeros(2),
                                       np.zeros((2, 2))), "excess"),
    (lambda: R.duality_gap(R.make_linear_problem(2, 2, 5), np.zeros(2), [-1.0, 2.0]),
     "alpha_bar"),
    (lambda: R.minmax_solution(R.make_linear_problem(2, 2, 5), scales=[1.0, 0.0]), "scales"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_zero_baseline_is_reported_not_divided_by():
    m = R.ExcessMTL("adagrad")
    with pytest.raises(ValueError, match="baseline"):
        m.step(m.init_state(2, 2), np.zeros(2), np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_method_repr_shows_constructor_arguments():
    assert repr(R.ExcessMTL("taylor", "paper", step_size=0.5)) == (
        "ExcessMTL(estimator='taylor', convention='paper', step_size=0.5, warmup=0, "
        "scale_processing=True, eps=1e-07, baseline_eps=0.0, sqrt_accumulator=True, "
        "first_step_update=False)")
