"""Maps of where each claim holds, drawn from ``results.parquet`` only.

* ``claim_map``: per method, a heatmap over two axes of the fraction of seeds in which a claim
  column holds (``robust``: the noisy task's weight rises by ≤ 0.05 over the lowest noise;
  ``no_harm``: the clean tasks' max excess rises by ≤ 10%; see ``holds``); further axes are
  pooled (the title says which).
* ``metric_vs_axis``: a metric against one axis, median over seeds with a 10–90% band, one line
  per method, one panel per value of a second axis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..report.figstyle import METHOD_STYLE  # noqa: E402
from ..report.figures import figure_bytes  # noqa: E402

LABELS = {"noise": "noise of task 0 (flip rate / σ)", "step_size": "η_α",
          "batch_size": "batch size (0 = full)", "warmup": "warm-up steps",
          "scale_processing": "scale processing", "estimator": "estimator",
          "n_tasks": "m (tasks)", "lr": "θ step", "dim": "d", "n_samples": "n",
          "family": "family", "theta0": "θ₀"}
LINE_STYLES = ("-", "--", ":", "-.")
METRIC_LABELS = {"alpha_noisy": "α_T of the noisy task (on Δ_m)",
                 "max_excess": "max_i E_i(θ_T)", "gap": "max_i E_i(θ_T) − min–max value",
                 "clean_max_excess": "clean tasks' max excess risk"}


def _load(out: Path):
    import pandas as pd
    frame = pd.read_parquet(out / "results.parquet")
    meta = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    axes = [a for a, vals in meta["grid"]["axes"].items() if len(vals) > 1]
    return frame, meta, axes


def _ordered(values, order: list | None) -> list:
    """The values in the grid file's order where it is known, else sorted."""
    vals = list(values)
    if order:
        known = [v for v in order if v in vals]
        return known + sorted((v for v in vals if v not in known), key=repr)
    return sorted(vals, key=repr)


def claim_map(frame, axes: Sequence[str | None], method: str, ax, column: str = "robust",
              order: dict | None = None):
    """Heatmap of the fraction of seeds in which ``column`` holds over axes[0] × axes[1], the
    values of each axis in ``order[axis]`` (the grid file's) where given."""
    order = order or {}
    sub = frame[frame["method"] == method]
    x = axes[0]
    y = axes[1] if len(axes) > 1 else None
    xs = _ordered(sub[x].unique(), order.get(x)) if x else [None]
    ys = _ordered(sub[y].unique(), order.get(y)) if y else [None]
    grid = np.full((len(ys), len(xs)), np.nan)
    saddle = np.zeros((len(ys), len(xs)), bool)
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            sel = sub
            if x:
                sel = sel[sel[x] == xv]
            if y:
                sel = sel[sel[y] == yv]
            if len(sel):
                grid[j, i] = sel[column].mean()         # rows whose start is the saddle: NaN
                saddle[j, i] = "start_is_saddle" in sel and bool(
                    (sel["start_is_saddle"] > 0.5).all())
    im = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    for j in range(len(ys)):
        for i in range(len(xs)):
            if np.isfinite(grid[j, i]):
                ax.text(i, j, f"{grid[j, i]:.0%}", ha="center", va="center", fontsize=8)
            elif saddle[j, i]:
                ax.text(i, j, "θ₀ =\nsaddle", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys] if y else [""])
    ax.set_xlabel(LABELS.get(x, x) if x else "")
    ax.set_ylabel(LABELS.get(y, y) if y else "")
    ax.set_title(method, fontsize=9)
    return im


def metric_vs_axis(frame, metric: str, x: str, panel: str | None, ax_list, methods,
                   lines: str | None = None) -> None:
    """``metric`` against axis ``x``: one panel per value of ``panel``, one line per method (and
    per value of ``lines``, told apart by the line style)."""
    panels = sorted(frame[panel].unique(), key=repr) if panel else [None]
    line_values = sorted(frame[lines].unique(), key=repr) if lines else [None]
    for ax, pv in zip(ax_list, panels):
        sub = frame if pv is None else frame[frame[panel] == pv]
        for name in methods:
            for ls, lv in zip(LINE_STYLES, line_values):
                part = sub[sub["method"] == name]
                part = part if lv is None else part[part[lines] == lv]
                xs = sorted(part[x].unique(), key=repr)
                vals = [part[part[x] == v][metric].to_numpy() for v in xs]
                med = [np.nanmedian(v) for v in vals]
                lo = [np.nanpercentile(v, 10) for v in vals]
                hi = [np.nanpercentile(v, 90) for v in vals]
                style = METHOD_STYLE.get(name, {})
                numeric = np.issubdtype(np.asarray(xs).dtype, np.number)
                pos = np.asarray(xs, float) if numeric else np.arange(len(xs))
                label = name if lv is None else \
                    f"{name}, {LABELS.get(str(lines), lines)} = {lv}"   # lv: lines is set
                ax.plot(pos, med, label=label, mfc="none", ls=ls, **style)
                ax.fill_between(pos, lo, hi, alpha=0.10, color=style.get("color"))
                if not numeric:
                    ax.set_xticks(pos, [str(v) for v in xs])
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        if pv is not None:
            ax.set_title(f"{LABELS.get(str(panel), panel)} = {pv}", fontsize=9)
        ax.grid(alpha=0.3)
    ax_list[0].legend(fontsize=6)


def _save(folder, fig, stem: str) -> list[Path]:
    """PNG + SVG of ``fig`` as our files ``figures/<stem>.*`` of the sweep folder (listed in its
    manifest; a file of someone else's or a link there is refused, never overwritten)."""
    return [folder.write(f"figures/{stem}{suffix}", data)
            for suffix, data in figure_bytes(fig, vector="svg")]


def draw_maps(folder) -> list[Path]:
    """Every figure of a finished sweep into ``figures/`` of ``folder`` (a
    ``resultdir.OwnedFolder``; PNG + SVG); returns the paths."""
    frame, meta, axes = _load(Path(folder.target))
    methods = list(meta["grid"]["methods"])
    written: list[Path] = []
    n = len(methods)
    facet = axes[2] if len(axes) > 2 else None          # one row of panels per value
    pooled = axes[3:]
    rows = sorted(frame[facet].unique(), key=repr) if facet else [None]
    titles = {"robust": "noisy task's weight rises by ≤ 0.05 over the lowest noise",
              "no_harm": "clean tasks' max excess rises by ≤ 10% over the lowest noise"}
    fam = meta["grid"]["fixed"].get("family", "logistic")
    for column, title in titles.items():
        fig, axs = plt.subplots(len(rows), n, figsize=(3.2 * n, 2.9 * len(rows) + 0.4),
                                squeeze=False)
        im: Any = None
        for r, fv in enumerate(rows):
            sub = frame if facet is None else frame[frame[facet] == fv]
            for ax, name in zip(axs[r], methods):
                im = claim_map(sub, axes[:2] if axes else [None], name, ax, column,
                               order=meta["grid"]["axes"])
                if facet is not None:
                    ax.set_title(f"{name}\n{LABELS.get(facet, facet)} = {fv}", fontsize=8)
            fig.colorbar(im, ax=axs[r, -1], label="fraction of seeds")
        fig.suptitle(f"{title}: {fam}, {meta['grid']['seeds']} seeds per cell (the lowest "
                     "noise holds by construction)"
                     + (f"; pooled over {', '.join(pooled)}" if pooled else ""), fontsize=9)
        written += _save(folder, fig, f"{column}_map")
    if axes:
        x, panel = axes[0], (axes[1] if len(axes) > 1 else None)
        k = 1 if panel is None else min(4, frame[panel].nunique())
        for metric in ("alpha_noisy", "max_excess", "gap"):
            fig, axs = plt.subplots(1, k, figsize=(3.6 * k, 3.2), squeeze=False)
            metric_vs_axis(frame, metric, x, panel, list(axs[0]), methods, lines=facet)
            fig.suptitle(f"{METRIC_LABELS[metric]}: median and 10–90% over seeds"
                         + (f"; pooled over {', '.join(pooled)}" if pooled else ""),
                         fontsize=10)
            written += _save(folder, fig, f"{metric}_vs_{x}")
    return written
