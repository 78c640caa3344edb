"""Check results: every verdict is a (measured, bound) pair with its kind, and, for a rule
decided over seeds, the sequential decision (``proofs_check.decide``) that made it.

* kind ``"upper"``: pass iff measured <= bound.
* kind ``"lower"``: pass iff measured >= bound.
* kind ``"tight"``: pass iff |measured − bound| <= rtol·|bound|.
* with a ``decision``: its verdict, "pass", "fail" or "inconclusive" (the seeds' exceedances of
  the per-seed threshold, decided by an SPRT with stated error rates); (measured, bound) are then
  the fraction of seeds that exceed and the test's p0, for the table.
* ``decides=False``: reported, never part of the claim's verdict (e.g. the 1/T rate of the
  constant-step theorem dynamics, which a method with the paper's O(1/√T) need not have).

A claim's verdict is "fail" if a deciding sub-check fails, else "inconclusive" if one is
inconclusive, else "pass". Its headline (measured, bound) pair in the table and report is the
first failed deciding sub-check, else the first inconclusive one, else the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from ..decide import Decision, Verdict
from .scope import generic_scope

Kind = Literal["upper", "lower", "tight"]


@dataclass(frozen=True)
class SubCheck:
    name: str
    measured: float
    bound: float
    kind: Kind
    rtol: float = 0.0
    note: str = ""
    decision: Decision | None = None
    decides: bool = True

    @property
    def verdict(self) -> Verdict:
        if self.decision is not None:
            return self.decision.verdict
        return "pass" if self._within() else "fail"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def _within(self) -> bool:
        m, b = float(self.measured), float(self.bound)
        if not (np.isfinite(m) and np.isfinite(b)):
            return False
        if self.kind == "upper":
            return m <= b
        if self.kind == "lower":
            return m >= b
        return abs(m - b) <= self.rtol * abs(b)

    def to_json(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["decision"] = None if self.decision is None else self.decision.to_json()
        return d


@dataclass(frozen=True)
class ClaimResult:
    id: str
    statement: str
    source: str
    convention: str
    checks: tuple[SubCheck, ...]
    config: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict, repr=False)
    method: str = ""            # the method checked, when the claim was run on a given one
    scope: tuple[dict, ...] = ()  # where each finding holds: {"finding", "observed", "vanishes",
                                  # "rows"}, generated from the runs (e.g. robustness over θ₀)
    notes: tuple[str, ...] = ()   # what the check could not do for this method, and why (e.g.
                                  # bounds skipped for a method without a float step_size)

    @property
    def deciding(self) -> tuple[SubCheck, ...]:
        return tuple(c for c in self.checks if c.decides)

    @property
    def verdict(self) -> Verdict:
        """"fail" if a deciding sub-check fails, else "inconclusive" if one is, else "pass"."""
        verdicts = {c.verdict for c in self.deciding}
        return "fail" if "fail" in verdicts else \
            "inconclusive" if "inconclusive" in verdicts else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    @property
    def false_alarm(self) -> float:
        """A bound on P(fail) for a correct method: the sum over the deciding sequential
        sub-checks of their tests' false-alarm rates at p0 (Bonferroni). The deterministic
        sub-checks (the theorem's bounds, a run that failed) add 0 for a correct method."""
        return float(sum(c.decision.rule.false_alarm for c in self.deciding
                         if c.decision is not None))

    @property
    def scopes(self) -> tuple[dict, ...]:
        """Where each finding holds: the claim's own scope study if it ran one, else read off
        its sub-checks (``scope.generic_scope``); () for a claim that passed."""
        if self.scope:
            return self.scope
        return () if self.passed else generic_scope(self.checks)

    @property
    def headline(self) -> SubCheck:
        """The first failed deciding sub-check, else the first inconclusive one, else the first
        (the claim's designated headline)."""
        for verdict in ("fail", "inconclusive"):
            hit = next((c for c in self.deciding if c.verdict == verdict), None)
            if hit is not None:
                return hit
        return self.checks[0]

    @property
    def failed_checks(self) -> list[str]:
        return [c.name for c in self.deciding if c.failed]

    @property
    def inconclusive_checks(self) -> list[str]:
        return [c.name for c in self.deciding if c.verdict == "inconclusive"]

    def check(self, name: str) -> SubCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.id} has no sub-check {name!r}; it has {[c.name for c in self.checks]}")

    def to_json(self) -> dict:
        h = self.headline
        return {"id": self.id, "method": self.method, "statement": self.statement,
                "source": self.source,
                "convention": self.convention, "measured": h.measured, "bound": h.bound,
                "kind": h.kind, "verdict": self.verdict, "failed_checks": self.failed_checks,
                "inconclusive_checks": self.inconclusive_checks,
                "false_alarm_bound": self.false_alarm,
                "checks": [c.to_json() for c in self.checks], "config": self.config,
                "scope": [dict(s) for s in self.scopes], "notes": list(self.notes)}
