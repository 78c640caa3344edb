"""Run a grid on Dask: one task per unfinished cell, each a batch of seeds through ``gpu/``.

By default a ``LocalCluster`` of ``workers`` processes (one thread each) is started and closed
here; ``scheduler`` connects to a running one instead (a real cluster, or dask-cuda's
``LocalCUDACluster`` for several GPUs). Cells are written by this process as they finish, so a
worker lost mid-cell costs only that cell, which Dask recomputes on another worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from .cell import rows as cell_rows
from .cell import run_cell
from .grid import Grid, load_grid
from .store import (check_out_dir, read_cell, read_meta, versions, write_cell, write_meta,
                    write_results)

MAX_ATTEMPTS = 3   # per cell: a lost worker or result is recomputed; a cell that keeps failing is
                   # an error, not hidden


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


def _client(dd, workers: int, scheduler: str | None):
    """(client, cluster or None). The cluster is ours to close; a scheduler's is not."""
    if scheduler:
        try:
            return dd.Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler: cannot connect to {scheduler!r}: {exc}") from None
    cluster = dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None)
    return dd.Client(cluster), cluster


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
    start = time.perf_counter()
    cells = grid.cells()
    ids = [grid.cell_id(c) for c in cells]
    todo = [k for k, cid in enumerate(ids) if read_cell(out, cid) is None]
    skipped = len(cells) - len(todo)
    out.mkdir(parents=True, exist_ok=True)
    previous = read_meta(out) or {}
    meta = {"grid": grid.to_json(), "fingerprint": grid.fingerprint(), "source": grid.source,
            "versions": versions(), "backend": backend,
            "workers": None if scheduler else workers, "scheduler": scheduler,
            "cells_total": len(cells), "cells_done": skipped, "cells_skipped": skipped,
            "cells_computed": 0, "wall_s": None, "complete": False,
            "earlier_fingerprints": sorted({*previous.get("earlier_fingerprints", []),
                                            previous.get("fingerprint", grid.fingerprint())}
                                           - {grid.fingerprint()})}
    write_meta(out, meta)
    seeds = list(range(grid.seeds))
    computed, retried, failed = 0, 0, []
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
            pending = dd.as_completed(list(futures))
            for fut in pending:
                k = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker or result, or the cell
                    if attempts[k] >= MAX_ATTEMPTS:   # the others still finish and are written
                        failed.append(f"cell {ids[k]} {cells[k]} failed {attempts[k]} times; "
                                      f"last: {type(exc).__name__}: {exc}")
                        continue
                    attempts[k] += 1                  # recompute it: only this cell is lost
                    retried += 1
                    again = submit(k)
                    futures[again] = k
                    pending.add(again)
                    continue
                write_cell(out, ids[k], cells[k], cell_rows(cells[k], result, seeds,
                                                            list(grid.methods)), result)
                computed += 1
                bar.update(1)
                if on_cell is not None:
                    on_cell(skipped + computed, len(cells))
            bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if failed:
        meta.update(cells_done=skipped + computed, cells_computed=computed,
                    cells_retried=retried, cells_failed=failed)
        write_meta(out, meta)
        raise RuntimeError(f"{len(failed)} cell(s) failed (the {skipped + computed} finished "
                           f"ones are kept; rerun to retry): {failed[0]}")
    rows = [row for cid in ids for row in read_cell(out, cid)["rows"]]
    write_results(out, rows, list(grid.axes))
    meta.update(cells_done=len(cells), cells_computed=computed, cells_retried=retried,
                wall_s=round(time.perf_counter() - start, 3), complete=True)
    write_meta(out, meta)
    if figures:
        from .maps import draw_maps
        meta["figures"] = [str(p.relative_to(out)) for p in draw_maps(out)]
        write_meta(out, meta)
    return meta
