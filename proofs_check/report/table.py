"""The terminal table of claims: claim, verdict, measured, bound, and what failed."""

from __future__ import annotations

import textwrap

from .result import ClaimResult


def _fmt(x: float) -> str:
    x = float(x)
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.3e}"


def _want(c) -> str:
    if c.decision is not None:
        return f"SPRT: exceeding seeds <= {_fmt(c.bound)} (p0)"
    return {"upper": f"<= {_fmt(c.bound)}", "lower": f">= {_fmt(c.bound)}",
            "tight": f"{_fmt(c.bound)} ± {c.rtol:.0%}"}[c.kind]


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
        who = r.id + (f" [{r.method}]" if r.method else "")
        for verdict, heading in (("fail", "failed (findings, not crashes)"),
                                 ("inconclusive", "inconclusive (the seed budget did not "
                                                  "decide)")):
            listed = [c for c in r.deciding if c.verdict == verdict]
            if not listed:
                continue
            lines.append(f"\n{who}: {len(listed)} of {len(r.checks)} sub-checks {heading}:")
            for c in listed:
                lines.append(f"  - {c.name}: {_fmt(c.measured)} (want {_want(c)})"
                             + (f"  [{c.note}]" if c.note else ""))
        if r.false_alarm > 0:
            lines.append(f"{who}: the claim's verdict fails a correct method with probability "
                         f"<= {r.false_alarm:.2g} (sum of its sequential tests' false-alarm "
                         "rates; docs/theory.md §8)")
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
    open_ = sum(r.verdict == "inconclusive" for r in results)
    lines.append(f"\n{passed} of {len(results)} claims passed every sub-check"
                 + (f"; {open_} inconclusive." if open_ else "."))
    return "\n".join(lines)
