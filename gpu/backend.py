"""One backend switch (STYLE §6): the mirror is written once against an array namespace ``xp``;
``backend="numpy"`` runs it on the CPU (what CI exercises), ``backend="cupy"`` on the GPU.

CuPy is imported lazily. Asking for CuPy without CuPy or without a visible GPU raises
``BackendUnavailable``: there is never a silent CPU fallback.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

BACKENDS = ("numpy", "cupy")


class BackendUnavailable(RuntimeError):
    """The requested array backend cannot run here."""


class CupyNotInstalled(BackendUnavailable, ImportError):
    """CuPy cannot be imported; an ImportError too, so a command line reports it in one line
    as a usage error (how to install it), not as an internal error."""


def require_cupy() -> ModuleType:
    """Import CuPy and check that a GPU is visible; raise ``BackendUnavailable`` otherwise."""
    try:
        import cupy
    except ImportError as exc:
        raise CupyNotInstalled(
            "backend='cupy' needs CuPy, which is not installed: install the 'gpu' extra (pip "
            "install 'excessmtl-oracle[gpu]', or the cupy-cudaXXx wheel matching your CUDA)"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver is present
        raise BackendUnavailable(f"backend='cupy' needs a CUDA GPU, but CUDA reports: {exc}") \
            from exc
    if n < 1:
        raise BackendUnavailable("backend='cupy' needs a CUDA GPU, but none is visible")
    return cupy


def namespace(backend: str) -> ModuleType:
    """The array module for ``backend``."""
    if backend == "numpy":
        return np
    if backend == "cupy":
        return require_cupy()
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def dtype_of(name: str) -> type:
    if name not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {name!r}")
    return np.float64 if name == "float64" else np.float32


def to_numpy(x: object) -> np.ndarray:
    """A host NumPy copy of a NumPy or CuPy array."""
    get = getattr(x, "get", None)
    return np.asarray(get() if callable(get) else x)


def is_cupy(xp: ModuleType) -> bool:
    return xp.__name__ == "cupy"
