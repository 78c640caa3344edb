"""``python -m proofs_check conformance module:callable``: check a user's weighting implementation.

``callable`` is a factory returning a fresh stateful ``step_fn(losses, grads) -> weights`` (or a
TorchJD weighting, adapted automatically); it is given the number of tasks under whatever name
its one parameter has (``n_tasks``, ``task_num``, …) and ``dim=`` when it asks for it.
``--recording FILE.npz`` checks a recording saved from a training loop instead.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import reference as R
from reference._validate import describe_exception, passes_through

from . import golden
from ..cli_policy import EXIT_FAILED, EXIT_OK, OneLineParser, emit, guarded
from .adapters import adapt, from_torch, is_torch_module
from .harness import METHOD_NAMES, TOLERANCES, StepFn, check_weighting, default_problem
from .record import check_recording, load_recording


def parser() -> OneLineParser:
    p = OneLineParser(prog="python -m proofs_check conformance",
                      description="Check an external weighting implementation against the "
                                  "reference, step by step.",
                      epilog="Exit codes: 0 conformant, 1 not conformant, 2 usage or input "
                             "error, or the module/factory could not be loaded or crashed.")
    p.add_argument("target", nargs="?",
                   help="module:callable, a factory returning a stateful step_fn(losses, grads) "
                        "-> weights or a TorchJD weighting; it is given the number of tasks "
                        "(under its one parameter's name, e.g. n_tasks or task_num) and dim= "
                        "when it asks for it")
    p.add_argument("--recording", type=Path, default=None, metavar="FILE.npz",
                   help="check a recording saved from a training loop (Recording.save) instead "
                        "of driving a factory")
    p.add_argument("--method", choices=METHOD_NAMES, default="excessmtl",
                   help="the reference method the implementation claims to be (default "
                        "excessmtl)")
    p.add_argument("--convention", choices=("official", "paper"), default="official",
                   help="weights summing to m from 1 (official code) or on the simplex (paper)")
    p.add_argument("--step-size", type=float, default=1.0, help="η_α (default 1.0)")
    ref = p.add_argument_group("reference options (ExcessMTL), as the implementation claims them")
    ref.add_argument("--warmup", type=int, default=None, metavar="W",
                     help="baseline averaged over the first W steps (default 1: the first "
                          "estimate, as the official code)")
    ref.add_argument("--first-step-update", action="store_true",
                     help="also update the weights on step 1 with the raw estimate (TorchJD)")
    ref.add_argument("--baseline-eps", type=float, default=None, metavar="E",
                     help="ε added to the baseline in the scale-processing division (default 0; "
                          "TorchJD 1e-7)")
    ref.add_argument("--eps", type=float, default=None, metavar="E",
                     help="accumulator ε in Σg²/sqrt(S+ε) (default 1e-7)")
    ref.add_argument("--no-sqrt", action="store_true",
                     help="the accumulator without sqrt: Σg²/(S+ε)")
    ref.add_argument("--no-scale-processing", action="store_true",
                     help="update with the raw estimate at every step (no division by the "
                          "baseline)")
    ref.add_argument("--lagged", action="store_true",
                     help="the weights are applied one step late (updated after the model step)")
    ref.add_argument("--eps-outside", action="store_true",
                     help="ε outside the accumulator's sqrt: Σg²/(sqrt(S)+ε)")
    ref.add_argument("--accumulate-after", action="store_true",
                     help="the accumulator is updated after the estimate: Σg_t²/sqrt(S_(t−1)+ε)")
    ref.add_argument("--weight-sum", type=float, default=None, metavar="C",
                     help="the weights are normalised to sum to C (neither 1 nor m)")
    ref.add_argument("--clamp-min", type=float, default=None, metavar="LO",
                     help="the weights are clamped from below at LO after normalising")
    ref.add_argument("--clamp-max", type=float, default=None, metavar="HI",
                     help="the weights are clamped from above at HI after normalising")
    ref.add_argument("--clamp-output-only", action="store_true",
                     help="only the returned weights are clamped (the update continues from the "
                          "unclamped ones)")
    p.add_argument("--steps", type=int, default=50,
                   help="number of weighting steps compared along the reference trajectory "
                        "(default 50)")
    p.add_argument("--problem", choices=("linear", "logistic"), default="linear",
                   help="the synthetic problem whose trajectory feeds the inputs: 3 linear tasks "
                        "(d = 4, n = 64) or 3 logistic tasks (d = 4, n = 64, flips 0/0.1/0.3)")
    p.add_argument("--golden", default=None,
                   help="check against a shipped golden trajectory instead (see --list-golden)")
    p.add_argument("--dtype", choices=tuple(TOLERANCES), default=None,
                   help="the precision the implementation computes in; sets the default "
                        "tolerances (float64: rtol 1e-9, atol 1e-12; float32: 1e-4, 1e-7; "
                        "default float64, or a recording's own dtype)")
    p.add_argument("--rtol", type=float, default=None,
                   help="relative tolerance per weight (default: the dtype's)")
    p.add_argument("--atol", type=float, default=None,
                   help="absolute tolerance per weight (default: the dtype's)")
    p.add_argument("--accept-rescaled", action="store_true",
                   help="accept weights that differ by a positive factor (Σα = 1 vs m) and "
                        "report what departs besides")
    p.add_argument("--torch", action="store_true", help="the step_fn takes and returns tensors")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON (explained_by, precision, errors, …)")
    p.add_argument("--list-golden", action="store_true", help="list the shipped golden files")
    p.add_argument("--write-golden", type=Path, default=None, metavar="DIR",
                   help="regenerate every golden file into DIR (new, empty, or holding golden "
                        "files only)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def reference_options(args) -> dict:
    """The reference keyword options set on the command line."""
    out: dict = {}
    if args.warmup is not None:
        out["warmup"] = args.warmup
    if args.first_step_update:
        out["first_step_update"] = True
    if args.baseline_eps is not None:
        out["baseline_eps"] = args.baseline_eps
    if args.eps is not None:
        out["eps"] = args.eps
    if args.no_sqrt:
        out["sqrt_accumulator"] = False
    if args.no_scale_processing:
        out["scale_processing"] = False
    if args.lagged:
        out["lagged"] = True
    if args.eps_outside:
        out["eps_outside"] = True
    if args.accumulate_after:
        out["accumulate_after"] = True
    for key in ("weight_sum", "clamp_min", "clamp_max"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.clamp_output_only:
        out["clamp_output_only"] = True
    return out


def load_factory(target: str):
    if ":" not in target:
        raise ValueError(f"target must be module:callable, got {target!r}")
    mod_name, attr = target.split(":", 1)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(mod_name)
    except BaseException as exc:  # noqa: BLE001 - SyntaxError, ImportError, SystemExit, anything
        if passes_through(exc):
            raise
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        kind, text = describe_exception(exc)
        raise ValueError(f"cannot import module {mod_name!r}: {kind}{where}"
                         + (f": {text}" if text else "")) from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise ValueError(f"{target} is not callable")
    return factory


def call_factory(factory, what: str = "", **kwargs):
    """``factory(**kwargs)``; whatever it raises becomes a ValueError naming it (exit 2: the check
    could not run), prefixed by ``what`` (the option that named it)."""
    try:
        return factory(**kwargs)
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, exit too
        if passes_through(exc):
            raise
        kind, text = describe_exception(exc)
        raise ValueError(f"{what + ': ' if what else ''}the factory "
                         f"{getattr(factory, '__name__', factory)!r} raised {kind}"
                         + (f": {text}" if text else "")) from None


SIZE_NAMES = ("n_tasks", "task_num", "num_tasks", "m", "n")
DIM_NAMES = ("dim", "d", "n_params")


def make_step_fn(factory: Callable[..., object], n_tasks: int, dim: int) -> StepFn:
    """Call ``factory`` with the sizes it asks for: ``dim`` (or ``d``) by name, and the number of
    tasks under a known name (``n_tasks``, ``task_num``, …) or, if it has exactly one other
    required parameter, under that one, whatever its name. What it returns is adapted
    (``adapters.adapt``: a TorchJD weighting is wrapped). A factory that raises is an error
    (exit 2), not a conformance finding."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs: dict[str, Any] = {k: dim for k in DIM_NAMES if k in params}
    named = [k for k in SIZE_NAMES if k in params]
    required = [k for k, prm in params.items() if k not in kwargs and prm.default is prm.empty
                and prm.kind in (prm.POSITIONAL_OR_KEYWORD, prm.KEYWORD_ONLY)]
    if named:
        kwargs[named[0]] = n_tasks
    elif len(required) == 1:
        kwargs[required[0]] = n_tasks
    step_fn = call_factory(factory, **kwargs)
    try:
        return adapt(step_fn)
    except TypeError:
        what = (f"{factory.__name__} is a class whose instances are not callable"
                if isinstance(factory, type) else
                f"the factory returned {type(step_fn).__name__}, which is not callable")
        raise TypeError(f"{what}: give a factory returning step_fn(losses, grads) -> weights, "
                        "or a TorchJD weighting (see docs/conformance.md)") from None


def _torch_hint(step_fn: StepFn) -> StepFn:
    """A torch module that is not TorchJD's takes tensors: say so instead of failing later."""
    if is_torch_module(step_fn) and not type(step_fn).__module__.startswith("torchjd"):
        raise TypeError(f"the factory returned a torch module ({type(step_fn).__name__}); pass "
                        "--torch if it takes (losses, grads) tensors")
    return step_fn


def _run(args) -> int:
    if args.list_golden:
        emit("\n".join(golden.names()))
        return EXIT_OK
    if args.write_golden is not None:
        for path in golden.generate(args.write_golden):
            emit(str(path))
        return EXIT_OK
    options = reference_options(args)
    if args.recording is not None:
        report = check_recording(load_recording(args.recording, name="--recording"),
                                 args.method, args.convention,
                                 args.step_size, rtol=args.rtol, atol=args.atol,
                                 dtype=args.dtype, accept_rescaled=args.accept_rescaled,
                                 **options)
    elif args.golden:
        factory = load_factory(args.target)
        try:
            g = golden.load_golden(args.golden)
        except (ValueError, OSError) as exc:     # name the option: one line, exit 2
            raise ValueError(f"--golden: {exc}") from None
        step_fn = make_step_fn(factory, g.losses.shape[1], g.grads.shape[2])
        step_fn = from_torch(step_fn) if args.torch else _torch_hint(step_fn)
        report = golden.check_golden(step_fn, args.golden, accept_rescaled=args.accept_rescaled,
                                     dtype=args.dtype, rtol=args.rtol, atol=args.atol)
    else:
        factory = load_factory(args.target)
        problem = default_problem() if args.problem == "linear" else \
            R.make_logistic_problem(3, 4, 64, flip=[0.0, 0.1, 0.3], seed=0)
        step_fn = make_step_fn(factory, problem.n_tasks, problem.dim)
        step_fn = from_torch(step_fn) if args.torch else _torch_hint(step_fn)
        report = check_weighting(step_fn, args.method, args.convention, args.step_size,
                                 problem, args.steps, args.rtol, args.atol,
                                 lr=0.05 if args.problem == "linear" else 0.5,
                                 accept_rescaled=args.accept_rescaled,
                                 dtype=args.dtype or "float64", **options)
    emit(report.to_json_text() if args.json else str(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not (args.target or args.recording or args.list_golden or args.write_golden is not None):
        p.error("give module:callable, --recording FILE.npz, --list-golden or --write-golden DIR")
    if args.steps < 1:
        p.error("--steps must be a positive integer")
    if args.warmup is not None and args.warmup < 0:
        p.error(f"--warmup must be a non-negative integer, got {args.warmup}")
    positive = ("--step-size", "--weight-sum", "--clamp-min", "--clamp-max")
    for flag, val in (("--rtol", args.rtol), ("--atol", args.atol), ("--eps", args.eps),
                      ("--baseline-eps", args.baseline_eps), ("--step-size", args.step_size),
                      ("--weight-sum", args.weight_sum), ("--clamp-min", args.clamp_min),
                      ("--clamp-max", args.clamp_max)):
        if val is None:
            continue
        if not (val >= 0 and val < float("inf")) or (flag in positive and val == 0):
            p.error(f"{flag} must be a finite number {'> 0' if flag in positive else '>= 0'}"
                    f", got {val}")
    if args.clamp_min is not None and args.clamp_max is not None and \
            not args.clamp_min < args.clamp_max:
        p.error(f"--clamp-min must be below --clamp-max, got {args.clamp_min} and "
                f"{args.clamp_max}")
    return guarded(p.prog, lambda: _run(args), debug=args.debug)
