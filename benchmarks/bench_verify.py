"""Benchmark: ``verify`` on a user's own method, as a ratio to a calibration loop measured in the
same run, with a breakdown per claim and per layer.

    python benchmarks/bench_verify.py                    # all claims, 8 seeds, full batch + batch 8
    python benchmarks/bench_verify.py --seeds 32 --out results/bench_verify.json

The user's method is a from-scratch Hedge class written as a user would (it is not one of the
reference classes, so ``verify`` runs it through its generic path): α_t ∝ α_{t−1}·exp(η_α E_i).

The calibration loop is 20 000 small NumPy steps of 3 × 200 × 8 logistic-style terms (z = Xθ,
r = σ(z) − y, g = Xᵀr / n per task): what one step of a small problem costs on this machine, so
that "verify = 30× the loop" means the same on a fast and a slow machine.

Reported (lower is better):
  verify / calibration        the whole call;
  one worker / calibration    the same in this process only (workers=1; the default uses one
                              worker process per core, proofs_check.pool);
  batched protocol            the same Hedge offering init_states/step_batch (one call per
                              step for all seeds, reference.lockstep.offers_batch);
  per claim / calibration     each claim run alone (claims=[...], one worker);
  per layer (share of verify) cProfile's exclusive time grouped by where it is spent: the
                              problem oracles (reference/problems.py, gpu/problems.py), the
                              user's method step, the loop's bookkeeping (reference/loop.py,
                              gpu/loop.py, verify.py), the metrics (duality gap, min-norm, optima),
                              figures (matplotlib), and the rest (NumPy internals, Python).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np
from common import check_out, write_json

import proofs_check as pc


class UserHedge:
    """A user's own Hedge on the exact excess risks: α_t ∝ α_{t−1}·exp(η_α·E_i(θ_t))."""

    needs = frozenset({"excess"})

    def __init__(self, step_size: float = 1.0) -> None:
        self.step_size = step_size

    def init_state(self, n_tasks: int, dim: int) -> np.ndarray:
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        logits = state + self.step_size * excess
        w = np.exp(logits - logits.max())
        return logits, w / w.sum()


class UserHedgeBatched(UserHedge):
    """The same Hedge with the optional batched protocol (reference.lockstep.offers_batch): one
    call per step for all seeds, rows independent."""

    def init_states(self, n_tasks: int, dim: int, replicas: int) -> np.ndarray:
        return np.zeros((replicas, n_tasks))

    def step_batch(self, state, losses, grads, *, excess=None, hessians=None):
        logits = state + self.step_size * excess
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits, w / w.sum(axis=1, keepdims=True)


def calibration(steps: int = 20_000, seed: int = 0) -> float:
    """Seconds for ``steps`` logistic-style per-task gradient steps on (3, 200, 8) data."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 200, 8))
    y = (rng.random((3, 200)) < 0.5).astype(float)
    theta = np.zeros(8)
    t0 = time.perf_counter()
    for _ in range(steps):
        z = X @ theta
        r = 1.0 / (1.0 + np.exp(-z)) - y
        g = np.einsum("mn,mnd->md", r, X) / 200
        theta = theta - 1e-3 * g.mean(axis=0)
    return time.perf_counter() - t0


LAYERS = {
    "problem oracles": ("reference/problems.py", "reference/_stacked.py", "reference/absolute.py",
                        "gpu/problems.py", "gpu/kernels"),
    "user method step": ("bench_verify.py",),
    "loop bookkeeping": ("reference/loop.py", "gpu/loop.py", "proofs_check/verify.py",
                         "reference/_validate.py", "reference/sampling.py", "gpu/weighting.py",
                         "reference/weighting.py"),
    "metrics": ("reference/metrics.py", "reference/minnorm.py", "reference/optimize.py",
                "gpu/metrics.py", "proofs_check/claims/"),
    "figures": ("matplotlib",),
}


def layers(profile: cProfile.Profile) -> dict[str, float]:
    """Exclusive time per layer (seconds), from cProfile's table."""
    stats = pstats.Stats(profile)
    out = dict.fromkeys([*LAYERS, "NumPy, SciPy and Python internals"], 0.0)
    for (path, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        for layer, keys in LAYERS.items():
            if any(k in path for k in keys):
                out[layer] += tottime
                break
        else:
            out["NumPy, SciPy and Python internals"] += tottime
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--batch-sizes", default="none,8",
                    help="the rate claim's regimes, comma-separated ('none' = full batch)")
    ap.add_argument("--per-claim", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    check_out(args.out)
    regimes = [None if b.strip().lower() == "none" else int(b)
               for b in args.batch_sizes.split(",")]
    kw = dict(seeds=args.seeds, batch_size=regimes)

    calib = calibration()
    t0 = time.perf_counter()
    report = pc.verify(UserHedge(), **kw)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    serial = pc.verify(UserHedge(), workers=1, **kw)
    total_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = pc.verify(UserHedgeBatched(), **kw)
    total_batched = time.perf_counter() - t0
    calib_after = calibration()                 # the machine may have changed pace: both ends
    calib = 0.5 * (calib + calib_after)
    rows = {"verify / calibration": total / calib,
            "verify, one worker / calibration": total_serial / calib,
            "verify, batched protocol / calibration": total_batched / calib}
    same = [c.verdict for c in report.claims] == [c.verdict for c in serial.claims] == \
        [c.verdict for c in batched.claims]
    print(f"calibration loop (20 000 steps): mean of before/after = {calib:.3f} s")
    print(f"verify, all claims, {args.seeds} seeds, regimes {regimes}: {total / calib:.1f}× the "
          f"calibration loop ({pc.pool.worker_count(None, 4)} workers); one worker "
          f"{total_serial / calib:.1f}×; the batched protocol {total_batched / calib:.1f}×; "
          f"verdicts {'identical' if same else 'DIFFER'}")
    if args.per_claim:
        for cid in pc.VERIFIABLE:
            t0 = time.perf_counter()
            pc.verify(UserHedge(), claims=[cid], workers=1, **kw)
            rows[f"{cid} / calibration"] = (time.perf_counter() - t0) / calib
            print(f"  {cid:18s} {rows[f'{cid} / calibration']:.1f}×")
    prof = cProfile.Profile()
    prof.enable()
    pc.verify(UserHedge(), workers=1, **kw)
    prof.disable()
    share = layers(prof)
    whole = sum(share.values())
    print("per layer (share of verify's profiled time):")
    for k, v in share.items():
        print(f"  {k:36s} {v / whole:6.1%}")
    write_json(args.out, {"ratios": rows, "verdicts_identical": same,
                          "layer_share": {k: v / whole for k, v in share.items()},
                          "seeds": args.seeds, "regimes": [str(r) for r in regimes],
                          "verdicts": {c.id: c.verdict for c in report.claims}})


if __name__ == "__main__":
    main()
