"""Run a grid on Dask: one task per unfinished cell, each a batch of seeds through ``gpu/``.

By default a ``LocalCluster`` of ``workers`` processes (one thread each) is started and closed
here; ``scheduler`` connects to a running one instead (a real cluster, or dask-cuda's
``LocalCUDACluster`` for several GPUs). Cells are written by this process as they finish, so a
worker lost mid-cell costs only that cell, which Dask recomputes on another worker.

Nothing hangs: the connection to a scheduler has a hard deadline (``CONNECT_TIMEOUT_S``, also for
an address that accepts and never answers), and a scheduler lost mid-sweep ends the sweep within
``LOST_SCHEDULER_S`` with the finished cells kept. Ctrl-C ends the sweep with the finished cells
kept and says so; the LocalCluster's workers ignore it (they are closed by this process), so no
worker prints a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .cell import rows as cell_rows
from .cell import run_cell
from .grid import Grid, load_grid
from .store import (check_out_dir, open_folder, read_cell, read_meta, versions, write_cell,
                    write_meta, write_results)

MAX_ATTEMPTS = 3   # per cell: a lost worker or result is recomputed; a cell that keeps failing is
                   # an error, not hidden
CONNECT_TIMEOUT_S = 20.0    # connecting to --scheduler, handshake included
LOST_SCHEDULER_S = 30.0     # a scheduler unreachable this long ends the sweep
POLL_S = 1.0


class SchedulerLost(ConnectionError):
    """The scheduler went away mid-sweep; the finished cells are kept."""


def _distributed():
    """dask.distributed, after checking that the table can be written (pandas, pyarrow)."""
    try:
        import dask.distributed as dd
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError("sweeps need dask.distributed, pandas and pyarrow: "
                          "pip install 'excessmtl-oracle[sweep]'") from exc
    return dd


def connect(dd, scheduler: str, timeout_s: float = CONNECT_TIMEOUT_S):
    """A Client of ``scheduler``, or ValueError within ``timeout_s`` (Dask's own timeout does not
    cover an address that accepts a connection and never answers, so the connection is made in
    a thread with a hard deadline)."""
    box: dict = {}

    def attempt() -> None:
        try:
            box["client"] = dd.Client(scheduler, timeout=f"{timeout_s}s")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=attempt, name="excessmtl-oracle-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 2.0)
    if thread.is_alive():
        raise ValueError(f"--scheduler: no answer from {scheduler!r} within {timeout_s:g} s "
                         "(is it a Dask scheduler? e.g. tcp://host:8786)")
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"--scheduler: cannot connect to {scheduler!r}: {msg[:200]}") from None
    return box["client"]


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started in this block inherit an ignored SIGINT (Python then installs no
    KeyboardInterrupt handler in them), so Ctrl-C reaches only this process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _client(dd, workers: int, scheduler: str | None):
    """(client, cluster or None). The cluster is ours to close; a scheduler's is not."""
    if scheduler:
        return connect(dd, scheduler), None
    with _sigint_ignored():
        cluster = dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", scheduler_port=0,
                                  silence_logs=logging.ERROR)
    return dd.Client(cluster), cluster


def _alive(client) -> bool:
    return getattr(client, "status", "running") == "running"


def _gather(dd, client, futures: dict, scheduler: str | None) -> Iterator[tuple[Any, int]]:
    """(future, key) as each future finishes; SchedulerLost when the scheduler is unreachable
    for ``LOST_SCHEDULER_S``."""
    lost_since = None
    while futures:
        try:
            done, _ = dd.wait(list(futures), timeout=POLL_S, return_when="FIRST_COMPLETED")
        except Exception:  # noqa: BLE001 - a timeout, or futures cancelled by a lost scheduler
            done = [f for f in futures if f.done()]
        if not _alive(client):
            lost_since = lost_since or time.monotonic()
            if (time.monotonic() - lost_since >= LOST_SCHEDULER_S
                    or client.status in ("closed", "closing", "failed")):
                where = f"the scheduler {scheduler!r}" if scheduler else "the LocalCluster"
                raise SchedulerLost(f"lost {where} mid-sweep")
            time.sleep(POLL_S)
            continue
        lost_since = None
        for fut in done:
            if fut in futures:
                yield fut, futures.pop(fut)


def run_sweep(grid: Grid | str | Path, out: str | Path, *, workers: int = 2,
              scheduler: str | None = None, backend: str = "numpy", extend: bool = False,
              progress: bool = False, figures: bool = True,
              on_cell: Callable[[int, int], None] | None = None) -> dict:
    """Run every unfinished cell of ``grid`` and write ``out`` (see ``store``). Returns the
    ``sweep.json`` document. ``on_cell(done, total)`` is called after each cell is written."""
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if backend not in ("numpy", "cupy"):
        raise ValueError(f"backend must be 'numpy' or 'cupy', got {backend!r}")
    out = check_out_dir(Path(out), grid, extend=extend)
    dd = _distributed()
    if backend == "cupy" and scheduler is None:   # our own workers run here: one clear error
        from gpu.backend import require_cupy       # before any work, not 3 failures a cell
        require_cupy()
    start = time.perf_counter()
    cells = grid.cells()
    ids = [grid.cell_id(c) for c in cells]
    folder = open_folder(out)
    todo, damaged = [], []
    for k, cid in enumerate(ids):
        meta_k, why = read_cell(folder, cid)
        if meta_k is None:
            todo.append(k)
            if why != "absent":
                damaged.append(f"cells/{cid}.npz: {why}")
    if damaged:
        print(f"sweep: {len(damaged)} finished cell(s) cannot be trusted and are recomputed "
              f"(first: {damaged[0]})", file=sys.stderr)
    skipped = len(cells) - len(todo)
    previous = read_meta(out) or {}
    meta: dict[str, Any]
    meta = {"grid": grid.to_json(), "fingerprint": grid.fingerprint(), "source": grid.source,
            "versions": versions(), "backend": backend,
            "workers": None if scheduler else workers, "scheduler": scheduler,
            "cells_total": len(cells), "cells_done": skipped, "cells_skipped": skipped,
            "cells_computed": 0, "cells_damaged": damaged, "wall_s": None, "complete": False,
            "earlier_fingerprints": sorted({*previous.get("earlier_fingerprints", []),
                                            previous.get("fingerprint", grid.fingerprint())}
                                           - {grid.fingerprint()})}
    write_meta(folder, meta)
    seeds = list(range(grid.seeds))
    computed, retried, failed = 0, 0, []

    def kept() -> str:
        return (f"the {skipped + computed} finished cell(s) are kept in {out}; rerun the same "
                "command to compute only the rest")

    if todo:
        client, cluster = _client(dd, workers, scheduler)
        try:
            def submit(k: int):
                return client.submit(run_cell, grid.settings(cells[k]), seeds, grid.steps,
                                     list(grid.methods), backend, pure=False)

            futures = {submit(k): k for k in todo}
            attempts = dict.fromkeys(todo, 1)
            bar = tqdm(total=len(cells), initial=skipped, desc="cells", unit="cell",
                       disable=not progress)
            for fut, k in _gather(dd, client, futures, scheduler):
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker or result, or the cell
                    if not _alive(client):
                        futures[fut] = k      # the scheduler, not the cell: _gather decides
                        continue
                    if attempts[k] >= MAX_ATTEMPTS:   # the others still finish and are written
                        failed.append(f"cell {ids[k]} {cells[k]} failed {attempts[k]} times; "
                                      f"last: {type(exc).__name__}: {exc}")
                        continue
                    attempts[k] += 1                  # recompute it: only this cell is lost
                    retried += 1
                    futures[submit(k)] = k
                    continue
                write_cell(folder, ids[k], cells[k], cell_rows(cells[k], result, seeds,
                                                               list(grid.methods)), result)
                computed += 1
                bar.update(1)
                if on_cell is not None:
                    on_cell(skipped + computed, len(cells))
            bar.close()
        except SchedulerLost as exc:
            meta.update(cells_done=skipped + computed, cells_computed=computed)
            write_meta(folder, meta)
            raise SchedulerLost(f"{exc}; {kept()}") from None
        except (KeyboardInterrupt, Exception):
            if computed:
                from ..report.resultdir import note_changed
                note_changed(out, kept())
            raise
        finally:
            _close(client, cluster)
    if failed:
        meta.update(cells_done=skipped + computed, cells_computed=computed,
                    cells_retried=retried, cells_failed=failed)
        write_meta(folder, meta)
        raise RuntimeError(f"{len(failed)} cell(s) failed (the {skipped + computed} finished "
                           f"ones are kept; rerun to retry): {failed[0]}")
    rows = []
    for cid in ids:
        cell_meta, why = read_cell(folder, cid)
        if cell_meta is None:
            raise RuntimeError(f"cells/{cid}.npz changed while the sweep ran ({why}); rerun to "
                               "recompute it")
        rows += cell_meta["rows"]
    write_results(folder, rows, list(grid.axes))
    meta.update(cells_done=len(cells), cells_computed=computed, cells_retried=retried,
                wall_s=round(time.perf_counter() - start, 3), complete=True)
    write_meta(folder, meta)
    if figures:
        from .maps import draw_maps
        meta["figures"] = [str(p.relative_to(out)) for p in draw_maps(folder)]
        write_meta(folder, meta)
    return meta


def _close(client, cluster) -> None:
    """Close the client and our cluster, each within a deadline (a lost scheduler must not make
    the close hang)."""
    for thing in (client, cluster):
        if thing is None:
            continue
        t = threading.Thread(target=lambda x=thing: _quiet_close(x), daemon=True)
        t.start()
        t.join(CONNECT_TIMEOUT_S)


def _quiet_close(thing) -> None:
    with contextlib.suppress(Exception):
        thing.close()
