"""The tables of docs/claims.md "Decisions of rate: error rates and detection limits", measured
on the independently written methods of tests/independent_methods.py (written from the paper
alone, without the reference classes):

1. false alarms: each correct variant (and each provably harmless mutant) over 64 seeds per
   (problem, regime); per rule the per-seed exceedance rate p̂, its 95% upper confidence bound,
   and the SPRT's exact P(fail) at both (``proofs_check.decide``); the claim's bound is the sum
   over its deciding rules;
2. kill rates: every mutant through ``verify(method, claims=["rate"], batch_size=[None, 8])``
   at the default budget, with the regimes that kill it;
3. detection limits: the theorem dynamics with a payoff bias b·V* on task 0 (V* the exact
   min–max value) over 32 seeds; the stall floor it causes (its full-batch gap at T = 20000, as
   a fraction of V*), and the smallest bias whose P(fail) is >= 95% per regime;
4. the same at batch 8 over T = 20000, to see what horizon a smaller floor needs.

    python tools/verdict_power.py            # about 40 minutes on 2 cores
    python tools/verdict_power.py --part 1   # one part
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import reference as R  # noqa: E402
from proofs_check import pool, verify  # noqa: E402
from proofs_check.claims import rate, theory  # noqa: E402
from proofs_check.claims.instances import inactive_task_problem  # noqa: E402
from proofs_check.config import SuiteConfig  # noqa: E402
from proofs_check.decide import SequentialRule  # noqa: E402
from proofs_check.verify import on_simplex  # noqa: E402
from tests import independent_methods as M  # noqa: E402

SEEDS = 64
BIAS_SEEDS = 32
BIASES = (0.0025, 0.005, 0.01, 0.02, 0.05, 0.1)
REGIMES = (None, 8)
RULE = SuiteConfig().rule()


def problems() -> list[tuple[str, R.MultiTaskProblem]]:
    cfg = SuiteConfig()
    return [*((n, sp.build(0)) for n, sp in cfg.named_problems()),
            ("inactive task", inactive_task_problem(0))]


def theorem() -> R.WeightingMethod:
    return R.ExcessMTL("exact", "paper", scale_processing=False)


def regime_name(b: int | None) -> str:
    return "full" if b is None else f"b={b}"


def per_rule(method: R.WeightingMethod, problem: R.MultiTaskProblem, b: int | None,
             seeds: list[int], steps: int = 2000) -> dict[str, np.ndarray]:
    """Per seed, whether each deciding rule of verify's rate claim exceeds its threshold."""
    setup = theory.game_setup(problem)
    runs = rate.decided_runs("x", problem, on_simplex(method), setup, steps, seeds,
                             SequentialRule(max_seeds=len(seeds)), batch_size=b,
                             paired=theorem(), extend=False, one_over_t_decides=False)
    ok = np.isfinite(runs.gaps).all(axis=1)
    out = {"growth": ~(np.where(ok, runs.growth, np.nan) <= rate.GROWTH_STOCHASTIC)}
    if runs.paired_growth is not None:
        out["paired"] = ~(np.where(ok, runs.paired_growth, np.nan) <= rate.PAIRED_GROWTH)
    return out


def upper95(k: int, n: int) -> float:
    """The one-sided 95% Clopper–Pearson upper bound of a binomial proportion."""
    return 1.0 if k == n else float(stats.beta.ppf(0.95, k + 1, n - k))


def fa_job(cls: type) -> list[str]:
    rows = []
    worst_claim = 0.0
    worst_upper = 0.0
    for pname, problem in problems():
        for b in REGIMES:
            for rule_name, x in per_rule(cls(), problem, b, list(range(SEEDS))).items():
                k = int(x.sum())
                p_hat, p_up = k / SEEDS, upper95(k, SEEDS)
                fa = RULE.operating_characteristic(p_hat).fail
                fa_up = RULE.operating_characteristic(p_up).fail
                worst_claim += fa
                worst_upper += fa_up
                if k:
                    rows.append(f"| {cls.label} | {pname} {regime_name(b)} | {rule_name} | "
                                f"{k}/{SEEDS} | {p_up:.3f} | {fa:.1e} | {fa_up:.1e} |")
    rows.append(f"| {cls.label} | **claim** (sum over its {len(problems()) * 3} deciding rules) "
                f"| all | | | {worst_claim:.1e} | {worst_upper:.1e} |")
    return rows


def part1() -> None:
    print("Part 1: false alarms over 64 seeds (T = 2000; rows with p̂ = 0 left out; p̂ = 0 gives "
          f"an upper bound of {upper95(0, SEEDS):.3f} and P(fail) "
          f"{RULE.operating_characteristic(upper95(0, SEEDS)).fail:.1e})\n")
    print("| variant | problem, regime | rule | exceeding seeds | 95% upper bound of p | "
          "P(fail) at p̂ | P(fail) at the bound |")
    print("|---|---|---|---|---|---|---|")
    classes = M.CORRECT + M.HARMLESS
    workers = pool.worker_count(None, len(classes))
    for rows in pool.run_jobs(fa_job, [(c,) for c in classes], workers=workers):
        print("\n".join(rows))


def kill_job(cls: type) -> str:
    try:
        res = verify(cls(), claims=["rate"], batch_size=[None, 8], workers=1).claim("rate")
    except ValueError as exc:            # a method that is not a method: an input error
        return f"| {cls.label} | input error | {str(exc)[:80]} | | |"
    killed = sorted({c.name.split(":")[0] for c in res.deciding if c.failed})
    full = any("full batch" in k for k in killed)
    mini = any("batch 8" in k for k in killed)
    both = "both" if full and mini else "full batch" if full else "batch 8" if mini else "—"
    open_ = sorted({c.name.split(":")[0] for c in res.deciding
                    if c.verdict == "inconclusive"})
    return (f"| {cls.label} | {res.verdict.upper()} | {both} | {', '.join(killed) or '—'} | "
            f"{', '.join(open_) or '—'} |")


def part2() -> None:
    print("\nPart 2: mutants through verify(method, claims=['rate'], batch_size=[None, 8]) at "
          "the default budget (8 seeds to start, up to 32)\n")
    print("| mutant | verdict | regimes that kill it | killed in | inconclusive in |")
    print("|---|---|---|---|---|")
    classes = M.MUTANTS + M.HARMLESS
    workers = pool.worker_count(None, len(classes))
    for row in pool.run_jobs(kill_job, [(c,) for c in classes], workers=workers):
        print(row)


class BiasedTheorem:
    """The theorem dynamics with the payoff of task 0 raised by ``bias`` (absolute)."""

    needs = frozenset({"excess"})
    step_size = 1.0

    def __init__(self, bias: float) -> None:
        self.bias = bias
        self.label = f"payoff bias {bias:.3g}"

    def init_state(self, n_tasks: int, dim: int) -> np.ndarray:
        return np.full(n_tasks, 1.0 / n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        u = np.array(excess, dtype=float)
        u[0] += self.bias
        w = state * np.exp(u - u.max())
        w = w / w.sum()
        return w, w


def bias_job(pname: str, frac: float) -> str:
    problem = dict(problems())[pname]
    V = R.minmax_solution(problem).value
    method = BiasedTheorem(frac * V)
    setup = theory.game_setup(problem)
    floor = rate.run_seeds("x", problem, on_simplex(method), setup, 20000, [0])
    cells = [f"{floor.gaps[0, -1] / V:.2%}"]
    for b in REGIMES:
        x = per_rule(method, problem, b, list(range(BIAS_SEEDS)))
        for name in ("growth", "paired"):
            if name in x:
                p = float(x[name].mean())
                cells.append(f"{p:.2f} ({RULE.operating_characteristic(p).fail:.2f})")
            elif b is not None:
                cells.append("—")
    return f"| {pname} | {frac:.2%} | " + " | ".join(cells) + " |"


def part3() -> None:
    print("\nPart 3: detection limits. The theorem dynamics with task 0's payoff raised by b·V*; "
          f"per rule the per-seed exceedance rate over {BIAS_SEEDS} seeds and (in brackets) "
          "the SPRT's P(fail) at that rate\n")
    print("| problem | b (of V*) | stall floor: full-batch gap at T = 20000 / V* | full: growth "
          "| b=8: growth | b=8: paired |")
    print("|---|---|---|---|---|---|")
    items = [(pname, frac) for pname, _ in problems() for frac in BIASES]
    for row in pool.run_jobs(bias_job, items, workers=pool.worker_count(None, len(items))):
        print(row)


LONG = 20000
LONG_BIASES = (0.02, 0.05)


def long_job(pname: str, frac: float) -> str:
    problem = dict(problems())[pname]
    method = BiasedTheorem(frac * R.minmax_solution(problem).value)
    x = per_rule(method, problem, 8, list(range(BIAS_SEEDS)), steps=LONG)
    cells = []
    for name in ("growth", "paired"):
        p = float(x[name].mean())
        cells.append(f"{p:.2f} ({RULE.operating_characteristic(p).fail:.2f})")
    return f"| {pname} | {frac:.2%} | " + " | ".join(cells) + " |"


def part4() -> None:
    print(f"\nPart 4: the same at batch 8 over a longer horizon, T = {LONG} ({BIAS_SEEDS} seeds)\n")
    print("| problem | b (of V*) | b=8: growth | b=8: paired |")
    print("|---|---|---|---|")
    items = [(pname, frac) for pname in ("linear", "logistic") for frac in LONG_BIASES]
    for row in pool.run_jobs(long_job, items, workers=pool.worker_count(None, len(items))):
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", type=int, choices=(1, 2, 3, 4), default=None)
    args = ap.parse_args()
    rule = RULE
    print(f"SPRT: p0 = {rule.p0}, p1 = {rule.p1}, α = {rule.alpha}, β = {rule.beta}, budget "
          f"{rule.max_seeds} seeds: false alarm at p0 {rule.false_alarm:.2e}, miss at p1 "
          f"{rule.miss:.2e}, detection p (95%) {rule.detection_limit():.3f}; pass after "
          f"{rule.seeds_to_pass} clean seeds, fail after {rule.seeds_to_fail} exceedances\n")
    for k, part in ((1, part1), (2, part2), (3, part3), (4, part4)):
        if args.part in (None, k):
            part()


if __name__ == "__main__":
    main()
