"""Check results: every verdict is a (measured, bound) pair with its kind (STYLE §3).

* kind ``"upper"``: pass iff measured <= bound.
* kind ``"lower"``: pass iff measured >= bound.
* kind ``"tight"``: pass iff |measured − bound| <= rtol·|bound|.
A claim is a list of sub-checks; it passes iff every sub-check passes. Its headline (measured,
bound) pair in the table and report is the first failed sub-check, or the first one if all pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

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

    @property
    def passed(self) -> bool:
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
        d["verdict"] = "pass" if self.passed else "fail"
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
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def scopes(self) -> tuple[dict, ...]:
        """Where each finding holds: the claim's own scope study if it ran one, else read off
        its sub-checks (``scope.generic_scope``); () for a claim that passed."""
        if self.scope:
            return self.scope
        return () if self.passed else generic_scope(self.checks)

    @property
    def headline(self) -> SubCheck:
        """The first failed sub-check, else the first (the claim's designated headline)."""
        return next((c for c in self.checks if not c.passed), self.checks[0])

    @property
    def failed_checks(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

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
                "checks": [c.to_json() for c in self.checks], "config": self.config,
                "scope": [dict(s) for s in self.scopes], "notes": list(self.notes)}
