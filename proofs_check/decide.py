"""Three-valued decisions over seeds: Wald's sequential probability ratio test on per-seed
exceedances, with its exact error rates (docs/theory.md §8).

A claim's per-seed rule gives, for seed s, X_s = 1 when the seed's statistic is on the failing
side of its per-seed threshold τ (a growth of gap·√T above 10^{1/4}, say) and 0 otherwise. The
seeds are independent, so X_1, X_2, … are i.i.d. Bernoulli(p), where p is a property of the
method (and the problem and regime), not of the seeds drawn. The claim *holds* for a method
with p <= p0 (it may exceed τ on a few unlucky seeds) and *fails* for one with p >= p1.

``SequentialRule`` tests H0: p = p0 against H1: p = p1 (Wald 1945). After n seeds with k
exceedances the log-likelihood ratio is

    Λ_n = k·ln(p1/p0) + (n − k)·ln((1 − p1)/(1 − p0)),

and the test stops at the first n >= ``min_seeds`` with Λ_n >= ln((1 − β)/α) ("fail") or
Λ_n <= ln(β/(1 − α)) ("pass"). At ``max_seeds`` without a decision the verdict is
"inconclusive". Because Λ_n is monotone in p for every (n, k), P(fail) is increasing in p: the
false-alarm probability of any method with p <= p0 is at most ``false_alarm`` (the exact
P(fail | p0) of the truncated test, computed by ``operating_characteristic``), and any method
with p >= p1 passes with probability at most ``miss``.

Seeds are consumed in their order, so the verdict is a function of the seed list: a claim that
runs its seeds in blocks (``sequential_seeds``) gets the same verdict whatever the block size.
Everything here is pure and exact (no sampling).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from reference._validate import positive_int

Verdict = Literal["pass", "fail", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "inconclusive")
POWER = 0.95
"""The detection limit of a rule is the smallest per-seed exceedance probability it turns into
"fail" with at least this probability."""


@dataclass(frozen=True)
class OperatingCharacteristic:
    """The exact laws of a ``SequentialRule`` for one per-seed exceedance probability p."""

    p: float
    fail: float
    passed: float
    inconclusive: float
    expected_seeds: float


def _probability(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and low < v < high):
        raise ValueError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}")
    return v


@dataclass(frozen=True)
class SequentialRule:
    """Wald's SPRT of H0: p = ``p0`` against H1: p = ``p1`` on per-seed exceedances, with
    nominal error rates ``alpha`` (fail a method with p = p0) and ``beta`` (pass one with
    p = p1), between ``min_seeds`` and ``max_seeds`` seeds (the budget)."""

    p0: float = 0.2
    p1: float = 0.7
    alpha: float = 0.01
    beta: float = 0.01
    min_seeds: int = 1
    max_seeds: int = 32

    def __post_init__(self) -> None:
        p0 = _probability("p0", self.p0)
        p1 = _probability("p1", self.p1)
        if not p0 < p1:
            raise ValueError(f"p0 must be below p1 (the exceedance rate of a correct method "
                             f"below that of a broken one), got p0={p0:g}, p1={p1:g}")
        _probability("alpha", self.alpha, high=0.5)
        _probability("beta", self.beta, high=0.5)
        lo = positive_int("min_seeds", self.min_seeds, 1)
        hi = positive_int("max_seeds", self.max_seeds, 1)
        if lo > hi:
            raise ValueError(f"min_seeds must be <= max_seeds, got {lo} > {hi}")

    # the walk ------------------------------------------------------------------------------
    @property
    def up(self) -> float:
        """The step of Λ for a seed that exceeds τ: ln(p1/p0) > 0."""
        return math.log(self.p1 / self.p0)

    @property
    def down(self) -> float:
        """The step of Λ for a seed within τ: ln((1 − p1)/(1 − p0)) < 0."""
        return math.log((1 - self.p1) / (1 - self.p0))

    @property
    def upper(self) -> float:
        return math.log((1 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1 - self.alpha))

    def llr(self, n: int, k: int) -> float:
        return k * self.up + (n - k) * self.down

    def state(self, n: int, k: int) -> Verdict | None:
        """The verdict after n seeds with k exceedances, None to go on."""
        if n >= self.min_seeds:
            lam = self.llr(n, k)
            if lam >= self.upper - 1e-12:
                return "fail"
            if lam <= self.lower + 1e-12:
                return "pass"
        return "inconclusive" if n >= self.max_seeds else None

    @property
    def seeds_to_pass(self) -> int:
        """The fewest seeds after which a method with no exceedance passes."""
        n = next((n for n in range(1, self.max_seeds + 1) if self.state(n, 0) == "pass"), None)
        return self.max_seeds if n is None else n

    @property
    def seeds_to_fail(self) -> int:
        """The fewest seeds after which a method exceeding on every seed fails."""
        n = next((n for n in range(1, self.max_seeds + 1) if self.state(n, n) == "fail"), None)
        return self.max_seeds if n is None else n

    # exact error rates ---------------------------------------------------------------------
    def operating_characteristic(self, p: float) -> OperatingCharacteristic:
        """P(fail), P(pass), P(inconclusive) and E[seeds used] of the truncated test for a
        method whose seeds exceed τ with probability ``p`` (exact, by dynamic programming over
        the number k of exceedances among the first n seeds; cached per rule and p)."""
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        return _operating_characteristic(self, p)

    def _walk(self, p: float) -> OperatingCharacteristic:
        live = np.array([1.0])                 # live[k]: P(still running with k exceedances)
        fail = passed = expected = 0.0
        for n in range(1, self.max_seeds + 1):
            nxt = np.zeros(n + 1)
            nxt[:-1] += live * (1 - p)
            nxt[1:] += live * p
            for k in range(n + 1):
                verdict = self.state(n, k)
                if verdict in ("fail", "pass"):
                    if verdict == "fail":
                        fail += float(nxt[k])
                    else:
                        passed += float(nxt[k])
                    expected += n * float(nxt[k])
                    nxt[k] = 0.0
            live = nxt
        rest = float(live.sum())
        expected += self.max_seeds * rest
        return OperatingCharacteristic(p, fail, passed, rest, expected)

    @property
    def false_alarm(self) -> float:
        """P(fail) for a method with p = p0: the false-alarm bound for every p <= p0."""
        return self.operating_characteristic(self.p0).fail

    @property
    def miss(self) -> float:
        """P(pass) for a method with p = p1: the bound for every p >= p1."""
        return self.operating_characteristic(self.p1).passed

    def detection_limit(self, power: float = POWER) -> float:
        """The smallest per-seed exceedance probability that fails with probability >=
        ``power`` (bisection on the exact, increasing P(fail | p)); 1.0 if even p = 1 does not
        (a budget too small to decide)."""
        return _detection_limit(self, _probability("power", power))

    def _bisect(self, power: float) -> float:
        if self.operating_characteristic(1.0).fail < power:
            return 1.0
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if self.operating_characteristic(mid).fail >= power:
                hi = mid
            else:
                lo = mid
        return hi

    # deciding ------------------------------------------------------------------------------
    def decide(self, exceed: Sequence[bool] | np.ndarray) -> Decision:
        """The verdict on the seeds' exceedances, consumed in order (seeds after the stopping
        seed are not used)."""
        xs = [bool(x) for x in np.asarray(exceed, dtype=bool).ravel()]
        k = 0
        for n, x in enumerate(xs, start=1):
            k += x
            verdict = self.state(n, k)
            if verdict in ("pass", "fail"):
                return Decision(verdict, n, k, self)
            if n >= self.max_seeds:
                break
        n = min(len(xs), self.max_seeds)
        return Decision("inconclusive", n, sum(xs[:n]), self)

    def to_json(self) -> dict:
        return {"test": "SPRT on per-seed exceedances", "p0": self.p0, "p1": self.p1,
                "alpha": self.alpha, "beta": self.beta, "min_seeds": self.min_seeds,
                "max_seeds": self.max_seeds, "false_alarm": self.false_alarm,
                "miss": self.miss, "detection_p": self.detection_limit()}


@lru_cache(maxsize=4096)
def _operating_characteristic(rule: SequentialRule, p: float) -> OperatingCharacteristic:
    return rule._walk(p)


@lru_cache(maxsize=256)
def _detection_limit(rule: SequentialRule, power: float) -> float:
    return rule._bisect(power)


@dataclass(frozen=True)
class Decision:
    """A verdict on ``n`` seeds with ``k`` exceedances under ``rule``."""

    verdict: Verdict
    n: int
    k: int
    rule: SequentialRule

    @property
    def llr(self) -> float:
        return self.rule.llr(self.n, self.k)

    @property
    def open(self) -> bool:
        """True while more seeds could still decide (inconclusive below the budget)."""
        return self.verdict == "inconclusive" and self.n < self.rule.max_seeds

    def seeds_to_decide(self) -> int | None:
        """For an inconclusive verdict: about how many seeds in all would decide, if the seeds
        to come exceed at the rate seen so far (Wald's drift approximation); None when that
        rate sits at the test's indifference point, where more seeds barely help."""
        if self.verdict != "inconclusive":
            return None
        phat = self.k / self.n if self.n else 0.5
        drift = phat * self.rule.up + (1 - phat) * self.rule.down
        if abs(drift) < 1e-3:
            return None
        target = self.rule.upper if drift > 0 else self.rule.lower
        return self.n + max(1, math.ceil((target - self.llr) / drift))

    def describe(self) -> str:
        """One sentence: what was seen, the decision, its error rates and (inconclusive) the
        budget that would decide."""
        r = self.rule
        seen = f"{self.k} of {self.n} seeds exceed the per-seed threshold"
        limit = r.detection_limit()
        detects = (f"detects >= {limit:.0%} with 95%" if limit < 1.0 else
                   f"{r.max_seeds} seeds can never reach a 95% detection")
        rates = (f"SPRT p0={r.p0:g} vs p1={r.p1:g}: false alarm {r.false_alarm:.2g} for a "
                 f"method exceeding on <= {r.p0:.0%} of seeds, {detects}")
        if self.verdict != "inconclusive":
            return f"{seen}; {self.verdict} ({rates})"
        if self.n < r.max_seeds:
            return (f"{seen}; undecided after {self.n} seeds: the seeds stopped there, once "
                    f"another rule of the same runs had failed ({rates})")
        need = self.seeds_to_decide()
        more = (f"about {need} seeds would decide at the rate seen (a larger seed budget)"
                if need is not None else
                "the rate seen sits between p0 and p1, so more seeds decide only slowly; a "
                "longer horizon (steps) separates the rates")
        return f"{seen}; inconclusive within the budget of {r.max_seeds} seeds: {more} ({rates})"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "seeds_used": self.n, "exceedances": self.k,
                "llr": self.llr, "seeds_to_decide": self.seeds_to_decide(),
                "rule": self.rule.to_json()}


def sequential_seeds(run_block: Callable[[list[int]], object], first: int, rule: SequentialRule,
                     decisions: Callable[[list], Sequence[Decision]], *, initial: int = 1,
                     block: int = 4) -> list:
    """Run seeds first, first + 1, … in blocks (first max(``initial``, ``rule.seeds_to_pass``)
    seeds, then ``block`` at a time) until no decision is still open, one has failed (the runs
    already fail their claim), or the budget ``rule.max_seeds`` is spent. ``run_block(seeds)``
    runs some seeds and returns their measurements; ``decisions(blocks so far)`` gives the
    decisions on everything run so far.
    Returns the blocks' measurements, in order. The decisions consume seeds in order, so they
    do not depend on ``initial`` or ``block``."""
    block = positive_int("block", block, 1)
    initial = positive_int("initial", initial, 1)
    size = min(rule.max_seeds, max(initial, rule.min_seeds, rule.seeds_to_pass))
    out = [run_block(list(range(first, first + size)))]
    done = size
    def undecided() -> bool:
        now = decisions(out)
        return any(d.open for d in now) and not any(d.verdict == "fail" for d in now)

    while done < rule.max_seeds and undecided():
        nxt = min(rule.max_seeds, done + block)
        out.append(run_block(list(range(first + done, first + nxt))))
        done = nxt
    return out
