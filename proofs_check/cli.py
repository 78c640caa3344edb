"""``python -m proofs_check``: run the verification suite; ``python -m proofs_check conformance
module:callable``: test an external weighting implementation against the reference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .claims import CLAIMS
from .config import SuiteConfig


def suite_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m proofs_check",
        description="Check the claims of ExcessMTL (He et al., ICML 2024) on exact convex oracles. "
                    "Also: 'python -m proofs_check conformance module:callable' (see --help there).")
    p.add_argument("--quick", action="store_true", help="small configuration (< 30 s; what CI runs)")
    p.add_argument("--claims", type=str, default=None,
                   help=f"comma-separated claim ids (default: all of {','.join(CLAIMS)})")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="output directory (default: results/); replaced atomically")
    p.add_argument("--seed", type=int, default=0, help="seed of every generated problem (default 0)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--strict", action="store_true", help="exit 1 if any claim fails")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="array backend of the batched multi-seed runs (cupy needs a GPU and the "
                        "'gpu' extra; it implies --replicas 256 unless given)")
    p.add_argument("--replicas", type=int, default=None,
                   help="seeds per noise level in the robustness sweep, run batched through gpu/ "
                        "(default 1 = the single-run reference path; 256 with --backend cupy)")
    return p


def list_claims() -> str:
    return "\n".join(f"{cid:18s} {m.STATEMENT}\n{'':18s} source: {m.SOURCE}\n{'':18s} "
                     f"convention: {m.CONVENTION}" for cid, m in CLAIMS.items())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "conformance":
        from .conformance_cli import main as conformance_main
        return conformance_main(argv[1:])
    args = suite_parser().parse_args(argv)
    if args.list:
        print(list_claims())
        return 0
    if args.seed < 0:
        suite_parser().error("--seed must be a non-negative integer")
    replicas = args.replicas if args.replicas is not None else \
        (256 if args.backend == "cupy" else 1)
    if replicas < 1:
        suite_parser().error("--replicas must be a positive integer")
    if args.backend == "cupy":
        from gpu import backend as gpu_backend
        try:
            gpu_backend.require_cupy()      # never a silent CPU fallback
        except gpu_backend.BackendUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from .suite import run_suite
    from .table import format_table
    try:
        ids = None if args.claims is None else args.claims.split(",")
        config = SuiteConfig(quick=args.quick, seed=args.seed, backend=args.backend,
                             replicas=replicas)
        results, report = run_suite(config, ids,
                                    out=args.out, progress=not args.no_progress,
                                    figures=not args.no_figures)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    print(f"\nreport: {args.out / 'report.json'}   figures: {args.out / 'figures'}   "
          f"({report['elapsed_s']} s of checks)")
    if args.strict and not all(r.passed for r in results):
        return 1
    return 0
