"""The sequential decision over seeds (proofs_check.decide, docs/theory.md §8): its exact error
rates, its three verdicts, and that running seeds in blocks does not change a verdict."""

import numpy as np
import pytest

from proofs_check.decide import SequentialRule, sequential_seeds

RULE = SequentialRule()


def test_the_default_rule_has_the_error_rates_the_docs_state():
    assert RULE.seeds_to_pass == 5 and RULE.seeds_to_fail == 4
    assert RULE.false_alarm == pytest.approx(5.43e-3, rel=1e-2)
    assert RULE.miss == pytest.approx(7.37e-3, rel=1e-2)
    assert RULE.detection_limit() == pytest.approx(0.633, abs=2e-3)


@pytest.mark.parametrize("p", [0.05, 0.2, 0.45, 0.7])
def test_the_exact_operating_characteristic_matches_simulation(p):
    """Negative control for the dynamic programme: 20000 simulated seed streams."""
    oc = RULE.operating_characteristic(p)
    assert oc.fail + oc.passed + oc.inconclusive == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    verdicts = [RULE.decide(rng.random(RULE.max_seeds) < p).verdict for _ in range(20000)]
    for name, exact in (("fail", oc.fail), ("pass", oc.passed)):
        seen = verdicts.count(name) / len(verdicts)
        assert abs(seen - exact) <= 4 * np.sqrt(exact * (1 - exact) / len(verdicts)) + 1e-4


def test_false_alarms_increase_with_the_exceedance_rate():
    fails = [RULE.operating_characteristic(p).fail for p in np.linspace(0, 1, 21)]
    assert all(a <= b + 1e-15 for a, b in zip(fails, fails[1:]))


def test_three_verdicts():
    assert RULE.decide([0] * 5).verdict == "pass"
    assert RULE.decide([1] * 4).verdict == "fail"
    short = SequentialRule(max_seeds=4).decide([0, 0, 0, 0])
    assert short.verdict == "inconclusive" and short.seeds_to_decide() == 5
    middle = SequentialRule(max_seeds=10).decide([1, 0] * 5)
    assert middle.verdict == "inconclusive" and "between p0 and p1" in middle.describe() \
        or middle.seeds_to_decide() is not None


def test_seeds_after_the_stopping_seed_are_not_used():
    d = RULE.decide([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert (d.verdict, d.n, d.k) == ("fail", 4, 4)


def test_running_seeds_in_blocks_gives_the_same_verdict_whatever_the_block():
    rng = np.random.default_rng(5)
    stream = rng.random(100) < 0.45

    def run_block(seeds):
        return [stream[s] for s in seeds]

    def decisions(blocks):
        return [RULE.decide([x for b in blocks for x in b])]

    verdicts = set()
    for initial, block in ((1, 1), (5, 4), (8, 3), (32, 1)):
        blocks = sequential_seeds(run_block, 0, RULE, decisions, initial=initial, block=block)
        d = decisions(blocks)[0]
        verdicts.add((d.verdict, d.n, d.k))
    assert len(verdicts) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"max_seeds": 0}, "max_seeds must be an integer >= 1"),
    ({"p0": 0.7, "p1": 0.2}, "p0 must be below p1"),
    ({"alpha": -0.1}, "alpha must be a number in"),
    ({"p1": 1.0}, "p1 must be a number in"),
    ({"min_seeds": 9, "max_seeds": 8}, "min_seeds must be <= max_seeds"),
])
def test_bad_rules_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SequentialRule(**kwargs)


def test_a_non_number_is_a_type_error():
    with pytest.raises(TypeError, match="max_seeds must be an integer"):
        SequentialRule(max_seeds=2.5)
    with pytest.raises(ValueError, match="power must be a number"):
        RULE.detection_limit(power=-0.5)


def test_the_blocks_stop_once_a_rule_of_the_same_runs_has_failed():
    """Two rules on the same seeds: one fails at seed 4, the other stays open; no more seeds
    are run, and the open one says why it is undecided."""
    always, half = np.ones(100, bool), np.arange(100) % 2 == 0

    def decisions(blocks):
        n = sum(len(b) for b in blocks)
        return [RULE.decide(always[:n]), RULE.decide(half[:n])]

    blocks = sequential_seeds(lambda seeds: list(seeds), 0, RULE, decisions, initial=5)
    assert sum(len(b) for b in blocks) == 5
    failed, open_ = decisions(blocks)
    assert failed.verdict == "fail" and open_.verdict == "inconclusive"
    assert "undecided after 5 seeds" in open_.describe()
