"""The main job: `python -m proofs_check --quick --out DIR` and its report, figures and flags."""

import json
import subprocess
import sys

import numpy as np
import pytest

from proofs_check import cli
from proofs_check.claims import CLAIMS

FIGURES = {"rate_gap_vs_T.png", "weights.png", "excess_risks.png", "noise_sweep.png",
           "pareto_front.png", "estimator_ratio.png", "stationarity.png"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    # the whole quick suite end to end, on 2 seeds: what these tests check (the exit code, the
    # table, the report's fields, the seven figures) does not depend on the seed count
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "--quick", "--seeds", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    return out, proc


def test_quick_suite_exits_zero_and_prints_the_claims_table(quick_run):
    out, proc = quick_run
    assert proc.returncode == 0, proc.stderr
    for cid in CLAIMS:
        assert cid in proc.stdout
    assert "verdict" in proc.stdout and "measured" in proc.stdout


def test_report_has_one_entry_per_claim_with_the_required_fields(quick_run):
    report = json.loads((quick_run[0] / "report.json").read_text())
    assert [c["id"] for c in report["claims"]] == list(CLAIMS)
    for c in report["claims"]:
        assert {"id", "measured", "bound", "kind", "verdict"} <= set(c)
        assert c["verdict"] in ("pass", "fail", "inconclusive")
        assert c["kind"] in ("upper", "lower", "tight")
        assert c["checks"], c["id"]
    assert report["seed"] == 0 and report["versions"]["numpy"]
    assert report["summary"]["claims"] == len(CLAIMS)


def test_all_figures_are_written_as_png_and_svg(quick_run):
    names = {p.name for p in (quick_run[0] / "figures").iterdir()}
    assert names == FIGURES | {f.replace(".png", ".svg") for f in FIGURES}


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


def test_the_figures_drawn_beside_the_claims_are_the_ones_make_figures_draws(quick_run, tmp_path):
    """The suite's figure worker (proofs_check.report.figure_worker) draws what the saved result
    draws: the same PNG files, byte for byte (same machine, same run, no float in between)."""
    from proofs_check.report.plots import claim_figures, figure_suffixes
    out = quick_run[0]
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["figures"]) == sorted(f"figures/{n}" for n in FIGURES)
    assert set(figure_suffixes(report["claims"])) <= {"", None}     # one result per claim
    for claim in report["claims"]:
        if claim["id"] not in ("estimator", "pareto-optimal"):  # two redrawn: the cost of seven
            continue
        with np.load(out / claim["data"]) as z:
            data = {k: z[k] for k in z.files}
        for path in claim_figures(claim, data, tmp_path / "figures"):
            rel = f"figures/{path.name}"
            assert path.read_bytes() == (out / rel).read_bytes(), rel


def test_the_progress_bar_stays_out_of_redirected_stderr(quick_run):
    """stderr is a pipe here, not a terminal: no carriage-return frames may land in it."""
    assert "\r" not in quick_run[1].stderr and "claims:" not in quick_run[1].stderr
