"""Timing helpers shared by the benchmarks: synchronised timers and the measured copy bandwidth."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
import sys
from pathlib import Path

import numpy as np

import gpu


def sync(backend: str) -> None:
    if backend == "cupy":
        gpu.require_cupy().cuda.Device().synchronize()


def time_call(fn: Callable[[], object], backend: str, *, repeats: int = 10, warmup: int = 2
              ) -> float:
    """Median wall time of ``fn`` in seconds (device synchronised before and after)."""
    for _ in range(warmup):
        fn()
    sync(backend)
    times = []
    for _ in range(repeats):
        sync(backend)
        t0 = time.perf_counter()
        fn()
        sync(backend)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(x: object, backend: str) -> float:
    """Measured device copy bandwidth, (bytes read + bytes written) / s, copying ``x``."""
    xp = gpu.namespace(backend)
    y = xp.empty_like(x)

    def copy() -> None:
        xp.copyto(y, x)
    t = time_call(copy, backend, repeats=10)
    return 2 * x.nbytes / t


def peak_memory(backend: str) -> int | None:
    if backend != "cupy":
        return None
    return int(gpu.require_cupy().get_default_memory_pool().total_bytes())


def device_name(backend: str) -> str:
    if backend == "cupy":
        cp = gpu.require_cupy()
        return cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    import platform
    return f"CPU ({platform.processor() or platform.machine()}), NumPy {np.__version__}"


BENCH_KEY = "excessmtl_oracle_benchmark"


def _is_our_result(path: Path) -> bool:
    import json
    try:
        return BENCH_KEY in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def check_out(path: str | None) -> None:
    """Before measuring: ``--out`` may be written (never a file this program did not write)."""
    if path:
        from proofs_check.report import atomic
        try:
            atomic.check_output_file(Path(path), "--out", _is_our_result)
        except atomic.OutputPathError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None


def write_json(path: str | None, obj: dict) -> None:
    if path:
        from proofs_check.report import atomic
        atomic.write_json(Path(path), {BENCH_KEY: Path(sys.argv[0]).name, **obj})
