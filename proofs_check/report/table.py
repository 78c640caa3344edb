"""The terminal table of claims: claim, verdict, measured, bound, and what failed."""

from __future__ import annotations

import textwrap

from .result import ClaimResult


def _fmt(x: float) -> str:
    x = float(x)
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.3e}"


def format_table(results: list[ClaimResult]) -> str:
    rows = [("claim", "verdict", "measured", "bound", "kind", "headline check")]
    for r in results:
        h = r.headline
        rows.append((r.id + (f" [{r.method}]" if r.method else ""), r.verdict.upper(),
                     _fmt(h.measured), _fmt(h.bound), h.kind, h.name))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
        if k == 0:
            lines.append("-" * (sum(widths) + 2 * 5 + len(row[5])))
    for r in results:
        failed = [c for c in r.checks if not c.passed]
        if failed:
            who = r.id + (f" [{r.method}]" if r.method else "")
            lines.append(f"\n{who}: {len(failed)} of {len(r.checks)} sub-checks failed "
                         "(findings, not crashes):")
            for c in failed:
                want = {"upper": f"<= {_fmt(c.bound)}", "lower": f">= {_fmt(c.bound)}",
                        "tight": f"{_fmt(c.bound)} ± {c.rtol:.0%}"}[c.kind]
                lines.append(f"  - {c.name}: {_fmt(c.measured)} (want {want})"
                             + (f"  [{c.note}]" if c.note else ""))
    for r in results:
        if r.scopes:
            who = r.id + (f" [{r.method}]" if r.method else "")
            lines.append(f"\n{who}: where the findings hold (generated from the runs):")
            for sc in r.scopes:
                lines.append(f"  - {sc['finding']}")
                for key in ("observed", "vanishes"):
                    if sc.get(key):
                        lines += textwrap.wrap(sc[key], 100, initial_indent="      ",
                                               subsequent_indent="      ")
    for r in results:
        for note in r.notes:
            who = r.id + (f" [{r.method}]" if r.method else "")
            lines += textwrap.wrap(f"{who}: note: {note}", 100, subsequent_indent="      ")
    passed = sum(r.passed for r in results)
    lines.append(f"\n{passed} of {len(results)} claims passed every sub-check.")
    return "\n".join(lines)
