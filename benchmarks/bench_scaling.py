"""Benchmark 3: how one logistic losses+gradients step grows with n, d, m and B, as ratios to a
base configuration measured in the same run, and each ratio against the ratio of bytes of X
(a one-pass kernel should track the bytes). The first line names the pass measured: the fused
CUDA kernel, the fused numba kernel (NumPy with numba installed) or the NumPy two-pass path.

    python benchmarks/bench_scaling.py --backend cupy
    python benchmarks/bench_scaling.py --backend numpy --base-n 20000
"""

from __future__ import annotations

import argparse

import numpy as np
from common import check_out, device_name, logistic_path, peak_memory, time_call, write_json

import gpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=gpu.BACKENDS, default="cupy")
    ap.add_argument("--base-n", type=int, default=250_000)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    check_out(args.out)
    base = dict(B=1, m=4, n=args.base_n, d=64)
    grid = [("base", {})] + [(f"{k}×4", {k: base[k] * 4}) for k in ("n", "d", "m", "B")]
    rows, t_base = [], None
    for label, change in grid:
        cfg = {**base, **change}
        p = gpu.random_logistic_batch(cfg["B"], cfg["m"], cfg["n"], cfg["d"], seed=0,
                                      backend=args.backend, dtype=args.dtype)
        theta = p.xp.asarray(np.full((cfg["B"], cfg["d"]), 0.01))
        step = p.losses_and_grads
        t = time_call(lambda: step(theta), args.backend, repeats=5)
        t_base = t if t_base is None else t_base
        rows.append({"config": label, **cfg, "time_ratio": t / t_base,
                     "bytes_ratio": p.X.nbytes / (base["B"] * base["m"] * base["n"] * base["d"]
                                                   * p.X.itemsize),
                     "peak_memory_bytes": peak_memory(args.backend)})
        p = step = None             # free the device memory before the next configuration
    path = logistic_path(args.backend)
    print(f"device: {device_name(args.backend)}; base B=1, m=4, n={args.base_n}, d=64, "
          f"{args.dtype}; {path}")
    print(f"  {'config':8s} {'time ratio':>10s} {'bytes ratio':>11s}")
    for r in rows:
        print(f"  {r['config']:8s} {r['time_ratio']:10.2f} {r['bytes_ratio']:11.1f}")
    write_json(args.out, {"device": device_name(args.backend), "path": path, "rows": rows})


if __name__ == "__main__":
    main()
