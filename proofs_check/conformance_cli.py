"""``python -m proofs_check conformance module:callable``: check a user's weighting implementation.

``callable`` is a factory returning a fresh stateful ``step_fn(losses, grads) -> weights``; it is
called with ``n_tasks=`` and ``dim=`` when it accepts them, else with no arguments.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

import reference as R

from . import golden
from .conformance import METHOD_NAMES, check_weighting, default_problem, from_torch


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m proofs_check conformance",
                                description="Check an external weighting implementation against "
                                            "the reference, step by step.")
    p.add_argument("target", nargs="?", help="module:callable, a factory of a step_fn")
    p.add_argument("--method", choices=METHOD_NAMES, default="excessmtl")
    p.add_argument("--convention", choices=("official", "paper"), default="official")
    p.add_argument("--step-size", type=float, default=1.0, help="η_α (default 1.0)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--problem", choices=("linear", "logistic"), default="linear")
    p.add_argument("--golden", default=None,
                   help="check against a shipped golden trajectory instead (see --list-golden)")
    p.add_argument("--rtol", type=float, default=1e-9)
    p.add_argument("--atol", type=float, default=1e-12)
    p.add_argument("--accept-rescaled", action="store_true",
                   help="accept weights that differ by a positive factor (Σα = 1 vs m)")
    p.add_argument("--torch", action="store_true", help="the step_fn takes and returns tensors")
    p.add_argument("--list-golden", action="store_true", help="list the shipped golden files")
    p.add_argument("--write-golden", type=Path, default=None, metavar="DIR",
                   help="regenerate every golden file into DIR")
    return p


def load_factory(target: str):
    if ":" not in target:
        raise ValueError(f"target must be module:callable, got {target!r}")
    mod_name, attr = target.split(":", 1)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {mod_name!r}: {exc}") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise ValueError(f"{target} is not callable")
    return factory


def make_step_fn(factory, n_tasks: int, dim: int):
    params = inspect.signature(factory).parameters
    kwargs = {k: v for k, v in (("n_tasks", n_tasks), ("dim", dim)) if k in params}
    step_fn = factory(**kwargs)
    if not callable(step_fn):
        raise ValueError("the factory must return a callable step_fn(losses, grads) -> weights")
    return step_fn


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list_golden:
        print("\n".join(golden.names()))
        return 0
    if args.write_golden is not None:
        for path in golden.generate(args.write_golden):
            print(path)
        return 0
    if not args.target:
        parser().error("give module:callable (or --list-golden / --write-golden DIR)")
    try:
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
    except (ValueError, TypeError, ImportError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.passed else 1
