"""The corpus of real public ExcessMTL ports (tests/ports/) against the oracle: one row per port
with its source, what it does differently from the official code, what the oracle says and
whether that is exact, partial or wrong (tests/ports/corpus.py says how each is judged).

    python tools/port_table.py            # print the table (a few seconds)
    python tools/port_table.py --write    # write it into docs/conformance.md, between markers
    python tools/port_table.py --check    # exit 1 if docs/conformance.md holds another table
    python tools/port_table.py --time     # time a 200-step diagnosis against a replay of it

``--time`` reports how long diagnosing a 200-step recording of each of a few ports takes, as a
ratio to the time the reference takes to replay the same recording, in the same run (best of
``--repeat`` each), so that the figure does not depend on how fast or busy the machine is.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs_check import conformance as C  # noqa: E402
from proofs_check.conformance import harness as H  # noqa: E402
import reference as R  # noqa: E402
from tests.ports import corpus as K  # noqa: E402

DOC = ROOT / "docs" / "conformance.md"
START, END = "<!-- port-table:start -->", "<!-- port-table:end -->"
HEADER = ("| port | source (repository, file @ commit) | does differently from the official "
          "code | the oracle says | right |\n|---|---|---|---|---|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rows() -> list[tuple[K.Port, C.ConformanceReport, str]]:
    """(port, report, verdict) for every port of the corpus."""
    out = []
    for port in K.PORTS:
        report = port.check()
        out.append((port, report, K.verdict(port, report)))
    return out


def table() -> str:
    """The Markdown table and a line of counts."""
    lines = [HEADER]
    counts = {"exact": 0, "partial": 0, "wrong": 0}
    for port, report, verdict in rows():
        counts[verdict] += 1
        lines.append("| " + " | ".join(_cell(x) for x in (
            port.name, port.source, port.differs, K.said(report), verdict)) + " |")
    explained = sum(p.expect.explained_by is not None or p.expect.precision is not None
                    for p in K.PORTS)
    lines.append("")
    lines.append(f"{len(K.PORTS)} ports: {counts['exact']} exact, {counts['partial']} partial, "
                 f"{counts['wrong']} wrong ({explained} whose departures the oracle's model "
                 f"covers, {len(K.PORTS) - explained} that it must leave unexplained and "
                 "localise).")
    return "\n".join(lines)


def documented(text: str | None = None) -> str:
    """The table between the markers of docs/conformance.md."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    if START not in text or END not in text:
        raise ValueError(f"{DOC} lacks the markers {START} … {END}")
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def write(new: str) -> bool:
    """Put ``new`` between the markers; True when the file changed."""
    text = DOC.read_text(encoding="utf-8")
    documented(text)
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    updated = f"{head}{START}\n{new}\n{END}{tail}"
    if updated != text:
        DOC.write_text(updated, encoding="utf-8")
    return updated != text


def timing(repeat: int = 5, steps: int = 200) -> list[tuple[str, float, float]]:
    """(port, best diagnosis time, best replay time) for a few ports, each recorded for
    ``steps`` steps; the ratio of the two is what to compare between machines and versions."""
    picks = [p for p in K.PORTS if p.name.startswith(("official", "LibMTL", "TorchJD v0.17 (",
                                                      "AdaOMD-TCH, federated `ExcessMTL`",
                                                      "PoiMtlNet", "stereo"))]
    out = []
    for port in picks:
        if port.name.startswith("PoiMtlNet,"):
            continue
        loop = dataclasses.replace(port.loop, steps=steps)
        rec = K.recording(port.impl, loop)
        spec = H.MethodSpec(**{k: v for k, v in K.CLAIM.items() if k != "dtype"})
        diag, replay = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            R.replay(spec.build(), rec.losses, rec.grads)
            replay.append(time.perf_counter() - t)
            t = time.perf_counter()
            C.check_recording(rec, **K.CLAIM)
            diag.append(time.perf_counter() - t)
        out.append((port.name, min(diag), min(replay)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="write the table into " + str(DOC))
    g.add_argument("--check", action="store_true",
                   help="exit 1 if the table in the docs is not the one generated now")
    g.add_argument("--time", action="store_true",
                   help="time 200-step diagnoses against the reference replay of each")
    p.add_argument("--repeat", type=int, default=5, help="repeats of --time (best is kept)")
    args = p.parse_args(argv)
    if args.time:
        for name, diag, replay in timing(args.repeat):
            print(f"{diag:6.3f} s diagnosis, {replay:6.4f} s replay, ratio {diag / replay:6.1f}"
                  f"  {name}")
        return 0
    new = table()
    if args.check:
        same = documented() == new
        print("docs/conformance.md holds the current table" if same else
              "docs/conformance.md holds another table: run python tools/port_table.py --write")
        return 0 if same else 1
    if args.write:
        print("written" if write(new) else "unchanged", DOC)
        return 0
    print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
