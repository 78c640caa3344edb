"""Figures, drawn from the saved results only (``report.json`` and ``data/<claim>.npz``)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .figures import save_figure  # noqa: E402
from .figstyle import (BOUND_STYLES, FIGSIZE_WIDE,  # noqa: E402
                       METHOD_STYLE, TASK_COLORS)


def _save(fig: plt.Figure, path: Path) -> Path:
    """``path`` (PNG at print resolution) and a vector copy beside it (same name, .svg), inside
    the suite's staging folder (``save_figure``)."""
    return save_figure(fig, path, overwrite=True)[0]


def _load_file(f: Path) -> dict:
    with np.load(f, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _load(root: Path, cid: str) -> dict | None:
    f = root / "data" / f"{cid}.npz"
    return _load_file(f) if f.exists() else None


def _rate_runs(d: dict) -> dict[str, list[str]]:
    """Run keys ("linear_batch_8", …) grouped by problem ("linear", …), from the saved arrays."""
    keys = sorted(k[: -len("_gaps")] for k in d if k.endswith("_gaps"))
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(k.split("_")[0], []).append(k)
    return groups


def plot_rate(d: dict, claim: dict, path: Path) -> Path:
    """Per problem: the median gap over seeds with its 10–90% band, per regime, against T."""
    return _save(draw_rate(d, claim), path)


def draw_rate(d: dict, claim: dict) -> plt.Figure:
    """The figure of ``plot_rate`` (also ``proofs_check.plot_gap_vs_T``)."""
    groups = _rate_runs(d)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 4.2), squeeze=False)
    first: dict = next(iter(claim.get("config", {}).values()), {})
    method = first.get("method", "")
    for ax, (problem, keys) in zip(axes[0], groups.items()):
        for i, k in enumerate(keys):
            T, g = d[f"{k}_T"], d[f"{k}_gaps"]
            color = TASK_COLORS[i % len(TASK_COLORS)]
            regime = k[len(problem) + 1:].replace("_", " ")
            med = np.nanmedian(g, axis=0)
            bounds_only = bool(d.get(f"{k}_bounds_only", False))
            db = d.get(f"{k}_data_bound")
            if bounds_only and db is not None and np.isfinite(g / db).all(axis=1).any():
                r = g / db
                tight = float(np.median(r[np.isfinite(r).all(axis=1)].max(axis=1)))
            else:
                tight = float("nan")
            what = (f"gap/bound up to {tight:.2f} (median over seeds)" if bounds_only else
                    f"median growth of gap·√T {np.nanmedian(d[f'{k}_growth']):.2f}")
            ax.loglog(T, med, color=color, marker="o", ms=3,
                      label=f"{regime}: median gap ({g.shape[0]} seeds), {what}")
            ax.fill_between(T, np.nanquantile(g, 0.1, axis=0), np.nanquantile(g, 0.9, axis=0),
                            color=color, alpha=0.2, lw=0)
            if np.all(np.isfinite(d[f"{k}_apriori"])) and int(d[f"{k}_batch"]) < 0:
                ax.loglog(T, d[f"{k}_apriori"], label="a-priori bound √2·D·G/√T + ln m/(η_α T)",
                          **BOUND_STYLES["apriori"])
                if db is not None and np.isfinite(db).any():
                    ax.loglog(T, np.nanmedian(db, axis=0), label="data-dependent bound "
                              "(median over seeds)", **{**BOUND_STYLES["data"], "color": "0.2"})
        T = d[f"{keys[0]}_T"]
        ax.loglog(T, np.nanmedian(d[f"{keys[-1]}_gaps"], axis=0)[0] * (T / T[0]) ** -0.5,
                  color="0.6", lw=0.8, label="∝ T^-1/2 (guide)")
        ax.set(title=f"{problem}: gap of (θ̄_T, ᾱ_T)", xlabel="T", ylabel="duality gap")
        ax.legend(fontsize=6)
    method = claim.get("method") or method
    fig.suptitle(f"Claim 'rate' — {method} — {claim['verdict'].upper()}", fontsize=9)
    return fig


def _noisy(claim: dict, problem: str) -> set[int]:
    """The noisy tasks the rate claim recorded for ``problem`` (the suite's and verify's)."""
    cfg = claim.get("config", {}).get(problem, {})
    return set(cfg.get("noisy_tasks", ())) if isinstance(cfg, dict) else set()


def plot_trajectories(d: dict, path_w: Path, path_e: Path, claim: dict | None = None
                      ) -> list[Path]:
    """Seed 0 of each full-batch run: the weights α_t and the excess risks E_i(θ_t)."""
    claim = claim or {}
    method = claim.get("method") or "ExcessMTL(exact, paper, no scale proc.)"
    verdict = claim.get("verdict", "").upper()
    names = sorted(k[: -len("_traj_t")] for k in d if k.endswith("_full_batch_traj_t"))
    out = []
    for key, ylabel, path in (("weights", "α_t,i (simplex)", path_w),
                              ("excess", "E_i(θ_t)", path_e)):
        fig, axes = plt.subplots(1, len(names), figsize=(max(FIGSIZE_WIDE[0], 4.5 * len(names)),
                                                         FIGSIZE_WIDE[1]), squeeze=False)
        for ax, name in zip(axes[0], names):
            t, arr = d[f"{name}_traj_t"], d[f"{name}_{key}"]
            noisy = _noisy(claim, name.split("_")[0])
            for i in range(arr.shape[1]):
                ax.semilogx(t, arr[:, i], color=TASK_COLORS[i % len(TASK_COLORS)],
                            ls="--" if i in noisy else "-",
                            label=f"task {i}" + (" (noisy)" if i in noisy else ""))
            if key == "excess":
                ax.axhline(float(d[f"{name}_minmax"][0]), color="k", ls="--", lw=0.8,
                           label="min_θ max_i E_i")
            ax.set(title=name.split("_")[0], xlabel="t", ylabel=ylabel)
            ax.legend(fontsize=7)
        fig.suptitle(f"{method}, η_t ∝ 1/√t, full batch, seed 0 — rate {verdict}", fontsize=9)
        out.append(_save(fig, path))
    return out


def plot_noise_sweep(d: dict, path: Path, claim: dict | None = None) -> Path:
    """Per configured problem: the noisy tasks' total weight and the clean tasks' max excess risk
    against the noise level of the noisy tasks (medians over seeds)."""
    problems = sorted(k.split("|")[0] for k in d if k.endswith("|levels"))
    fig, axes = plt.subplots(2, len(problems), figsize=(5.0 * len(problems), 7.5),
                             squeeze=False)
    for col, pname in enumerate(problems):
        levels, noisy = d[f"{pname}|levels"], d[f"{pname}|noisy"].astype(int)
        for key in [k for k in d if k.startswith(f"{pname}|") and k.endswith("|weights")]:
            name = key.split("|")[1]
            style = METHOD_STYLE.get(name, dict(marker="o"))
            w, e = d[key], d[f"{pname}|{name}|excess"]
            clean = np.setdiff1d(np.arange(w.shape[1]), noisy)
            axes[0, col].plot(levels, w[:, noisy].sum(axis=1), label=name, mfc="none", **style)
            if clean.size:
                axes[1, col].plot(levels, e[:, clean].max(axis=1), mfc="none", **style)
        tasks = ", ".join(str(i) for i in noisy)
        xl = (f"noise std of the noisy task(s) {tasks}" if pname.startswith("linear") else
              f"label-flip rate of the noisy task(s) {tasks}")
        axes[0, col].set(title=f"{pname}: weight on the noisy task(s) (median over seeds)",
                         xlabel=xl, ylabel="Σ_noisy α_i")
        axes[1, col].set(title=f"{pname}: clean tasks' max excess risk", xlabel=xl,
                         ylabel="max_clean E_i(θ_T)")
    axes[0, 0].legend(fontsize=7)
    verdict = (claim or {}).get("verdict", "").upper()
    fig.suptitle(f"Claim 'robustness' — {verdict}", fontsize=9)
    return _save(fig, path)


def plot_front(d: dict, path: Path, claim: dict | None = None) -> Path:
    """The exact 2-task front and each method's end point: hollow markers of distinct shapes in
    decreasing size, so end points that coincide stay visible."""
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    f = d["front_losses"]
    ax.plot(f[:, 1], f[:, 0], color="k", lw=1.2, label="exact Pareto front")
    opt = d["optimal_losses"]
    ax.axhline(opt[0], color="0.5", ls=":", lw=0.8, label="ℓ_0* (Bayes-optimal, task 0)")
    ax.axvline(opt[1], color="0.5", ls="-.", lw=0.8, label="ℓ_1* (task 1, noisy)")
    n = len(d["end_names"])
    for k, (name, (l0, l1)) in enumerate(zip(d["end_names"], d["end_losses"])):
        style = METHOD_STYLE.get(str(name), dict(color="k", marker="*"))
        ax.plot(l1, l0, ls="none", ms=5 + 2.5 * (n - k), mfc="none", mew=1.4,
                mec=style["color"], marker=style["marker"], label=str(name), zorder=3 + k)
    verdict = (claim or {}).get("verdict", "").upper()
    ax.set(xlabel="ℓ_1 (task 1, noisy)", ylabel="ℓ_0 (task 0, clean)",
           title=f"Claim 'pareto-optimal' — {verdict}: 2-task front and each method's end point")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return _save(fig, path)


def _verdict(report: dict, cid: str) -> str:
    return next((c["verdict"].upper() for c in report["claims"] if c["id"] == cid), "")


def plot_estimator(d: dict, path: Path, verdict: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    ax.semilogy(d["ratio_t"], d["ratio_true_ratio"], label="true E_t/E_1", color="k")
    ax.semilogy(d["ratio_t"], d["ratio_adagrad_ratio"], label="official Ê_t/Ê_1 (AdaGrad)",
                color="#2ca02c", ls="--")
    ax.set(xlabel="GD step t", ylabel="relative excess risk",
           title=f"Claim 'estimator' — {verdict}: official estimator against the truth "
                 "(5-D linear regression)")
    ax.title.set_fontsize(8)
    ax.legend()
    return _save(fig, path)


def plot_stationarity(d: dict, path: Path, verdict: str = "") -> Path:
    names = [k[: -len("_min_P")] for k in d if k.endswith("_min_P")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.0 * len(names), 4.0))
    for ax, name in zip(np.atleast_1d(axes), names):
        ax.loglog(d[f"{name}_t"], d[f"{name}_P"], color="0.7", lw=0.8, label="P(θ_{t-1})")
        ax.loglog(d[f"{name}_t"], d[f"{name}_min_P"], color="#1f77b4", label="min_{s<=t} P")
        ax.loglog(d[f"{name}_t"], d[f"{name}_bound"], color="#d62728", ls="--",
                  label="sqrt(2C_t/(ηt))")
        ax.set(title=name, xlabel="t", ylabel="Pareto-stationarity measure")
        ax.legend(fontsize=7)
    fig.suptitle(f"Claim 'pareto-stationary' — {verdict}: ExcessMTL(adagrad, paper), seed 0",
                 fontsize=9)
    return _save(fig, path)


def claim_figures(claim: dict, d: dict, fig_dir: Path, suffix: str = "",
                  verdict: str | None = None) -> list[Path]:
    """The figures of one claim of a report (its entry ``claim`` of report.json and its saved
    arrays ``d``), written under ``fig_dir``; ``suffix`` tells apart several results of one
    claim (several methods): "-1", "-2", …"""
    cid = claim["id"]
    verdict = str(claim.get("verdict", "")).upper() if verdict is None else verdict
    if cid == "rate":
        return [plot_rate(d, claim, fig_dir / f"rate_gap_vs_T{suffix}.png"),
                *plot_trajectories(d, fig_dir / f"weights{suffix}.png",
                                   fig_dir / f"excess_risks{suffix}.png", claim)]
    if cid == "robustness":
        return [plot_noise_sweep(d, fig_dir / f"noise_sweep{suffix}.png", claim)]
    if cid == "pareto-optimal" and not suffix:
        return [plot_front(d, fig_dir / "pareto_front.png", claim)]
    if cid == "estimator" and not suffix:
        return [plot_estimator(d, fig_dir / "estimator_ratio.png", verdict)]
    if cid == "pareto-stationary" and not suffix:
        return [plot_stationarity(d, fig_dir / "stationarity.png", verdict)]
    return []


def figure_suffixes(claims: list[dict]) -> list[str | None]:
    """Per claim of a report: the suffix of its figures ("" when it is the only result of its
    claim id, "-1", "-2", … for the rate and robustness results of several methods), or None
    when it has no figure (no data, or a second result of a claim drawn once)."""
    out: list[str | None] = []
    for c in claims:
        same = [x for x in claims if x["id"] == c["id"] and x.get("data")]
        if not c.get("data"):
            out.append(None)
        elif c["id"] in ("rate", "robustness"):
            out.append("" if len(same) == 1 else f"-{same.index(c) + 1}")
        else:
            out.append("" if same[0] is c and c["data"] == f"data/{c['id']}.npz" else None)
    return out


def make_figures(root: Path) -> list[Path]:
    """Draw every figure whose data is present under ``root``; return the written paths."""
    root = Path(root)
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    out: list[Path] = []
    for c, suffix in zip(report["claims"], figure_suffixes(report["claims"])):
        if suffix is not None:
            out += claim_figures(c, _load_file(root / c["data"]), root / "figures", suffix,
                                 _verdict(report, c["id"]))
    return out
