"""Result folders that cannot be turned against their user.

A result folder (``--out DIR`` of the suite, ``verify``'s ``save``, a sweep's ``--out``) holds our
files and possibly the user's. The rules:

* **Ours is what the manifest lists.** ``MANIFEST`` names every file we wrote there (and, for
  sweep cells, its SHA-256). A non-empty folder without one is refused; a file we would write
  that is present but not listed is refused, never overwritten; a file is deleted only if the
  manifest lists it.
* **No symbolic link inside the folder is followed**, for a write or a delete. Every path is
  walked one component at a time, relative to an open directory (``O_NOFOLLOW``), so a subfolder
  replaced by a link (``DIR/figures -> ~/paper``) is refused with a message naming the link,
  even if the link appears while the run is in progress. The folder itself may be a link: it is
  the path the user named.
* **A suite result is switched in all at once.** The new result is staged complete in a
  ``STAGING_PREFIX`` folder inside ``DIR``; the switch writes a journal (the old and the new file
  lists), moves the new files in, removes the old ones the new result does not have, rewrites
  the manifest and removes the journal. Ctrl-C and SIGTERM wait for the switch to end. A switch
  cut short (SIGKILL, power loss) leaves the journal and the complete staging folder, and the
  next use of the folder finishes it first (``recover``), so the folder is read as the old
  result or the new one, never a mix.
* **Leftovers of killed runs are recognised as ours and cleaned**: staging folders whose run is
  gone (each run holds an ``flock`` on its own) and the temporary files of the manifest and the
  journal. Every change of the manifest, the journal or a staging folder is made under an
  ``flock`` on the folder itself, so concurrent runs into one folder stay consistent.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..inputs import read_regular_file
from .atomic import (TOOL, OutputPathError, _umask, check_writable_parent, fsync_dir, write_bytes,
                     write_json)

try:                                               # flock: POSIX; elsewhere no locking
    import fcntl
except ImportError:                                # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MANIFEST = ".excessmtl-oracle-manifest.json"
JOURNAL = ".excessmtl-oracle-journal.json"
STAGING_PREFIX = ".excessmtl-oracle-staging-"
# the temporary names ``atomic.write_bytes`` gives the manifest and the journal before renaming
_OUR_TMP = re.compile(r"^\.\.excessmtl-oracle-(manifest|journal)\.json\.[A-Za-z0-9_]+\.tmp$")
# os.replace takes dir fds where os.rename does (both are renameat); supports_dir_fd lists rename
_DIRFD = all(f in os.supports_dir_fd for f in (os.open, os.rename, os.unlink, os.mkdir, os.rmdir,
                                               os.stat))
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def is_ours_by_name(name: str) -> bool:
    """A top-level name only this program makes: the manifest, the journal, a staging folder,
    or a temporary file of the manifest or the journal."""
    return name in (MANIFEST, JOURNAL) or name.startswith(STAGING_PREFIX) or \
        bool(_OUR_TMP.match(name))


# ------------------------------------------------------------------------------ manifest
_MAX_LIST_BYTES = 1 << 28     # a manifest of 10^5 sweep cells is about 10 MB


def _read_json(f: Path) -> object:
    """The JSON document of our file ``f``, or None: absent, a link, not a regular file (a FIFO
    must not block the run), too large, or unreadable."""
    if f.is_symlink():
        return None
    try:
        return json.loads(read_regular_file(f, str(f), _MAX_LIST_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return None


def read_manifest_full(directory: Path) -> dict | None:
    """``{"files": [...], "sha256": {file: hex}}`` of a result of ours in ``directory``, or None
    without a valid manifest (a manifest that is a symbolic link is not valid)."""
    obj = _read_json(Path(directory) / MANIFEST)
    if not isinstance(obj, dict) or obj.get("tool") != TOOL or \
            not isinstance(obj.get("files"), list) or \
            not all(isinstance(p, str) for p in obj["files"]):
        return None
    files = [p for p in obj["files"] if is_relative_inside(p)]
    raw = obj.get("sha256")
    sums: dict = raw if isinstance(raw, dict) else {}
    return {"files": files, "sha256": {k: v for k, v in sums.items()
                                       if k in files and isinstance(v, str)}}


def read_manifest(directory: Path) -> list[str] | None:
    """The files a previous result of ours lists in ``directory``, or None if it has no valid
    manifest."""
    m = read_manifest_full(directory)
    return None if m is None else m["files"]


def write_manifest(directory: Path, files: Iterable[str],
                   sha256: dict[str, str] | None = None) -> None:
    files = sorted(set(files))
    doc: dict = {"tool": TOOL, "files": files}
    if sha256:
        doc["sha256"] = {k: sha256[k] for k in sorted(sha256) if k in files}
    write_json(Path(directory) / MANIFEST, doc, durable=True)


def is_relative_inside(rel: str) -> bool:
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".")


# ------------------------------------------------------------------------- no-follow walks
def _link_error(name: str, link: Path) -> OutputPathError:
    return OutputPathError(
        f"{name}: {link} is a symbolic link; {TOOL} never writes or deletes through a link "
        "inside its output folder (remove the link, or choose another folder)")


def find_link(root: Path, rel: str) -> Path | None:
    """The first component of ``root/rel`` (``root`` excluded) that is a symbolic link, if
    any; components that do not exist end the walk."""
    p = Path(root)
    for part in Path(rel).parts:
        p = p / part
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return p
    return None


def check_no_links(root: Path, rels: Iterable[str], name: str) -> None:
    for rel in rels:
        link = find_link(root, rel)
        if link is not None:
            raise _link_error(name, link)


class _Walker:
    """Directory fds opened one component at a time, never through a link."""

    def __init__(self, root: Path, name: str):
        self.root, self.name = Path(root), name
        self.fd = os.open(root, os.O_RDONLY | _DIRECTORY)

    def close(self) -> None:
        os.close(self.fd)

    def parent(self, rel: str, *, create: bool) -> tuple[int | None, str]:
        """(fd of the folder holding ``rel``'s last component, that component); the fd is None
        when a folder on the way does not exist and ``create`` is False. The caller closes
        the fd."""
        parts = Path(rel).parts
        fd = os.dup(self.fd)
        here = self.root
        try:
            for part in parts[:-1]:
                here = here / part
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                try:
                    nfd = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                except FileNotFoundError:
                    os.close(fd)
                    return None, parts[-1]
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and \
                            _is_link_at(fd, part):
                        raise _link_error(self.name, here) from None
                    if exc.errno == errno.ENOTDIR:
                        raise OutputPathError(f"{self.name}: {here} is a file where {TOOL} "
                                              "keeps a folder") from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        return fd, parts[-1]

    def lstat(self, rel: str) -> os.stat_result | None:
        fd, base = self.parent(rel, create=False)
        if fd is None:
            return None
        try:
            return os.lstat(base, dir_fd=fd)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)


def _is_link_at(fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=fd).st_mode)
    except OSError:
        return False


def _check_target_file(w: _Walker, rel: str, ours: bool) -> None:
    """``rel`` may be written: no link on the way or at the end, not a folder, and if present,
    ours."""
    st = w.lstat(rel)
    if st is None:
        return
    where = w.root / rel
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(w.name, where)
    if stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{w.name}: {where} is a folder where {TOOL} writes a file")
    if not ours:
        raise OutputPathError(f"{w.name}: {w.root} holds {rel}, which {TOOL} did not write; "
                              "refusing to overwrite it")


def move_in(w: _Walker, src: Path, rel: str) -> None:
    """Rename the file ``src`` (on the folder's file system) to ``root/rel`` without following
    a link."""
    if not _DIRFD:                                     # pragma: no cover - no dir_fd support
        check_no_links(w.root, [rel], w.name)
        (w.root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, w.root / rel)
        return
    fd, base = w.parent(rel, create=True)
    assert fd is not None
    try:
        if _is_link_at(fd, base):
            raise _link_error(w.name, w.root / rel)
        os.replace(src, base, dst_dir_fd=fd)
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_ours(w: _Walker, rel: str) -> None:
    """Delete ``root/rel`` (a file of ours) and the folders that removal empties, never through a
    link; a link in its place is left alone."""
    if not _DIRFD:                                     # pragma: no cover
        if find_link(w.root, rel) is None:
            with contextlib.suppress(FileNotFoundError):
                (w.root / rel).unlink()
        return
    try:
        fd, base = w.parent(rel, create=False)
    except OutputPathError:
        return                                         # a link on the way: nothing of ours
    if fd is None:
        return
    try:
        st = os.lstat(base, dir_fd=fd)
        if stat.S_ISREG(st.st_mode):
            os.unlink(base, dir_fd=fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)
    parts = Path(rel).parts
    for k in range(len(parts) - 1, 0, -1):           # folders emptied by that removal
        sub = str(Path(*parts[:k]))
        pfd, last = w.parent(sub, create=False) if k > 1 else (os.dup(w.fd), parts[0])
        if pfd is None:
            break
        try:
            if _is_link_at(pfd, last):
                break
            os.rmdir(last, dir_fd=pfd)
        except OSError:
            break
        finally:
            os.close(pfd)


# --------------------------------------------------------------------------------- locks
@contextlib.contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder itself (no lock file is left behind)."""
    if fcntl is None:                                  # pragma: no cover
        yield
        return
    fd = os.open(directory, os.O_RDONLY | _DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:                                # a file system without flock
            pass
        yield
    finally:
        os.close(fd)                                   # releases the lock


def _hold(directory: Path) -> int:
    """Open ``directory`` and hold a shared ``flock`` on it as long as the fd is open: a staging
    folder whose fd nobody holds belongs to a run that is gone."""
    fd = os.open(directory, os.O_RDONLY | _DIRECTORY)
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _abandoned(directory: Path) -> bool:
    if fcntl is None:                                  # pragma: no cover
        return False
    try:
        fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ recovery
def _read_journal(target: Path) -> dict | None:
    obj = _read_json(target / JOURNAL)
    if not isinstance(obj, dict):
        return None
    ok = obj.get("tool") == TOOL and \
        isinstance(obj.get("stage"), str) and obj["stage"].startswith(STAGING_PREFIX) and \
        "/" not in obj["stage"] and \
        all(isinstance(obj.get(k), list) and all(isinstance(p, str) and is_relative_inside(p)
                                                 for p in obj[k]) for k in ("old", "new"))
    return obj if ok else None


def _apply(target: Path, journal: dict, name: str) -> None:
    """Finish a switch: every step is idempotent, so a switch cut short is finished by running
    it again."""
    stage = target / journal["stage"]
    new, old = list(journal["new"]), list(journal["old"])
    w = _Walker(target, name)
    try:
        for f in new:
            src = stage / f
            if os.path.lexists(src) and not src.is_symlink() and src.is_file():
                move_in(w, src, f)
        present = [f for f in new if (st := w.lstat(f)) is not None and
                   stat.S_ISREG(st.st_mode)]
        for f in sorted(set(old) - set(new)):
            remove_ours(w, f)
        write_manifest(target, present)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target / JOURNAL)
        fsync_dir(target)
    finally:
        w.close()
    shutil.rmtree(stage, ignore_errors=True)


def recover(target: Path, name: str = "--out") -> list[str]:
    """Finish a switch cut short and clean what killed runs left; call with the folder locked.
    Returns what was done, in words (empty if nothing)."""
    target = Path(target)
    done = []
    journal = _read_journal(target)
    if journal is not None:
        _apply(target, journal, name)
        done.append(f"finished a switch to a new result that was cut short in {target}")
    elif os.path.lexists(target / JOURNAL) and not (target / JOURNAL).is_symlink():
        os.unlink(target / JOURNAL)                    # unreadable: written before the switch
    for entry in os.listdir(target):
        p = target / entry
        if entry.startswith(STAGING_PREFIX) and not p.is_symlink() and p.is_dir() and \
                _abandoned(p):
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {entry}, left by a run that was killed")
        elif _OUR_TMP.match(entry) and not p.is_symlink() and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return done


# ------------------------------------------------------------------------- output folders
def check_output_dir(target: Path, name: str = "--out", *, planned: Iterable[str] = (),
                     is_legacy: object = None) -> Path:
    """Everything that can be known about an output folder before the work starts.

    Usable: a path that does not exist yet (under a writable folder), an empty folder, or a
    folder holding a previous result of ours (``MANIFEST``; ``is_legacy(target)`` may accept an
    older result without one). No file the manifest lists and none of ``planned`` (the paths
    the run will write, e.g. ``figures``) may be reached through a symbolic link. Raises
    ``OutputPathError`` naming ``name`` otherwise."""
    target = Path(target).expanduser()
    if target.is_symlink() and not target.exists():
        raise OutputPathError(f"{name}: {target} is a broken symbolic link (it points to "
                              f"{os.readlink(target)}, which does not exist)")
    if target.exists():
        if not target.is_dir():
            raise OutputPathError(f"{name} must be a directory, but {target} is a file")
        foreign = [p.name for p in target.iterdir() if not is_ours_by_name(p.name)]
        for ours in (MANIFEST, JOURNAL):
            if (target / ours).is_symlink():
                raise _link_error(name, target / ours)
        manifest = read_manifest(target)
        legacy = callable(is_legacy) and manifest is None and is_legacy(target)
        if foreign and manifest is None and _read_journal(target) is None and not legacy:
            shown = ", ".join(sorted(foreign)[:3]) + (", …" if len(foreign) > 3 else "")
            raise OutputPathError(
                f"{name} {target} is a non-empty directory ({shown}) that holds no earlier result "
                f"of {TOOL}; refusing to write into it so that none of its files is lost. Choose "
                "a new or empty directory.")
        journal = _read_journal(target) or {}
        check_no_links(target, [*(manifest or []), *journal.get("new", []),
                                *journal.get("old", []), *planned], name)
        check_writable_parent(target, name)
    else:
        check_writable_parent(target.parent, name)
    return target


def _files_under(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):   # os.walk never follows links
        for f in filenames:
            p = Path(dirpath) / f
            if not p.is_symlink() and p.is_file():
                out.append(str(p.relative_to(root)))
    return sorted(out)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (main thread, POSIX); elsewhere nothing."""
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "pthread_sigmask"):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_CHANGED: dict[str, str] = {}


def changed_outputs() -> dict[str, str]:
    """The output folders this process has changed so far, each with what changed there in
    words: an interrupt message must not say "no output was changed" when one was."""
    return dict(_CHANGED)


def forget_changes() -> None:
    """Start a new account of changed outputs (each command line starts one)."""
    _CHANGED.clear()


def note_changed(path: Path, what: str) -> None:
    _CHANGED[str(path)] = what


def switch_in(stage: Path, target: Path, name: str = "--out") -> list[str]:
    """Make the complete result in ``stage`` (a staging folder inside ``target``) the result of
    ``target``, all at once (module docstring). Returns the new result's files."""
    with folder_lock(target):
        recover(target, name)
        old = set(read_manifest(target) or [])
        new = [f for f in _files_under(stage) if f != MANIFEST]
        w = _Walker(target, name)
        try:
            for f in new:
                _check_target_file(w, f, f in old)
            for f in old - set(new):                   # a delete through a link: refuse
                fd, base = w.parent(f, create=False)
                if fd is not None:
                    try:
                        if _is_link_at(fd, base):
                            raise _link_error(name, target / f)
                    finally:
                        os.close(fd)
        finally:
            w.close()
        fsync_dir(stage)
        with _signals_deferred():
            write_json(target / JOURNAL, {"tool": TOOL, "stage": stage.name, "old": sorted(old),
                                          "new": new}, durable=True)
            note_changed(target, f"a new result was switched into {target}")
            _apply(target, {"stage": stage.name, "old": sorted(old), "new": new}, name)
    return new


@contextlib.contextmanager
def output_directory(target: Path, name: str = "--out", *,
                     planned: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty staging folder; on success its files become the result in ``target`` at
    once (``switch_in``); on any failure or interruption ``target`` is left as it was and the
    staging folder removed."""
    target = check_output_dir(target, name, planned=planned)
    created: list[Path] = []
    p = target
    while not p.exists():
        created.append(p)
        p = p.parent
    target.mkdir(parents=True, exist_ok=True)
    with folder_lock(target):
        recover(target, name)
        stage = Path(tempfile.mkdtemp(dir=target, prefix=STAGING_PREFIX))
        held = _hold(stage)
    ok = False
    try:
        yield stage
        switch_in(stage, target, name)
        ok = True
    finally:
        os.close(held)
        shutil.rmtree(stage, ignore_errors=True)
        if not ok:
            for d in created:                             # only folders this call made, if empty
                try:
                    d.rmdir()
                except OSError:
                    break


# ---------------------------------------------------------------- folders written file by file
_OWNED_TMP = re.compile(r"^\..+\.excessmtl-oracle-tmp-[A-Za-z0-9_]+$")


def sha256_of(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


class OwnedFolder:
    """A result folder written file by file over a long run (a sweep's cells), under the same
    rules as ``output_directory``: a file is listed in the manifest before it is written; no
    link is followed; a file present but not listed is refused; each write is flushed to disk,
    file and folder, and may keep its SHA-256 in the manifest so that a file cut short by a
    power loss is recognised (``intact``).

    ``is_legacy(target)`` may accept an older folder of ours without a manifest, whose files
    ``adopt(target)`` then lists."""

    def __init__(self, target: Path, name: str = "--out", *, planned: Iterable[str] = (),
                 is_legacy: object = None, adopt: object = None):
        self.target = check_output_dir(Path(target), name, planned=planned,
                                       is_legacy=is_legacy)
        self.name = name
        self.target.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.target):
            recover(self.target, name)
            if read_manifest(self.target) is None:
                files = list(adopt(self.target)) if callable(adopt) and callable(is_legacy) \
                    and is_legacy(self.target) else []
                check_no_links(self.target, files, name)
                write_manifest(self.target, files)
            self._clean_tmp()

    def _clean_tmp(self) -> None:
        """Temporary files of writes cut short, in the folders our files are in."""
        folders = {str(Path(f).parent) for f in self.files()} | {"."}
        for rel in folders:
            if find_link(self.target, rel) is not None:
                continue
            d = self.target / rel
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for n in names:
                p = d / n
                if _OWNED_TMP.match(n) and not p.is_symlink() and p.is_file():
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()

    def files(self) -> list[str]:
        return (read_manifest(self.target) or []) if self.target.is_dir() else []

    def sha256(self, rel: str) -> str | None:
        m = read_manifest_full(self.target)
        return None if m is None else m["sha256"].get(rel)

    def read(self, rel: str, max_bytes: int = 1 << 34) -> bytes | None:
        """The bytes of our file ``rel``, or None if it is absent, not ours, reached through a
        link, or does not match its recorded SHA-256."""
        m = read_manifest_full(self.target)
        if m is None or rel not in m["files"] or find_link(self.target, rel) is not None:
            return None
        try:
            fd = os.open(self.target / rel, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
                return None
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read()
        finally:
            os.close(fd)
        want = m["sha256"].get(rel)
        if want is not None and sha256_of(data) != want:
            return None
        return data

    def write(self, rel: str, data: bytes, *, checksum: bool = False) -> Path:
        """``data`` becomes our file ``rel``: listed first, then written to a temporary name
        beside it, flushed and renamed, and the folder flushed."""
        if not is_relative_inside(rel):
            raise ValueError(f"rel must be a relative path inside the folder, got {rel!r}")
        with folder_lock(self.target):
            m = read_manifest_full(self.target) or {"files": [], "sha256": {}}
            w = _Walker(self.target, self.name)
            try:
                _check_target_file(w, rel, rel in m["files"])
                sums = dict(m["sha256"])
                if checksum:
                    sums[rel] = sha256_of(data)
                else:
                    sums.pop(rel, None)
                write_manifest(self.target, [*m["files"], rel], sums)
                note_changed(self.target, f"files written so far are kept in {self.target}")
                self._write_at(w, rel, data)
            finally:
                w.close()
        return self.target / rel

    def _write_at(self, w: _Walker, rel: str, data: bytes) -> None:
        if not _DIRFD:                                 # pragma: no cover
            write_bytes(self.target / rel, data)
            return
        fd, base = w.parent(rel, create=True)
        assert fd is not None
        tmp = f".{base}.excessmtl-oracle-tmp-{os.urandom(6).hex()}"
        try:
            tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                          0o666 & ~_umask(), dir_fd=fd)
            try:
                with os.fdopen(tfd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                if _is_link_at(fd, base):
                    raise _link_error(self.name, self.target / rel)
                os.replace(tmp, base, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=fd)
                raise
            os.fsync(fd)
        finally:
            os.close(fd)
