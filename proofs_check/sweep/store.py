"""A sweep's output folder: one file per finished cell, written atomically, so nothing finished is
ever lost and a rerun skips it; ``results.parquet`` and ``sweep.json`` assembled from them.

    DIR/sweep.json         grid, fingerprint, versions, cells done / skipped, wall time
    DIR/cells/<id>.npz     one cell's arrays and its rows (written when the cell finishes)
    DIR/results.parquet    one row per cell × seed × method
    DIR/figures/           maps (PNG + SVG)
"""

from __future__ import annotations

import io
import json
from importlib import metadata
from pathlib import Path

import numpy as np

from ..report import atomic
from .grid import Grid

MARKER = "excessmtl-oracle sweep"
CELL_KEY = "excessmtl_oracle_sweep_cell"


def check_out_dir(out: Path, grid: Grid, *, extend: bool = False) -> Path:
    """``out`` may hold this sweep: new, empty, or an earlier sweep folder of ours. An earlier
    sweep of another grid is refused unless ``extend`` (cells both grids share are reused)."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise atomic.OutputPathError(f"--out must be a folder, but {out} is a file")
    if out.is_dir() and any(out.iterdir()):
        meta = read_meta(out)
        if meta is None:
            raise atomic.OutputPathError(f"--out: {out} is not empty and holds no sweep of "
                                         f"{atomic.TOOL}; refusing to write into it (choose a "
                                         "new folder)")
        if meta.get("fingerprint") != grid.fingerprint() and not extend:
            raise ValueError(f"--out: {out} holds a sweep of another grid (fingerprint "
                             f"{meta.get('fingerprint')} vs {grid.fingerprint()}); pass --extend "
                             "to reuse the cells both grids share, or choose a new folder")
    else:
        atomic.check_output_dir(out)
    return out


def read_meta(out: Path) -> dict | None:
    try:
        meta = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("tool") == MARKER else None


def cell_path(out: Path, cell_id: str) -> Path:
    return out / "cells" / f"{cell_id}.npz"


def write_cell(out: Path, cell_id: str, cell: dict, rows: list[dict], arrays: dict) -> Path:
    """One finished cell, to a temporary name then renamed: present whole or not at all."""
    path = cell_path(out, cell_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"id": cell_id, "cell": cell, "rows": rows}
    atomic.write_npz(path, {**{k: np.asarray(v) for k, v in arrays.items()},
                            CELL_KEY: np.array(json.dumps(meta))})
    return path


def read_cell(out: Path, cell_id: str) -> dict | None:
    """The meta (cell, rows) of a finished cell, or None if absent or unreadable."""
    try:
        with np.load(cell_path(out, cell_id), allow_pickle=False) as z:
            meta = json.loads(str(z[CELL_KEY]))
    except (OSError, KeyError, ValueError):
        return None
    return meta if meta.get("id") == cell_id else None


def versions() -> dict:
    out = {}
    for name in ("excessmtl-oracle", "numpy", "scipy", "dask", "distributed", "pandas",
                 "pyarrow", "cupy-cuda13x"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_results(out: Path, rows: list[dict], axes: list[str]) -> Path:
    """``results.parquet`` from every row, with the claim columns (``holds``), written to a
    temporary name, then renamed."""
    import pandas as pd

    from .holds import add_claim_columns
    frame = add_claim_columns(pd.DataFrame(rows), axes)
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    path = out / "results.parquet"
    atomic.write_bytes(path, buf.getvalue())
    return path


def write_meta(out: Path, meta: dict) -> Path:
    path = out / "sweep.json"
    atomic.write_json(path, {"tool": MARKER, **meta})
    return path
