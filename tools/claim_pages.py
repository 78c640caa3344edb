"""Generate the docs site's claim pages (docs/claims/<claim-id>.md and docs/claims/index.md) from
docs/report.json, so that no verdict on them is ever typed by hand.

    python -m proofs_check --out results                  # the default suite
    python tools/claims_doc.py results/report.json        # docs/report.json and docs/claims.md
    python tools/claim_pages.py --figures results         # the pages, and the run's figures

``--figures DIR`` copies the PNG figures of the result folder DIR (it must be the run that
docs/report.json is a copy of) into docs/figures/claims/; without it the committed figures are
used. ``--check`` writes nothing and exits 1 if a committed page differs from what this script
generates (tests/test_docs_site.py checks the same).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check.claims import CLAIMS  # noqa: E402
from proofs_check.report import atomic  # noqa: E402
from proofs_check.report.html import figures_by_claim, format_number, format_wanted  # noqa: E402

DOCS = ROOT / "docs"
REPORT = DOCS / "report.json"
PAGES = DOCS / "claims"
FIGURES = DOCS / "figures" / "claims"
MARK = ("<!-- GENERATED from docs/report.json by `python tools/claim_pages.py`; do not edit "
        "(tests/test_docs_site.py checks it) -->")
REGENERATE = ("python -m proofs_check --out results\n"
              "python tools/claims_doc.py results/report.json\n"
              "python tools/claim_pages.py --figures results")

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&$~{}!])")


def md(text: object) -> str:
    """Plain text as Markdown that renders as that text (CommonMark's backslash escapes)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str("" if text is None else text).split()))


def code(text: object) -> str:
    t = str(text)
    fence = "``" if "`" in t else "`"
    return f"{fence}{t}{fence}" if fence == "`" else f"{fence} {t} {fence}"


def who(claim: dict) -> str:
    return claim["id"] + (f" [{claim['method']}]" if claim.get("method") else "")


def headline(claim: dict) -> dict:
    return next((k for k in claim["checks"] if k["name"] in claim.get("failed_checks", [])),
                claim["checks"][0])


def verdict(v: str) -> str:
    return "**pass**" if v == "pass" else "**fail (a finding)**"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]


def cell(v: object) -> str:
    if isinstance(v, bool) or v is None:
        return md(v)
    if isinstance(v, (int, float)):
        return md(format_number(v))
    if isinstance(v, (list, dict)):
        return md(json.dumps(v, ensure_ascii=False))
    return md(v)


def rows_table(rows: list[dict]) -> list[str]:
    """A scope's rows as a table; a column with one value in every row is said once above it
    (so the table fits the page)."""
    if not rows:
        return []
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    same = [c for c in cols if len(rows) > 1 and all(c in r and r[c] == rows[0][c]
                                                     for r in rows)]
    out = []
    if same:
        out += ["In every row: " + ", ".join(f"{md(c)} {cell(rows[0][c])}" for c in same) + ".",
                ""]
    cols = [c for c in cols if c not in same]
    return out + table([md(c) for c in cols], [[cell(r.get(c, "")) for c in cols]
                                               for r in rows]) + [""]


def run_line(report: dict) -> str:
    cfg, v = report["config"], report["versions"]
    kind = "quick suite" if cfg.get("quick") else "default suite"
    return (f"From `docs/report.json`: the {kind}, seed {report['seed']}, {cfg.get('seeds')} "
            f"seeds, backend {report['backend']}, created {report['created'][:10]}, "
            f"{report['elapsed_s']} s of checks; NumPy {v.get('numpy')}, SciPy {v.get('scipy')}.")


def claim_section(claim: dict, figs: list[str], level: str) -> list[str]:
    checks = claim["checks"]
    ok = sum(k["verdict"] == "pass" for k in checks)
    h = headline(claim)
    out = [f"{level} Latest verdict: {verdict(claim['verdict'])}", "",
           f"{ok} of {len(checks)} sub-checks pass. Headline sub-check"
           f"{' (the first that fails)' if claim['verdict'] != 'pass' else ''}: "
           f"{md(h['name'])}: measured {md(format_number(h['measured']))}, wanted "
           f"{md(format_wanted(h))}.", ""]
    if figs:
        out += [f"{level} {'Figure' if len(figs) == 1 else 'Figures'}", ""]
        for f in figs:
            name = f.rsplit("/", 1)[-1]
            out += [f"```{{figure}} ../figures/claims/{name}", f":alt: {name}", ":width: 100%",
                    "", f"`{name}`, drawn by the suite from the run above.", "```", ""]
        out += ["They are regenerated, with this page, by", "", "```bash", REGENERATE, "```", ""]
    out += [f"{level} Sub-checks", ""]
    out += table(["sub-check", "measured", "wanted", "verdict", "per-seed statistics / note"],
                 [[md(k["name"]), md(format_number(k["measured"])), md(format_wanted(k)),
                   k["verdict"], md(k.get("note") or "")] for k in checks])
    scopes = claim.get("scope") or []
    if scopes:
        out += ["", f"{level} Where the findings hold (generated from the runs)", ""]
        for sc in scopes:
            out += [f"**{md(sc.get('finding', ''))}.** {md(sc.get('observed', ''))}".rstrip(), ""]
            if sc.get("vanishes"):
                out += [md(sc["vanishes"]), ""]
            out += rows_table(sc.get("rows") or [])
    return out


def claim_page(cid: str, report: dict, present: set[str]) -> str:
    """The page of one claim id: every entry of it in the report (one per method)."""
    claims = report["claims"]
    by_claim, _ = figures_by_claim(claims, [f for f in report.get("figures", [])
                                            if f.endswith(".png")])
    mine = [(i, c) for i, c in enumerate(claims) if c["id"] == cid]
    module = CLAIMS[cid]
    first = mine[0][1] if mine else {}
    out = [MARK, "", f"# Claim `{cid}`", "",
           f"**Statement.** {md(first.get('statement', module.STATEMENT))}", "",
           f"- Source: {md(first.get('source', module.SOURCE))}",
           f"- Convention: {md(first.get('convention', module.CONVENTION))}",
           "- How it is checked, and every claim's table: [Claims → checks → figures]"
           "(../claims.md); the bounds: [Theory](../theory.md)", "",
           run_line(report), ""]
    if not mine:
        out += ["This claim was not part of that run.", ""]
    for i, c in mine:
        figs = by_claim.get(i, [])
        missing = [f for f in figs if f.rsplit("/", 1)[-1] not in present]
        if missing:
            raise SystemExit(f"docs/figures/claims/ lacks {missing}: pass --figures with the "
                             "result folder of the run in docs/report.json")
        level = "##"
        if len(mine) > 1:
            out += [f"## {code(who(c))}", ""]
            level = "###"
        out += claim_section(c, figs, level)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def index_page(report: dict) -> str:
    rows = []
    for cid in CLAIMS:
        mine = [c for c in report["claims"] if c["id"] == cid]
        v = ", ".join(("pass" if c["verdict"] == "pass" else "fail (finding)")
                      + (f" [{md(c['method'])}]" if c.get("method") else "") for c in mine)
        rows.append([f"[`{cid}`]({cid}.md)", v or "not run", md(CLAIMS[cid].STATEMENT)])
    s = report["summary"]
    out = [MARK, "", "# The claims, one page each", "",
           f"{s['passed']} of {s['claims']} claims pass every sub-check in the latest run; a "
           "failed claim is a finding, with the numbers behind it on its page.", "",
           run_line(report), "", *table(["claim", "latest verdict", "statement"], rows), "",
           "```{toctree}", ":hidden:", "", *CLAIMS, "```", ""]
    return "\n".join(out)


def generate(report: dict, present: set[str] | None = None) -> dict[str, str]:
    """File name under docs/claims/ → its text."""
    if present is None:
        present = {p.name for p in FIGURES.glob("*.png")}
    pages = {f"{cid}.md": claim_page(cid, report, present) for cid in CLAIMS}
    pages["index.md"] = index_page(report)
    return pages


def copy_figures(result: Path, report: dict) -> list[Path]:
    """The run's PNG figures into docs/figures/claims/ (the run must be docs/report.json's)."""
    theirs = json.loads((result / "report.json").read_text(encoding="utf-8"))
    if theirs.get("created") != report.get("created") or theirs["claims"] != report["claims"]:
        raise SystemExit(f"{result / 'report.json'} is not the run in docs/report.json: copy it "
                         "first (python tools/claims_doc.py RESULT/report.json)")
    out = []
    for rel in report.get("figures", []):
        if rel.endswith(".png"):
            target = FIGURES / Path(rel).name
            atomic.write_bytes(target, (result / rel).read_bytes())
            out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--figures", type=Path, metavar="RESULT_DIR",
                   help="copy the PNG figures of this result folder into docs/figures/claims/")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a committed page is not what is generated")
    args = p.parse_args(argv)
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    if args.figures is not None and not args.check:
        for f in copy_figures(args.figures, report):
            print(f.relative_to(ROOT))
    pages = generate(report)
    stale = [n for n, text in pages.items()
             if not (PAGES / n).is_file() or (PAGES / n).read_text(encoding="utf-8") != text]
    if args.check:
        for n in stale:
            print(f"docs/claims/{n} differs from what tools/claim_pages.py generates")
        return 1 if stale else 0
    for n in stale:
        atomic.write_bytes(PAGES / n, pages[n].encode("utf-8"))
        print(f"docs/claims/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
