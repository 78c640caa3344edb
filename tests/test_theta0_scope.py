"""θ₀ as part of a problem family, and the scope of the robustness finding: the scaled-game
saddle argmin max_i E_i/E_i(θ₀) predicts where scale processing settles, the finding holds from
θ₀ near 0 and vanishes from far starts, and a start that already is the saddle is called out."""

import numpy as np
import pytest

import reference as R
from proofs_check import theta0 as T
from proofs_check.claims import robustness, robustness_scope as S
from proofs_check.config import ProblemSpec, SuiteConfig
from proofs_check.report.markdown import scope_markdown
from proofs_check.sweep.grid import from_dict

LOGISTIC = ProblemSpec("logistic", 3, 5, 300, (0.0, 0.0, 0.3))
CFG = SuiteConfig(quick=True, seeds=8, problems=(LOGISTIC,))
SEEDS = list(range(8))            # the suite's seeds (with 4 the clean-task ratio is too noisy)


@pytest.mark.parametrize("text, kind", [("zero", "zero"), ("random:0.5", "random"),
                                        ("pretrained:clean", "pretrained"),
                                        ("pretrained:clean:0.5", "pretrained"),
                                        ("pretrained:0+1", "pretrained")])
def test_a_start_round_trips_through_its_text(text, kind):
    start = T.parse(text)
    assert start.kind == kind and T.parse(start.text) == start


@pytest.mark.parametrize("bad", ["", "Zero", "random", "random:-1", "random:nan",
                                 "pretrained:", "pretrained:clean:0", "pretrained:clean:2",
                                 "pretrained:a+b", "zero:1"])
def test_a_bad_start_is_a_value_error_naming_theta0(bad):
    with pytest.raises(ValueError, match="theta0 must be one of"):
        T.parse(bad)


def test_a_start_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="theta0 must be a string"):
        ProblemSpec(theta0=0.5)


def test_the_starts_are_what_they_say():
    p = LOGISTIC.build(3, LOGISTIC.noise_at(0.4))
    assert np.all(T.initial_point("zero", p, 3, (0, 1)) == 0)
    r = T.initial_point("random:4.5", p, 3, (0, 1))
    assert np.linalg.norm(r) == pytest.approx(4.5, rel=1e-12)
    assert np.array_equal(r, T.initial_point("random:4.5", LOGISTIC.build(3), 3, (0, 1)))
    full = T.initial_point("pretrained:clean", p, 3, (0, 1))
    grad = R.minimize_weighted(p, np.array([1.0, 1.0, 0.0])).theta
    np.testing.assert_allclose(full, grad, atol=1e-10)
    np.testing.assert_allclose(T.initial_point("pretrained:clean:0.5", p, 3, (0, 1)), full / 2,
                               atol=1e-12)


def test_a_pretrained_start_naming_a_missing_task_is_refused():
    with pytest.raises(ValueError, match="out of range"):
        ProblemSpec("logistic", 3, 5, 100, (0.0, 0.0, 0.3), theta0="pretrained:0+5")


def test_the_config_file_and_the_grid_take_theta0(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[problem]\nfamily = "logistic"\nn_tasks = 3\ndim = 4\nn_samples = 50\n'
                   'theta0 = "random:2"\n')
    assert SuiteConfig.from_toml(cfg).problems[0].theta0 == "random:2"
    grid = {"problem": {"family": "logistic", "n_tasks": 3, "dim": 3, "n_samples": 40},
            "grid": {"noise": [0.0, 0.3], "theta0": ["zero", "pretrained:clean"]},
            "run": {"seeds": 2, "steps": 20, "methods": ["ExcessMTL(exact)"]}}
    assert len(from_dict(grid, source="g").cells()) == 4
    grid["grid"]["theta0"] = ["zero", "somewhere"]
    with pytest.raises(ValueError, match="theta0"):
        from_dict(grid, source="g")


def test_the_robustness_sweep_starts_where_the_family_says():
    far = SuiteConfig(quick=True, seeds=4, problems=(ProblemSpec(
        "logistic", 3, 5, 300, (0.0, 0.0, 0.3), theta0="random:4.5"),))
    method = R.ExcessMTL("exact", "paper")
    near, away = (robustness.per_seed(robustness.sweep(c, c.problems[0], method, [0, 1, 2, 3]))
                  for c in (CFG, far))
    assert np.median(near[0]) > 0.2 > np.median(away[0])        # the drift depends on θ₀


@pytest.fixture(scope="module")
def study():
    return S.study(CFG, LOGISTIC, SEEDS)


def test_the_scaled_saddle_predicts_where_scale_processing_settles(study):
    check = S.prediction_check("logistic", study)
    assert check.passed and check.measured < 1e-6


def test_the_wrong_model_does_not_predict_it(study):
    """The negative control: the plain saddle argmin max_i E_i (which ignores θ₀) mispredicts the
    scale-processed dynamics by far more than the tolerance, so the check has teeth."""
    scaled, plain = study["ExcessMTL(exact)"]["zero"], study[S.SUBJECTS[1]]["zero"]
    assert np.median(np.abs(scaled["drift"] - plain["pred_drift"])) > 4 * S.PREDICTION_TOL


def test_the_finding_holds_near_zero_vanishes_far_away_and_a_saddle_start_is_called_out(study):
    rows = {r["theta0"]: r for r in S.rows("logistic", study, 0.05, 1.10)
            if r["method"] == "ExcessMTL(exact)"}
    assert rows["zero"]["verdict"] == "not robust"
    assert rows["random:4.5"]["verdict"] == "robust"
    assert rows["pretrained:clean"]["verdict"] == "degenerate"
    control = [r for r in S.rows("logistic", study, 0.05, 1.10)
               if r["method"] == S.SUBJECTS[1]]
    assert all(r["verdict"] == "robust" for r in control)


def test_the_scope_is_stated_in_generated_words(study):
    table = S.rows("logistic", study, 0.05, 1.10)
    words = S.scope_statement("logistic", LOGISTIC, (0.0, 0.4), study, table, {0.2: 0.1, 0.4: 0.3},
                              drift_tol=0.05, harm_tol=1.10)
    assert "θ₀ = 0 (initial loss 0.693 on every task)" in words["observed"]
    assert "label flips" in words["observed"] and "grows with the noise" in words["observed"]
    assert "vanishes when θ₀ random with ‖θ₀‖ = 4.5" in words["vanishes"]
    assert "without scale processing" in words["vanishes"]
    assert "Degenerate, not counted: θ₀ pre-trained on the clean tasks" in words["vanishes"]
    md = "\n".join(scope_markdown([words]))
    assert "| logistic | ExcessMTL(exact) | `random:4.5` |" in md


def test_no_finding_no_scope_statement(study):
    table = [dict(r, verdict="robust") for r in S.rows("logistic", study, 0.05, 1.10)]
    assert S.scope_statement("logistic", LOGISTIC, (0.0, 0.4), study, table, {},
                             drift_tol=0.05, harm_tol=1.10) is None
