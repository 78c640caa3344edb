"""Figures drawn off the critical path: while the suite runs its next claims, one worker process
draws the figures of the claims already finished, with the same functions and at the same quality
as ``plots.make_figures`` (``plots.claim_figures``), into a private temporary folder; their bytes
come back and are written into the result's staging folder at the end.

On 2 cores the figures then cost (almost) no wall time: matplotlib runs beside NumPy. The worker
ignores SIGINT (Ctrl-C is the main process's to handle) and is shut down with the suite. If it
cannot start or dies, the figures are drawn in the main process as before (``FigureWorker.take``
returns None and the caller falls back to ``make_figures``).
"""

from __future__ import annotations

import multiprocessing
import signal
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path


def _quiet_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def render(claim: dict, arrays: dict, suffix: str) -> tuple[list[str], dict[str, bytes]]:
    """(the PNG paths ``claim_figures`` returns, relative to the result folder, and every file it
    wrote, PNG and SVG, as {relative path: bytes})."""
    from .plots import claim_figures
    with tempfile.TemporaryDirectory(prefix="excessmtl-figures-") as tmp:
        root = Path(tmp)
        paths = claim_figures(claim, arrays, root / "figures", suffix)
        files = {str(p.relative_to(root)): p.read_bytes()
                 for p in sorted((root / "figures").rglob("*")) if p.is_file()}
        return [str(p.relative_to(root)) for p in paths], files


class FigureWorker:
    """``submit`` a finished claim's figures; ``take`` them all at the end (or None: draw them
    in the main process)."""

    def __init__(self) -> None:
        self._jobs: list[Future] = []
        try:
            self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_quiet_worker)
        except (OSError, ValueError):
            self._pool = None

    def submit(self, claim: dict, arrays: dict, suffix: str) -> None:
        if self._pool is None:
            return
        try:
            self._jobs.append(self._pool.submit(render, claim, arrays, suffix))
        except (BrokenProcessPool, RuntimeError, OSError):
            self.close()

    def take(self) -> tuple[list[str], dict[str, bytes]] | None:
        """Every submitted claim's figures, in submission order; None when the worker failed
        (the caller draws them itself, which raises any error of the drawing code there)."""
        if self._pool is None:
            return None
        names: list[str] = []
        files: dict[str, bytes] = {}
        try:
            for job in self._jobs:
                got, blobs = job.result()
                names += got
                files.update(blobs)
        except Exception:  # noqa: BLE001 - a dead worker or a drawing error: redraw in-process
            return None
        finally:
            self.close()
        return names, files

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> FigureWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
