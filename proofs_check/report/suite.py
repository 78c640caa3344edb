"""Run the claim checks and write the report: ``report.json``, ``data/<claim>.npz``, figures and
``index.html`` (the same report as one self-contained page)."""

from __future__ import annotations

import contextlib
import platform
import time
from typing import cast
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import atomic, resultdir
from ..claims import CLAIMS
from ..config import SuiteConfig
from .figure_worker import FigureWorker
from .result import ClaimResult


# what a result writes: checked for links up front
PLANNED = ("report.json", "data", "figures", "index.html")


def select_claims(ids: Iterable[str] | None) -> list[str]:
    if ids is None:
        return list(CLAIMS)
    ids = [i.strip() for i in ids if i.strip()]
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown or not ids:
        raise ValueError(f"claims must be a comma-separated subset of {list(CLAIMS)}, got "
                         f"{unknown or ids}")
    return ids


def run_claims(config: SuiteConfig, ids: Iterable[str] | None = None, *,
               progress: bool = True, figures: FigureWorker | None = None
               ) -> list[ClaimResult]:
    """Run the selected claims; a claim that crashes is a bug, so the exception propagates.
    With ``figures``, each finished claim's figures are drawn by that worker while the next
    claims run (each claim id once, so no figure suffix)."""
    out = []
    bar = tqdm(select_claims(ids), desc="claims", unit="claim", disable=not progress,
               leave=False)
    for cid in bar:
        bar.set_postfix_str(cid)
        result = CLAIMS[cid].run(config)
        out.append(result)
        if figures is not None and result.arrays:
            figures.submit(claim_entry(result, result.id), result.arrays, "")
    return out


def _versions() -> dict[str, str | None]:
    v: dict[str, str | None] = {"python": platform.python_version(),
                                "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "matplotlib", "excessmtl-oracle"):
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    return v


def _jsonable(x: object) -> object:
    """NaN/inf become the strings 'nan'/'inf'/'-inf' so report.json stays strict JSON."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return f if np.isfinite(f) else str(f)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def data_keys(results: list[ClaimResult]) -> list[str]:
    """The name of each result's data file: its claim id, suffixed -1, -2, … when several
    results (several methods) share one claim."""
    ids = [r.id for r in results]
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
        out.append(i if ids.count(i) == 1 else f"{i}-{seen[i]}")
    return out


def claim_entry(result: ClaimResult, key: str) -> dict:
    """The claim's entry of report.json (strict JSON), its data file named by ``key``."""
    c = result.to_json()
    c["data"] = f"data/{key}.npz" if result.arrays else None
    return cast(dict, _jsonable(c))


def build_report(config: SuiteConfig | dict, results: list[ClaimResult], elapsed: float
                 ) -> dict:
    cfg = config if isinstance(config, dict) else config.to_json()
    claims = [claim_entry(r, key) for r, key in zip(results, data_keys(results))]
    return cast(dict, _jsonable({
        "suite": "excessmtl-oracle verification suite",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg,
        "seed": cfg.get("seed"),
        "backend": cfg.get("backend"),
        "versions": _versions(),
        "elapsed_s": round(elapsed, 2),
        "summary": {"claims": len(results), "passed": sum(r.passed for r in results),
                    "failed": sum(r.failed for r in results),
                    "inconclusive": sum(r.verdict == "inconclusive" for r in results)},
        "claims": claims,
    }))


def write_results(out: Path, config: SuiteConfig | dict, results: list[ClaimResult],
                  elapsed: float, *, figures: bool = True,
                  drawn: tuple[list[str], dict[str, bytes]] | None = None) -> dict:
    """Write everything into a staging folder, draw the figures from the saved files (or take
    those a ``FigureWorker`` drew, ``drawn``), then move them into ``out`` at once
    (``resultdir.output_directory``: never a foreign file lost or overwritten, never a link
    followed, the old result or the new one and never a mix)."""
    report = build_report(config, results, elapsed)
    with resultdir.output_directory(Path(out), planned=PLANNED) as stage:
        for r, key in zip(results, data_keys(results)):
            if r.arrays:
                atomic.write_npz(stage / "data" / f"{key}.npz", r.arrays)
        atomic.write_json(stage / "report.json", report)
        if figures and drawn is not None:
            names, files = drawn
            for rel, blob in files.items():
                atomic.write_bytes(stage / rel, blob)
            report["figures"] = names
            atomic.write_json(stage / "report.json", report)
        elif figures:
            from .plots import make_figures
            report["figures"] = [str(p.relative_to(stage)) for p in make_figures(stage)]
            atomic.write_json(stage / "report.json", report)
        write_index(stage, report)
    return report


def write_index(stage: Path, report: dict) -> Path:
    """``stage/index.html``: the report as one self-contained page (``html.render_html``), with
    the PNG figures just drawn into the staging folder inlined."""
    from .html import render_html
    figs = {rel: (stage / rel).read_bytes() for rel in report.get("figures", [])
            if rel.endswith(".png")}
    path = stage / "index.html"
    atomic.write_bytes(path, render_html(report, figs).encode("utf-8"))
    return path


def run_suite(config: SuiteConfig, ids: Iterable[str] | None = None, out: Path | None = None, *,
              progress: bool = True, figures: bool = True) -> tuple[list[ClaimResult], dict]:
    """Run the claims and, with ``out``, write the report there. Every problem with ``out`` (a
    file in the way, foreign files, no write permission) is raised before any claim runs."""
    select_claims(ids)
    if out is not None:
        resultdir.check_output_dir(Path(out), planned=PLANNED)
    selected = select_claims(ids)
    t0 = time.perf_counter()
    if out is None:
        results = run_claims(config, selected, progress=progress)
        return results, build_report(config, results, time.perf_counter() - t0)
    # figures off the critical path: a worker draws each claim's while the next ones run
    with FigureWorker() if figures and len(set(selected)) == len(selected) else \
            contextlib.nullcontext() as worker:
        results = run_claims(config, selected, progress=progress, figures=worker)
        elapsed = time.perf_counter() - t0
        drawn = worker.take() if worker is not None else None
    report = write_results(Path(out), config, results, elapsed, figures=figures, drawn=drawn)
    return results, report
