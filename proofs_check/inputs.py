"""Reading input files without trusting them: only regular files, of bounded size, and ``.npz``
archives whose members are checked before anything is allocated.

* ``open_regular_file`` opens with ``O_NONBLOCK`` (a FIFO with no writer cannot block the open)
  and checks ``S_ISREG`` with ``fstat`` on the opened descriptor, not on the path, so the file
  cannot be swapped between the check and the read. FIFOs, directories, devices (``/dev/zero``)
  and sockets are refused by name, as is a file above ``max_bytes``.
* ``read_npz`` reads the members of an ``.npz`` archive (``np.savez``) by hand: each ``.npy``
  header is parsed first and its claimed shape × itemsize must match the member's size, so a
  header claiming terabytes is refused before any allocation; every member is read to its end, so
  a CRC mismatch is detected; pickled (object) arrays are refused.

Every error is an ``InputFileError`` (a ValueError) whose message names the option or argument
that gave the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from typing import IO, BinaryIO

import numpy as np

MiB = 2 ** 20
TEXT_MAX_BYTES = 1 * MiB        # config and grid files
NPY_MAX_HEADER = 10_000         # bytes of one .npy header (numpy's own default limit)

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class InputFileError(ValueError):
    """An input file that cannot be used. ``why`` is the reason without the file's name;
    ``kind`` is "file" (not a readable regular file of allowed size) or "format" (its content
    is corrupt, truncated or not what was expected)."""

    def __init__(self, message: str, why: str, kind: str) -> None:
        super().__init__(message)
        self.why, self.kind = why, kind


def _kind(mode: int) -> str:
    for test, what in _KINDS:
        if test(mode):
            return what
    return "not a regular file"


def size_text(n: int) -> str:
    """A byte count for a message: '512 bytes', '3.2 MiB', '36.0 GiB', '1.2e+09 TiB'."""
    if n < 1024:
        return f"{n} bytes"
    if n.bit_length() > 1000:
        return "an astronomical amount"
    for unit, scale in (("KiB", 2 ** 10), ("MiB", 2 ** 20), ("GiB", 2 ** 30), ("TiB", 2 ** 40)):
        if n < 1024 * scale or unit == "TiB":
            v = n / scale
            return f"{v:.2g} {unit}" if v >= 1e6 else f"{v:.1f} {unit}"
    raise AssertionError("unreachable")


def num(x: int) -> str:
    """An integer for a message: 200, 10^9, 2^62, 4.61e+18."""
    if x < 10 ** 6:
        return str(x)
    if x.bit_length() > 1000:
        return f"about 10^{int(x.bit_length() * math.log10(2))}"
    digits = str(x)
    if digits.strip("0") == "1":
        return f"10^{len(digits) - 1}"
    if x & (x - 1) == 0:
        return f"2^{x.bit_length() - 1}"
    return f"{float(x):.3g}"


def _fail(name: str, path: object, why: str, kind: str = "file") -> InputFileError:
    return InputFileError(f"{name}: {path}: {why}", why, kind)


def open_regular_file(path: str | os.PathLike, name: str, max_bytes: int) -> BinaryIO:
    """``path`` opened for binary reading, after checking on the opened descriptor that it is a
    regular file of at most ``max_bytes``. ``name`` is the option or argument that gave it."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        why = f"cannot open it: {exc.strerror or exc}"
        with contextlib.suppress(OSError):
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):            # e.g. a socket: open fails with ENXIO
                why = f"is {_kind(mode)}, not a regular file"
        raise _fail(name, path, why) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _fail(name, path, f"is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise _fail(name, path, f"is {size_text(st.st_size)}, above the limit of "
                                    f"{size_text(max_bytes)}")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str | os.PathLike, name: str, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path`` (``open_regular_file``); refused if it grew
    past ``max_bytes`` while being read."""
    with open_regular_file(path, name, max_bytes) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise _fail(name, path, f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise _fail(name, path, f"is above the limit of {size_text(max_bytes)}")
    return data


def read_text_file(path: str | os.PathLike, name: str, max_bytes: int = TEXT_MAX_BYTES) -> str:
    """A UTF-8 text file (``read_regular_file``)."""
    data = read_regular_file(path, name, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(name, path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                    "format") from None


# ------------------------------------------------------------------ .npz archives
def _header(fh: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh, max_header_size=NPY_MAX_HEADER)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh, max_header_size=NPY_MAX_HEADER)
    raise ValueError(f"unsupported .npy format version {version}")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(num(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def read_npz(path: str | os.PathLike, name: str, keys: Iterable[str], max_bytes: int
             ) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the ``.npz`` archive at ``path`` that it holds (absent ones are
    left out: the caller says which are required). The archive and the arrays read from it are
    each at most ``max_bytes``; ``InputFileError`` for anything else, naming ``name``."""
    def bad(why: str) -> InputFileError:
        return _fail(name, path, why, "format")

    with open_regular_file(path, name, max_bytes) as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise bad("the file is empty (0 bytes)")
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise bad(f"not an .npz archive, or truncated ({exc})") from None
        with zf:
            members = {info.filename: info for info in zf.infolist()}
            wanted = [(k, members[f"{k}.npy"]) for k in keys if f"{k}.npy" in members]
            total = sum(info.file_size for _, info in wanted)
            if total > max_bytes:
                raise bad(f"its arrays unpack to {size_text(total)}, above the limit of "
                          f"{size_text(max_bytes)}")
            out = {}
            for key, info in wanted:
                out[key] = _read_member(zf, info, bad)
    return out


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, bad) -> np.ndarray:
    member = info.filename
    try:
        with zf.open(info) as f:
            try:
                shape, fortran, dtype = _header(f)
            except (ValueError, EOFError) as exc:
                raise bad(f"member {member} has no valid .npy header ({exc})") from None
            if dtype.hasobject:
                raise bad(f"member {member} holds Python objects (pickle), which are refused")
            if any(s < 0 for s in shape):
                raise bad(f"member {member} claims a negative shape {shape}")
            header_len = f.tell()
            claimed = math.prod(shape) * dtype.itemsize
            held = info.file_size - header_len
            if claimed != held:
                raise bad(f"member {member} claims shape {_shape_text(shape)} of {dtype} "
                          f"({size_text(claimed)}) but holds {size_text(max(held, 0))}: "
                          "corrupt or forged header")
            data = f.read()                      # to the end: the CRC is checked
    except InputFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError) as exc:
        raise bad(f"member {member} is corrupt or truncated ({exc})") from None
    if len(data) != claimed:
        raise bad(f"member {member} is corrupt or truncated ({len(data)} of {claimed} bytes)")
    arr = np.frombuffer(data, dtype=dtype) if claimed else np.empty(0, dtype=dtype)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    return arr.copy()                            # writeable, owning its memory
