"""Hostile input files and sizes: never a hang, never an "internal error", always one line naming
the input. Every call that could block runs under a watchdog, so a regression fails instead of
hanging the suite."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from proofs_check import limits
from proofs_check.cli import main
from proofs_check.config import ProblemSpec, SuiteConfig, read_toml
from proofs_check.conformance import Recorder, Recording, check_recording, load_recording
from proofs_check.conformance import golden
from proofs_check.conformance.record import RECORDING_KEY
from proofs_check.inputs import InputFileError, read_npz, read_regular_file
from proofs_check.sweep.grid import load_grid

ROOT = Path(__file__).resolve().parents[1]
WATCHDOG_S = 30          # only a safety net: every call here returns in well under a second


def within(fn, fifo: Path | None = None):
    """``fn()`` in a thread; its result, or the exception it raised. If it is still running
    after the watchdog, unblock a FIFO reader (open the write end) and fail."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(WATCHDOG_S)
    if t.is_alive():
        if fifo is not None:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pytest.fail(f"{fn} blocked for {WATCHDOG_S} s")
    return box


def raises_within(fn, exc_type, *words, fifo=None):
    box = within(fn, fifo)
    assert "error" in box, f"accepted: {box.get('value')!r}"
    err = box["error"]
    assert isinstance(err, exc_type), repr(err)
    for w in words:
        assert w in str(err), f"{w!r} not in {str(err)!r}"
    return err


def one_line_exit_2(capsys, argv, *words, fifo=None):
    box = within(lambda: main(argv), fifo)
    assert box.get("value") == 2, box
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    return err


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def saved_recording(tmp_path: Path, steps: int = 4) -> Path:
    rec = Recorder()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        rec.add(rng.random(3), rng.standard_normal((3, 4)), np.ones(3))
    return rec.recording.save(tmp_path / "run.npz")


# ------------------------------------------------------------------ 1. only regular files
@pytest.fixture
def fifo(tmp_path):
    def make(name):
        p = tmp_path / name
        os.mkfifo(p)
        return p
    return make


def test_a_fifo_is_refused_by_every_reader_without_blocking(fifo, capsys, tmp_path):
    toml, npz = fifo("in.toml"), fifo("in.npz")
    raises_within(lambda: read_regular_file(toml, "--thing", 100), InputFileError, "--thing",
                  "FIFO", fifo=toml)
    raises_within(lambda: SuiteConfig.from_toml(toml), ValueError, "--config", "FIFO",
                  fifo=toml)
    raises_within(lambda: load_grid(toml), ValueError, "GRID", "FIFO", fifo=toml)
    raises_within(lambda: load_recording(npz, name="--recording"), ValueError, "--recording",
                  "FIFO", fifo=npz)
    raises_within(lambda: golden._read_arrays(npz), golden.GoldenFormatError, "golden file",
                  "FIFO", fifo=npz)
    raises_within(lambda: golden.load_golden(npz), (ValueError, OSError), str(npz), fifo=npz)
    one_line_exit_2(capsys, ["conformance", "--recording", str(npz)], "--recording", "FIFO",
                    fifo=npz)
    one_line_exit_2(capsys, ["--config", str(toml)], "--config", "FIFO", fifo=toml)
    one_line_exit_2(capsys, ["sweep", str(toml), "--out", str(tmp_path / "o")], "GRID", "FIFO",
                    fifo=toml)
    one_line_exit_2(capsys, ["conformance", "tests.impls:ExcessMTLLinearSpace", "--golden",
                             str(npz)], "--golden", fifo=npz)
    assert not (tmp_path / "o").exists()


def test_the_cli_refuses_a_fifo_recording_in_a_real_process(fifo):
    npz = fifo("rec.npz")
    try:
        done = subprocess.run([sys.executable, "-m", "proofs_check", "conformance",
                               "--recording", str(npz)], capture_output=True, text=True,
                              cwd=ROOT, timeout=WATCHDOG_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the conformance CLI blocked on a FIFO")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--recording" in done.stderr
    assert "FIFO" in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize("kind", ["directory", "/dev/zero", "socket"])
def test_directories_devices_and_sockets_are_refused_by_kind(tmp_path, kind):
    if kind == "directory":
        path, word = tmp_path, "directory"
    elif kind == "/dev/zero":
        path, word = Path("/dev/zero"), "character device"
    else:
        short = tempfile.mkdtemp(prefix="hz")          # AF_UNIX paths are short
        path, word = Path(short) / "s", "socket"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    try:
        raises_within(lambda: read_regular_file(path, "--config", 2 ** 20), InputFileError,
                      "--config", word, "not a regular file")
        raises_within(lambda: load_recording(path, name="--recording"), ValueError,
                      "--recording", word)
    finally:
        if kind == "socket":
            sock.close()
            path.unlink()
            os.rmdir(path.parent)


# ------------------------------------------------------------------ 2. size cap, deep nesting
def test_config_dev_zero_is_refused_in_one_line(capsys):
    raises_within(lambda: SuiteConfig.from_toml("/dev/zero"), ValueError, "--config",
                  "character device")
    one_line_exit_2(capsys, ["--config", "/dev/zero"], "--config", "/dev/zero")


def test_a_config_or_grid_above_1_mib_is_refused(tmp_path, capsys):
    big = write(tmp_path / "big.toml", "# padding\n" * 200_000)       # 2 MB of comments
    raises_within(lambda: read_toml(big, "--config"), ValueError, "--config", "above the limit",
                  "1.0 MiB")
    raises_within(lambda: load_grid(big), ValueError, "GRID", "above the limit")
    one_line_exit_2(capsys, ["--config", str(big)], "--config", "above the limit")


def test_toml_nested_5000_deep_is_a_value_error_naming_the_file(tmp_path, capsys):
    deep = write(tmp_path / "deep.toml", "a = " + "[" * 5000 + "]" * 5000 + "\n")
    raises_within(lambda: SuiteConfig.from_toml(deep), ValueError, "--config", "deep.toml",
                  "nested too deeply")
    raises_within(lambda: load_grid(deep), ValueError, "GRID", "nested too deeply")
    one_line_exit_2(capsys, ["--config", str(deep)], "--config", "nested too deeply")
    one_line_exit_2(capsys, ["sweep", str(deep), "--out", str(tmp_path / "o")], "GRID",
                    "nested too deeply")
    digits = write(tmp_path / "digits.toml", "[run]\nseeds = " + "9" * 5000 + "\n")
    raises_within(lambda: SuiteConfig.from_toml(digits), ValueError, "--config",
                  "not valid TOML")


def test_a_grid_whose_sections_are_not_tables_is_refused(tmp_path, capsys):
    grid = write(tmp_path / "g.toml", "problem = 3\n")
    raises_within(lambda: load_grid(grid), ValueError, "g.toml", "[problem] must be a table")
    one_line_exit_2(capsys, ["sweep", str(grid), "--out", str(tmp_path / "o")], "[problem]")


# ------------------------------------------------------------------ 3. recordings and goldens
def _flip_inside(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


def _uncompressed_recording(path: Path, **arrays) -> Path:
    np.savez(path, **{RECORDING_KEY: np.array("float64"), **arrays})
    return path


def _forged_npz(path: Path, member: str, shape: tuple, extra: dict) -> Path:
    """An .npz whose ``member`` .npy header claims ``shape`` but holds 16 bytes of data."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, hdr.getvalue() + b"\0" * 16)
        for key, val in extra.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(val))
            zf.writestr(f"{key}.npy", buf.getvalue())
    return path


@pytest.mark.parametrize("case, words", [
    ("empty", ("empty (0 bytes)",)),
    ("truncated", ("not an .npz archive, or truncated",)),
    ("crc", ("corrupt", "CRC")),
    ("flipped compressed", ("corrupt",)),
    ("huge shape", ("claims shape (10^12, 3, 4)",)),
    ("zero steps", ("0 steps",)),
    ("missing grads", ("lacks the arrays", "grads")),
    ("object dtype", ("pickle",)),
])
def test_broken_recordings_are_refused_naming_the_recording_and_the_fault(tmp_path, capsys,
                                                                           case, words):
    good = saved_recording(tmp_path)
    bad = tmp_path / "bad.npz"
    if case == "empty":
        bad.write_bytes(b"")
    elif case == "truncated":
        bad.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    elif case == "crc":                        # stored (uncompressed): one float byte flipped
        src = _uncompressed_recording(tmp_path / "plain.npz", grads=np.ones((2, 3, 4)),
                                      weights=np.ones((2, 3)))
        data = src.read_bytes()
        bad.write_bytes(_flip_inside(data, data.index(np.ones(1).tobytes()) + 3))
    elif case == "flipped compressed":
        data = good.read_bytes()
        with zipfile.ZipFile(good) as zf:
            info = zf.getinfo("grads.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        bad.write_bytes(_flip_inside(data, start + info.compress_size // 2))
    elif case == "huge shape":
        _forged_npz(bad, "grads.npy", (10 ** 12, 3, 4),
                    {"weights": np.ones((2, 3)), RECORDING_KEY: np.array("float64")})
    elif case == "zero steps":
        _uncompressed_recording(bad, grads=np.ones((0, 3, 4)), weights=np.ones((0, 3)))
    elif case == "missing grads":
        _uncompressed_recording(bad, weights=np.ones((2, 3)))
    else:
        with zipfile.ZipFile(bad, "w") as zf:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array([{}, 1], dtype=object))
            zf.writestr("grads.npy", buf.getvalue())
    tracemalloc.start()
    try:
        err = raises_within(lambda: load_recording(bad, name="--recording"), ValueError,
                            "--recording", str(bad), "not a saved recording", *words)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2 ** 20, f"{peak} bytes allocated to refuse it ({err})"
    one_line_exit_2(capsys, ["conformance", "--recording", str(bad)], "--recording", *words)


def test_a_recording_with_zero_steps_cannot_be_checked_or_built():
    with pytest.raises(ValueError, match="at least one step"):
        Recording(losses=None, grads=np.ones((0, 3, 4)), weights=np.ones((0, 3)))
    with pytest.raises(ValueError, match="at least one step"):
        check_recording(Recording(losses=None, grads=np.ones((0, 3, 4)),
                                  weights=np.ones((0, 3))))


def test_a_good_recording_still_round_trips(tmp_path):
    path = saved_recording(tmp_path)
    rec = load_recording(path)
    assert rec.steps == 4 and rec.grads.shape == (4, 3, 4) and rec.dtype == "float64"
    assert rec.grads.flags.writeable


def test_a_golden_file_with_a_huge_header_or_a_bad_crc_is_refused(tmp_path):
    g = golden.load_golden("excessmtl-official-linear")
    huge = _forged_npz(tmp_path / "huge.npz", "grads.npy", (10 ** 12, 3, 4),
                       {"losses": g.losses, "weights": g.weights,
                        "meta": np.array('{"format_version": 1}')})
    with pytest.raises(golden.GoldenFormatError, match="corrupt or truncated.*claims shape"):
        golden.load_golden(huge)
    plain = tmp_path / "plain.npz"
    np.savez(plain, losses=g.losses, grads=g.grads, weights=g.weights,
             meta=np.array('{"format_version": 1}'))
    data = plain.read_bytes()
    with zipfile.ZipFile(plain) as zf:
        info = zf.getinfo("grads.npy")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 3
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(_flip_inside(data, at))
    with pytest.raises(golden.GoldenFormatError, match="corrupt or truncated.*CRC"):
        golden.load_golden(flipped)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(golden.GoldenFormatError, match="empty"):
        golden.load_golden(empty)


def test_the_archive_reader_refuses_members_unpacking_above_the_limit(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=np.zeros(10_000))       # 80 kB unpacked, ~ 100 bytes packed
    with pytest.raises(InputFileError, match="--x.*unpack to 78.2 KiB, above the limit"):
        read_npz(path, "--x", ["a"], max_bytes=10_000)
    assert read_npz(path, "--x", ["a"], max_bytes=10 ** 6)["a"].shape == (10_000,)


# ------------------------------------------------------------------ 4. size of the work
def test_a_config_needing_too_much_memory_is_refused_with_the_estimate(tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.delenv(limits.ENV_GIB, raising=False)
    cfg = write(tmp_path / "big.toml", "[problem]\nfamily = \"linear\"\nn_tasks = 4\n"
                                       "dim = 1\nn_samples = 1000000000\n")
    raises_within(lambda: SuiteConfig.from_toml(cfg), limits.LimitError, "big.toml", "GiB",
                  "m=4, n=10^9, d=1", "the limit is 8 GiB", "EXCESSMTL_ORACLE_MAX_GIB")
    one_line_exit_2(capsys, ["--config", str(cfg)], "EXCESSMTL_ORACLE_MAX_GIB")
    # the claims batch the seeds: 64 (× 5 noise levels) of a problem that fits alone do not
    wide = write(tmp_path / "wide.toml", "[problem]\nn_samples = 1000000\ndim = 50\n"
                                         "[run]\nseeds = 64\n")
    raises_within(lambda: SuiteConfig.from_toml(wide), limits.LimitError, "robustness claim",
                  "320 replicas")
    monkeypatch.setenv(limits.ENV_GIB, "10000")       # the user raises the limit
    assert SuiteConfig.from_toml(wide).seeds == 64
    monkeypatch.setenv(limits.ENV_GIB, "lots")
    raises_within(lambda: SuiteConfig.from_toml(wide), ValueError, limits.ENV_GIB, "'lots'")


@pytest.mark.parametrize("text, exc, words", [
    ("[run]\nseeds = 1e10\n", TypeError, ("seeds", "integer")),
    ("[run]\nseeds = 10000000000\n", limits.LimitError, ("10^10 replicas", "limit")),
    ("[run]\nsteps = 100000000000\n", limits.LimitError, ("recorded trajectories", "limit")),
    ("[problem]\ndim = 1000000000000000000000000000000\n", limits.LimitError, ("d=10^30",)),
    ("[problem]\nn_tasks = 1000000000000\n", limits.LimitError, ("m=10^12",)),
    ("[problem]\nn_samples = 4611686018427387904\n", limits.LimitError, ("n=2^62",)),
])
def test_absurd_sizes_in_a_config_are_refused_before_any_work(tmp_path, text, exc, words):
    cfg = write(tmp_path / "c.toml", text)
    raises_within(lambda: SuiteConfig.from_toml(cfg), exc, "c.toml", *words)


def test_absurd_sizes_built_in_python_are_refused_too():
    raises_within(lambda: ProblemSpec("linear", n_tasks=10 ** 12, noise=0.1),
                  limits.LimitError, "m=10^12")
    raises_within(lambda: SuiteConfig(seeds=10 ** 10), limits.LimitError, "10^10")


@pytest.mark.parametrize("text, exc, words", ids=["n=2^62", "seeds=1e10", "seeds=10^10",
                                                 "steps=10^12", "10^7 cells", "no methods"],
                         argvalues=[
    ("[problem]\nn_samples = 4611686018427387904\n[run]\nseeds = 2\n", limits.LimitError,
     ("n=2^62", "EXCESSMTL_ORACLE_MAX_GIB")),
    ("[run]\nseeds = 1e10\n", TypeError, ("seeds", "expected int")),
    ("[run]\nseeds = 10000000000\n", limits.LimitError, ("10^10 replicas",)),
    ("[run]\nsteps = 1000000000000\n", limits.LimitError, ("replica-steps",
                                                           "EXCESSMTL_ORACLE_MAX_STEPS")),
    ("[grid]\nnoise = [" + ", ".join(str(i / 1000) for i in range(100)) + "]\n"
     "step_size = [" + ", ".join(str(i + 1) for i in range(100)) + "]\n"
     "warmup = [" + ", ".join(str(i) for i in range(1000)) + "]\n", limits.LimitError,
     ("10^7 cells", "100 noise × 100 step_size × 1000 warmup", "EXCESSMTL_ORACLE_MAX_CELLS")),
    ("[run]\nmethods = []\n", ValueError, ("methods", "non-empty")),
])
def test_absurd_grids_are_refused_at_load_before_dask_starts(tmp_path, capsys, monkeypatch,
                                                             text, exc, words):
    from proofs_check.sweep import grid as grid_mod
    monkeypatch.setattr(grid_mod.Grid, "cells", lambda self: pytest.fail("cells enumerated"))
    grid = write(tmp_path / "g.toml", text)
    raises_within(lambda: load_grid(grid), exc, "g.toml", *words)
    import proofs_check.sweep.runner as runner
    monkeypatch.setattr(runner, "_client", lambda *a: pytest.fail("a cluster was started"))
    one_line_exit_2(capsys, ["sweep", str(grid), "--out", str(tmp_path / "o")], words[0])
    assert not (tmp_path / "o").exists()


def test_the_cell_limit_can_be_raised(tmp_path, monkeypatch):
    grid = write(tmp_path / "g.toml", "[grid]\nnoise = [0.0, 0.1, 0.2]\nwarmup = [0, 1]\n")
    monkeypatch.setenv(limits.ENV_CELLS, "5")
    raises_within(lambda: load_grid(grid), limits.LimitError, "6 cells", "the limit is 5")
    monkeypatch.setenv(limits.ENV_CELLS, "6")
    assert len(load_grid(grid).cells()) == 6


# ------------------------------------------------------------------ 5. --backend cupy
def test_backend_cupy_without_cupy_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)      # import cupy -> ImportError
    from gpu.backend import BackendUnavailable, require_cupy
    with pytest.raises(ImportError, match="not installed") as info:
        require_cupy()
    assert isinstance(info.value, BackendUnavailable)
    err = one_line_exit_2(capsys, ["--backend", "cupy", "--quick", "--no-figures"],
                          "CuPy", "not installed", "pip install 'excessmtl-oracle[gpu]'")
    assert err.startswith("python -m proofs_check: error: ")
