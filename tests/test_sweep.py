"""Sweeps on a real Dask LocalCluster of 2 worker processes (no mocks): a grid end to end, a rerun
that skips every finished cell, and a worker killed mid-sweep with no row lost or duplicated."""

import json
import os
import signal
import tomllib

import numpy as np
import pytest

pytest.importorskip("dask.distributed")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from dask.distributed import Client, LocalCluster  # noqa: E402

from proofs_check.cli import main  # noqa: E402
from proofs_check.sweep import EXAMPLE, load_grid, run_sweep  # noqa: E402
from proofs_check.sweep.cell import run_cell  # noqa: E402
from proofs_check.sweep.grid import from_dict  # noqa: E402

SMALL = """
[problem]
family = "logistic"
n_tasks = 3
dim = 4
n_samples = 80
[grid]
noise = [0.0, 0.3]
step_size = [0.1, 1.0]
[run]
seeds = 3
steps = 150
methods = ["ExcessMTL(exact)", "ExcessMTL(adagrad, official)", "GroupDRO"]
"""


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as lc, Client(lc) as client:
        yield lc.scheduler_address, client


def write_grid(tmp_path, text=SMALL, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_small_grid_end_to_end_and_a_rerun_that_skips_everything(cluster, tmp_path):
    address, _ = cluster
    grid = write_grid(tmp_path)
    out = tmp_path / "sweep"
    meta = run_sweep(grid, out, scheduler=address)
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 4 * 3 * 3                       # cells × seeds × methods
    assert {"noise", "step_size", "seed", "method", "max_excess", "alpha_noisy",
            "clean_max_excess", "gap", "robust", "no_harm"} <= set(frame.columns)
    assert not frame.duplicated(["noise", "step_size", "seed", "method"]).any()
    assert (frame["gap"] >= -1e-9).all()                  # nothing beats the exact min–max value
    assert meta["cells_computed"] == 4 and meta["cells_skipped"] == 0 and meta["complete"]
    assert (out / "figures" / "robust_map.png").is_file()
    assert (out / "figures" / "robust_map.svg").is_file()
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["versions"]["dask"] and doc["cells_done"] == 4 and doc["wall_s"] > 0
    again = run_sweep(grid, out, scheduler=address, figures=False)
    assert again["cells_computed"] == 0 and again["cells_skipped"] == 4
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), frame)


def test_a_killed_worker_costs_only_its_cell(cluster, tmp_path):
    address, client = cluster
    grid = write_grid(tmp_path, SMALL.replace("steps = 150", "steps = 1500")
                      .replace("noise = [0.0, 0.3]", "noise = [0.0, 0.1, 0.2, 0.3]"))
    killed = []

    def kill_a_busy_worker(done, total):
        if killed:
            return
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    out = tmp_path / "sweep"
    meta = run_sweep(grid, out, scheduler=address, figures=False, on_cell=kill_a_busy_worker)
    assert killed, "no worker was busy when the first cell finished"
    frame = pd.read_parquet(out / "results.parquet")
    keys = ["noise", "step_size", "seed", "method"]
    assert len(frame) == 8 * 3 * 3 and not frame.duplicated(keys).any()
    assert meta["cells_done"] == 8 and meta["complete"]
    assert len(list((out / "cells").glob("*.npz"))) == 8
    client.wait_for_workers(2, timeout=60)                # the nanny restarts the killed one


def test_cells_are_reproducible_outside_dask():
    grid = from_dict(tomllib.loads(SMALL))
    cell = grid.cells()[3]
    a = run_cell(grid.settings(cell), [0, 1, 2], grid.steps, list(grid.methods))
    b = run_cell(grid.settings(cell), [0, 1, 2], grid.steps, list(grid.methods))
    np.testing.assert_allclose(a["weights"], b["weights"], rtol=1e-12, atol=0)
    assert a["weights"].shape == (3, 3, 3)
    np.testing.assert_allclose(a["weights"].sum(axis=2), 1.0, rtol=1e-12)


def test_a_changed_grid_refuses_to_mix_unless_asked(cluster, tmp_path):
    address, _ = cluster
    out = tmp_path / "sweep"
    run_sweep(write_grid(tmp_path), out, scheduler=address, figures=False)
    wider = write_grid(tmp_path, SMALL.replace("step_size = [0.1, 1.0]",
                                               "step_size = [0.1, 1.0, 10.0]"), "wider.toml")
    with pytest.raises(ValueError, match="another grid"):
        run_sweep(wider, out, scheduler=address, figures=False)
    meta = run_sweep(wider, out, scheduler=address, figures=False, extend=True)
    assert meta["cells_skipped"] == 4 and meta["cells_computed"] == 2
    assert len(pd.read_parquet(out / "results.parquet")) == 6 * 3 * 3


def test_a_folder_of_the_users_is_never_written_into(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["sweep", str(write_grid(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("edit, name", [
    (("family = \"logistic\"", "family = \"poisson\""), "family"),
    (("noise = [0.0, 0.3]", "noise = [0.0, 0.9]"), "noise"),
    (("noise = [0.0, 0.3]", "nois = [0.0, 0.3]"), "nois"),
    (("seeds = 3", "seeds = 0"), "seeds"),
    (("\"GroupDRO\"", "\"GroupDRO(exact)\""), "GroupDRO"),
    (("step_size = [0.1, 1.0]", "step_size = 0.1"), "step_size"),
])
def test_bad_grid_files_are_refused_naming_the_key(tmp_path, capsys, edit, name):
    grid = write_grid(tmp_path, SMALL.replace(*edit))
    with pytest.raises(ValueError, match=name):
        load_grid(grid)
    assert main(["sweep", str(grid), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_the_example_grid_is_printed_and_parses(tmp_path, capsys):
    assert main(["sweep", "--example"]) == 0
    text = capsys.readouterr().out
    assert text.strip() == EXAMPLE.strip()
    grid = load_grid(write_grid(tmp_path, text))
    assert len(grid.cells()) == 3 * 5 * 2 and grid.seeds == 8      # noise × θ₀ × scale proc.


def test_a_cell_lost_once_is_recomputed_and_one_that_keeps_failing_is_an_error(
        cluster, tmp_path, monkeypatch):
    """Failures injected in the cell function itself (shipped to the real workers by value):
    a cell that fails once is recomputed, the sweep completes and counts the retry; a cell that
    fails every time stops the sweep with an error naming it, after the finished cells were
    written."""
    address, _ = cluster
    from proofs_check.sweep import runner
    real = runner.run_cell
    marks = tmp_path / "marks"
    marks.mkdir()

    def fails_once(settings, *args):
        mark = marks / f"{settings['noise']}-{settings['step_size']}"
        if settings["noise"] > 0 and not mark.exists():
            mark.touch()
            raise OSError("worker lost (injected)")
        return real(settings, *args)

    monkeypatch.setattr(runner, "run_cell", fails_once)
    meta = run_sweep(write_grid(tmp_path), tmp_path / "a", scheduler=address, figures=False)
    assert meta["complete"] and meta["cells_retried"] == 2 and meta["cells_computed"] == 4
    assert len(pd.read_parquet(tmp_path / "a" / "results.parquet")) == 36

    def always_fails(settings, *args):
        if settings["noise"] > 0:
            raise OSError("broken (injected)")
        return real(settings, *args)

    monkeypatch.setattr(runner, "run_cell", always_fails)
    with pytest.raises(RuntimeError, match=r"2 cell\(s\) failed.*failed 3 times"):
        run_sweep(write_grid(tmp_path), tmp_path / "b", scheduler=address, figures=False)
    assert len(list((tmp_path / "b" / "cells").glob("*.npz"))) == 2      # the good cells kept
    doc = json.loads((tmp_path / "b" / "sweep.json").read_text())
    assert not doc["complete"] and len(doc["cells_failed"]) == 2
