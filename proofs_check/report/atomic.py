"""Safe output files: nothing the program did not write is ever deleted or overwritten.

* A file is written to a temporary name beside it, flushed to disk (``fsync``) and renamed, so it
  is never half-written, not even after a power loss; it gets the permissions an ordinary file
  gets (0666 & ~umask, e.g. 0644), not ``mkstemp``'s 0600.
* ``check_output_file`` finds every problem with a single output file (a folder in the way, an
  unwritable place, a file that is not ours) *before* the long work starts.

Output folders (manifest, no links followed, all-or-nothing switch) are ``resultdir``'s job.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

TOOL = "excessmtl-oracle"


class OutputPathError(ValueError):
    """An output path that cannot be used without losing or overwriting someone's files."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be
    opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """``data`` to ``path``: a temporary file beside it, flushed, then renamed; with ``durable``
    the folder's entry is flushed too, so the file survives a power loss whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def write_json(path: Path, obj: object, *, durable: bool = True) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False, ensure_ascii=False) + "\n")
                .encode("utf-8"), durable=durable)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` of ``arrays`` in memory; never pickles (object arrays are
    refused)."""
    buf = io.BytesIO()
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"array {k!r} has dtype object; only numeric and string arrays are "
                            "stored (no pickle)")
        clean[k] = a
    np.savez_compressed(buf, **clean)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    return buf.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``npz_bytes(arrays)`` to a temporary name, then renamed."""
    write_bytes(path, npz_bytes(arrays))


def has_npz_key(path: Path, key: str) -> bool:
    """``path`` is an .npz holding ``key`` (the marker an output of ours carries)."""
    from ..inputs import open_regular_file        # a FIFO or device must not block the check
    try:
        with open_regular_file(path, "path", 1 << 40) as fh, \
                np.load(fh, allow_pickle=False) as z:
            return key in z.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def save_marked_npz(path: str | Path, arrays: dict[str, np.ndarray], *, key: str, what: str,
                    overwrite: bool = False) -> Path:
    """Write ``arrays`` (which hold the marker ``key``) to one ``.npz``: a temporary file, then
    renamed. An existing file is replaced only if it carries ``key`` and ``overwrite`` is True;
    ``what`` names the kind of output in the error ("comparison", "recording")."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    if path.exists() and not overwrite:
        raise OutputPathError(f"path: {path} exists; pass overwrite=True to replace an earlier "
                              f"{what}")
    check_output_file(path, "path", lambda p: has_npz_key(p, key))
    write_npz(path, arrays)
    return path


# ------------------------------------------------------------------ single output files
def check_output_file(path: Path, name: str, is_ours: Callable[[Path], bool]) -> Path:
    """``path`` may be written: its folder can be made and written, and if a file is already
    there ``is_ours(path)`` recognises it as an earlier output of this program. Else
    ``OutputPathError`` naming ``name`` (the option or argument)."""
    path = Path(path).expanduser()
    if path.exists():
        if path.is_dir():
            raise OutputPathError(f"{name} must be a file path, but {path} is a directory")
        if not is_ours(path):
            raise OutputPathError(f"{name}: {path} exists and was not written by {TOOL}; "
                                  "refusing to overwrite it (choose another path or move it)")
    check_writable_parent(path.parent, name)
    return path


def check_writable_parent(parent: Path, name: str) -> None:
    """Something can be created at ``parent`` (the nearest existing folder above it is a
    writable folder, not a file or a broken link)."""
    anc = parent
    while not anc.exists():
        if anc.is_symlink():
            raise OutputPathError(f"{name}: {anc} is a broken symbolic link")
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"{name}: {anc} is a file, so nothing can be created under it")
    try:
        fd, tmp = tempfile.mkstemp(dir=anc, prefix=".excessmtl-oracle-probe-")
    except OSError as exc:
        raise OutputPathError(f"{name}: cannot write in {anc} ({exc.strerror or exc})") \
            from None
    os.close(fd)
    os.unlink(tmp)
