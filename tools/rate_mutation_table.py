"""Regenerate the 'rate' discrimination tables of docs/claims.md:

    python tools/rate_mutation_table.py > /tmp/rate_tables.md

(about 6 minutes on 2 cores). For each correct variant of tests/mutants.py: per regime, the
fraction p̂ of 32 seeds whose growth statistic exceeds the paper's O(1/√T) threshold 10^{1/4},
and the SPRT's exact P(fail) at that p̂ (docs/theory.md §8). For each mutant: the verdict of
verify() with 8 seeds to start, and the regimes that kill it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proofs_check import verify  # noqa: E402
from proofs_check.claims import theory  # noqa: E402
from proofs_check.claims import rate  # noqa: E402
from proofs_check.config import SuiteConfig  # noqa: E402
from proofs_check.verify import describe, on_simplex  # noqa: E402
from tests.mutants import CORRECT, MUTANTS  # noqa: E402

REGIMES = [None, 8, 64]
RULE = SuiteConfig().rule()


def main() -> None:
    config = SuiteConfig()
    problems = {"linear": config.linear(), "logistic": config.logistic()}
    print(f"Correct variants: per-seed exceedance p̂ over 32 seeds (T = {config.rate_steps}) and "
          "the SPRT's P(fail) at the worst p̂\n")
    print("| variant | " + " | ".join(f"{p} {'full' if b is None else f'b={b}'}"
                                     for p in problems for b in REGIMES) + " | P(fail) |")
    print("|---|" + "---|" * (len(problems) * len(REGIMES) + 1))
    for cls in CORRECT:
        cells, worst = [], 0.0
        for name, problem in problems.items():
            setup = theory.game_setup(problem)
            for b in REGIMES:
                runs = rate.run_seeds(name, problem, on_simplex(cls()), setup, config.rate_steps,
                                      list(range(100, 132)), batch_size=b)
                p = float(np.mean(~(runs.growth <= rate.GROWTH_STOCHASTIC)))
                worst = max(worst, RULE.operating_characteristic(p).fail)
                cells.append(f"{p:.2f}")
        print(f"| {cls.label} | " + " | ".join(cells) + f" | {worst:.1e} |")
    print(f"\nMutants: verdict of verify(mutant, seeds=8, batch_size={REGIMES}) and the regimes "
          "whose growth check kills it\n")
    print("| mutant | verdict | killed in |")
    print("|---|---|---|")
    for cls in MUTANTS:
        claim = verify(cls(), seeds=8, batch_size=REGIMES).claim("rate")
        killed = sorted({c.name.split(":")[0] for c in claim.checks
                         if c.failed and "growth" in c.name})
        print(f"| {describe(cls())} | {claim.verdict.upper()} | {', '.join(killed) or '—'} |")


if __name__ == "__main__":
    main()
