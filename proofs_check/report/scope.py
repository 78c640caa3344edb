"""Where a finding holds, read off a claim's own sub-checks when the claim has no scope study of
its own (``robustness`` has one: ``claims/robustness_scope``).

A sub-check is named "<condition>: <statistic> (<seed summary>)", e.g. "logistic
ExcessMTL(adagrad, official algorithm): |max E(θ_T)/minmax − 1| (median of 8 seeds)". Sub-checks
that measure the same statistic under different conditions are compared: the finding was
observed under the conditions whose sub-check failed, and vanishes under those whose sub-check
passed. Where no other condition measured that statistic, the statement says so instead of
guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

_SEEDS = re.compile(r"\s*\((?:median|worst|q\d+|best)[^()]*\)\s*$|\s*\(\d+ seeds\)\s*$")


def split_name(name: str) -> tuple[str, str]:
    """(condition, statistic) of a sub-check name; condition '' when the name has none."""
    head, sep, tail = name.partition(": ")
    if not sep:
        return "", _SEEDS.sub("", name).strip()
    return head.strip(), _SEEDS.sub("", tail).strip()


class _Check(Protocol):
    """What a scope is made of: a ``SubCheck`` (``report.result``, which builds on this module)."""

    @property
    def name(self) -> str: ...

    @property
    def measured(self) -> float: ...

    @property
    def bound(self) -> float: ...

    @property
    def passed(self) -> bool: ...

    @property
    def verdict(self) -> str: ...


def generic_scope(checks: Iterable[_Check]) -> tuple[dict, ...]:
    """One scope entry per failed statistic: {"finding", "observed", "vanishes", "rows"}."""
    groups: dict[str, list[tuple[str, _Check]]] = {}
    for c in checks:
        cond, stat = split_name(c.name)
        groups.setdefault(stat, []).append((cond, c))
    out = []
    for stat, members in groups.items():
        failed = [cond or "the claim's instance" for cond, c in members
                  if c.verdict == "fail"]
        if not failed:
            continue
        held = [cond or "the claim's instance" for cond, c in members if c.passed]
        observed = f"Observed on {', '.join(failed)}."
        vanishes = (f"It does not occur on {', '.join(held)} (same statistic, passed)."
                    if held else "No other condition of the suite measures this statistic, so "
                                 "where it vanishes is not mapped.")
        rows = [{"condition": cond, "statistic": stat, "measured": float(c.measured),
                 "bound": float(c.bound), "verdict": c.verdict}
                for cond, c in members]
        out.append({"finding": stat, "observed": observed, "vanishes": vanishes,
                    "rows": rows})
    return tuple(out)
