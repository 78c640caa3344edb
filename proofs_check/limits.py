"""The size of the work, estimated before anything starts (docs/api.md "Config files",
docs/sweeps.md).

``estimate_work`` gives, for one kind of run, the bytes of its largest arrays (the data,
m·(n + b)·d + 2·m·n + m·d² float64 per replica, and the recorded trajectories) and its step
count (replicas × steps × runs × cells). ``check_work`` refuses an estimate above the limits,
which the user raises through environment variables:

    EXCESSMTL_ORACLE_MAX_GIB     memory of the largest arrays, in GiB      (default 8)
    EXCESSMTL_ORACLE_MAX_STEPS   replica-steps of a suite or sweep         (default 10^9)
    EXCESSMTL_ORACLE_MAX_CELLS   cells of a sweep grid                     (default 100000)

The limits are not read from the config or grid file itself: a file cannot raise its own limit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from .inputs import num, size_text

GiB = 2 ** 30
ENV_GIB, DEFAULT_GIB = "EXCESSMTL_ORACLE_MAX_GIB", 8.0
ENV_STEPS, DEFAULT_STEPS = "EXCESSMTL_ORACLE_MAX_STEPS", 10 ** 9
ENV_CELLS, DEFAULT_CELLS = "EXCESSMTL_ORACLE_MAX_CELLS", 100_000
F64 = 8


class LimitError(ValueError):
    """The estimated work is above a limit (the message gives the estimate and how to raise
    the limit)."""


def _env_number(var: str, default: float, integer: bool) -> float:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        val = float(raw)
    except ValueError:
        val = math.nan
    if not (math.isfinite(val) and val > 0) or (integer and val != int(val)):
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"environment variable {var} must be {kind}, got {raw!r}")
    return int(val) if integer else val


def max_gib() -> float:
    return _env_number(ENV_GIB, DEFAULT_GIB, integer=False)


def max_bytes() -> int:
    """The memory limit in bytes (``EXCESSMTL_ORACLE_MAX_GIB``)."""
    return int(max_gib() * GiB)


def max_steps() -> int:
    return int(_env_number(ENV_STEPS, DEFAULT_STEPS, integer=True))


def max_cells() -> int:
    return int(_env_number(ENV_CELLS, DEFAULT_CELLS, integer=True))


def _limit_gib_text() -> str:
    g = max_gib()
    return f"{g:g} GiB"


@dataclass(frozen=True)
class Work:
    """One kind of run: ``what`` it is, its ``sizes`` in words, the bytes of its data and
    recorded trajectories, and its step count."""

    what: str
    sizes: str
    data_bytes: int
    trajectory_bytes: int
    steps: int

    @property
    def bytes(self) -> int:
        return self.data_bytes + self.trajectory_bytes


def estimate_work(what: str, m: int, n: int, d: int, *, replicas: int = 1, batch: int = 0,
                  steps: int = 1, records: int = 1, runs: int = 1, cells: int = 1) -> Work:
    """The work of ``runs`` runs of ``steps`` steps over ``replicas`` replicas of an m-task
    problem with n samples in R^d (minibatch ``batch``, 0 for full batch), recording
    ``records`` time points, repeated over ``cells`` cells (which run one after another or on
    other workers: they multiply the steps, not the memory)."""
    data = replicas * F64 * (m * (n + batch) * d + 2 * m * n + m * d * d)
    traj = replicas * records * F64 * (d + 5 * m + 1)
    sizes = f"m={num(m)}, n={num(n)}, d={num(d)}"
    if batch:
        sizes += f", batch {num(batch)}"
    if replicas > 1:
        sizes += f", {num(replicas)} replicas"
    return Work(what, sizes, data, traj, replicas * steps * runs * cells)


def check_work(works: Iterable[Work], where: str = "") -> None:
    """Refuse (``LimitError`` naming ``where``, if given) if the largest arrays of any run
    need more memory than ``EXCESSMTL_ORACLE_MAX_GIB``, or all the runs together more steps than
    ``EXCESSMTL_ORACLE_MAX_STEPS``."""
    works = list(works)
    if not works:
        return
    where = f"{where}: " if where else ""
    big = max(works, key=lambda w: w.bytes)
    if big.bytes > max_bytes():
        part = "data" if big.data_bytes >= big.trajectory_bytes else "recorded trajectories"
        raise LimitError(f"{where}{big.what} needs about {size_text(big.bytes)} for its "
                         f"{part} ({big.sizes}); the limit is {_limit_gib_text()} (raise it "
                         f"with {ENV_GIB})")
    total = sum(w.steps for w in works)
    if total > max_steps():
        long = max(works, key=lambda w: w.steps)
        raise LimitError(f"{where}the work is about {num(total)} replica-steps ({long.what}: "
                         f"{num(long.steps)}, {long.sizes}); the limit is {num(max_steps())} "
                         f"(raise it with {ENV_STEPS})")


def check_cells(n_cells: int, where: str, detail: str) -> None:
    """Refuse a grid of more than ``EXCESSMTL_ORACLE_MAX_CELLS`` cells."""
    if n_cells > max_cells():
        raise LimitError(f"{where}: the grid has {num(n_cells)} cells ({detail}); the limit is "
                         f"{num(max_cells())} (raise it with {ENV_CELLS})")
