"""``python -m proofs_check sweep GRID.toml --out DIR``: run a grid of cells on Dask."""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli_policy import EXIT_OK, OneLineParser, emit, guarded
from .grid import EXAMPLE


def parser() -> OneLineParser:
    p = OneLineParser(prog="python -m proofs_check sweep",
                      description="Run a grid of cells (every combination of the grid file's "
                                  "axes, a batch of seeds each) on Dask, and map where each "
                                  "claim holds.",
                      epilog="Exit codes: 0 done, 2 usage or input error. Rerunning on the same "
                             "--out skips finished cells. See docs/sweeps.md.")
    p.add_argument("grid", nargs="?", type=Path, help="the grid file (TOML; see --example)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder: new, empty, or an earlier sweep of the same grid")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes of the LocalCluster started here (default 2)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler (e.g. tcp://host:8786) instead of a "
                        "LocalCluster")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="array backend of each cell's batched run (default numpy)")
    p.add_argument("--extend", action="store_true",
                   help="allow --out to hold a sweep of another grid: reuse the cells both "
                        "grids share")
    p.add_argument("--example", action="store_true", help="print an example grid file and exit")
    p.add_argument("--no-figures", action="store_true", help="skip the maps")
    p.add_argument("--no-progress", action="store_true", help="no progress bar over cells")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def _run(args) -> int:
    from .runner import run_sweep
    meta = run_sweep(args.grid, args.out, workers=args.workers, scheduler=args.scheduler,
                     backend=args.backend, extend=args.extend, figures=not args.no_figures,
                     progress=not args.no_progress and sys.stderr.isatty())
    emit(f"{meta['cells_total']} cells: {meta['cells_computed']} computed, "
         f"{meta['cells_skipped']} already done (skipped); {meta['wall_s']} s")
    emit(f"results: {args.out / 'results.parquet'}   meta: {args.out / 'sweep.json'}"
         + (f"   figures: {args.out / 'figures'}" if meta.get("figures") else ""))
    return EXIT_OK


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.example:
        emit(EXAMPLE.rstrip("\n"))
        return EXIT_OK
    if args.grid is None or args.out is None:
        p.error("give GRID.toml and --out DIR (or --example)")
    if args.workers < 1:
        p.error(f"--workers must be a positive integer, got {args.workers}")
    return guarded(p.prog, lambda: _run(args), debug=args.debug)
