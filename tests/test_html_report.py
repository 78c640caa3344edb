"""``index.html`` of a result folder: one self-contained page, escaped, written with the rest."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from proofs_check import cli
from proofs_check.report import resultdir
from proofs_check.report.html import render_html

HOSTILE = "<script>alert(1)</script>"
PNG = base64.b64decode(                     # a 1×1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5Erk"
    "Jggg==")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each table (by its class)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    p.close()
    return p


def _hostile_report() -> dict:
    check = {"name": f"sub {HOSTILE}", "measured": 0.1346, "bound": 1e-9, "kind": "upper",
             "rtol": 0.0, "note": f'note "quoted" & <b>{HOSTILE}</b>', "verdict": "fail"}
    ok = {"name": "second check", "measured": "nan", "bound": 2.0, "kind": "tight", "rtol": 0.1,
          "note": "", "verdict": "pass"}
    return {
        "suite": f"suite {HOSTILE}", "created": "2026-01-01T00:00:00+00:00",
        "config": {"quick": True, "seed": 0, "label": HOSTILE, "replicas": None,
                   "problems": [{"family": HOSTILE, "n_tasks": 3}]},
        "seed": 0, "backend": "numpy",
        "versions": {"numpy": "9.9.9", HOSTILE: "https://evil.example/x.js"},
        "elapsed_s": 1.0, "summary": {"claims": 1, "passed": 0, "failed": 1},
        "claims": [{"id": HOSTILE, "method": "<img src=x onerror=alert(2)>",
                    "statement": HOSTILE, "source": "http://evil.example/", "convention": HOSTILE,
                    "measured": 0.1346, "bound": 1e-9, "kind": "upper", "verdict": "fail",
                    "failed_checks": [check["name"]], "checks": [ok, check],
                    "config": {"k": HOSTILE}, "data": "data/x.npz",
                    "scope": [{"finding": f"finding {HOSTILE}", "observed": f"seen {HOSTILE}",
                               "vanishes": f"gone {HOSTILE}",
                               "rows": [{"condition": HOSTILE, "drift": 0.4331,
                                         "verdict": "not robust"}]}]}],
        "figures": ['figures/a"><script>x</script>.png'],
    }


def test_render_html_escapes_hostile_text_and_loads_nothing():
    report = _hostile_report()
    page = render_html(report, {'figures/a"><script>x</script>.png': PNG})
    assert "<script" not in page.lower()
    assert html.escape(HOSTILE) in page                       # shown as text, not markup
    parsed = _parse(page)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)   # no handler injected
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:40]
        if "href" in attrs:                                   # in-page anchors or relative files
            assert attrs["href"].startswith("#") or ":" not in attrs["href"], attrs["href"]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page       # the style sheet fetches nothing
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert len(imgs) == 1 and base64.b64decode(imgs[0]["src"].split(",", 1)[1]) == PNG
    text = "".join(parsed.text)
    # the verdict table: claim, verdict, headline sub-check (the failed one), measured, wanted
    assert f"sub {HOSTILE}" in text and "0.1346" in text and "≤ 1.000e-09" in text
    assert "fail (finding)" in text and "2 ± 10%" in text and "nan" in text
    # the scope entry: finding, observed, vanishes as text, and its rows as a table
    for s in (f"finding {HOSTILE}", f"seen {HOSTILE}", f"gone {HOSTILE}", "0.4331", "not robust"):
        assert s in text, s
    assert "9.9.9" in text and "problems" in text and "n_tasks" in text   # settings, versions


def test_render_html_puts_each_figure_under_its_claim():
    report = {"claims": [
        {"id": "rate", "verdict": "pass", "data": "data/rate.npz", "checks": [
            {"name": "r", "measured": 1, "bound": 2, "kind": "upper", "verdict": "pass"}]},
        {"id": "estimator", "verdict": "pass", "data": "data/estimator.npz", "checks": [
            {"name": "e", "measured": 1, "bound": 2, "kind": "upper", "verdict": "pass"}]}],
        "figures": ["figures/rate_gap_vs_T.png", "figures/estimator_ratio.png",
                    "figures/mystery.png"]}
    page = render_html(report, {p: PNG for p in report["figures"]})
    rate = page.index('id="claim-rate"')
    est = page.index('id="claim-estimator"')
    other = page.index('id="other-figures"')
    assert rate < page.index("figures/rate_gap_vs_T.png") < est
    assert est < page.index("figures/estimator_ratio.png") < other
    assert other < page.index("figures/mystery.png")          # no figure is left out
    assert page.count("<img ") == 3


def test_a_suite_run_writes_index_html_listed_in_its_manifest(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["--quick", "--claims", "proof-steps", "--no-progress", "--out",
                     str(out)]) == 0
    capsys.readouterr()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "index.html" in resultdir.read_manifest(out)
    assert not [p for p in out.iterdir() if p.name.startswith(resultdir.STAGING_PREFIX)]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (claim,) = report["claims"]
    text = "".join(_parse(page).text)
    for c in claim["checks"]:                                 # every sub-check's numbers
        assert c["name"] in text and (not c["note"] or c["note"] in text), c["name"]
    assert report["versions"]["numpy"] in text and "rate_steps" in text
    assert '<table class="verdicts">' in page and "<img " not in page   # proof-steps: no figure


def test_a_users_index_html_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / resultdir.MANIFEST).write_text(json.dumps({"tool": "excessmtl-oracle",
                                                      "files": ["report.json"]}))
    (out / "report.json").write_text("{}")
    (out / "index.html").write_text("mine")                   # present, not in the manifest
    assert cli.main(["--quick", "--claims", "proof-steps", "--out", str(out)]) == 2
    assert "index.html" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "mine"
    (out / "index.html").unlink()
    (tmp_path / "precious").write_text("precious")
    (out / "index.html").symlink_to(tmp_path / "precious")    # never written through a link
    assert cli.main(["--quick", "--claims", "proof-steps", "--out", str(out)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert (tmp_path / "precious").read_text() == "precious"


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """A small ``verify`` report saved twice: with figures and without."""
    import proofs_check as pc
    import reference as R
    problem = R.make_linear_problem(3, 4, 64, noise=[0.1, 0.1, 1.0], seed=0)
    report = pc.verify(R.ExcessMTL("exact", "official"), problem, claims=["rate"], seeds=2,
                       steps=100, quick=True)
    root = tmp_path_factory.mktemp("verified")
    return report.save(root / "figs"), report.save(root / "nofigs", figures=False)


def test_verify_saves_index_html_with_its_figures_inlined(verified):
    figs, nofigs = verified
    saved = json.loads((figs / "report.json").read_text(encoding="utf-8"))
    pngs = [p for p in saved["figures"] if p.endswith(".png")]
    page = (figs / "index.html").read_text(encoding="utf-8")
    srcs = [a["src"] for t, a in _parse(page).tags if t == "img"]
    assert pngs and len(srcs) == len(pngs)
    assert sorted(base64.b64decode(s.split(",", 1)[1]) for s in srcs) == \
        sorted((figs / p).read_bytes() for p in pngs)
    assert "index.html" in resultdir.read_manifest(figs)
    bare = (nofigs / "index.html").read_text(encoding="utf-8")       # figures=False: no figure
    assert '<table class="verdicts">' in bare and "<img " not in bare
    assert "index.html" in resultdir.read_manifest(nofigs)


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                    "(apt-get install -y chromium); the rendered-DOM check needs it")
def test_index_html_renders_in_headless_chromium(verified, tmp_path):
    figs, _ = verified
    profile = tmp_path / "profile"
    profile.mkdir()
    res = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
         (figs / "index.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    dom = res.stdout
    assert res.returncode == 0 and dom, res.stderr[-2000:]
    assert '<table class="verdicts">' in dom
    assert re.search(r'<a href="#claim-rate[^"]*"><code>rate \[ExcessMTL', dom), dom[:3000]
    assert re.search(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{100,}', dom)
