"""Regenerate the verdict tables of docs/claims.md from a suite run.

    python -m proofs_check --out results          # the default suite (about 55 s on 2 cores)
    python tools/claims_doc.py results/report.json

copies the report to docs/report.json and rewrites the block of docs/claims.md between its
GENERATED markers from it; tests/test_claims_doc.py fails if the two disagree.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check.report.markdown import update_doc  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/claims_doc.py REPORT.json")
    src = Path(sys.argv[1])
    target = ROOT / "docs" / "report.json"
    if src.resolve() != target.resolve():
        shutil.copyfile(src, target)
    print(update_doc(ROOT / "docs" / "claims.md", target))


if __name__ == "__main__":
    main()
