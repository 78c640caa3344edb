"""The tables of docs/claims.md "Where the robustness finding holds": the scale-processed
ExcessMTL(exact) on the default logistic family, over 16 seeds, from several starts θ₀, at
several flip rates and horizons, each against the scaled-game saddle's prediction.

    python tools/theta0_table.py            # about 1 min on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check.claims import robustness_scope as S  # noqa: E402
from proofs_check.config import DEFAULT_PROBLEMS, SuiteConfig  # noqa: E402
from proofs_check.theta0 import parse  # noqa: E402

SEEDS = list(range(100, 116))          # 16 seeds drawn apart from the suite's 0–7
SUBJECT = S.SUBJECTS[0]


def _q(a: np.ndarray) -> str:
    q10, q90 = np.nanpercentile(a, 10), np.nanpercentile(a, 90)
    return f"{np.nanmedian(a):+.2f} [{q10:+.2f}, {q90:+.2f}]"


def _r(a: np.ndarray) -> str:
    return f"{np.nanmedian(a):.2f} [{np.nanpercentile(a, 10):.2f}, {np.nanpercentile(a, 90):.2f}]"


def main() -> None:
    spec = next(p for p in DEFAULT_PROBLEMS if p.family == "logistic")
    cfg = SuiteConfig(seeds=len(SEEDS), problems=(spec,))
    print(f"Logistic, m = {spec.n_tasks}, d = {spec.dim}, n = {spec.n_samples}; task "
          f"{spec.noisy_tasks[0]}'s labels flipped; ExcessMTL(exact) with scale processing, "
          f"T = {cfg.train_steps}; seeds {SEEDS[0]}–{SEEDS[-1]}. Each cell: median [q10, q90] "
          "over the seeds; 'predicted' is the scaled-game saddle argmin max_i E_i/E_i(θ₀).\n")
    found = S.study(cfg, spec, SEEDS, ends=(0.0, 0.4))[SUBJECT]
    print("| θ₀ (flip rate 0 → 0.4) | drift | predicted drift | clean-task ratio | "
          "predicted ratio | verdict |")
    print("|---|---|---|---|---|---|")
    for text, cell in found.items():
        print(f"| {parse(text).describe()} | {_q(cell['drift'])} | {_q(cell['pred_drift'])} | "
              f"{_r(cell['ratio'])} | {_r(cell['pred_ratio'])} | "
              f"{S.start_verdict(cell, 0.05, 1.10)} |")
    print("\n| flip rate (θ₀ = 0) | drift | predicted drift | clean-task ratio | "
          "predicted ratio |")
    print("|---|---|---|---|---|")
    for rho in (0.1, 0.2, 0.3, 0.4):
        cell = S.study(cfg, spec, SEEDS, starts=("zero",), ends=(0.0, rho))[SUBJECT]["zero"]
        print(f"| {rho:g} | {_q(cell['drift'])} | {_q(cell['pred_drift'])} | "
              f"{_r(cell['ratio'])} | {_r(cell['pred_ratio'])} |")
    print("\n| horizon T (θ₀ = 0, flip 0.4) | drift | \\|drift − predicted\\| (q90) |")
    print("|---|---|---|")
    for steps in (100, 1000, 10000):
        c = SuiteConfig(seeds=len(SEEDS), problems=(spec,), steps=steps)
        cell = S.study(c, spec, SEEDS, starts=("zero",), ends=(0.0, 0.4))[SUBJECT]["zero"]
        err = np.abs(cell["drift"] - cell["pred_drift"])
        print(f"| {steps} | {_q(cell['drift'])} | {np.nanpercentile(err, 90):.2g} |")


if __name__ == "__main__":
    main()
