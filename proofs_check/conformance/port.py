"""Conformance for a port's CI: ``assert_conforms`` raises with the report unless a port
conforms, ``check_port`` gives the report. A port is a ``step_fn(losses, grads) -> weights``, a
factory returning one (called here with the sizes it asks for, ``cli.make_step_fn``) or a
``Recording`` of a training loop (``record.check_recording``). This module sits above
``harness``, ``record`` and ``cli``, which it dispatches to (docs/api.md, "Layers");
``proofs_check.assert_conforms`` and ``proofs_check.testing`` are built on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import reference as R

from .cli import make_step_fn
from .harness import ConformanceReport, StepFn, check_weighting, default_problem
from .record import Recorder, Recording, check_recording

__all__ = ["assert_conforms", "check_port"]


def _is_factory(obj: Callable[..., object]) -> bool:
    """A class, or a callable taking at most one required argument (the number of tasks, and
    ``dim`` by name), is a factory; a callable of two (losses, grads) is a step_fn."""
    if inspect.isclass(obj):
        return True
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    required = [p for p in params if p.default is p.empty and p.kind in
                (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) <= 1 and not any(p.kind is p.VAR_POSITIONAL for p in params)


def assert_conforms(step_fn_or_factory: object, **expected: Any) -> ConformanceReport:
    """Check a port and raise ``AssertionError`` with the report (what differs, the fitted
    parameters, where it first departs) unless it conforms; return the report when it does.

    ``step_fn_or_factory``: a stateful ``step_fn(losses, grads) -> weights``, or a factory (a
    class or a function of the number of tasks, and ``dim=`` by name) returning one, called
    afresh here, or a ``Recording``/``Recorder`` of a training loop (checked with
    ``check_recording``). ``expected``: what the port claims, the keywords of
    ``check_weighting`` (``method``, ``convention``, ``step_size``, ``steps``, ``dtype``,
    ``rtol``, ``atol``, ``accept_rescaled``, ``problem``, ``lr``, ``seed``) or of
    ``check_recording``, and reference options such as ``warmup=3``.

        def test_my_port_is_excessmtl():
            assert_conforms(MyExcessMTL, convention="paper")
    """
    report = check_port(step_fn_or_factory, **expected)
    if not report.passed:
        raise AssertionError(str(report))
    return report


def check_port(step_fn_or_factory: object, **expected: Any) -> ConformanceReport:
    """The report ``assert_conforms`` judges, without raising on a departure (same arguments);
    ``proofs_check.testing.assert_conforms`` builds its ``allowed=`` departures on it."""
    if isinstance(step_fn_or_factory, (Recording, Recorder)):
        report = check_recording(step_fn_or_factory, **expected)
    else:
        if not callable(step_fn_or_factory):
            raise TypeError("step_fn_or_factory must be a step_fn(losses, grads) -> weights, a "
                            "factory returning one, or a Recording, got "
                            f"{type(step_fn_or_factory).__name__}")
        step_fn = cast(StepFn, step_fn_or_factory)            # a callable: a step_fn, or
        if _is_factory(step_fn_or_factory):                    # a factory returning one
            seed = expected.get("seed", 0)
            problem = expected.get("problem")
            problem = default_problem(seed) if problem is None else problem
            if not isinstance(problem, R.MultiTaskProblem):
                raise TypeError(f"problem must be a reference MultiTaskProblem, got "
                                f"{type(problem).__name__}")
            step_fn = make_step_fn(step_fn_or_factory, problem.n_tasks, problem.dim)
            expected = {**expected, "problem": problem}
        report = check_weighting(step_fn, **expected)
    return report
