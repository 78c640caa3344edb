"""Regenerate the tight-instance tables of docs/claims.md ("The tight instance"):

    python tools/tight_instance_table.py > /tmp/tight_tables.md

(about 2 minutes on 2 cores). Full batch, T = 2000, the bound rules of docs/theory.md §3c:

1. tightness of the bound (median over 8 run seeds of max_T gap_T / data-dependent bound) of the
   theorem dynamics on problem seeds 0–7;
2. each correct variant of tests/mutants.py over 32 run seeds: the fraction of seeds whose gap
   exceeds either bound at some T (the every-seed rule's false alarm is 1 − (1 − p̂)^8), and the
   largest ratio;
3. each mutant (8 run seeds): max over seeds and T of gap / data-dependent bound, killed if > 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reference as R  # noqa: E402
from proofs_check.claims import rate, theory  # noqa: E402
from proofs_check.claims.instances import tight_bound_problem  # noqa: E402
from proofs_check.verify import describe, on_simplex  # noqa: E402
from tests.mutants import CORRECT, MORE_MUTANTS, MUTANTS, PROVABLE_SURVIVORS  # noqa: E402

STEPS = 2000


def ratios(method: object, problem: R.AbsoluteLossProblem, seeds: list[int]
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Per seed: max_T gap/data bound, max_T gap/a-priori bound; and the tightness."""
    runs = rate.run_seeds(rate.TIGHT, problem, method, theory.game_setup(problem), STEPS, seeds,
                          rule="bounds")
    return (np.nanmax(runs.gaps / runs.data_bound, axis=1),
            np.nanmax(runs.gaps / runs.apriori, axis=1), runs.tightness)


def main() -> None:
    theorem = R.ExcessMTL("exact", "paper", scale_processing=False)
    print(f"Tightness of the bound for the theorem dynamics (T = {STEPS}, 8 run seeds): median "
          "over seeds of max_T gap_T / data-dependent bound\n")
    print("| problem seed | " + " | ".join(str(s) for s in range(8)) + " |")
    print("|---|" + "---|" * 8)
    tight = [ratios(theorem, tight_bound_problem(s), list(range(8)))[2] for s in range(8)]
    print("| tightness | " + " | ".join(f"{t:.3f}" for t in tight) + " |")
    problem = tight_bound_problem(0)
    print("\nCorrect variants over 32 run seeds (problem seed 0): the fraction p̂ of seeds with "
          "gap > a bound at some T, and the implied false alarm of the every-seed rule over 8\n")
    print("| variant | max gap/data bound | max gap/a-priori bound | p̂ | implied false alarm |")
    print("|---|---|---|---|---|")
    for cls in CORRECT:
        data, apriori, _ = ratios(on_simplex(cls()), problem, list(range(100, 132)))
        p = float(np.mean((data > 1) | (apriori > 1)))
        print(f"| {cls.label} | {data.max():.3f} | {apriori.max():.3f} | {p:.2f} | "
              f"{1 - (1 - p) ** 8:.2g} |")
    print("\nMutants (8 run seeds, problem seed 0): max over seeds and T of gap / bound\n")
    print("| mutant | max gap/data bound | max gap/a-priori bound | killed here |")
    print("|---|---|---|---|")
    for cls in MUTANTS + MORE_MUTANTS + PROVABLE_SURVIVORS:
        data, apriori, _ = ratios(on_simplex(cls()), problem, list(range(8)))
        killed = "yes" if max(data.max(), apriori.max()) > 1 else "no"
        print(f"| {describe(cls())} | {data.max():.3f} | {apriori.max():.3f} | {killed} |")


if __name__ == "__main__":
    main()
