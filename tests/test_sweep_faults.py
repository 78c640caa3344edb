"""Sweeps under faults: a folder with a linked subfolder, cells cut short by a power loss, a
scheduler that never answers or dies mid-sweep, Ctrl-C, a dashboard port already taken, and an
earlier version's folder without a manifest. Each says what it must leave behind."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

pytest.importorskip("dask.distributed")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

import dask.distributed as dd  # noqa: E402

from proofs_check.cli_policy import guarded  # noqa: E402
from proofs_check.report import atomic, resultdir  # noqa: E402
from proofs_check.sweep import runner  # noqa: E402
from proofs_check.sweep.grid import from_dict  # noqa: E402
from proofs_check.sweep.store import cell_path  # noqa: E402

GRID = {"problem": {"family": "logistic", "n_tasks": 3, "dim": 3, "n_samples": 40},
        "grid": {"noise": [0.0, 0.3], "step_size": [0.5, 1.0]},
        "run": {"seeds": 2, "steps": 40, "methods": ["ExcessMTL(exact)", "GroupDRO"]}}


def grid():
    return from_dict(json.loads(json.dumps(GRID)), source="test")


@pytest.fixture(scope="module")
def cluster():
    with dd.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as lc, dd.Client(lc):
        yield lc.scheduler_address


def _within(seconds, fn):
    """fn() in a thread: (finished, result or exception). A hang fails the test instead of
    hanging it."""
    box = {}

    def go():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box


def test_a_sweep_whose_figures_folder_is_a_link_is_refused_and_the_users_maps_stay(
        cluster, tmp_path):
    out = tmp_path / "sweep"
    runner.run_sweep(grid(), out, scheduler=cluster)
    mine = tmp_path / "my-figures"
    mine.mkdir()
    (mine / "robust_map.png").write_bytes(b"the user's map")
    shutil.rmtree(out / "figures")
    (out / "figures").symlink_to(mine, target_is_directory=True)
    with pytest.raises(atomic.OutputPathError, match="figures is a symbolic link"):
        runner.run_sweep(grid(), out, scheduler=cluster)
    assert (mine / "robust_map.png").read_bytes() == b"the user's map"


def test_a_users_file_where_a_map_goes_is_never_overwritten(cluster, tmp_path):
    out = tmp_path / "sweep"
    runner.run_sweep(grid(), out, scheduler=cluster, figures=False)
    (out / "figures").mkdir()
    (out / "figures" / "robust_map.png").write_bytes(b"mine")
    with pytest.raises(atomic.OutputPathError, match="did not write"):
        runner.run_sweep(grid(), out, scheduler=cluster)
    assert (out / "figures" / "robust_map.png").read_bytes() == b"mine"


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped"])
def test_a_cell_cut_short_is_recomputed_not_a_stuck_resume(cluster, tmp_path, capfd, damage):
    out = tmp_path / "sweep"
    g = grid()
    runner.run_sweep(g, out, scheduler=cluster, figures=False)
    before = pd.read_parquet(out / "results.parquet")
    path = cell_path(out, g.cell_id(g.cells()[1]))
    data = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        k = len(data) // 2
        path.write_bytes(data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1:])
    meta = runner.run_sweep(g, out, scheduler=cluster, figures=False)
    assert meta["cells_computed"] == 1 and meta["cells_skipped"] == 3
    assert "cannot be trusted and are recomputed" in capfd.readouterr().err
    assert len(meta["cells_damaged"]) == 1
    after = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(before, after, rtol=1e-9)


def test_an_earlier_versions_sweep_folder_gets_a_manifest_and_resumes(cluster, tmp_path):
    out = tmp_path / "sweep"
    g = grid()
    runner.run_sweep(g, out, scheduler=cluster, figures=False)
    (out / resultdir.MANIFEST).unlink()                  # as an earlier version left it
    (out / "notes.txt").write_text("mine")
    meta = runner.run_sweep(g, out, scheduler=cluster, figures=False)
    assert meta["cells_skipped"] == 4
    listed = resultdir.read_manifest(out)
    assert "notes.txt" not in listed and "sweep.json" in listed
    assert sum(f.startswith("cells/") for f in listed) == 4
    assert (out / "notes.txt").read_text() == "mine"


def test_a_scheduler_that_accepts_and_never_answers_is_an_error_within_its_deadline():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))                          # a port of our own: no fixed port
    srv.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(srv.accept()), daemon=True).start()
    try:
        finished, box = _within(60, lambda: runner.connect(
            dd, f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout_s=1.0))
    finally:
        for conn, _ in accepted:
            conn.close()
        srv.close()
    assert finished, "connect hung past its deadline"
    assert isinstance(box.get("error"), ValueError) and "no answer" in str(box["error"])


def test_a_scheduler_address_at_a_web_server_is_an_error_naming_the_option():
    import http.server

    class Loud(http.server.BaseHTTPRequestHandler):
        def handle(self):                                # answers garbage at once, as a web
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\n" + b"\xff" * 64 + b"\r\n\r\n")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loud)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        finished, box = _within(60, lambda: runner.connect(
            dd, f"tcp://127.0.0.1:{srv.server_address[1]}", timeout_s=2.0))
    finally:
        srv.shutdown()
        srv.server_close()
    assert finished, "connect hung past its deadline"
    err = box.get("error")
    assert isinstance(err, ValueError) and str(err).startswith("--scheduler:"), box


SCHEDULER = """
import sys, time
from dask.distributed import LocalCluster
c = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
print(c.scheduler_address, flush=True)
time.sleep(600)
"""


def test_a_scheduler_killed_mid_sweep_ends_the_sweep_and_keeps_the_finished_cells(
        tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "LOST_SCHEDULER_S", 3.0)
    proc = subprocess.Popen([sys.executable, "-c", SCHEDULER], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        address = proc.stdout.readline().strip()
        out = tmp_path / "sweep"
        slow = json.loads(json.dumps(GRID))
        slow["run"]["steps"] = 400

        def kill_after_first(done, total):
            if done == 1:
                os.killpg(proc.pid, 9)

        finished, box = _within(120, lambda: runner.run_sweep(
            from_dict(slow, source="test"), out, scheduler=address, figures=False,
            on_cell=kill_after_first))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert finished, "the sweep did not end after its scheduler died"
    err = box.get("error")
    assert isinstance(err, runner.SchedulerLost) and "kept" in str(err), box
    assert len(list((out / "cells").glob("*.npz"))) >= 1
    assert json.loads((out / "sweep.json").read_text())["complete"] is False


def test_ctrl_c_mid_sweep_says_which_cells_are_kept(cluster, tmp_path, capsys):
    out = tmp_path / "sweep"

    def interrupt(done, total):
        raise KeyboardInterrupt

    code = guarded("sweep", lambda: runner.run_sweep(grid(), out, scheduler=cluster,
                                                     on_cell=interrupt))
    err = capsys.readouterr().err
    assert code == 130 and "no output was changed" not in err
    assert "finished cell(s) are kept" in err and len(err.strip().splitlines()) == 1


def test_a_local_cluster_starts_beside_a_dashboard_on_8787(tmp_path):
    """A user's notebook with a Dask dashboard on 8787 must not break a sweep (or the tests)."""
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 8787))           # taken by us, or already by someone else:
        blocker.listen(1)                            # either way the port is in use
    except OSError:
        pass
    try:
        meta = runner.run_sweep(grid(), tmp_path / "sweep", workers=1, figures=False)
    finally:
        blocker.close()
    assert meta["complete"] and meta["cells_computed"] == 4
