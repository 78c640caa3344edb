"""Safe outputs: nothing the program did not write is ever deleted or overwritten.

* A file is written to a temporary name beside it and renamed (never half-written), with the
  permissions an ordinary file gets (0666 & ~umask, e.g. 0644), not ``mkstemp``'s 0600.
* An output directory is used only if it is new, empty, or holds a previous result of ours,
  recognised by its manifest ``MANIFEST`` (the list of files we wrote there). A non-empty
  directory without one is refused. ``check_output_dir`` finds every problem with the path (a
  file in the way, an unwritable place, foreign files) *before* the long work starts.
* ``output_directory`` stages the new files inside the target, then moves them in one by one;
  the manifest always lists every file of ours present, so an interruption at any point leaves
  nothing that a later run would take for foreign or delete wrongly. Files of a previous result
  that the new one does not produce are removed only if that result's manifest lists them; files
  the user added to a result directory are left alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

MANIFEST = ".excessmtl-oracle-manifest.json"
STAGING_PREFIX = ".excessmtl-oracle-staging-"
TOOL = "excessmtl-oracle"


class OutputPathError(ValueError):
    """An output path that cannot be used without losing or overwriting someone's files."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: object) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, allow_nan=False, ensure_ascii=False) + "\n")
                .encode("utf-8"))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` to a temporary name, then renamed; never pickles (object arrays are
    refused)."""
    buf = io.BytesIO()
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"array {k!r} has dtype object; only numeric and string arrays are "
                            "stored (no pickle)")
        clean[k] = a
    np.savez_compressed(buf, **clean)
    write_bytes(path, buf.getvalue())


def has_npz_key(path: Path, key: str) -> bool:
    """``path`` is an .npz holding ``key`` (the marker an output of ours carries)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return key in z.files
    except (OSError, ValueError):
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
    _check_writable_parent(path.parent, name)
    return path


# ------------------------------------------------------------------- output directories
def read_manifest(directory: Path) -> list[str] | None:
    """The files a previous result of ours lists in ``directory``, or None if it has no valid
    manifest."""
    f = Path(directory) / MANIFEST
    try:
        obj = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict) or obj.get("tool") != TOOL or \
            not isinstance(obj.get("files"), list) or \
            not all(isinstance(p, str) for p in obj["files"]):
        return None
    return [p for p in obj["files"] if _is_relative_inside(p)]


def _is_relative_inside(rel: str) -> bool:
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".")


def _write_manifest(directory: Path, files: list[str]) -> None:
    write_json(directory / MANIFEST, {"tool": TOOL, "files": sorted(set(files))})


def _probe_writable(directory: Path, name: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".excessmtl-oracle-probe-")
    except OSError as exc:
        raise OutputPathError(f"{name}: cannot write in {directory} ({exc.strerror or exc})") \
            from None
    os.close(fd)
    os.unlink(tmp)


def _check_writable_parent(parent: Path, name: str) -> None:
    anc = parent
    while not anc.exists():
        if anc.is_symlink():
            raise OutputPathError(f"{name}: {anc} is a broken symbolic link")
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"{name}: {anc} is a file, so nothing can be created under it")
    _probe_writable(anc, name)


def check_output_dir(target: Path, name: str = "--out") -> Path:
    """Everything that can be known about an output directory before the work starts.

    Usable: a path that does not exist yet (under a writable folder), an empty directory, or a
    directory holding a previous result of ours (``MANIFEST``). Raises ``OutputPathError``
    naming ``name`` otherwise."""
    target = Path(target).expanduser()
    if target.exists():
        if not target.is_dir():
            raise OutputPathError(f"{name} must be a directory, but {target} is a file")
        foreign = [p.name for p in target.iterdir()
                   if not p.name.startswith(STAGING_PREFIX)]
        if foreign and read_manifest(target) is None:
            shown = ", ".join(sorted(foreign)[:3]) + (", …" if len(foreign) > 3 else "")
            raise OutputPathError(
                f"{name} {target} is a non-empty directory ({shown}) that holds no earlier result "
                f"of {TOOL}; refusing to write into it so that none of its files is lost. Choose "
                "a new or empty directory.")
        _probe_writable(target, name)
    else:
        _check_writable_parent(target.parent, name)
    return target


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _commit(stage: Path, target: Path, name: str) -> list[str]:
    old = set(read_manifest(target) or [])
    new = [f for f in _files_under(stage) if f != MANIFEST]
    clash = [f for f in new if (target / f).exists() and f not in old]
    if clash:
        raise OutputPathError(f"{name}: {target} holds {clash[0]}, which {TOOL} did not write; "
                              "refusing to overwrite it")
    _write_manifest(target, sorted(old | set(new)))     # every file of ours present is listed
    for f in new:
        (target / f).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / f, target / f)
    for f in sorted(old - set(new)):
        with contextlib.suppress(FileNotFoundError):
            (target / f).unlink()
        parent = (target / f).parent
        while parent != target:                          # folders emptied by that removal
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    _write_manifest(target, new)
    return new


@contextlib.contextmanager
def output_directory(target: Path, name: str = "--out") -> Iterator[Path]:
    """Yield an empty staging folder; on success its files move into ``target`` (see the module
    docstring), on any failure or interruption ``target`` is left as it was and the staging
    folder removed."""
    target = check_output_dir(target, name)
    created: list[Path] = []
    p = target
    while not p.exists():
        created.append(p)
        p = p.parent
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=target, prefix=STAGING_PREFIX))
    ok = False
    try:
        yield stage
        _commit(stage, target, name)
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not ok:
            for d in created:                             # only folders this call made, if empty
                try:
                    d.rmdir()
                except OSError:
                    break
