"""Result folders cannot be turned against their user: no link inside one is followed, a new
result replaces the old one at once (a SIGKILL at any point of the switch leaves the old result
or, after recovery, the new one, never a mix), and what killed runs leave is recognised and
cleaned."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from proofs_check import cli
from proofs_check.cli_policy import guarded
from proofs_check.report import atomic, resultdir

MANIFEST = resultdir.MANIFEST


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _result(folder, files: dict[str, bytes]):
    """A result of ours in ``folder`` holding ``files``, written as the suite writes one."""
    with resultdir.output_directory(folder) as stage:
        for rel, data in files.items():
            atomic.write_bytes(stage / rel, data)


OLD = {"report.json": b'{"old": 1}', "data/rate.npz": b"old rate", "figures/weights.png": b"o"}
NEW = {"report.json": b'{"new": 2}', "data/rate.npz": b"new rate", "data/pareto.npz": b"new p"}


@pytest.fixture
def user_folder(tmp_path):
    mine = tmp_path / "my-paper"
    mine.mkdir()
    (mine / "weights.png").write_bytes(b"the user's figure")
    (mine / "rate.npz").write_bytes(b"the user's data")
    return mine


# ------------------------------------------------------------------------- symbolic links
@pytest.mark.parametrize("sub", ["figures", "data"])
def test_a_subfolder_replaced_by_a_link_is_refused_and_the_users_files_stay(tmp_path,
                                                                           user_folder, sub):
    res = tmp_path / "res"
    _result(res, OLD)
    import shutil
    shutil.rmtree(res / sub)
    (res / sub).symlink_to(user_folder, target_is_directory=True)
    before = _snapshot(user_folder)
    with pytest.raises(atomic.OutputPathError, match=f"{sub} is a symbolic link"):
        _result(res, NEW)                                 # would write data/ or delete figures/
    assert _snapshot(user_folder) == before
    assert (res / "report.json").read_bytes() == OLD["report.json"]


def test_a_link_that_appears_while_the_run_works_is_refused_at_the_switch(tmp_path,
                                                                         user_folder):
    res = tmp_path / "res"
    _result(res, OLD)
    before = _snapshot(user_folder)
    with pytest.raises(atomic.OutputPathError, match="symbolic link"):
        with resultdir.output_directory(res) as stage:   # the checks up front pass
            for rel, data in NEW.items():
                atomic.write_bytes(stage / rel, data)
            import shutil
            shutil.rmtree(res / "data")
            (res / "data").symlink_to(user_folder, target_is_directory=True)
    assert _snapshot(user_folder) == before
    assert (res / "report.json").read_bytes() == OLD["report.json"]
    assert not any(p.name.startswith(resultdir.STAGING_PREFIX) for p in res.iterdir())


def test_a_file_of_ours_replaced_by_a_link_is_neither_followed_nor_removed(tmp_path,
                                                                          user_folder):
    res = tmp_path / "res"
    _result(res, OLD)
    (res / "report.json").unlink()
    (res / "report.json").symlink_to(user_folder / "rate.npz")
    with pytest.raises(atomic.OutputPathError, match="report.json is a symbolic link"):
        _result(res, NEW)
    assert (user_folder / "rate.npz").read_bytes() == b"the user's data"
    assert (res / "report.json").is_symlink()


def test_the_cli_refuses_a_linked_figures_folder_in_one_line_before_any_claim(tmp_path,
                                                                             user_folder,
                                                                             capsys,
                                                                             monkeypatch):
    res = tmp_path / "res"
    _result(res, OLD)
    import shutil
    shutil.rmtree(res / "figures")
    (res / "figures").symlink_to(user_folder, target_is_directory=True)

    def forbidden(*a, **k):
        raise AssertionError("a claim ran although --out was unusable")

    monkeypatch.setattr("proofs_check.report.suite.run_claims", forbidden)
    code = cli.main(["--quick", "--claims", "proof-steps", "--out", str(res)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "figures is a symbolic link" in err
    assert (user_folder / "weights.png").read_bytes() == b"the user's figure"


def test_a_dangling_link_as_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    link = tmp_path / "res"
    link.symlink_to(tmp_path / "gone")
    monkeypatch.setattr("proofs_check.report.suite.run_claims",
                        lambda *a, **k: pytest.fail("a claim ran"))
    code = cli.main(["--quick", "--claims", "proof-steps", "--out", str(link)])
    err = capsys.readouterr().err
    assert code == 2 and "broken symbolic link" in err and "Errno" not in err


def test_out_may_itself_be_a_link_to_a_folder(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "res").symlink_to(real, target_is_directory=True)
    _result(tmp_path / "res", NEW)
    assert (real / "report.json").read_bytes() == NEW["report.json"]


# ------------------------------------------------------------- all or nothing, SIGKILL
KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from proofs_check.report import atomic, resultdir
    target, point = Path(sys.argv[1]), sys.argv[2]
    new = {"report.json": b'{"new": 2}', "data/rate.npz": b"new rate",
           "data/pareto.npz": b"new p"}
    real_move, real_remove, real_manifest = (resultdir.move_in, resultdir.remove_ours,
                                             resultdir.write_manifest)
    count = {"move": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def move_in(w, src, rel):
        if point == "first-move":
            die()
        real_move(w, src, rel)
        count["move"] += 1
        if point == "mid-move" and count["move"] == 2:
            die()

    def remove_ours(w, rel):
        if point == "remove":
            die()
        real_remove(w, rel)

    def write_manifest(d, files, sha256=None):
        if point == "manifest" and Path(d) == target:
            die()
        real_manifest(d, files, sha256)

    resultdir.move_in, resultdir.remove_ours = move_in, remove_ours
    resultdir.write_manifest = write_manifest
    with resultdir.output_directory(target) as stage:
        for rel, data in new.items():
            atomic.write_bytes(stage / rel, data)
        if point == "staging":
            die()
""")


@pytest.mark.parametrize("point", ["staging", "first-move", "mid-move", "remove", "manifest"])
def test_sigkill_at_any_point_of_the_switch_leaves_the_old_or_the_new_result(tmp_path, point):
    res = tmp_path / "res"
    _result(res, OLD)
    (res / "my-notes.txt").write_text("mine")
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run([sys.executable, str(script), str(res), point], capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    resultdir.check_output_dir(res)                   # recognised as ours, not as foreign
    with resultdir.folder_lock(res):
        done = resultdir.recover(res)
    expect = OLD if point == "staging" else NEW
    assert {k: v for k, v in _snapshot(res).items() if k not in (MANIFEST, "my-notes.txt")} \
        == expect
    assert json.loads((res / MANIFEST).read_text())["files"] == sorted(expect)
    assert (res / "my-notes.txt").read_text() == "mine"
    assert sorted(p.name for p in res.iterdir()) == \
        sorted({MANIFEST, "my-notes.txt", *(r.split("/")[0] for r in expect)})
    assert done                                       # the recovery says what it did


def test_a_run_killed_before_its_first_manifest_rename_does_not_block_the_folder(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    (res / f".{MANIFEST}.k3j_9x2a.tmp").write_text('{"tool": "excessmtl-oracle", "fi')
    resultdir.check_output_dir(res)                   # not refused as foreign
    _result(res, NEW)
    assert sorted(p.name for p in res.iterdir()) == sorted({MANIFEST, "report.json", "data"})


def test_staging_folders_of_dead_runs_are_cleaned_and_a_live_ones_kept(tmp_path):
    res = tmp_path / "res"
    _result(res, OLD)
    dead = res / f"{resultdir.STAGING_PREFIX}dead"
    (dead / "data").mkdir(parents=True)
    (dead / "data" / "rate.npz").write_bytes(b"half")
    live = res / f"{resultdir.STAGING_PREFIX}live"
    live.mkdir()
    held = resultdir._hold(live)                        # another run, still working
    try:
        _result(res, NEW)
        assert not dead.exists() and live.exists()
    finally:
        os.close(held)
    _result(res, NEW)
    assert not live.exists()


def test_an_interrupt_after_the_switch_says_the_folder_changed(tmp_path, capsys):
    res = tmp_path / "res"

    def body():
        _result(res, NEW)
        raise KeyboardInterrupt

    assert guarded("prog", body) == 130
    err = capsys.readouterr().err
    assert "no output was changed" not in err and str(res) in err


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from proofs_check.report import atomic, resultdir
    target, who = Path(sys.argv[1]), sys.argv[2]
    for k in range(6):
        with resultdir.output_directory(target) as stage:
            atomic.write_bytes(stage / "report.json", f"{who} {k}".encode())
            atomic.write_bytes(stage / f"data/{who}.npz", f"{who} {k}".encode())
""")


def test_concurrent_runs_into_one_folder_end_with_one_whole_result(tmp_path):
    res = tmp_path / "res"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(res), who],
                              stderr=subprocess.PIPE) for who in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    listed = json.loads((res / MANIFEST).read_text())["files"]
    last = (res / "report.json").read_text().split()[0]
    assert listed == ["data/" + last + ".npz", "report.json"]          # one result, whole
    assert sorted(p.name for p in (res / "data").iterdir()) == [last + ".npz"]
    assert not any(p.name.startswith(resultdir.STAGING_PREFIX) for p in res.iterdir())


def test_a_fifo_in_place_of_the_manifest_does_not_block_and_the_folder_is_refused(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    (res / "report.json").write_text("{}")
    os.mkfifo(res / MANIFEST)                # nothing ever writes to it: a read would block
    import threading
    box = {}

    def check():
        try:
            resultdir.check_output_dir(res)
        except atomic.OutputPathError as exc:
            box["error"] = exc

    t = threading.Thread(target=check, daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():                         # unblock the reader, then fail: never hang
        fd = os.open(res / MANIFEST, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("reading the manifest blocked on a FIFO")
    assert "holds no earlier result" in str(box.get("error"))
