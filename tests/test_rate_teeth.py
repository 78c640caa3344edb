"""The rate claim tells right from wrong: every correct variant passes, every mutant that
converges elsewhere is killed, in both regimes, and the false-alarm rate over 32 seeds is what
docs/claims.md states. Also the public ``verify`` API it runs through."""

import json
import math

import numpy as np
import pytest

import reference as R
from proofs_check import verify
from proofs_check.claims import theory
from proofs_check.claims import rate
from proofs_check.config import SuiteConfig

from proofs_check.claims.instances import inactive_task_problem, tight_bound_problem
from proofs_check.verify import on_simplex

from .mutants import (CORRECT, MUTANTS, FirstBaselineHedge, HalfOptimumHedge, HedgeState,
                      LaggedHedge, LinearSpaceHedge, LossHedge, LossRatioHedge,
                      OfficialScaleHedge, UniformMixHedge)

QUICK = dict(quick=True, seeds=4, batch_size=[None, 8], claims=["rate"])
SURVIVORS = {UniformMixHedge}


@pytest.mark.parametrize("variant", CORRECT, ids=lambda c: c.__name__)
def test_a_correct_variant_passes_rate_in_both_regimes(variant):
    report = verify(variant(), **QUICK)
    claim = report.claim("rate")
    assert claim.passed, [(c.name, c.measured, c.bound) for c in claim.checks if not c.passed]


@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m not in SURVIVORS],
                         ids=lambda c: c.__name__)
def test_a_mutant_that_converges_elsewhere_is_killed_by_rate(mutant):
    claim = verify(mutant(), **QUICK).claim("rate")
    assert claim.failed, claim.verdict
    assert any("growth" in name for name in claim.failed_checks)


def test_the_uniform_mixing_survivor_is_explained_by_the_active_set():
    """docs/claims.md: mixing 20% uniform weight cannot move the fixed point when every task
    is active at the min–max solution with α*_i >= 0.2/m; then the mixture still plays α*.
    It survives on the default problems for that reason."""
    config = SuiteConfig(quick=True)
    for problem in (config.linear(), config.logistic()):
        alpha = R.minmax_solution(problem).alpha
        assert np.all(alpha >= 0.2 / problem.n_tasks), alpha
    families = [config.spec("linear"), config.spec("logistic")]
    assert verify(UniformMixHedge(), families, **QUICK).claim("rate").passed
    # verify's defaults add the inactive-task instance, where it converges elsewhere
    assert verify(UniformMixHedge(), **QUICK).claim("rate").failed


def test_an_instance_with_an_inactive_task_kills_the_uniform_mixing_survivor():
    problem = inactive_task_problem()
    assert R.minmax_solution(problem).alpha[2] == pytest.approx(0.0, abs=1e-9)
    assert not verify(UniformMixHedge(), problem=problem, **QUICK).claim("rate").passed
    for correct in (LinearSpaceHedge, LaggedHedge):
        claim = verify(correct(), problem=problem, **QUICK).claim("rate")
        assert claim.passed, (correct.__name__, claim.failed_checks)


CONVERGE_ELSEWHERE = [R.GroupDRO("paper"), R.EqualWeights("paper"),
                      R.ExcessMTL("adagrad", "official"), R.ExcessMTL("exact", "official")]


@pytest.mark.parametrize("batch_size", [None, 8, 64], ids=["full batch", "batch 8", "batch 64"])
def test_methods_that_converge_to_another_point_fail_rate_in_each_regime(batch_size):
    """The growth rule kills them on the default families (the tight instance's bounds, which
    the default problem=None adds, are tested on their own below)."""
    families = list(SuiteConfig(quick=True).problems)
    report = verify(CONVERGE_ELSEWHERE, families, claims=["rate"], quick=True, seeds=8,
                    batch_size=batch_size)
    verdicts = {c.method: c.verdict for c in report.claims}
    assert set(verdicts.values()) == {"fail"}, verdicts


@pytest.mark.slow      # a false-alarm rate over 32 seeds: a long statistic (.ci/run runs -m slow)
@pytest.mark.parametrize("batch_size", [None, 8, 64], ids=["full batch", "batch 8", "batch 64"])
@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_the_false_alarm_rate_over_32_seeds_is_the_documented_one(kind, batch_size):
    """Per seed, the correct dynamics exceed the growth threshold with probability p̂ (32 seeds;
    at full batch the suite's 1/T threshold); the SPRT then fails a correct method with
    probability <= 1% (docs/theory.md §8)."""
    config = SuiteConfig(quick=True)
    problem = config.linear() if kind == "linear" else config.logistic()
    runs = rate.run_seeds(kind, problem, R.ExcessMTL("exact", "paper", scale_processing=False),
                          theory.game_setup(problem), config.rate_steps, list(range(100, 132)),
                          batch_size=batch_size)
    thr = rate.GROWTH_DETERMINISTIC if batch_size is None else rate.GROWTH_STOCHASTIC
    p_seed = float(np.mean(runs.growth > thr))
    assert p_seed <= 0.2, p_seed
    assert SuiteConfig().rule().operating_characteristic(p_seed).fail <= 0.01


@pytest.mark.slow      # a false-alarm rate over 32 seeds: a long statistic (.ci/run runs -m slow)
@pytest.mark.parametrize("variant", CORRECT, ids=lambda c: c.__name__)
def test_no_correct_variant_fails_more_often_than_documented_over_32_seeds(variant):
    """docs/claims.md: each correct variant's per-seed exceedance p̂ over 32 seeds, on the
    regime where the documented p̂ is largest (linear, full batch: 0.12 for the FTRL order), and
    on the tight instance's bounds (0 of 32)."""
    config = SuiteConfig(quick=True)
    problem = config.linear()
    seeds = list(range(100, 132))
    runs = rate.run_seeds("linear", problem, on_simplex(variant()), theory.game_setup(problem),
                          config.rate_steps, seeds)
    p_seed = float(np.mean(~(runs.growth <= rate.GROWTH_DETERMINISTIC)))
    assert p_seed <= 0.2, p_seed
    assert SuiteConfig().rule().operating_characteristic(p_seed).fail <= 0.01
    bounds = tight(on_simplex(variant()), seeds=seeds)
    over = (np.nanmax(bounds.gaps / bounds.data_bound, axis=1) > 1) | \
        (np.nanmax(bounds.gaps / bounds.apriori, axis=1) > 1)
    assert not over.any(), np.flatnonzero(over)


def test_the_median_rule_false_alarm_is_the_binomial_tail():
    rng = np.random.default_rng(0)
    p = 0.2
    sims = np.median(rng.random((200000, 8)) < p, axis=1) > 0.5      # > half exceed
    assert abs(sims.mean() - rate.median_rule_false_alarm(p, 8)) < 2e-3
    assert rate.median_rule_false_alarm(0.0, 8) == 0.0
    assert math.isclose(rate.median_rule_false_alarm(1.0, 8), 1.0)


# ------------------------------------------------------------ the tight instance (theory §3c)
def tight(method, steps=1000, seeds=(0, 1, 2, 3)):
    problem = tight_bound_problem(0)
    return rate.run_seeds(rate.TIGHT, problem, method, theory.game_setup(problem), steps,
                          list(seeds), rule="bounds")


def test_the_bound_is_within_a_factor_ten_of_the_gap_on_the_tight_instance():
    """Measured/bound >= 0.1 for the theorem dynamics, and the bound still holds: there a
    method 10× slower than the theorem dynamics cannot hide in slack."""
    runs = tight(R.ExcessMTL("exact", "paper", scale_processing=False))
    assert runs.tightness >= rate.TIGHTNESS_MIN
    assert np.nanmax(runs.gaps / runs.data_bound) <= 1.0
    assert np.nanmax(runs.gaps / runs.apriori) <= 1.0
    names = [c.name for c in rate.rate_subchecks(runs)]
    assert not any("growth" in n for n in names), names          # bounds only there


@pytest.mark.parametrize("variant", CORRECT, ids=lambda c: c.__name__)
def test_a_correct_variant_stays_under_the_bounds_on_the_tight_instance(variant):
    checks = rate.rate_subchecks(tight(on_simplex(variant())))
    assert len(checks) == 3 and all(c.passed for c in checks), \
        [(c.name, c.measured) for c in checks]


@pytest.mark.parametrize("mutant", [LossHedge, FirstBaselineHedge, LossRatioHedge,
                                    HalfOptimumHedge], ids=lambda c: c.__name__)
def test_a_mutant_that_learns_its_weights_too_slowly_breaks_the_tight_bound(mutant):
    """docs/claims.md: these mutants' gap is 1.3–6× the bound on the tight instance."""
    failed = [c.name for c in rate.rate_subchecks(tight(on_simplex(mutant()))) if not c.passed]
    assert any("data-dependent bound" in n for n in failed), failed


def test_nonsmooth_tasks_are_held_to_the_theorems_rate_at_full_batch():
    problem = R.make_absolute_problem(3, 2, 16, noise=0.5, seed=1)
    runs = rate.run_seeds("absolute full batch", problem,
                          R.ExcessMTL("exact", "paper", scale_processing=False),
                          theory.game_setup(problem), 400, [0, 1])
    growth = next(c for c in rate.rate_subchecks(runs) if "growth" in c.name)
    assert f"statistic > {rate.GROWTH_STOCHASTIC:.3g};" in growth.note
    assert "nonsmooth" in growth.note
    assert not any("1/T" in c.name for c in rate.rate_subchecks(runs))


def test_the_suite_reports_the_tightness_of_its_tight_instance():
    claim = rate.run(SuiteConfig(quick=True, seeds=2))
    check = next(c for c in claim.checks if c.name.startswith(f"{rate.TIGHT}: tightness"))
    assert check.kind == "lower" and check.bound == rate.TIGHTNESS_MIN and check.passed


# ------------------------------------------------------------------ the verify API
class MyHedge:
    """A user's own method: the theorem dynamics in ten lines, official convention."""

    needs = frozenset({"excess"})

    def init_state(self, n_tasks, dim):
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        log_w = state + np.asarray(excess)
        log_w = log_w - log_w.max()
        w = np.exp(log_w)
        return log_w, len(w) * w / w.sum()


def test_a_user_method_on_a_user_problem_with_five_tasks_and_two_noisy_ones(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 120, 4))
    theta = rng.standard_normal((5, 4))
    noise = np.array([1.0, 0.1, 0.1, 1.5, 0.1])
    y = np.einsum("mnd,md->mn", X, theta) + noise[:, None] * rng.standard_normal((5, 120))
    problem = R.problem_from_arrays("linear", X, y)
    report = verify(MyHedge(), problem, claims=["rate"], seeds=4, steps=1000,
                    batch_size=[None, 16])
    claim = report.claim("rate")
    assert claim.method == "MyHedge" and report.passed, claim.failed_checks
    assert {c.name.split(":")[0] for c in claim.checks} == {
        "linear full batch", "linear batch 16", "weight sum Σα over the steps of each run"}
    # 4 seeds to start; the sequential rules add seeds (5 at least, to pass)
    S, K = claim.arrays["linear_batch_16_gaps"].shape
    assert 5 <= S <= 32 and K == len(rate.horizons(1000))
    wrong = verify(R.GroupDRO("official"), problem, claims=["rate"], seeds=4, steps=1000,
                   batch_size=16)
    assert wrong.claim("rate").failed


def test_the_report_api(tmp_path):
    report = verify([R.ExcessMTL("exact", "paper", scale_processing=False), R.GroupDRO()],
                    claims=["rate"], seeds=[0, 1, 2, 3, 4], steps=300)
    assert not report.passed and report.claim("rate", 1).failed
    assert report.claim("rate", method=0).passed and not report.claim("rate", 1).passed
    assert report.claim("rate", "GroupDRO(official, η_α=1)").verdict == "fail"
    with pytest.raises(ValueError, match="method="):
        report.claim("rate")
    with pytest.raises(KeyError, match="claim_id"):
        report.claim("robustness")
    assert json.loads(json.dumps(report.to_json()))["config"]["seeds"] == [0, 1, 2, 3, 4]
    assert "GroupDRO" in report.table() and "FAIL" in report.table()
    out = report.save(tmp_path / "mine")
    assert (out / "report.json").exists() and len(list((out / "data").iterdir())) == 2
    assert {p.name for p in (out / "figures").iterdir()} >= {"rate_gap_vs_T-1.png",
                                                               "rate_gap_vs_T-2.png"}
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("mine")
    with pytest.raises(ValueError, match="refusing"):
        report.save(tmp_path / "foreign")


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(method=R.ExcessMTL), TypeError, "method"),
    (dict(problem="linear"), TypeError, "problem"),
    (dict(claims=["nope"]), ValueError, "claims"),
    (dict(claims=["robustness"], problem=R.make_linear_problem(2, 2, 20)), ValueError, "claims"),
    (dict(claims=["estimator"]), ValueError, "claims"),
    (dict(config=3), TypeError, "config"),
    (dict(seeds=0), ValueError, "seeds"),
    (dict(seeds=[]), ValueError, "seeds"),
    (dict(steps=50), ValueError, "steps"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=[]), ValueError, "batch_size"),
    (dict(sampler="sobol"), ValueError, "sampler"),
    (dict(quick="yes"), TypeError, "quick"),
    (dict(method=[]), ValueError, "method"),
])
def test_verify_names_a_bad_argument(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        verify(**kwargs)


def test_the_cli_checks_a_users_method_through_verify(tmp_path, monkeypatch, capsys):
    from proofs_check import cli
    (tmp_path / "usermethod.py").write_text(
        "from tests.test_rate_teeth import MyHedge\n"
        "def make():\n    return MyHedge()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    code = cli.main(["--method", "usermethod:make", "--quick", "--seeds", "3", "--batch-sizes",
                     "8", "--claims", "rate", "--out", str(out), "--strict", "--no-figures"])
    printed = capsys.readouterr().out
    assert code == 0 and "rate [MyHedge]" in printed and "PASS" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["claims"][0]["method"] == "MyHedge" and report["config"]["seeds"] == [0, 1, 2]


def test_the_console_script_names_itself(monkeypatch):
    from proofs_check import cli
    monkeypatch.setattr("sys.argv", ["/usr/local/bin/excessmtl-oracle", "--help"])
    assert cli.suite_parser().prog == "excessmtl-oracle"
    assert "excessmtl-oracle" in cli.suite_parser().format_help()


# ------------------------------------------------------------------ the weight sum
class LazyNormalised(LinearSpaceHedge):
    """Hedge renormalised every 10 steps only: verify's simplex weights are the theorem's, but in
    the user's own loop the θ-step would be scaled by the drifting Σα."""

    label = "renormalised every 10 steps"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        u = np.asarray(excess, dtype=float)
        w = state.w * np.exp(self.step_size * u)
        if (state.t + 1) % 10 == 0:
            w = w / w.sum()
        return HedgeState(state.t + 1, w), w


def test_a_drifting_weight_sum_is_a_finding_and_a_constant_one_is_not():
    kw = dict(claims=["rate"], quick=True, problem=SuiteConfig().spec("linear"), workers=1)
    drift = verify(LazyNormalised(), **kw).claim("rate")
    check = drift.check("weight sum Σα over the steps of each run: max/min, worst run")
    assert check.failed and check.measured > 2 and "scales it by up to" in check.note
    steady = verify(OfficialScaleHedge(), **kw).claim("rate")
    sums = steady.check("weight sum Σα over the steps of each run: max/min, worst run")
    assert sums.passed and abs(sums.measured - 1) < 1e-9


# ------------------------------------------------------------------ the paired rule
class BiasedHedge(LinearSpaceHedge):
    """The theorem dynamics with task 0's payoff raised by ``bias``: a fixed point off the
    min–max solution (a stall floor of about 4% of V* for bias = 0.1·V* on the linear family,
    docs/claims.md "Detection limits")."""

    def __init__(self, bias: float) -> None:
        super().__init__()
        self.bias = bias
        self.label = f"payoff bias {bias:.3g}"

    def payoff(self, state, losses, excess):
        u = np.array(excess, dtype=float)
        u[0] += self.bias
        return u


def test_the_paired_rule_is_exactly_zero_for_the_theorem_dynamics_and_catches_a_floor():
    problem = SuiteConfig().linear()
    setup = theory.game_setup(problem)
    theorem = R.ExcessMTL("exact", "paper", scale_processing=False)
    rule = SuiteConfig().rule()

    def paired(method):
        runs = rate.decided_runs("linear batch 8", problem, on_simplex(method), setup, 2000,
                                 [0, 1, 2, 3, 4], rule, batch_size=8, paired=theorem,
                                 one_over_t_decides=False)
        check = next(c for c in rate.rate_subchecks(runs, rule, one_over_t_decides=False)
                     if "theorem dynamics on the same draws" in c.name)
        return runs, check

    same, check = paired(LinearSpaceHedge())      # the theorem dynamics, re-implemented
    assert np.abs(same.paired_growth).max() < 1e-9 and check.passed
    biased, check = paired(BiasedHedge(0.1 * R.minmax_solution(problem).value))
    assert check.failed, check.note


def test_the_kept_theorem_runs_are_the_runs_themselves():
    """The paired rule keeps the theorem dynamics' runs for the next method; a kept entry equals
    a fresh run, and another problem (or seed list) is another entry."""
    config = SuiteConfig(quick=True)
    problem, other = config.linear(), config.logistic()
    theorem = R.ExcessMTL("exact", "paper", scale_processing=False)
    setup = theory.game_setup(problem)
    args = (theorem, setup, 300, [0, 1], 8, "with_replacement", "numpy")
    first = rate.theorem_gaps(problem, *args)
    again = rate.theorem_gaps(problem, *args)
    fresh = rate.run_seeds("x", problem, theorem, setup, 300, [0, 1], batch_size=8).gaps
    np.testing.assert_allclose(again, fresh, rtol=1e-12)
    np.testing.assert_array_equal(first, again)
    assert rate._problem_key(problem) != rate._problem_key(other)
    shifted = rate.theorem_gaps(problem, theorem, setup, 300, [2, 3], 8, "with_replacement",
                                "numpy")
    assert not np.allclose(shifted, first)
