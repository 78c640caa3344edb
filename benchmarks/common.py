"""Timing helpers shared by the benchmarks: synchronised timers (one function, or several
interleaved call by call so that all of them see the same load on a shared machine), the measured
copy bandwidth, and which logistic path ``gpu`` takes here."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
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


def time_interleaved(fns: dict[str, Callable[[], object]], backend: str, *, repeats: int = 10,
                     warmup: int = 2, burst: int = 3, pause: float = 0.25) -> dict[str, float]:
    """Median wall time in seconds of each function, measured in rounds so that a burst of load
    on a shared machine falls on all of them alike. Each round gives every function a burst of
    ``burst`` consecutive calls, the first untimed, after a pause of ``pause`` seconds: the
    worker threads of the previous function (OpenBLAS, OpenMP) spin for a while after their last
    call, and would otherwise compete with the next function's threads. ``repeats`` timed calls
    of each function in all."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    while min(len(ts) for ts in times.values()) < repeats:
        for name, fn in fns.items():
            sync(backend)
            time.sleep(pause)
            fn()
            for _ in range(burst - 1):
                sync(backend)
                t0 = time.perf_counter()
                fn()
                sync(backend)
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def copier(x: object, backend: str) -> Callable[[], None]:
    """A function that copies ``x`` into a preallocated array (for the copy bandwidth)."""
    xp = gpu.namespace(backend)
    y = xp.empty_like(x)

    def copy() -> None:
        xp.copyto(y, x)
    return copy


def logistic_path(backend: str) -> str:
    """Which fused pass ``BatchedProblem.losses_and_grads`` takes for logistic losses here."""
    if backend == "cupy":
        return "fused CUDA kernel"
    from gpu import cpu_fused
    if cpu_fused.available():
        import numba      # not numba.get_num_threads(): it would start numba's OpenMP threads
        return f"fused numba kernel (numba {numba.__version__}, {cpu_fused.threads()} threads)"
    why = "EXCESSMTL_ORACLE_NO_NUMBA is set" if cpu_fused.numba_installed() else \
        "numba is not installed"
    return f"NumPy two-pass ({why})"


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
