"""The docs/claims.md table of a finished sweep: per method and cell of the non-noise axes, the
fraction of seeds in which the robustness claim holds at each noise level above the lowest, and
the median noisy-task weight drift.

    python -m proofs_check sweep examples/sweep.toml --out sweep-out
    python tools/sweep_table.py sweep-out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def _share(x: float) -> str:
    """A fraction of seeds; NaN where every seed started at the scaled saddle (not counted)."""
    return "θ₀ = saddle (not counted)" if pd.isna(x) else f"{x:.0%}"


def table(out: Path) -> str:
    frame = pd.read_parquet(out / "results.parquet")
    meta = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    axes = [a for a in meta["grid"]["axes"] if a != "noise"]
    noisy = frame[frame["noise"] > frame["noise"].min()]
    keys = axes + ["method", "noise"]
    agg = noisy.groupby(keys, sort=False).agg(robust=("robust", "mean"),
                                              no_harm=("no_harm", "mean"),
                                              drift=("alpha_drift", "median"))
    head = "| " + " | ".join(keys) + " | robust (drift ≤ 0.05) | no harm (≤ 10%) | median drift |"
    lines = [head, "|" + "---|" * (len(keys) + 3)]
    for idx, row in agg.iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        lines.append("| " + " | ".join(str(v) for v in idx)
                     + f" | {_share(row['robust'])} | {_share(row['no_harm'])} | "
                       f"{row['drift']:+.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/sweep_table.py SWEEP_DIR")
    print(table(Path(sys.argv[1])))
