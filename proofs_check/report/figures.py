"""Public plotting functions: they take saved results (a ``Comparison``, a ``Report``, or the
files they were saved to) and write a PNG at print resolution plus a vector copy (SVG or PDF).

    pc.plot_convergence("runs.npz", "figs/convergence")     # figs/convergence.png + .svg
    pc.plot_gap_vs_T(report, "figs/rate")

``path`` is a stem: its suffix, if any, is replaced. Existing files are never overwritten unless
``overwrite=True``. Each function returns the written paths.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import atomic  # noqa: E402
from ..compare import Comparison, as_comparison  # noqa: E402
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


def _style(k: int) -> dict:
    return dict(color=METHOD_COLORS[k % len(METHOD_COLORS)],
                marker=METHOD_MARKERS[k % len(METHOD_MARKERS)])


def _title(res: Comparison, what: str) -> str:
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


def plot_convergence(results: object, path: str | Path, *, vector: str = "svg",
                     overwrite: bool = False) -> list[Path]:
    """The primal gap max_i E_i(θ_t) − min_θ max_i E_i against t, per method (median over seeds,
    10–90% band), log-log."""
    res = as_comparison(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    t = res.t[1:]
    for k, lab in enumerate(res.labels):
        g = np.maximum(res.gap[k][:, 1:], 1e-300)
        st = _style(k)
        ax.loglog(t, np.median(g, axis=0), color=st["color"], marker=st["marker"],
                  markevery=max(1, len(t) // 8), ms=4, mfc="none", label=lab)
        if g.shape[0] > 1:
            ax.fill_between(t, np.quantile(g, 0.1, axis=0), np.quantile(g, 0.9, axis=0),
                            color=st["color"], alpha=0.15, lw=0)
    ax.set(xlabel="step t", ylabel="max_i E_i(θ_t) − min_θ max_i E_i(θ)",
           title=_title(res, "Convergence to the min–max excess risk"))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return save_figure(fig, path, vector=vector, overwrite=overwrite)


def plot_weights(results: object, path: str | Path, *, seed: int = 0, vector: str = "svg",
                 overwrite: bool = False) -> list[Path]:
    """One panel per method: the simplex weights α_t,i of each task against t (one seed)."""
    res = as_comparison(results)
    if not 0 <= seed < res.weights.shape[1]:
        raise ValueError(f"seed must be in [0, {res.weights.shape[1]}), got {seed!r}")
    M = len(res.labels)
    fig, axes = plt.subplots(1, M, figsize=(3.6 * M, 3.4), squeeze=False, sharey=True)
    t = res.t[1:]
    for ax, (k, lab) in zip(axes[0], enumerate(res.labels)):
        for i in range(res.n_tasks):
            ax.semilogx(t, res.weights[k, seed, :, i], color=METHOD_COLORS[i % 8],
                        ls="--" if i in res.noisy_tasks else "-", label=res.task_label(i))
        ax.set(title=lab, xlabel="step t", ylim=(-0.02, 1.02))
        ax.title.set_fontsize(8)
    axes[0, 0].set_ylabel("α_t,i (simplex)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(_title(res, f"Task weights (seed {seed})"), fontsize=8)
    return save_figure(fig, path, vector=vector, overwrite=overwrite)


def plot_front(results: object, path: str | Path, *, tasks: tuple[int, int] | None = None,
               vector: str = "svg", overwrite: bool = False) -> list[Path]:
    """The loss trajectories and end points of each method in the (ℓ_i, ℓ_j) plane, with the exact
    Pareto front when the problem has two tasks. Hollow markers of distinct shapes, drawn in
    decreasing size, so coinciding end points stay visible."""
    res = as_comparison(results)
    i, j = tasks if tasks is not None else (0, res.n_tasks - 1)
    if not all(isinstance(v, (int, np.integer)) and 0 <= v < res.n_tasks for v in (i, j)) \
            or i == j:
        raise ValueError(f"tasks must be two different task indices below {res.n_tasks}, "
                         f"got {tasks!r}")
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    if res.front is not None and (i, j) in ((0, 1), (1, 0)):
        f = res.front if (i, j) == (0, 1) else res.front[:, ::-1]
        ax.plot(f[:, 0], f[:, 1], color="k", lw=1.2, label="exact Pareto front", zorder=1)
    ax.axvline(res.optimal_losses[i], color="0.6", ls=":", lw=0.8)
    ax.axhline(res.optimal_losses[j], color="0.6", ls=":", lw=0.8, label="ℓ_i* (each task alone)")
    M = len(res.labels)
    for k, lab in enumerate(res.labels):
        st = _style(k)
        L = res.losses[k, 0]
        ax.plot(L[:, i], L[:, j], color=st["color"], lw=0.7, alpha=0.6, zorder=2)
        ax.plot(L[-1, i], L[-1, j], ls="none", marker=st["marker"], mfc="none",
                mec=st["color"], mew=1.5, ms=6 + 2.5 * (M - k), label=f"{lab} (end)",
                zorder=3 + k)
    ax.set(xlabel=f"loss of {res.task_label(i)}", ylabel=f"loss of {res.task_label(j)}",
           title=_title(res, "Losses from θ_0 to θ_T, seed 0"))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return save_figure(fig, path, vector=vector, overwrite=overwrite)


def plot_gap_vs_T(report: object, path: str | Path, *, vector: str = "svg",
                  overwrite: bool = False) -> list[Path]:
    """The rate claim's gap of (θ̄_T, ᾱ_T) against T per regime (median over seeds, 10–90% band),
    from a ``Report`` or a saved output folder; one file pair per method checked."""
    import json

    from .plots import draw_rate
    from ..verify import Report
    if isinstance(report, Report):
        claims = [(c.to_json(), c.arrays) for c in report.claims if c.id == "rate"]
    elif isinstance(report, (str, Path)):
        root = Path(report)
        if not (root / "report.json").is_file():
            raise ValueError(f"report: {root} has no report.json (an output folder of "
                             f"proofs_check or Report.save)")
        rep = json.loads((root / "report.json").read_text(encoding="utf-8"))
        claims = []
        for c in rep["claims"]:
            if c["id"] == "rate" and c.get("data"):
                with np.load(root / c["data"], allow_pickle=False) as z:
                    claims.append((c, {k: z[k] for k in z.files}))
    else:
        raise TypeError(f"report must be a Report or an output folder, got "
                        f"{type(report).__name__}")
    if not claims:
        raise ValueError("report: it has no 'rate' claim to plot")
    out = []
    for k, (claim, arrays) in enumerate(claims):
        stem = Path(path) if len(claims) == 1 else Path(f"{Path(path).with_suffix('')}-{k + 1}")
        out += save_figure(draw_rate(arrays, claim), stem, vector=vector, overwrite=overwrite)
    return out
