"""The "Mutation suite across claims" table of docs/claims.md: each mutant of tests/mutants.py's
MORE_MUTANTS and PROVABLE_SURVIVORS through verify with its named claim and the settings of
tests/test_mutation_suite.py (about 80 s on 2 cores).

    python tools/mutation_suite_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check import verify  # noqa: E402
from tests.mutants import MORE_MUTANTS, PROVABLE_SURVIVORS, LinearSpaceHedge  # noqa: E402
from tests.test_mutation_suite import ROBUSTNESS, settings  # noqa: E402


def main() -> None:
    print("| mutant | named claim | instance | must | verdict | first failed sub-check |")
    print("|---|---|---|---|---|---|")
    for cls in MORE_MUTANTS + PROVABLE_SURVIVORS:
        claim, kw = settings(cls)
        result = verify(cls(), **kw).claim(claim)
        where = "inactive task" if "problem" in kw else "default families"
        must = "pass (provable)" if cls in PROVABLE_SURVIVORS else "fail"
        first = result.failed_checks[0] if result.failed_checks else "—"
        print(f"| {cls.label} | {claim} | {where} | {must} | {result.verdict.upper()} | {first} |")
    ok = verify(LinearSpaceHedge(), **ROBUSTNESS, claims=["robustness"]).claim("robustness")
    print(f"| (correct) {LinearSpaceHedge.label} | robustness | default families | pass | "
          f"{ok.verdict.upper()} | {ok.failed_checks[0] if ok.failed_checks else '—'} |")


if __name__ == "__main__":
    main()
