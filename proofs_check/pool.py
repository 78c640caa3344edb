"""Independent jobs on a pool of worker processes, with results bit-identical to running them one
after the other here: each job is the same code on the same inputs, in a forked copy of this
process (nothing is pickled on the way in, so a user's method defined anywhere, even in
``__main__`` or a notebook, runs as it is; only the results come back, pickled).

Fork is used only where it is the platform's safe default (Linux); elsewhere, and for one job or
one worker, the jobs run in this process. The workers ignore SIGINT: Ctrl-C reaches this process,
which terminates them and raises ``KeyboardInterrupt`` as a serial run would. An exception in a
job (a ``UserMethodError``, a bug) is raised here, from the first job in order that raised it.

The worker count is ``workers``, else the environment variable ``EXCESSMTL_ORACLE_WORKERS``, else
one per core (``os.sched_getaffinity``), never more than the jobs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence

ENV = "EXCESSMTL_ORACLE_WORKERS"

_TASK: Callable[[int], object] | None = None     # set before the fork, inherited by the workers


def worker_count(workers: int | None, jobs: int) -> int:
    """The processes to use for ``jobs`` jobs (module docstring); 1 means in this process."""
    if workers is None:
        text = os.environ.get(ENV, "").strip()
        if text:
            try:
                workers = int(text)
            except ValueError:
                raise ValueError(f"{ENV} must be a positive integer, got {text!r}") from None
            if workers < 1:
                raise ValueError(f"{ENV} must be a positive integer, got {text!r}")
        else:
            try:
                workers = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                workers = os.cpu_count() or 1
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    return max(1, min(workers, jobs))


def _quiet() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(k: int) -> tuple[int, object]:
    assert _TASK is not None
    return k, _TASK(k)


def forking_allowed() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def run_jobs(fn: Callable[..., object], jobs: Sequence[tuple], *, workers: int = 1,
             done: Callable[[int], object] | None = None) -> list:
    """``[fn(*job) for job in jobs]``, on ``workers`` forked processes when that is more than
    one (module docstring); ``done(k)`` is called as job k finishes."""
    global _TASK
    if workers <= 1 or len(jobs) <= 1 or not forking_allowed():
        out = []
        for k, job in enumerate(jobs):
            out.append(fn(*job))
            if done is not None:
                done(k)
        return out
    _TASK = lambda k: fn(*jobs[k])                   # noqa: E731 - inherited by the fork
    results: dict[int, object] = {}
    errors: dict[int, BaseException] = {}
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_quiet)
    try:
        pending = [pool.apply_async(_call, (k,)) for k in range(len(jobs))]
        for k, res in enumerate(pending):
            try:
                _, results[k] = res.get()
            except Exception as exc:  # noqa: BLE001 - raised below, first in job order
                errors[k] = exc
            if done is not None:
                done(k)
            if errors:
                break
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        if errors:
            pool.terminate()
        pool.join()
        _TASK = None
    if errors:
        raise errors[min(errors)]
    return [results[k] for k in range(len(jobs))]
