"""``index.html`` of a result folder: the whole report as one self-contained page.

``render_html(report, figures)`` is a pure function of a ``report.json`` document and the bytes
of its figures (relative path → bytes, e.g. ``{"figures/rate_gap_vs_T.png": b"..."}``). The page
holds the verdict table, every sub-check with its note, the figures, where each finding holds
(the claims' "scope" entries), the settings and the library versions. It needs nothing else:
figures are inlined as ``data:`` URIs, the style sheet is inline, there is no script and no font
or other resource to fetch, and a Content-Security-Policy forbids the browser to load any. Every
text taken from the report is escaped (``html.escape``), so a hostile claim name or note shows as
text and never becomes markup.

``suite.write_results`` writes it into the staging folder beside ``report.json``, so it is
switched in with the rest of the result.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping

__all__ = ["FIGURE_CLAIMS", "figures_by_claim",
           "format_number", "format_wanted", "render_html"]

# figures drawn by ``plots.make_figures``, by the claim they belong to (stem without -k suffix)
FIGURE_CLAIMS = {
    "rate_gap_vs_T": "rate", "weights": "rate", "excess_risks": "rate",
    "noise_sweep": "robustness", "pareto_front": "pareto-optimal",
    "estimator_ratio": "estimator", "stationarity": "pareto-stationary",
}
_MIME = {"png": "image/png", "svg": "image/svg+xml", "jpg": "image/jpeg", "jpeg": "image/jpeg",
         "gif": "image/gif", "webp": "image/webp"}

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; " \
      "form-action 'none'"

STYLE = """
:root { --pass: #1a7f37; --fail: #b35900; --line: #d0d7de; --soft: #f6f8fa; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 1200px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid var(--line); padding: .3em .6em; text-align: left;
         vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: var(--pass); font-weight: 600; white-space: nowrap; }
.fail { color: var(--fail); font-weight: 600; white-space: nowrap; }
.inconclusive { font-weight: 600; font-style: italic; white-space: nowrap; }
table.verdicts td:first-child { white-space: nowrap; }
.summary { font-size: 1.1em; }
.meta { color: #59636e; }
.statement { font-size: 1.05em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; max-height: 760px; width: auto; height: auto;
             border: 1px solid var(--line); }
figcaption { color: #59636e; font-size: .9em; }
pre { background: var(--soft); padding: .8em; overflow-x: auto; font-size: .85em; }
code { font-size: .92em; }
nav a { margin-right: 1em; }
.scope { border-left: 4px solid var(--fail); padding: .1em 1em; margin: 1em 0;
         background: #fff8f0; }
"""


# ------------------------------------------------------------------------------- helpers
def _e(x: object) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def format_number(x: object) -> str:
    """A number as docs/claims.md prints it (4 significant digits; NaN/inf as written)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    try:
        # report.json writes NaN/inf as "nan"/"inf"; what float() refuses is printed as it is
        f = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return str(f)
    if isinstance(x, int):
        return str(x)
    return f"{f:.4g}" if f == 0 or 1e-3 <= abs(f) < 1e4 else f"{f:.3e}"


def format_wanted(check: Mapping) -> str:
    """What a sub-check wants: ``≤ b``, ``≥ b`` or ``b ± rtol``."""
    b = format_number(check.get("bound"))
    kind = check.get("kind")
    if check.get("decision"):
        return f"SPRT: exceeding seeds ≤ {b} (p0)"
    if kind == "upper":
        return f"≤ {b}"
    if kind == "lower":
        return f"≥ {b}"
    if kind == "tight":
        try:
            rtol = f"{float(check.get('rtol') or 0):.0%}"
        except (TypeError, ValueError):
            rtol = str(check.get("rtol"))
        return f"{b} ± {rtol}"
    return f"{kind} {b}"


def _verdict(v: object) -> str:
    cls = {"pass": "pass", "inconclusive": "inconclusive"}.get(str(v), "fail")
    text = {"pass": "pass", "fail": "fail (finding)"}.get(str(v), _e(v))
    return f'<span class="{cls}">{text}</span>'


def _inconclusive_text(summary: Mapping) -> str:
    n = summary.get("inconclusive") or 0
    return f" ({_e(n)} inconclusive: the seed budget did not decide)" if n else ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def _who(claim: Mapping) -> str:
    return str(claim.get("id", "?")) + (f" [{claim['method']}]" if claim.get("method") else "")


def _headline(claim: Mapping) -> Mapping:
    """The claim's headline sub-check: the first failed one, else the first inconclusive one,
    else the first (``ClaimResult.headline``)."""
    checks = claim.get("checks") or []
    failed = set(claim.get("failed_checks") or [])
    open_ = set(claim.get("inconclusive_checks") or [])
    hit = next((k for k in checks if k.get("name") in failed), None) or \
        next((k for k in checks if k.get("name") in open_), None)
    if hit is not None:
        return hit
    return next((k for k in checks if k.get("verdict") == "fail"),
                checks[0] if checks else {"name": "", "measured": claim.get("measured"),
                                          "bound": claim.get("bound"),
                                          "kind": claim.get("kind")})


def _cell(v: object, *, num: bool = False) -> str:
    if v is None:
        return "<td>—</td>"
    if isinstance(v, (dict, list)):
        return f"<td><code>{_e(json.dumps(v, ensure_ascii=False))}</code></td>"
    if num or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return f'<td class="num">{_e(format_number(v))}</td>'
    return f"<td>{_e(v)}</td>"


def _table(header: Iterable[str], rows: Iterable[str], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "\n".join(f"<tr>{r}</tr>" for r in rows)
    attr = f' class="{_e(cls)}"' if cls else ""
    return (f"<table{attr}>\n<thead><tr>{head}</tr></thead>\n"
            f"<tbody>\n{body}\n</tbody>\n</table>")


def _records_table(rows: list) -> str:
    """A list of dicts as one table, columns in first-seen order; anything else as JSON."""
    if not rows:
        return ""
    if not all(isinstance(r, Mapping) for r in rows):
        return f"<pre>{_e(json.dumps(rows, indent=1, ensure_ascii=False))}</pre>"
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return _table(cols, ("".join(_cell(r.get(c, "")) for c in cols) for r in rows))


def _mapping_table(d: Mapping, header: tuple[str, str] = ("setting", "value")) -> str:
    rows = []
    for k, v in d.items():
        if isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            rows.append(f"<th>{_e(k)}</th><td>{_records_table(v)}</td>")
        else:                                        # left-aligned, as text
            rows.append(f"<th>{_e(k)}</th>" + _cell(v).replace(' class="num"', "", 1))
    return _table(header, rows)


def _mime(path: str) -> str:
    return _MIME.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _figure(path: str, data: bytes) -> str:
    uri = f"data:{_mime(path)};base64,{base64.b64encode(data).decode('ascii')}"
    name = path.rsplit("/", 1)[-1]
    return (f'<figure id="fig-{_slug(name)}"><img src="{uri}" alt="{_e(name)}" loading="lazy">'
            f"<figcaption>{_e(path)}</figcaption></figure>")


def figures_by_claim(claims: list, figures: Iterable[str]
                     ) -> tuple[dict[int, list[str]], list[str]]:
    """Claim index → its figure paths (as ``make_figures`` names them: suffix -k for the k-th
    claim of one id with data when several are), and the figures no claim claims."""
    by_claim: dict[int, list[str]] = {}
    stems: dict[str, int] = {}
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(claims):
        if c.get("data"):
            groups.setdefault(str(c.get("id")), []).append(i)
    for cid, idx in groups.items():
        for k, i in enumerate(idx):
            suffix = "" if len(idx) == 1 else f"-{k + 1}"
            for stem, owner in FIGURE_CLAIMS.items():
                if owner == cid:
                    stems[stem + suffix] = i
    rest = []
    for p in figures:
        stem = p.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if stem in stems:
            by_claim.setdefault(stems[stem], []).append(p)
        else:
            rest.append(p)
    return by_claim, rest


# ------------------------------------------------------------------------------- sections
def _verdict_table(claims: list, anchors: list[str]) -> str:
    rows = []
    for c, a in zip(claims, anchors):
        h = _headline(c)
        checks = c.get("checks") or []
        ok = sum(k.get("verdict") == "pass" for k in checks)
        rows.append(f'<td><a href="#{a}"><code>{_e(_who(c))}</code></a></td>'
                    f"<td>{_verdict(c.get('verdict'))}</td>"
                    f'<td class="num">{ok} of {len(checks)}</td>'
                    f"<td>{_e(h.get('name'))}</td>{_cell(h.get('measured'), num=True)}"
                    f'<td class="num">{_e(format_wanted(h))}</td>')
    return _table(("claim", "verdict", "sub-checks passed", "headline sub-check", "measured",
                   "wanted"), rows, "verdicts")


def _scope(scopes: list) -> str:
    if not scopes:
        return ""
    out = ["<h4>Where the findings hold (generated from the runs)</h4>"]
    for sc in scopes:
        if not isinstance(sc, Mapping):
            out.append(f"<pre>{_e(json.dumps(sc, ensure_ascii=False))}</pre>")
            continue
        out.append('<div class="scope">')
        out.append(f"<p><strong>{_e(sc.get('finding', ''))}</strong></p>")
        for key in ("observed", "vanishes"):
            if sc.get(key):
                out.append(f'<p class="{key}">{_e(sc[key])}</p>')
        out.append(_records_table(list(sc.get("rows") or [])))
        out.append("</div>")
    return "\n".join(out)


def _claim_section(c: Mapping, anchor: str, figs: list[str], figures: Mapping[str, bytes]) -> str:
    out = [f'<section id="{anchor}">',
           f"<h2><code>{_e(_who(c))}</code>: {_verdict(c.get('verdict'))}</h2>",
           f'<p class="statement">{_e(c.get("statement", ""))}</p>',
           f'<p class="meta">source: {_e(c.get("source", ""))}<br>convention: '
           f'{_e(c.get("convention", ""))}</p>']
    if figs:
        out.append(f"<h3>{'Figure' if len(figs) == 1 else 'Figures'}</h3>")
        out += [_figure(p, figures[p]) for p in figs]
    checks = c.get("checks") or []
    rows = [f"<td>{_e(k.get('name'))}</td>{_cell(k.get('measured'), num=True)}"
            f'<td class="num">{_e(format_wanted(k))}</td><td>{_e(k.get("kind"))}</td>'
            f"<td>{_verdict(k.get('verdict'))}</td><td>{_e(k.get('note') or '')}</td>"
            for k in checks]
    failed = sum(k.get("verdict") != "pass" for k in checks)
    out.append(f"<h3>Sub-checks ({len(checks) - failed} of {len(checks)} pass)</h3>")
    out.append(_table(("sub-check", "measured", "wanted", "kind", "verdict",
                       "per-seed statistics / note"), rows, "checks"))
    out.append(_scope(list(c.get("scope") or [])))
    out += [f'<p class="note"><strong>Note:</strong> {_e(n)}</p>' for n in c.get("notes") or []]
    if c.get("config"):
        out.append("<details><summary>the claim's run settings</summary><pre>"
                   f"{_e(json.dumps(c['config'], indent=1, ensure_ascii=False))}</pre></details>")
    if c.get("data"):
        out.append(f'<p class="meta">arrays: <code>{_e(c["data"])}</code></p>')
    out.append("</section>")
    return "\n".join(x for x in out if x)


def render_html(report: dict, figures: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page (see the module docstring). ``figures`` maps
    a figure's path relative to the result folder to its bytes; figures listed in
    ``report["figures"]`` come first, in that order."""
    claims = list(report.get("claims") or [])
    order = [p for p in report.get("figures") or [] if p in figures]
    order += [p for p in figures if p not in order]
    figures = {p: figures[p] for p in order}
    anchors, seen = [], set()
    for c in claims:
        a = "claim-" + _slug(_who(c))
        while a in seen:
            a += "-x"
        seen.add(a)
        anchors.append(a)
    by_claim, rest = figures_by_claim(claims, figures)
    summary = report.get("summary") or {}
    cfg = report.get("config") or {}
    title = str(report.get("suite") or "excessmtl-oracle report")
    nav = " ".join(f'<a href="#{a}">{_e(_who(c))}</a>' for c, a in zip(claims, anchors))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="excessmtl-oracle">',
        f"<title>{_e(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary"><strong>{_e(summary.get("passed", "?"))} of '
        f'{_e(summary.get("claims", len(claims)))} claims pass</strong> every sub-check'
        f'{_inconclusive_text(summary)}; a failed claim is a finding, with the numbers behind it '
        "below. Verdicts decided over seeds state their false-alarm rate and detection limit in "
        "their notes.</p>",
        f'<p class="meta">created {_e(report.get("created", ""))} · seed '
        f'{_e(report.get("seed", cfg.get("seed")))} · backend '
        f'{_e(report.get("backend", cfg.get("backend")))} · {_e(report.get("elapsed_s", "?"))} s '
        f'of checks · {"quick configuration" if cfg.get("quick") else "full configuration"} · '
        'the same numbers are in <code>report.json</code></p>',
        f"<nav>{nav} <a href=\"#settings\">settings</a> <a href=\"#versions\">versions</a></nav>",
        '<h2 id="verdicts">Verdicts</h2>',
        _verdict_table(claims, anchors),
    ]
    for i, (c, a) in enumerate(zip(claims, anchors)):
        parts.append(_claim_section(c, a, by_claim.get(i, []), figures))
    if rest:
        parts.append('<section id="other-figures"><h2>Other figures</h2>')
        parts += [_figure(p, figures[p]) for p in rest]
        parts.append("</section>")
    parts += ['<section id="settings"><h2>Settings</h2>',
              '<p class="meta">the run\'s configuration (<code>config</code> in report.json)</p>',
              _mapping_table(cfg) if isinstance(cfg, Mapping) else _records_table([cfg]),
              "</section>",
              '<section id="versions"><h2>Versions</h2>',
              _mapping_table(report.get("versions") or {}, ("library", "version")),
              "</section>",
              '<p class="meta">written by excessmtl-oracle</p>',
              "</body>", "</html>", ""]
    return "\n".join(parts)
