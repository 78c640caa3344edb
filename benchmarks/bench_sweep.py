"""Benchmark 2: sweep throughput. B replicas of a 4-task, d=16, n=512 logistic problem run by
ExcessMTL (official), all replicas in one batched run, against the NumPy reference looping over
replicas on the CPU, measured in the same run.

    python benchmarks/bench_sweep.py --backend cupy                  # B=1024, 2000 steps
    python benchmarks/bench_sweep.py --backend numpy --replicas 64 --steps 200

The reference loop is timed on --ref-replicas replicas for --ref-steps steps (its replica-steps/s
does not depend on B); the ratio is (batched replica-steps/s) / (reference replica-steps/s).
"""

from __future__ import annotations

import argparse
import time

from common import check_out, device_name, peak_memory, sync, write_json

import gpu
import reference as R


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=gpu.BACKENDS, default="cupy")
    ap.add_argument("--replicas", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--ref-replicas", type=int, default=4)
    ap.add_argument("--ref-steps", type=int, default=200)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    check_out(args.out)
    m, d, n = 4, 16, 512
    seeds = list(range(args.replicas))
    t0 = time.perf_counter()
    batch = gpu.make_logistic_batch(m, d, n, seeds=seeds, flip=[0.3, 0, 0, 0], backend=args.backend,
                                    dtype=args.dtype)
    build = time.perf_counter() - t0
    method = R.ExcessMTL("adagrad", "official")
    gpu.run_batched(batch, method, 5, lr=0.5, record="final")        # warm-up / compile
    sync(args.backend)
    t0 = time.perf_counter()
    gpu.run_batched(batch, method, args.steps, lr=0.5, record="final")
    sync(args.backend)
    t_batch = time.perf_counter() - t0
    ours = args.replicas * args.steps / t_batch
    refs = [R.make_logistic_problem(m, d, n, flip=[0.3, 0, 0, 0], seed=s)
            for s in range(args.ref_replicas)]
    for p in refs:
        p.optimal_losses                                    # exclude the optima from the timing
    t0 = time.perf_counter()
    for p in refs:
        R.run(p, method, args.ref_steps, lr=0.5)
    t_ref = time.perf_counter() - t0
    ref = args.ref_replicas * args.ref_steps / t_ref
    res = {"device": device_name(args.backend), "backend": args.backend, "replicas": args.replicas,
           "steps": args.steps, "dtype": args.dtype, "batched_replica_steps_per_s": ours,
           "reference_replica_steps_per_s": ref, "ratio": ours / ref,
           "problem_build_s": build, "peak_memory_bytes": peak_memory(args.backend)}
    print(f"device: {res['device']}; {args.replicas} replicas × {args.steps} steps "
          f"(m={m}, d={d}, n={n}, {args.dtype})")
    print(f"  batched: {ours:,.0f} replica-steps/s   reference loop (CPU): {ref:,.0f} "
          f"replica-steps/s   ratio {ours / ref:,.1f}×")
    write_json(args.out, res)


if __name__ == "__main__":
    main()
