"""False alarms of pareto-optimal, pareto-stationary and robustness on the correct variants of
tests/mutants.py, over 32 seeds: the per-seed failure rate p̂ of each sub-check, and the rate at
which the claim's own rule would then fail a correct method (every-seed rule over 8 seeds:
1 − (1 − p̂)^8; median-of-8 rule: P(Binomial(8, p̂) ≥ 5); robustness's SPRT over the sweep's 8
seeds: its exact P(fail) at p̂, docs/theory.md §8). About 7 minutes on 2 cores.

    python tools/false_alarm_table.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check import verify  # noqa: E402
from proofs_check.claims import robustness  # noqa: E402
from proofs_check.claims.rate import median_rule_false_alarm  # noqa: E402
from proofs_check.decide import SequentialRule  # noqa: E402
from tests.mutants import CORRECT  # noqa: E402

SEEDS = 32
CLAIMS = ("pareto-optimal", "pareto-stationary", "robustness")


def per_seed_failure(note: str) -> float | None:
    """p̂ from a sub-check's note: "k/32 seeds pass" (every-seed rule) or "x% of 32 seeds pass"
    (median rule)."""
    if m := re.search(r"(\d+)/(\d+) seeds pass", note):
        return 1 - int(m.group(1)) / int(m.group(2))
    if m := re.search(r"(\d+)% of (\d+) seeds pass", note):
        return 1 - int(m.group(1)) / 100
    return None


def main() -> None:
    print("| correct variant | claim | sub-check | p̂ (32 seeds) | rule over 8 seeds | implied "
          "false-alarm rate |")
    print("|---|---|---|---|---|---|")
    for cls in CORRECT:
        for claim in CLAIMS:
            result = verify(cls(), claims=[claim], seeds=SEEDS).claim(claim)
            if claim == "robustness":
                robustness_rows(cls, result)
                continue
            for check in result.checks:
                p = per_seed_failure(check.note or "")
                if p is None:
                    continue
                median = "median" in check.name
                rate = median_rule_false_alarm(p, 8) if median else 1 - (1 - p) ** 8
                name = re.sub(r" \((worst|median) of \d+ seeds.*\)", "", check.name)
                print(f"| {cls.label} | {claim} | {name} | {p:.2f} | "
                      f"{'median' if median else 'every seed'} | {rate:.2g} |", flush=True)


def robustness_rows(cls: type, result) -> None:
    """Per-seed exceedances of the two tolerances, read back from the sweep's arrays."""
    rule = SequentialRule(max_seeds=8)
    for key in [k for k in result.arrays if k.endswith("|weights_all")]:
        pname, label, _ = key.split("|")
        arrays = {"weights_all": result.arrays[key],
                  "excess_all": result.arrays[f"{pname}|{label}|excess_all"],
                  "noisy": result.arrays[f"{pname}|noisy"]}
        drift, harm = robustness.per_seed(arrays)
        for name, x, tol in (("noisy-task weight drift", drift, robustness.DRIFT_TOL),
                             ("clean-task excess ratio", harm, robustness.HARM_TOL)):
            p = float((~(x <= tol)).mean())
            fa = rule.operating_characteristic(p).fail
            print(f"| {cls.label} | robustness | {pname} {label}: {name} | {p:.2f} | SPRT over "
                  f"8 seeds | {fa:.2g} |", flush=True)


if __name__ == "__main__":
    main()
