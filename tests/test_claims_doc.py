"""docs/claims.md's verdict tables are the numbers of docs/report.json, a run of the default
suite: regenerate both with `python -m proofs_check --out results` and
`python tools/claims_doc.py results/report.json`."""

import json
from pathlib import Path

from proofs_check.claims import CLAIMS
from proofs_check.config import SuiteConfig
from proofs_check.report.markdown import current_block, generated_block

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_generated_tables_are_the_committed_report():
    report = json.loads((DOCS / "report.json").read_text(encoding="utf-8"))
    doc = (DOCS / "claims.md").read_text(encoding="utf-8")
    assert current_block(doc) == generated_block(report), \
        "docs/claims.md disagrees with docs/report.json: run python tools/claims_doc.py"


def test_the_committed_report_is_a_full_run_of_the_default_suite():
    report = json.loads((DOCS / "report.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in report["claims"]] == list(CLAIMS)
    default = SuiteConfig()
    assert report["config"]["quick"] is False and report["seed"] == default.seed
    assert report["config"]["seeds"] == default.seeds
    assert report["config"]["problems"] == [p.to_json() for p in default.problems]
    for claim in report["claims"]:
        assert claim["checks"] and all(c["verdict"] in ("pass", "fail", "inconclusive")
                                       for c in claim["checks"])
        deciding = {c["verdict"] for c in claim["checks"] if c.get("decides", True)}
        assert claim["verdict"] == ("fail" if "fail" in deciding else "inconclusive"
                                    if "inconclusive" in deciding else "pass")
