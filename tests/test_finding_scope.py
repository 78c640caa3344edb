"""Every finding states where it holds: a claim without a scope study of its own gets one read off
its sub-checks, comparing the same statistic across the conditions the suite ran."""

from proofs_check.report.result import ClaimResult, SubCheck
from proofs_check.report.scope import generic_scope, split_name
from proofs_check.report.table import format_table


def test_a_name_splits_into_condition_and_statistic_without_the_seed_summary():
    assert split_name("logistic ExcessMTL(taylor): |max E/minmax − 1| (median of 8 seeds)") == \
        ("logistic ExcessMTL(taylor)", "|max E/minmax − 1|")
    assert split_name("degenerate EqualWeights: largest improvement (strict)") == \
        ("degenerate EqualWeights", "largest improvement (strict)")
    assert split_name("no condition here") == ("", "no condition here")


def _claim(*checks):
    return ClaimResult("demo", "s", "src", "conv", tuple(checks))


def test_a_finding_says_where_it_was_observed_and_where_it_vanished():
    r = _claim(SubCheck("linear A: gap (median of 8 seeds)", 0.5, 0.1, "upper"),
               SubCheck("logistic A: gap (median of 8 seeds)", 0.01, 0.1, "upper"),
               SubCheck("linear B: gap (median of 8 seeds)", 0.02, 0.1, "upper"))
    (sc,) = r.scopes
    assert sc["observed"] == "Observed on linear A."
    assert "does not occur on logistic A, linear B" in sc["vanishes"]
    assert "where the findings hold" in format_table([r])
    assert r.to_json()["scope"][0]["finding"] == "gap"


def test_a_statistic_measured_under_one_condition_only_says_so():
    (sc,) = generic_scope([SubCheck("tanh batch 16: C growth", 3.0, 1.8, "upper")])
    assert "not mapped" in sc["vanishes"]


def test_a_passing_claim_has_no_scope_and_a_claims_own_study_wins():
    ok = _claim(SubCheck("a: x", 0.0, 1.0, "upper"))
    assert ok.scopes == ()
    own = ClaimResult("demo", "s", "src", "conv", (SubCheck("a: x", 2.0, 1.0, "upper"),),
                      scope=({"finding": "mine", "observed": "o", "vanishes": "v"},))
    assert own.scopes[0]["finding"] == "mine"
