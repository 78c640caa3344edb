"""``python -m proofs_check`` (also the ``excessmtl-oracle`` console script): run the
verification suite; ``... conformance module:callable``: test an external weighting
implementation against the reference. Exit codes: ``proofs_check.cli_policy``."""

from __future__ import annotations

import sys
from pathlib import Path

from .claims import CLAIMS
from .cli_policy import EXIT_FAILED, EXIT_OK, OneLineParser, emit, guarded
from .config import SuiteConfig


def program_name() -> str:
    """How the user called us: the console script names itself."""
    return "excessmtl-oracle" if Path(sys.argv[0]).name == "excessmtl-oracle" else \
        "python -m proofs_check"


def package_version() -> str:
    """The installed distribution's version; the package's ``__version__`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("excessmtl-oracle")
    except PackageNotFoundError:
        from . import __version__
        return __version__


def suite_parser() -> OneLineParser:
    p = OneLineParser(
        prog=program_name(),
        description="Check the claims of ExcessMTL (He et al., ICML 2024) on exact convex oracles. "
                    "Also: 'conformance module:callable' to check your own implementation (see "
                    "its --help).",
        epilog="Exit codes: 0 done (a failed claim is a finding), 1 a claim failed under --strict, "
               "2 usage or input error or crash, 130 interrupted.")
    p.add_argument("--quick", action="store_true",
                   help="small configuration (< 30 s; what CI runs)")
    p.add_argument("--claims", type=str, default=None,
                   help=f"comma-separated claim ids (default: all of {','.join(CLAIMS)})")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="output directory (default: results/). It must be new, empty, or an "
                        "earlier output of this program; a folder with other files is refused, "
                        "and nothing this program did not write is ever deleted or overwritten")
    p.add_argument("--config", type=Path, default=None, metavar="FILE.toml",
                   help="problem families (family, n_tasks, dim, n_samples, noise) and run sizes "
                        "(steps, seeds, batch_sizes, lr, step_size, ...) for every claim; "
                        "docs/api.md 'Config files'. Flags given on the command line win")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of every generated problem (default 0)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if any claim fails (an inconclusive claim exits 0; its line in "
                        "the table says which budget would decide)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar (it is shown only when stderr is a terminal)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="array backend of the batched multi-seed runs (cupy needs a GPU and the "
                        "'gpu' extra; it implies --replicas 256 unless given)")
    p.add_argument("--replicas", type=int, default=None,
                   help="seeds per noise level in the robustness sweep, run batched through gpu/ "
                        "(default: --seeds; 256 with --backend cupy)")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds of every claim's statistics, per problem and regime (default 8); "
                        "the rules decided sequentially start with them")
    p.add_argument("--max-seeds", type=int, default=None,
                   help="seed budget of the rules decided sequentially over seeds: they add seeds "
                        "while undecided, up to this many, then say 'inconclusive' (default "
                        "max(32, --seeds); docs/theory.md §8)")
    p.add_argument("--batch-sizes", type=str, default=None,
                   help="comma-separated minibatch sizes of the rate claim's stochastic regimes, "
                        "besides full batch (default 8,64; 'none' for full batch only)")
    p.add_argument("--method", type=str, default=None, metavar="MODULE:FACTORY",
                   help="check your own weighting method instead: FACTORY() returns an object "
                        "with init_state(n_tasks, dim) and step(state, losses, grads, *, "
                        "excess=None, hessians=None); runs proofs_check.verify on the configured "
                        "problems (claims: rate, pareto-optimal, pareto-stationary, robustness)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.add_argument("--version", action="version", version=f"excessmtl-oracle {package_version()}",
                   help="print the version and exit")
    return p


def _batch_sizes(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("none", ""):
        return ()
    try:
        out = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--batch-sizes must be comma-separated positive integers or 'none', "
                         f"got {text!r}") from None
    if any(b < 1 for b in out):
        raise ValueError(f"--batch-sizes must be positive integers, got {text!r}")
    return out


def _verify_method(args, config: SuiteConfig) -> int:
    from .report import resultdir
    from .report.suite import PLANNED
    from .verify import load_method, verify
    resultdir.check_output_dir(args.out, planned=PLANNED)
    method = load_method(args.method)       # user code: SystemExit in it is an error (exit 2)
    ids = None if args.claims is None else [c.strip() for c in args.claims.split(",")]
    report = verify(method, claims=ids, batch_size=[None, *config.batch_sizes],
                    config=config,
                    progress=not args.no_progress and sys.stderr.isatty())
    report.save(args.out, figures=not args.no_figures)
    emit(report.table())
    emit(f"\nreport: {args.out / 'index.html'} (and report.json)   "
         f"figures: {args.out / 'figures'}   ({report.elapsed_s} s of checks)")
    return EXIT_FAILED if args.strict and any(c.failed for c in report.claims) else EXIT_OK


def _config(args) -> SuiteConfig:
    """The config file (if any), then the flags given on the command line."""
    over: dict = {}
    if args.quick:
        over["quick"] = True
    if args.seed is not None:
        over["seed"] = args.seed
    if args.seeds is not None:
        over["seeds"] = args.seeds
    if args.max_seeds is not None:
        over["max_seeds"] = args.max_seeds
    if args.batch_sizes is not None:
        over["batch_sizes"] = _batch_sizes(args.batch_sizes)
    if args.backend != "numpy":
        over["backend"] = args.backend
    if args.replicas is not None:
        over["replicas"] = args.replicas
    elif args.backend == "cupy":
        over["replicas"] = 256
    if args.config is not None:
        return SuiteConfig.from_toml(args.config, **over)
    return SuiteConfig(**over)


def list_claims() -> str:
    return "\n".join(f"{cid:18s} {m.STATEMENT}\n{'':18s} source: {m.SOURCE}\n{'':18s} "
                     f"convention: {m.CONVENTION}" for cid, m in CLAIMS.items())


def _suite(args) -> int:
    if args.list:
        emit(list_claims())
        return EXIT_OK
    config = _config(args)
    if config.backend == "cupy":
        from gpu import backend as gpu_backend
        gpu_backend.require_cupy()      # never a silent CPU fallback (BackendUnavailable: exit 2)
    if args.method is not None:
        return _verify_method(args, config)
    from .report.suite import run_suite
    from .report.table import format_table
    ids = None if args.claims is None else args.claims.split(",")
    results, report = run_suite(config, ids, out=args.out,
                                progress=not args.no_progress and sys.stderr.isatty(),
                                figures=not args.no_figures)
    emit(format_table(results))
    emit(f"\nreport: {args.out / 'index.html'} (and report.json)   "
         f"figures: {args.out / 'figures'}   ({report['elapsed_s']} s of checks)")
    if args.strict and any(r.failed for r in results):
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "conformance":
        from .conformance.cli import main as conformance_main
        return conformance_main(argv[1:])
    if argv and argv[0] == "sweep":
        from .sweep.cli import main as sweep_main
        return sweep_main(argv[1:])
    parser = suite_parser()
    args = parser.parse_args(argv)
    if args.seed is not None and args.seed < 0:
        parser.error("--seed must be a non-negative integer")
    if args.replicas is not None and args.replicas < 1:
        parser.error("--replicas must be a positive integer")
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be a positive integer")
    if args.max_seeds is not None and args.max_seeds < 1:
        parser.error("--max-seeds (the seed budget) must be a positive integer")
    if args.max_seeds is not None and args.max_seeds < (args.seeds or SuiteConfig().seeds):
        parser.error(f"--max-seeds (the seed budget) must be >= --seeds "
                     f"({args.seeds or SuiteConfig().seeds}), got {args.max_seeds}")
    return guarded(parser.prog, lambda: _suite(args), debug=args.debug)
