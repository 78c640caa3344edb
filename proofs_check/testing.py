"""One assertion for a port's test suite (a pytest plugin offers it as a fixture).

``assert_conforms(target, convention=..., allowed={...}, dtype=...)`` checks an ExcessMTL port
(or a GroupDRO, EqualWeights or MGDA one, ``method=``) against the reference and raises
``AssertionError`` whose message is the oracle's diagnosis, unless the port conforms or differs
only by departures the maintainer accepts in ``allowed``::

    from proofs_check.testing import assert_conforms

    def test_my_port():
        assert_conforms(MyExcessMTL, allowed={"step_size", "float32"})

It builds on ``proofs_check.assert_conforms`` (``conformance.port``), which takes the same
targets and keywords but accepts no departure. Installed, the package registers the plugin
module ``excessmtl_oracle_pytest`` (``[project.entry-points.pytest11]``; without an install,
``pytest -p excessmtl_oracle_pytest``). It offers the fixture ``excessmtl_conformance``, which is
this ``assert_conforms``::

    def test_my_port(excessmtl_conformance):
        excessmtl_conformance(MyExcessMTL, convention="paper", allowed={"warmup"})
"""

from __future__ import annotations

from collections.abc import Iterable

import reference as R

from .conformance.harness import OPTIONS, ConformanceReport
from .conformance.port import check_port

PRECISIONS = ("float32",)
#: the names ``allowed`` takes: the options a diagnosis can name in ``explained_by``, and the
#: precision it can recognise
DEPARTURES = tuple(sorted({"convention", "step_size", *OPTIONS["excessmtl"],
                           *OPTIONS["groupdro"], *OPTIONS["equalweights"]} | set(PRECISIONS)))


def allowed_departures(allowed: object) -> frozenset[str]:
    """``allowed`` as a set of departure names, or a ``TypeError``/``ValueError`` naming
    ``allowed``, the expected form and the valid names."""
    if isinstance(allowed, str) or not isinstance(allowed, Iterable):
        raise TypeError(f"allowed must be a set of departure names such as {{'step_size', "
                        f"'float32'}}, got {allowed!r}")
    names = list(allowed)
    wrong = [n for n in names if not isinstance(n, str)]
    if wrong:
        raise TypeError(f"allowed must hold departure names (strings), got {wrong[0]!r}")
    unknown = sorted(set(names) - set(DEPARTURES))
    if unknown:
        raise ValueError(f"allowed: unknown departure(s) {unknown}; the valid names are "
                         f"{list(DEPARTURES)}")
    return frozenset(names)


class _MethodStepFn:
    """A ``WeightingMethod`` (``init_state``/``step``) as a stateful ``step_fn``."""

    def __init__(self, method: R.WeightingMethod) -> None:
        self.method: R.WeightingMethod = method
        self.state: object = None

    def __call__(self, losses, grads):
        if self.state is None:
            self.state = self.method.init_state(len(losses), grads.shape[1])
        self.state, weights = self.method.step(self.state, losses, grads)
        return weights


def _target(target: object) -> object:
    if not callable(target) and hasattr(target, "init_state") and hasattr(target, "step"):
        return _MethodStepFn(target)
    return target


def assert_conforms(target: object, *, method: str = "excessmtl",
                    convention: str = "official", allowed: Iterable[str] = (),
                    dtype: str | None = None, **expected: object) -> ConformanceReport:
    """Check a port and return its report; raise ``AssertionError`` with the diagnosis unless
    it conforms or every departure the oracle names is in ``allowed``.

    ``target``: a stateful ``step_fn(losses, grads) -> weights``; a factory of one (a class, or
    a function of the number of tasks and ``dim=`` by name), called afresh; a weighting method
    with ``init_state``/``step`` (the reference's protocol); or a ``Recorder``/``Recording`` of
    a training loop. ``convention``: "official" (Σα = m) or "paper" (Σα = 1). ``allowed``:
    the departures accepted, names of ``DEPARTURES`` (the options of ``explained_by``, e.g.
    ``"step_size"``, ``"warmup"``, ``"clamp_min"``, and ``"float32"`` for weights recognised as
    float32 arithmetic); an unknown name is a ``ValueError`` listing the valid ones. A port
    accepted thanks to ``allowed`` returns its (failing) report, whose ``explained_by`` and
    ``precision`` say what was accepted. A departure the oracle cannot name (``explained_by``
    None, not float32 rounding) is never accepted. ``dtype``: the precision the port declares
    (float64 by default, a recording's own dtype for a recording); it sets the tolerances.
    ``expected``: the other keywords of ``proofs_check.assert_conforms`` (``step_size``,
    ``steps``, ``problem``, ``rtol``, ``atol``, reference options such as ``warmup=3``)."""
    names = allowed_departures(allowed)
    kwargs = {"method": method, "convention": convention, **expected}
    if dtype is not None:
        kwargs["dtype"] = dtype
    report = check_port(_target(target), **kwargs)
    if report.passed:
        return report
    found = set(report.explained_by or ())
    if report.precision is not None:
        found.add(report.precision)
    named = report.explained_by is not None or report.precision in PRECISIONS
    if named and found <= names:
        return report
    if not named:
        verdict = ("the departure is not one the oracle can name, so no allowed= accepts it"
                   if report.first_divergence_step is not None else
                   "the port could not be checked to the end")
    else:
        verdict = (f"not allowed: {', '.join(sorted(found - names))}"
                   + (f" (allowed: {', '.join(sorted(names))})" if names else ""))
    raise AssertionError(f"{report}\n  {verdict}")


__all__ = ["DEPARTURES", "allowed_departures", "assert_conforms"]
