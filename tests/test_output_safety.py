"""Nothing lost: ``--out`` never deletes or overwrites a file the program did not write, every
problem with the path is found before any claim runs, and interruptions leave no debris."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from proofs_check import cli
from proofs_check.report import atomic, resultdir, suite
from proofs_check.config import SuiteConfig

MANIFEST = resultdir.MANIFEST


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def no_claim_may_run(monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("a claim ran although the output path was unusable")

    monkeypatch.setattr(suite, "run_claims", forbidden)


def _run(args, capsys):
    code = cli.main(["--quick", "--claims", "proof-steps", "--no-figures", *args])
    return code, capsys.readouterr()


def test_out_on_a_folder_of_foreign_files_refuses_and_leaves_every_file(tmp_path, capsys,
                                                                          no_claim_may_run):
    paper = tmp_path / "mypaper"
    (paper / "figs").mkdir(parents=True)
    (paper / "draft.tex").write_text("\\\\section{Results}")
    (paper / "figs" / "plot.pdf").write_bytes(b"%PDF-1.4 mine")
    before = _snapshot(paper)
    code, out = _run(["--out", str(paper)], capsys)
    assert code == 2
    assert "refusing" in out.err and "draft.tex" in out.err
    assert len(out.err.strip().splitlines()) == 1 and "Traceback" not in out.err
    assert _snapshot(paper) == before
    assert sorted(p.name for p in paper.iterdir()) == ["draft.tex", "figs"]


@pytest.mark.parametrize("case", ["file", "under-a-file"])
def test_an_out_path_blocked_by_a_file_is_refused_before_any_claim_runs(tmp_path, capsys, case,
                                                                         no_claim_may_run):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    target = f if case == "file" else f / "results"
    code, out = _run(["--out", str(target)], capsys)
    assert code == 2 and "--out" in out.err
    assert f.read_text() == "keep me"


def test_an_unwritable_place_is_refused_before_any_claim_runs(tmp_path, capsys, monkeypatch,
                                                              no_claim_may_run):
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)     # root would pass a chmod test
    code, out = _run(["--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "cannot write" in out.err
    assert not (tmp_path / "r").exists()


def test_out_dot_in_an_empty_folder_writes_there(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _ = _run(["--out", "."], capsys)
    assert code == 0
    assert {p.name for p in tmp_path.iterdir()} == {"report.json", "index.html", MANIFEST}


def test_a_rerun_replaces_our_files_and_keeps_the_users(tmp_path, capsys):
    out = tmp_path / "results"
    assert _run(["--out", str(out), "--claims", "estimator"], capsys)[0] == 0
    assert (out / "data" / "estimator.npz").exists()
    (out / "my-notes.txt").write_text("mine")
    (out / "data" / "mine.csv").write_text("1,2")
    assert _run(["--out", str(out)], capsys)[0] == 0
    report = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in report["claims"]] == ["proof-steps"]
    assert not (out / "data" / "estimator.npz").exists()        # ours, from the older run
    assert (out / "my-notes.txt").read_text() == "mine"
    assert (out / "data" / "mine.csv").read_text() == "1,2"
    assert json.loads((out / MANIFEST).read_text())["files"] == ["index.html", "report.json"]


def test_a_file_of_the_user_where_we_would_write_is_never_overwritten(tmp_path):
    out = tmp_path / "results"
    results = suite.run_claims(SuiteConfig(quick=True), ["proof-steps"], progress=False)
    suite.write_results(out, SuiteConfig(quick=True), results, 1.0, figures=False)
    atomic.write_json(out / MANIFEST, {"tool": atomic.TOOL, "files": []})   # report not ours
    (out / "report.json").write_text("the user's own report")
    with pytest.raises(atomic.OutputPathError, match="did not write"):
        suite.write_results(out, SuiteConfig(quick=True), results, 1.0, figures=False)
    assert (out / "report.json").read_text() == "the user's own report"
    assert not any(p.name.startswith(resultdir.STAGING_PREFIX) for p in out.iterdir())


def test_a_crash_while_writing_leaves_the_previous_result_untouched(tmp_path, monkeypatch):
    out = tmp_path / "results"
    results = suite.run_claims(SuiteConfig(quick=True), ["proof-steps"], progress=False)
    suite.write_results(out, SuiteConfig(quick=True), results, 1.0, figures=False)
    before = _snapshot(out)

    def boom(*a, **k):
        raise RuntimeError("figure failure")

    monkeypatch.setattr("proofs_check.report.plots.make_figures", boom)
    with pytest.raises(RuntimeError):
        suite.write_results(out, SuiteConfig(quick=True), results, 2.0)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("when", ["claims", "writing"])
def test_an_interruption_leaves_no_debris_and_one_line(tmp_path, capsys, monkeypatch, sig, code,
                                                       when):
    def interrupt(*a, **k):
        os.kill(os.getpid(), sig)
        raise AssertionError("the signal should have interrupted this call")

    target = "proofs_check.report.suite.run_claims" if when == "claims" else \
        "proofs_check.report.suite.write_index"     # inside the staging folder, its last write
    monkeypatch.setattr(target, interrupt)
    out = tmp_path / "deep" / "results"
    assert cli.main(["--quick", "--claims", "proof-steps", "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == []                  # not even the folders we made


def test_outputs_are_readable_by_others(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert _run(["--out", str(tmp_path / "r")], capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r" / "report.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o755


def test_a_closed_stdout_ends_quietly(tmp_path):
    with subprocess.Popen([sys.executable, "-m", "proofs_check", "--list"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()                   # the reader is gone before anything is written
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


# ------------------------------------------------------------------ conformance CLI
MODULES = {
    "syntax_err": "def make(:\n    pass\n",
    "import_err": "import a_module_that_does_not_exist\n",
    "raises_at_import": "raise RuntimeError('boom at import')\n",
    "factory_raises": "def make(n_tasks):\n    raise RuntimeError('cannot build')\n",
    "not_callable": "def make(n_tasks):\n    return 42\n",
    "wrong_weights": textwrap.dedent("""
        import numpy as np
        def make(task_num):
            return lambda losses, grads: np.full(task_num, 0.5)
        """),
}


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    for name, src in MODULES.items():
        (tmp_path / f"{name}.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("target, code", [
    ("syntax_err:make", 2), ("import_err:make", 2), ("raises_at_import:make", 2),
    ("factory_raises:make", 2), ("not_callable:make", 2), ("wrong_weights:nope", 2),
    ("wrong_weights:make", 1),
])
def test_conformance_cli_tells_a_crash_from_a_finding(user_modules, capsys, target, code):
    assert cli.main(["conformance", target, "--steps", "5"]) == code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    if code == 2:
        assert len(out.err.strip().splitlines()) == 1
    else:
        assert out.out.startswith("FAIL")


def test_write_golden_never_overwrites_a_foreign_file(tmp_path, capsys):
    (tmp_path / "excessmtl-official-linear.npz").write_bytes(b"someone else's archive")
    assert cli.main(["conformance", "--write-golden", str(tmp_path)]) == 2
    assert (tmp_path / "excessmtl-official-linear.npz").read_bytes() == b"someone else's archive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["excessmtl-official-linear.npz"]
    assert "refusing" in capsys.readouterr().err
