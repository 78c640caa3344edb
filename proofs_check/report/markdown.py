"""The verdict tables of ``docs/claims.md``, rendered from a ``report.json`` so that the numbers
in the docs are the numbers of a run, never copied by hand.

``update_doc(doc, report)`` replaces the block between the two markers below (and only it);
``tools/claims_doc.py`` is the command, ``tests/test_claims_doc.py`` fails if the block and the
committed report disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import SupportsFloat

from . import atomic

BEGIN = "<!-- BEGIN GENERATED from docs/report.json by `python tools/claims_doc.py`; do not edit -->"
END = "<!-- END GENERATED -->"


def _num(x: SupportsFloat | str | None) -> str:
    if x is None:
        return "—"
    f = float(x)
    return f"{f:.4g}" if f == 0 or 1e-3 <= abs(f) < 1e4 else f"{f:.3e}"


def _want(check: dict) -> str:
    b = _num(check["bound"])
    if check.get("decision"):
        return f"SPRT: exceeding seeds ≤ {b} (p0)"
    return {"upper": f"≤ {b}", "lower": f"≥ {b}",
            "tight": f"{b} ± {check.get('rtol', 0):.0%}"}[check["kind"]]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(report: dict) -> str:
    """The summary table and one sub-check table per claim."""
    cfg = report["config"]
    lines = [f"Run: {report['suite']}, seed {report['seed']}, {cfg['seeds']} seeds, "
             f"backend {report['backend']}, created {report['created'][:10]}, "
             f"{report['elapsed_s']} s of checks; NumPy {report['versions'].get('numpy')}, "
             f"SciPy {report['versions'].get('scipy')}. "
             f"**{report['summary']['passed']} of {report['summary']['claims']} claims pass.**",
             "", "| claim | verdict | sub-checks passed | headline check | measured | wanted |",
             "|---|---|---|---|---|---|"]
    for c in report["claims"]:
        heads = [*c["failed_checks"], *c.get("inconclusive_checks", [])]
        head = next((k for h in heads for k in c["checks"] if k["name"] == h),
                    c["checks"][0])                       # the claim's own headline first
        ok = sum(k["verdict"] == "pass" for k in c["checks"])
        who = c["id"] + (f" [{c['method']}]" if c.get("method") else "")
        verdict = {"pass": "**pass**", "fail": "**fail (finding)**"}.get(
            c["verdict"], "**inconclusive**")
        lines.append(f"| `{who}` | {verdict} | {ok} of {len(c['checks'])} | {_cell(head['name'])} "
                     f"| {_num(head['measured'])} | {_want(head)} |")
    for c in report["claims"]:
        who = c["id"] + (f" [{c['method']}]" if c.get("method") else "")
        lines += ["", f"#### `{who}`: {c['verdict']}", "",
                  "| sub-check | measured | wanted | verdict | per-seed statistics / note |",
                  "|---|---|---|---|---|"]
        for k in c["checks"]:
            lines.append(f"| {_cell(k['name'])} | {_num(k['measured'])} | {_want(k)} | "
                         f"{k['verdict']} | {_cell(k.get('note') or '')} |")
        lines += scope_markdown(c.get("scope") or [])
    return "\n".join(lines)


def scope_markdown(scopes: list[dict]) -> list[str]:
    """Where each finding holds: the generated statement and the table it is read from."""
    if not scopes:
        return []
    lines = ["", "Where the findings hold (generated from the runs):", ""]
    for sc in scopes:
        lines.append(f"- **{_cell(sc['finding'])}.** {_cell(sc.get('observed', ''))} "
                     f"{_cell(sc.get('vanishes', ''))}".rstrip())
    rows = [r for sc in scopes for r in sc.get("rows", []) if "theta0" in r]
    generic = [r for sc in scopes for r in sc.get("rows", []) if "condition" in r]
    if generic:
        lines += ["", "| condition | statistic | measured | wanted | verdict |",
                  "|---|---|---|---|---|"]
        for r in generic:
            lines.append(f"| {_cell(r['condition'])} | {_cell(r['statistic'])} | "
                         f"{_num(r['measured'])} | {_num(r['bound'])} | {r['verdict']} |")
    if rows:
        lines += ["", "| family | method | θ₀ | drift | predicted drift | clean-task ratio | "
                      "predicted ratio | seeds | verdict |", "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['family']} | {r['method']} | `{r['theta0']}` | {r['drift']:+.3f} | "
                         f"{r['predicted_drift']:+.3f} | {r['ratio']:.3f} | "
                         f"{r['predicted_ratio']:.3f} | {r['seeds']} | {r['verdict']} |")
    return lines


def generated_block(report: dict) -> str:
    return f"{BEGIN}\n{claims_markdown(report)}\n{END}"


def current_block(doc_text: str) -> str:
    """The generated block of a doc, markers included (ValueError if it has none)."""
    start, stop = doc_text.find(BEGIN), doc_text.find(END)
    if start < 0 or stop < start:
        raise ValueError("the doc has no generated block (its BEGIN/END markers are missing)")
    return doc_text[start:stop + len(END)]


def update_doc(doc: Path, report_path: Path) -> Path:
    """Rewrite ``doc``'s generated block from ``report_path`` (atomically)."""
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    text = Path(doc).read_text(encoding="utf-8")
    new = text.replace(current_block(text), generated_block(report))
    atomic.write_bytes(Path(doc), new.encode("utf-8"))
    return Path(doc)
