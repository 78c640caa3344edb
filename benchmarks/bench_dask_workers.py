"""Benchmark 4: the same sweep grid on 1 and on 2 Dask worker processes, in one run; reported as
the speed-up ratio (wall time on 1 worker / wall time on 2 workers) against the ideal 2.

    python benchmarks/bench_dask_workers.py                     # benchmarks/grid_bench.toml
    python benchmarks/bench_dask_workers.py --grid my.toml --out bench.json

Each run starts its own LocalCluster (the start-up is timed separately and excluded) and writes
into a fresh temporary folder, so nothing is skipped.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import check_out, write_json
from dask.distributed import Client, LocalCluster

from proofs_check.sweep import load_grid, run_sweep


def timed(grid_path: Path, workers: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(lambda: __import__("proofs_check.sweep.cell"))       # imports, off the clock
        start = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            t1 = time.perf_counter()
            run_sweep(grid_path, Path(tmp) / "out", scheduler=cluster.scheduler_address,
                      figures=False)
            return time.perf_counter() - t1, start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--grid", type=Path, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    check_out(args.out)
    grid_path = args.grid or Path(__file__).with_name("grid_bench.toml")
    grid = load_grid(grid_path)
    one, start1 = timed(grid_path, 1)
    two, start2 = timed(grid_path, 2)
    res = {"cells": len(grid.cells()), "seeds": grid.seeds, "steps": grid.steps,
           "cpu_count": os.cpu_count(), "speedup_2_over_1": one / two, "ideal": 2.0,
           "efficiency": one / two / 2.0, "cluster_start_ratio_2_over_1": start2 / start1}
    print(f"{res['cells']} cells × {grid.seeds} seeds × {len(grid.methods)} methods: "
          f"2 workers are {res['speedup_2_over_1']:.2f}× faster than 1 (ideal 2.00; "
          f"efficiency {res['efficiency']:.0%}) on {os.cpu_count()} cores")
    write_json(args.out, res)


if __name__ == "__main__":
    main()
