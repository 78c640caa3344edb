"""Benchmark 2: sweep throughput. B replicas of a 4-task, d=16, n=512 logistic problem run by
ExcessMTL (official), all replicas in one batched run, against the NumPy reference looping over
replicas on the CPU, measured in the same run.

    python benchmarks/bench_sweep.py --backend cupy                  # B=1024, 2000 steps
    python benchmarks/bench_sweep.py --backend numpy --replicas 256 --steps 200

The reference loop is timed on --ref-replicas replicas for --ref-steps steps (its replica-steps/s
does not depend on B); the ratio is (batched replica-steps/s) / (reference replica-steps/s). The
timings run in --rounds rounds, each timing the reference loop and then every batched path once;
each rate is over all rounds, so a burst of load on a shared machine falls on all of them.

On NumPy with numba installed, ``gpu.run_batched(..., record="final")`` runs this sweep as one
compiled run per replica (gpu.cpu_fused.run_final). The benchmark then also times, in the same
rounds, the per-step batched loop with the fused numba pass (gpu.cpu_fused.COMPILED_RUN = False)
and the per-step loop on NumPy alone (EXCESSMTL_ORACLE_NO_NUMBA=1), so that each gain is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from common import check_out, device_name, peak_memory, sync, write_json

import gpu
import reference as R
from gpu import cpu_fused


@contextlib.contextmanager
def _path(name: str):
    """The batched path ``name``: "default" (what run_batched picks), "per_step" (the per-step
    loop with the fused pass), "numpy" (the per-step loop without numba)."""
    saved_flag, saved_env = cpu_fused.COMPILED_RUN, os.environ.get(cpu_fused.ENV_DISABLE)
    try:
        if name == "per_step":
            cpu_fused.COMPILED_RUN = False
        elif name == "numpy":
            os.environ[cpu_fused.ENV_DISABLE] = "1"
        yield
    finally:
        cpu_fused.COMPILED_RUN = saved_flag
        if saved_env is None:
            os.environ.pop(cpu_fused.ENV_DISABLE, None)
        else:
            os.environ[cpu_fused.ENV_DISABLE] = saved_env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", choices=gpu.BACKENDS, default="cupy")
    ap.add_argument("--replicas", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--ref-replicas", type=int, default=4)
    ap.add_argument("--ref-steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
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
    paths = ["default"]
    if args.backend == "numpy" and cpu_fused.available():
        paths += ["per_step", "numpy"]
    for name in paths:
        with _path(name):
            gpu.run_batched(batch, method, 5, lr=0.5, record="final")   # warm-up / compile
    sync(args.backend)
    refs = [R.make_logistic_problem(m, d, n, flip=[0.3, 0, 0, 0], seed=s)
            for s in range(args.ref_replicas)]
    for p in refs:
        p.optimal_losses                                    # exclude the optima from the timing
    t_ref, t_batch = 0.0, dict.fromkeys(paths, 0.0)
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for p in refs:
            R.run(p, method, args.ref_steps, lr=0.5)
        t_ref += time.perf_counter() - t0
        for name in paths:
            with _path(name):
                sync(args.backend)
                t0 = time.perf_counter()
                gpu.run_batched(batch, method, args.steps, lr=0.5, record="final")
                sync(args.backend)
                t_batch[name] += time.perf_counter() - t0
    ref = args.rounds * args.ref_replicas * args.ref_steps / t_ref
    rates = {name: args.rounds * args.replicas * args.steps / t for name, t in t_batch.items()}
    ours = rates["default"]
    label = {"default": "batched run_batched" + (" (compiled run, numba)" if len(paths) > 1
                                                 else ""),
             "per_step": "per-step batched loop + fused numba pass",
             "numpy": "per-step batched loop, NumPy only (no numba)"}
    res = {"device": device_name(args.backend), "backend": args.backend, "replicas": args.replicas,
           "steps": args.steps, "dtype": args.dtype, "rounds": args.rounds,
           "batched_replica_steps_per_s": ours, "reference_replica_steps_per_s": ref,
           "ratio": ours / ref, "paths": {name: {"replica_steps_per_s": r, "ratio": r / ref}
                                          for name, r in rates.items()},
           "problem_build_s": build, "peak_memory_bytes": peak_memory(args.backend)}
    print(f"device: {res['device']}; {args.replicas} replicas × {args.steps} steps "
          f"(m={m}, d={d}, n={n}, {args.dtype}), {args.rounds} rounds")
    print(f"  reference loop (CPU): {ref:,.0f} replica-steps/s")
    for name in paths:
        print(f"  {label[name]}: {rates[name]:,.0f} replica-steps/s   ratio "
              f"{rates[name] / ref:,.1f}×")
    write_json(args.out, res)


if __name__ == "__main__":
    main()
