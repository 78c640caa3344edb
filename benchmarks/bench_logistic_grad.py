"""Benchmark 1: logistic full-batch per-task gradients against the one-pass memory limit and a
PyTorch autograd peer, measured side by side in one run.

    python benchmarks/bench_logistic_grad.py --backend cupy            # m=16, n=1e6, d=256, fp32
    python benchmarks/bench_logistic_grad.py --backend numpy --m 4 --n 100000 --d 64  # CPU

Reported ratios (lower is better, except torch / ours):
  ours / limit    time of one fused losses+gradients step ÷ (bytes of X / measured copy bandwidth),
                  where copy bandwidth = (bytes read + written)/s of a device copy of X. "Ours" is
                  the fused CUDA kernel on CuPy, the fused numba kernel on NumPy where numba is
                  installed (gpu.cpu_fused), else the NumPy two-pass path;
  two-pass/limit  the same for z = Xθ followed by Xᵀr (two reads of X, cuBLAS/BLAS): fused=False;
  torch / limit   a LibMTL-style step: each task's gradient by torch.autograd.grad, on the same
                  data;
  torch / ours    the peer against us (above 1: we are faster).

The copy, ours, two-pass and torch are timed in rounds, a short burst of calls of each per round
after a pause (common.time_interleaved), and each ratio is of medians: on a shared machine a burst
of load falls on all of them alike, and no one's spinning worker threads slow the next one down.
--threads N gives ours and torch the same number of threads.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import (check_out, copier, device_name, logistic_path, peak_memory, time_interleaved,
                    write_json)

import gpu


def torch_step_fn(X, y, theta_np, backend):
    """Per-task autograd gradients (LibMTL's _get_grads(mode='autograd') shape), or None."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    dev = "cuda" if backend == "cupy" else "cpu"
    if backend == "cupy":
        Xt = torch.as_tensor(X, device=dev)      # zero-copy via __cuda_array_interface__
        yt = torch.as_tensor(y, device=dev)
    else:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    th = torch.tensor(np.asarray(theta_np, dtype=X.dtype.name), device=dev, requires_grad=True)
    B, m = X.shape[:2]

    def step():
        out = []
        for i in range(m):
            loss = F.binary_cross_entropy_with_logits(Xt[0, i] @ th, yt[0, i])
            out.append(torch.autograd.grad(loss, th)[0])
        return torch.stack(out)
    return step


def set_threads(n: int) -> None:
    """The same thread count for the numba kernel (gpu.cpu_fused.threads) and for torch."""
    if n < 1:
        raise SystemExit("error: --threads must be at least 1")
    try:
        from numba.core import config
        config.NUMBA_NUM_THREADS = n
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass


def _torch_threads() -> int:
    import torch
    return torch.get_num_threads()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=gpu.BACKENDS, default="cupy")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads of ours and of torch alike (default: each one's own)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    check_out(args.out)
    if args.threads is not None:
        set_threads(args.threads)

    problem = gpu.random_logistic_batch(1, args.m, args.n, args.d, seed=0, backend=args.backend,
                                        dtype=args.dtype)
    xp = problem.xp
    theta = xp.asarray(np.full((1, args.d), 0.01))
    two_pass_problem = gpu.BatchedProblem("logistic", args.backend, args.dtype, args.n, problem.l2,
                                          X=problem.X, y=problem.y, fused=False)
    fns = {"copy": copier(problem.X, args.backend),
           "ours": lambda: problem.losses_and_grads(theta),
           "two_pass": lambda: two_pass_problem.losses_and_grads(theta)}
    peer = torch_step_fn(problem.X, problem.y, gpu.to_numpy(theta)[0], args.backend)
    if peer:
        fns["torch"] = peer
    t = time_interleaved(fns, args.backend, repeats=args.repeats)
    bw = 2 * problem.X.nbytes / t["copy"]
    limit = problem.X.nbytes / bw
    ours, two, t_torch = t["ours"], t["two_pass"], t.get("torch")
    path = logistic_path(args.backend)
    res = {
        "device": device_name(args.backend), "backend": args.backend,
        "shape": {"m": args.m, "n": args.n, "d": args.d, "dtype": args.dtype},
        "bytes_X": int(problem.X.nbytes), "copy_bandwidth_GBps": bw / 1e9,
        "ratio_ours_to_limit": ours / limit, "ratio_two_pass_to_limit": two / limit,
        "ratio_torch_to_limit": None if t_torch is None else t_torch / limit,
        "ratio_torch_to_ours": None if t_torch is None else t_torch / ours,
        "peak_memory_bytes": peak_memory(args.backend),
        "fused_kernel": not path.startswith("NumPy"), "ours_path": path,
        "torch_threads": _torch_threads() if peer else None,
    }
    print(f"device: {res['device']}   X: {res['bytes_X'] / 1e9:.2f} GB {args.dtype}, m={args.m}, "
          f"n={args.n}, d={args.d}; copy bandwidth {res['copy_bandwidth_GBps']:.0f} GB/s (r+w)")
    print(f"  ours / one-pass limit      {res['ratio_ours_to_limit']:.2f}   ({path})")
    print(f"  two-pass / one-pass limit  {res['ratio_two_pass_to_limit']:.2f}")
    if t_torch is None:
        print("  torch: not installed, peer not measured")
    else:
        print(f"  torch autograd / limit     {res['ratio_torch_to_limit']:.2f}   "
              f"({res['torch_threads']} threads)")
        print(f"  torch autograd / ours      {res['ratio_torch_to_ours']:.2f}")
    write_json(args.out, res)


if __name__ == "__main__":
    main()
