"""The main job: `python -m proofs_check --quick --out DIR` and its report, figures and flags."""

import json
import subprocess
import sys
import time

import pytest

from proofs_check import cli, suite
from proofs_check.claims import CLAIMS

FIGURES = {"rate_gap_vs_T.png", "weights.png", "excess_risks.png", "noise_sweep.png",
           "pareto_front.png", "estimator_ratio.png", "stationarity.png"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "--quick", "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    return out, proc, time.perf_counter() - t0


def test_quick_suite_exits_zero_and_prints_the_claims_table(quick_run):
    out, proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr
    for cid in CLAIMS:
        assert cid in proc.stdout
    assert "verdict" in proc.stdout and "measured" in proc.stdout


def test_quick_suite_finishes_within_its_budget(quick_run):
    """Issue #3: under 30 s here (2 cores); the subprocess includes interpreter start-up."""
    assert quick_run[2] < 30


def test_report_has_one_entry_per_claim_with_the_required_fields(quick_run):
    report = json.loads((quick_run[0] / "report.json").read_text())
    assert [c["id"] for c in report["claims"]] == list(CLAIMS)
    for c in report["claims"]:
        assert {"id", "measured", "bound", "kind", "verdict"} <= set(c)
        assert c["verdict"] in ("pass", "fail")
        assert c["kind"] in ("upper", "lower", "tight")
        assert c["checks"], c["id"]
    assert report["seed"] == 0 and report["versions"]["numpy"]
    assert report["summary"]["claims"] == len(CLAIMS)


def test_all_figures_are_written(quick_run):
    assert {p.name for p in (quick_run[0] / "figures").iterdir()} == FIGURES


def test_list_prints_every_claim(capsys):
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(cid in out for cid in CLAIMS)


def test_unknown_claim_is_a_clear_error(capsys, tmp_path):
    assert cli.main(["--claims", "nope", "--out", str(tmp_path / "r")]) == 2
    assert "claims must be" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_strict_exits_one_on_a_failed_claim_and_zero_otherwise(tmp_path, capsys):
    assert cli.main(["--quick", "--claims", "estimator", "--strict", "--no-figures",
                     "--no-progress", "--out", str(tmp_path / "a")]) == 1
    assert cli.main(["--quick", "--claims", "proof-steps", "--strict", "--no-figures",
                     "--no-progress", "--out", str(tmp_path / "b")]) == 0


def test_a_crash_leaves_the_previous_output_directory_untouched(tmp_path, monkeypatch):
    out = tmp_path / "results"
    out.mkdir()
    (out / "report.json").write_text('{"old": true}')

    def boom(*a, **k):
        raise RuntimeError("figure failure")

    monkeypatch.setattr("proofs_check.plots.make_figures", boom)
    from proofs_check.config import SuiteConfig
    results = suite.run_claims(SuiteConfig(quick=True), ["proof-steps"], progress=False)
    with pytest.raises(RuntimeError):
        suite.write_results(out, SuiteConfig(quick=True), results, 1.0)
    assert json.loads((out / "report.json").read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_successful_run_replaces_the_output_directory_whole(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    from proofs_check.config import SuiteConfig
    results = suite.run_claims(SuiteConfig(quick=True), ["proof-steps"], progress=False)
    suite.write_results(out, SuiteConfig(quick=True), results, 1.0, figures=False)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "report.json").read_text())["claims"][0]["id"] == "proof-steps"
