"""Public plotting functions: they take saved results (a ``Comparison``, a ``Report``, or the
files they were saved to) and write a PNG at print resolution plus a vector copy (SVG or PDF).

    pc.plot_convergence("runs.npz", "figs/convergence")     # figs/convergence.png + .svg
    pc.plot_gap_vs_T(report, "figs/rate")

``path`` is a stem: its suffix, if any, is replaced. Existing files are never overwritten unless
``overwrite=True``. Each function returns the written paths. They sit above ``compare`` and
``verify``, whose results they draw; the drawing itself is ``report.figures`` and
``report.plots`` (docs/api.md, "Layers").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .compare import Comparison, as_comparison
from .report.figures import METHOD_COLORS, _style, _title, save_figure
import matplotlib.pyplot as plt  # after report.figures, which selects the Agg backend
from .report.plots import draw_rate
from .verify import Report

__all__ = ["plot_convergence", "plot_front", "plot_gap_vs_T", "plot_weights"]


def plot_convergence(results: Comparison | str | Path, path: str | Path, *, vector: str = "svg",
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


def plot_weights(results: Comparison | str | Path, path: str | Path, *, seed: int = 0,
                 vector: str = "svg", overwrite: bool = False) -> list[Path]:
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


def plot_front(results: Comparison | str | Path, path: str | Path, *,
               tasks: tuple[int, int] | None = None, vector: str = "svg",
               overwrite: bool = False) -> list[Path]:
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


def plot_gap_vs_T(report: Report | str | Path, path: str | Path, *, vector: str = "svg",
                  overwrite: bool = False) -> list[Path]:
    """The rate claim's gap of (θ̄_T, ᾱ_T) against T per regime (median over seeds, 10–90% band),
    from a ``Report`` or a saved output folder; one file pair per method checked."""
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
