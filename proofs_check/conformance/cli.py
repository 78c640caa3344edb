"""``python -m proofs_check conformance module:callable``: check a user's weighting implementation.

``callable`` is a factory returning a fresh stateful ``step_fn(losses, grads) -> weights``; it is
called with ``n_tasks=`` and ``dim=`` when it accepts them, else with no arguments.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import reference as R

from . import golden
from ..cli_policy import EXIT_FAILED, EXIT_OK, OneLineParser, emit, guarded
from .adapters import from_torch
from .harness import METHOD_NAMES, check_weighting, default_problem


def parser() -> OneLineParser:
    p = OneLineParser(prog="python -m proofs_check conformance",
                      description="Check an external weighting implementation against the "
                                  "reference, step by step.",
                      epilog="Exit codes: 0 conformant, 1 not conformant, 2 usage or input "
                             "error, or the module/factory could not be loaded or crashed.")
    p.add_argument("target", nargs="?",
                   help="module:callable, a factory returning a stateful step_fn(losses, grads) "
                        "-> weights; it is given n_tasks= and dim= (or task_num=) when it "
                        "accepts them")
    p.add_argument("--method", choices=METHOD_NAMES, default="excessmtl",
                   help="the reference method the implementation claims to be (default "
                        "excessmtl)")
    p.add_argument("--convention", choices=("official", "paper"), default="official",
                   help="weights summing to m from 1 (official code) or on the simplex (paper)")
    p.add_argument("--step-size", type=float, default=1.0, help="η_α (default 1.0)")
    p.add_argument("--steps", type=int, default=50,
                   help="number of steps compared (default 50)")
    p.add_argument("--problem", choices=("linear", "logistic"), default="linear",
                   help="the synthetic problem whose trajectory feeds the inputs: 3 linear tasks "
                        "(d = 4, n = 64) or 3 logistic tasks (d = 4, n = 64, flips 0/0.1/0.3)")
    p.add_argument("--golden", default=None,
                   help="check against a shipped golden trajectory instead (see --list-golden)")
    p.add_argument("--rtol", type=float, default=1e-9,
                   help="relative tolerance per weight (default 1e-9; about 1e-5 for float32)")
    p.add_argument("--atol", type=float, default=1e-12,
                   help="absolute tolerance per weight (default 1e-12)")
    p.add_argument("--accept-rescaled", action="store_true",
                   help="accept weights that differ by a positive factor (Σα = 1 vs m)")
    p.add_argument("--torch", action="store_true", help="the step_fn takes and returns tensors")
    p.add_argument("--list-golden", action="store_true", help="list the shipped golden files")
    p.add_argument("--write-golden", type=Path, default=None, metavar="DIR",
                   help="regenerate every golden file into DIR (new, empty, or holding golden "
                        "files only)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def load_factory(target: str):
    if ":" not in target:
        raise ValueError(f"target must be module:callable, got {target!r}")
    mod_name, attr = target.split(":", 1)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(mod_name)
    except Exception as exc:  # noqa: BLE001 - SyntaxError, ImportError, or anything it raises
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ValueError(f"cannot import module {mod_name!r}: {type(exc).__name__}{where}: "
                         f"{exc}") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise ValueError(f"{target} is not callable")
    return factory


FACTORY_ARGUMENTS = (("n_tasks", "n_tasks"), ("task_num", "n_tasks"), ("num_tasks", "n_tasks"),
                     ("dim", "dim"))


def make_step_fn(factory, n_tasks: int, dim: int):
    """Call ``factory`` with the sizes it asks for (``n_tasks``/``task_num``/``num_tasks``,
    ``dim``). A factory that raises is an error (exit 2), not a conformance finding."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    sizes = {"n_tasks": n_tasks, "dim": dim}
    kwargs = {k: sizes[what] for k, what in FACTORY_ARGUMENTS if k in params}
    try:
        step_fn = factory(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise ValueError(f"the factory {getattr(factory, '__name__', factory)!r} raised "
                         f"{type(exc).__name__}: {exc}") from None
    if isinstance(factory, type) and not callable(step_fn):
        raise TypeError(f"{factory.__name__} is a class whose instances are not callable: give "
                        "a factory returning step_fn(losses, grads) -> weights (for a TorchJD "
                        "Weighting, wrap it; see docs/conformance.md)")
    if not callable(step_fn):
        raise TypeError("the factory must return a callable step_fn(losses, grads) -> weights, "
                        f"got {type(step_fn).__name__}")
    return step_fn


def _run(args) -> int:
    if args.list_golden:
        emit("\n".join(golden.names()))
        return EXIT_OK
    if args.write_golden is not None:
        for path in golden.generate(args.write_golden):
            emit(str(path))
        return EXIT_OK
    factory = load_factory(args.target)
    if args.golden:
        g = golden.load_golden(args.golden)
        step_fn = make_step_fn(factory, g.losses.shape[1], g.grads.shape[2])
        step_fn = from_torch(step_fn) if args.torch else step_fn
        report = golden.check_golden(step_fn, args.golden, accept_rescaled=args.accept_rescaled)
    else:
        problem = default_problem() if args.problem == "linear" else \
            R.make_logistic_problem(3, 4, 64, flip=[0.0, 0.1, 0.3], seed=0)
        step_fn = make_step_fn(factory, problem.n_tasks, problem.dim)
        step_fn = from_torch(step_fn) if args.torch else step_fn
        report = check_weighting(step_fn, args.method, args.convention, args.step_size,
                                 problem, args.steps, args.rtol, args.atol,
                                 lr=0.05 if args.problem == "linear" else 0.5,
                                 accept_rescaled=args.accept_rescaled)
    emit(str(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not (args.target or args.list_golden or args.write_golden is not None):
        p.error("give module:callable (or --list-golden / --write-golden DIR)")
    if args.steps < 1:
        p.error("--steps must be a positive integer")
    for flag, val in (("--rtol", args.rtol), ("--atol", args.atol),
                      ("--step-size", args.step_size)):
        if not (val >= 0 and val < float("inf")) or (flag == "--step-size" and val == 0):
            p.error(f"{flag} must be a finite number {'> 0' if flag == '--step-size' else '>= 0'}"
                    f", got {val}")
    return guarded(p.prog, lambda: _run(args), debug=args.debug)
