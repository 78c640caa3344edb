"""Writing figures: a PNG at print resolution plus a vector copy (SVG or PDF), atomically and
never over an existing file unless asked (``save_figure``, ``figure_bytes``), and the methods'
colours, markers and titles. The public plot functions that use them (``plot_convergence``,
``plot_weights``, ``plot_front``, ``plot_gap_vs_T``) take a ``Comparison`` or a ``Report`` and
live above ``compare`` and ``verify``, in ``proofs_check.plotting`` (docs/api.md, "Layers").

``path`` is a stem: its suffix, if any, is replaced. Existing files are never overwritten unless
``overwrite=True``. Each function returns the written paths.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import atomic  # noqa: E402
from .figstyle import PRINT_DPI  # noqa: E402

VECTOR_FORMATS = ("svg", "pdf")
METHOD_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                 "#7f7f7f")
METHOD_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def _targets(path: str | Path, vector: str, overwrite: bool) -> tuple[Path, Path]:
    if vector not in VECTOR_FORMATS:
        raise ValueError(f"vector must be one of {VECTOR_FORMATS}, got {vector!r}")
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix in (".png", ".svg", ".pdf") else stem
    out = (stem.with_name(stem.name + ".png"), stem.with_name(stem.name + f".{vector}"))
    for p in out:
        if p.exists() and not overwrite:
            raise atomic.OutputPathError(f"path: {p} exists; pass overwrite=True to replace it")
        if p.exists() and not p.is_file():
            raise atomic.OutputPathError(f"path: {p} exists and is not a file")
    return out


def figure_bytes(fig: plt.Figure, *, vector: str = "svg") -> list[tuple[str, bytes]]:
    """The figure as (suffix, bytes): a PNG at 300 dpi and a vector copy; the figure is closed."""
    if vector not in VECTOR_FORMATS:
        raise ValueError(f"vector must be one of {VECTOR_FORMATS}, got {vector!r}")
    fig.tight_layout()
    out = []
    for fmt, dpi in (("png", PRINT_DPI), (vector, None)):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Creator": "excessmtl-oracle"}
                    if fmt in ("svg", "pdf") else {"Software": "excessmtl-oracle"})
        out.append((f".{fmt}", buf.getvalue()))
    plt.close(fig)
    return out


def save_figure(fig: plt.Figure, path: str | Path, *, vector: str = "svg",
                overwrite: bool = False) -> list[Path]:
    """PNG at 300 dpi and a vector copy, each written to a temporary file then renamed."""
    targets = _targets(path, vector, overwrite)
    written = []
    for target, (_, data) in zip(targets, figure_bytes(fig, vector=vector)):
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(target, data)
        written.append(target)
    return written


class Titled(Protocol):
    """What a plot's title is made of (a ``proofs_check.Comparison`` has it): the problem's name
    and the run's settings (``batch_size``, ``seeds``, ``oscillating``)."""

    @property
    def problem(self) -> str: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...


def _style(k: int) -> dict[str, str]:
    return dict(color=METHOD_COLORS[k % len(METHOD_COLORS)],
                marker=METHOD_MARKERS[k % len(METHOD_MARKERS)])


def _title(res: Titled, what: str) -> str:
    """The plot's title; a run that ended in a cycle (``compare``'s ``OscillationWarning``)
    says so in it, so a flat curve is not read as convergence."""
    regime = "full batch" if res.settings.get("batch_size") is None else \
        f"batch {res.settings['batch_size']}"
    title = f"{what}\n{res.problem}, {regime}, {res.settings.get('seeds', 1)} seed(s)"
    cycling = res.settings.get("oscillating") or []
    if cycling:
        names = sorted({c.split(",")[0] for c in cycling})
        title += (f"\nWARNING: {', '.join(names)} ended in a period-2 cycle (lr too large), "
                  "not at a solution")
    return title
