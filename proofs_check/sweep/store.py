"""A sweep's output folder: one file per finished cell, written durably, so nothing finished is
ever lost and a rerun skips it; ``results.parquet`` and ``sweep.json`` assembled from them.

    DIR/sweep.json         grid, fingerprint, versions, cells done / skipped, wall time
    DIR/cells/<id>.npz     one cell's arrays and its rows (written when the cell finishes)
    DIR/results.parquet    one row per cell × seed × method
    DIR/figures/           maps (PNG + SVG)

The folder is a ``resultdir.OwnedFolder``: its manifest lists every file we wrote (a cell with
its SHA-256), no link inside it is followed, a file we did not write is never overwritten, and
each cell is flushed to disk (file and folder) before it counts as finished. A cell that is
truncated or corrupt (what a power loss can leave) is treated as missing and recomputed.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from ..inputs import read_regular_file
from ..report import atomic, resultdir
from .grid import Grid

MARKER = "excessmtl-oracle sweep"
CELL_KEY = "excessmtl_oracle_sweep_cell"
PLANNED = ("sweep.json", "results.parquet", "cells", "figures")
_CELL_NAME = re.compile(r"^[0-9a-f]{16}\.npz$")
_FIGURE_NAME = re.compile(r"^[a-z_]+(_map|_vs_[a-z_]+)\.(png|svg)$")


def _is_legacy(out: Path) -> bool:
    """A sweep folder of an earlier version (``sweep.json`` of ours, no manifest)."""
    return read_meta(out, trust=True) is not None


def _adopt(out: Path) -> list[str]:
    """The files of an earlier version's sweep folder, by the names only it gives them."""
    files = ["sweep.json"] + (["results.parquet"] if (out / "results.parquet").is_file() else [])
    for sub, pattern in (("cells", _CELL_NAME), ("figures", _FIGURE_NAME)):
        d = out / sub
        if d.is_dir() and not d.is_symlink():
            files += [f"{sub}/{p.name}" for p in d.iterdir()
                      if pattern.match(p.name) and not p.is_symlink() and p.is_file()]
    return files


def check_out_dir(out: Path, grid: Grid, *, extend: bool = False) -> Path:
    """``out`` may hold this sweep: new, empty, or an earlier sweep folder of ours. An earlier
    sweep of another grid is refused unless ``extend`` (cells both grids share are reused).
    Nothing is written."""
    out = resultdir.check_output_dir(Path(out), "--out", planned=PLANNED, is_legacy=_is_legacy)
    if out.is_dir() and any(not resultdir.is_ours_by_name(p.name) for p in out.iterdir()):
        meta = read_meta(out, trust=True)
        if meta is None:
            raise atomic.OutputPathError(f"--out: {out} is not empty and holds no sweep of "
                                         f"{atomic.TOOL}; refusing to write into it (choose a "
                                         "new folder)")
        if meta.get("fingerprint") != grid.fingerprint() and not extend:
            raise ValueError(f"--out: {out} holds a sweep of another grid (fingerprint "
                             f"{meta.get('fingerprint')} vs {grid.fingerprint()}); pass --extend "
                             "to reuse the cells both grids share, or choose a new folder")
    return out


def open_folder(out: Path) -> resultdir.OwnedFolder:
    """The sweep folder, ready to write (an earlier version's folder gets its manifest)."""
    return resultdir.OwnedFolder(Path(out), "--out", planned=PLANNED, is_legacy=_is_legacy,
                                 adopt=_adopt)


def read_meta(out: Path, *, trust: bool = False) -> dict | None:
    """``sweep.json`` of a sweep of ours; ``trust`` also reads it without a manifest (an earlier
    version's folder), never through a link."""
    out = Path(out)
    listed = resultdir.read_manifest(out)
    if (listed is None and not trust) or (listed is not None and "sweep.json" not in listed) \
            or resultdir.find_link(out, "sweep.json") is not None:
        return None
    try:
        meta = json.loads(read_regular_file(out / "sweep.json", "sweep.json", 1 << 26)
                          .decode("utf-8"))
    except (OSError, ValueError):                # a FIFO or device there is refused, not read
        return None
    return meta if isinstance(meta, dict) and meta.get("tool") == MARKER else None


def cell_rel(cell_id: str) -> str:
    return f"cells/{cell_id}.npz"


def cell_path(out: Path, cell_id: str) -> Path:
    return Path(out) / cell_rel(cell_id)


def write_cell(folder: resultdir.OwnedFolder, cell_id: str, cell: dict, rows: list[dict],
               arrays: dict) -> Path:
    """One finished cell: listed with its SHA-256, written to a temporary name, flushed, renamed;
    present whole or not at all, also after a power loss."""
    meta = {"id": cell_id, "cell": cell, "rows": rows}
    data = atomic.npz_bytes({**arrays, CELL_KEY: np.array(json.dumps(meta))})
    return folder.write(cell_rel(cell_id), data, checksum=True)


def read_cell(folder: resultdir.OwnedFolder, cell_id: str) -> tuple[dict | None, str]:
    """(the meta (cell, rows) of a finished cell, "") or (None, why not): "absent", or what is
    wrong with a file that is there (truncated, corrupt, not this cell)."""
    rel = cell_rel(cell_id)
    if rel not in folder.files() or not cell_path(folder.target, cell_id).exists():
        return None, "absent"
    data = folder.read(rel)
    if data is None:
        return None, "its checksum does not match (truncated or corrupt)"
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z[CELL_KEY]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        return None, f"it cannot be read ({type(exc).__name__})"
    if not isinstance(meta, dict) or meta.get("id") != cell_id or \
            not isinstance(meta.get("rows"), list):
        return None, "it holds another cell"
    return meta, ""


def versions() -> dict:
    out = {}
    for name in ("excessmtl-oracle", "numpy", "scipy", "dask", "distributed", "pandas",
                 "pyarrow", "cupy-cuda13x"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_results(folder: resultdir.OwnedFolder, rows: list[dict], axes: list[str]) -> Path:
    """``results.parquet`` from every row, with the claim columns (``holds``)."""
    import pandas as pd

    from .holds import add_claim_columns
    frame = add_claim_columns(pd.DataFrame(rows), axes)
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", index=False)
    return folder.write("results.parquet", buf.getvalue())


def write_meta(folder: resultdir.OwnedFolder, meta: dict) -> Path:
    text = json.dumps({"tool": MARKER, **meta}, indent=2, allow_nan=False, ensure_ascii=False)
    return folder.write("sweep.json", (text + "\n").encode("utf-8"))
