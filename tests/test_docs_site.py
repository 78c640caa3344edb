"""The docs site (docs/conf.py): the claim pages are generated from docs/report.json, every page
is in a toctree, and (with the ``docs`` extra, ``-m slow``) the site builds with warnings as
errors."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proofs_check.claims import CLAIMS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _claim_pages():
    spec = importlib.util.spec_from_file_location("claim_pages", ROOT / "tools" / "claim_pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_claim_pages_are_what_tools_claim_pages_generates():
    tool = _claim_pages()
    report = json.loads((DOCS / "report.json").read_text(encoding="utf-8"))
    pages = tool.generate(report)
    assert set(pages) == {f"{cid}.md" for cid in CLAIMS} | {"index.md"}
    assert {p.name for p in (DOCS / "claims").glob("*.md")} == set(pages)
    for name, text in pages.items():
        assert (DOCS / "claims" / name).read_text(encoding="utf-8") == text, \
            f"docs/claims/{name} disagrees with docs/report.json: run python tools/claim_pages.py"
    for c in report["claims"]:                     # the verdict on each page is the report's
        page = pages[f"{c['id']}.md"]
        assert ("Latest verdict: **pass**" in page) == (c["verdict"] == "pass"), c["id"]


def test_every_claim_figure_on_the_pages_is_committed_and_none_is_orphaned():
    referenced = set()
    for page in (DOCS / "claims").glob("*.md"):
        referenced |= set(re.findall(r"\.\./figures/claims/([\w.-]+\.png)",
                                     page.read_text(encoding="utf-8")))
    committed = {p.name for p in (DOCS / "figures" / "claims").glob("*.png")}
    report = json.loads((DOCS / "report.json").read_text(encoding="utf-8"))
    assert referenced == committed == {Path(f).name for f in report["figures"]
                                       if f.endswith(".png")}


def test_every_page_is_in_a_toctree():
    """Sphinx -W fails on a page no toctree lists: a new docs/*.md must be added to index.md."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set()
    for block in re.findall(r"```\{toctree\}\n(.*?)```", index, re.S):
        listed |= {ln.strip() for ln in block.splitlines()
                   if ln.strip() and not ln.startswith(":")}
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert pages <= listed, f"not in docs/index.md's toctree: {sorted(pages - listed)}"
    assert {"claims/index", "reference/index"} <= listed
    reference = (DOCS / "reference" / "index.rst").read_text(encoding="utf-8")
    for p in (DOCS / "reference").glob("*.rst"):
        assert p.stem == "index" or f"   {p.stem}\n" in reference, p.name


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
@pytest.mark.skipif(not (_has("sphinx") and _has("myst_parser")),
                    reason="the docs extra is not installed (pip install -e '.[docs]')")
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    out = tmp_path / "html"
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                          "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-4000:]
    for page in ("index.html", "reference/verify.html", "claims/rate.html"):
        assert (out / page).is_file(), page
    verify = (out / "reference" / "verify.html").read_text(encoding="utf-8")
    assert 'id="proofs_check.verify"' in verify               # autodoc found the function
    assert (out / "_images" / "rate_gap_vs_T.png").is_file()
    shutil.rmtree(out)
