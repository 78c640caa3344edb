#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment outside the source tree (its
# dependencies from the package index, nothing from this machine's site-packages), and run the
# quick suite from a folder outside the tree. Fails if the wheel lacks a file of the packages
# (a package directory missing from pyproject's list drops its modules), the golden files or the
# LICENSE, or if the installed suite does not exit 0 with a report.json.
#
#   bash tools/check_wheel.sh          (needs the `build` module: pip install -e ".[dev]")
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
python=${PYTHON:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/excessmtl-wheel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# The project's files: those git tracks or would track (new modules included; build outputs,
# caches and results left out); without git, every file but those.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files --cached --others --exclude-standard >"$tmp/files.txt"
else
    find . -type f ! -path './.git/*' ! -path '*/__pycache__/*' ! -path './build/*' \
        ! -path './dist/*' ! -path './results/*' ! -path './*.egg-info/*' ! -name '*.pyc' \
        | sed 's|^\./||' >"$tmp/files.txt"
fi

echo "--- building the wheel into $tmp/dist (from a copy of the tree, which stays untouched)"
"$python" - "$src" "$tmp/files.txt" "$tmp/src" <<'PY'
import shutil
import sys
from pathlib import Path

src, listing, dst = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
for rel in listing.read_text().splitlines():
    if rel and (src / rel).is_file():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)
PY
"$python" -m build --wheel --outdir "$tmp/dist" "$tmp/src" >"$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log"; echo "check_wheel: the wheel did not build" >&2; exit 1; }
wheels=("$tmp"/dist/*.whl)
[[ ${#wheels[@]} -eq 1 && -f ${wheels[0]} ]] \
    || { echo "check_wheel: expected one wheel in $tmp/dist" >&2; exit 1; }
wheel=${wheels[0]}
echo "    $(basename "$wheel")"

echo "--- the wheel holds every file of the packages, the golden files and the LICENSE"
"$python" - "$wheel" "$src" "$tmp/files.txt" <<'PY'
import sys
import zipfile
from pathlib import Path

wheel, src, listing = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
names = set(zipfile.ZipFile(wheel).namelist())
# Every module and data file of the three import packages must ship: a package directory missing
# from pyproject's [tool.setuptools] packages drops its modules, and a data file missing from
# [tool.setuptools.package-data] is left out.
expected = {rel for rel in listing.read_text().splitlines()
            if rel.startswith(("reference/", "gpu/", "proofs_check/")) and (src / rel).is_file()}
missing = sorted(expected - names)
golden = [n for n in names
          if n.startswith("proofs_check/conformance/golden/") and n.endswith(".npz")]
licence = [n for n in names
           if n.endswith((".dist-info/licenses/LICENSE", ".dist-info/LICENSE"))]
problems = []
if missing:
    problems.append(f"{len(missing)} file(s) of the packages not in the wheel (list the package "
                    f"directory in pyproject's [tool.setuptools] packages, data files in its "
                    f"package-data): {', '.join(missing)}")
if not golden:
    problems.append("no proofs_check/conformance/golden/*.npz in the wheel (package data)")
if not licence:
    problems.append("no LICENSE in the wheel's .dist-info")
if problems:
    sys.exit("check_wheel: " + "; ".join(problems))
print(f"    {len(expected)} files of the packages, {len(golden)} golden files, {licence[0]}")
PY

echo "--- a fresh virtual environment, the wheel and its dependencies from the index"
"$python" -m venv "$tmp/venv"
venv_python="$tmp/venv/bin/python"
"$venv_python" -m pip install -q --disable-pip-version-check "$wheel" >"$tmp/pip.log" 2>&1 \
    || { cat "$tmp/pip.log"; echo "check_wheel: the wheel did not install" >&2; exit 1; }

echo "--- the installed suite, run from outside the source tree"
mkdir "$tmp/run"
cd "$tmp/run"
# The installed package, not the source tree, must be the one imported.
"$venv_python" - "$src" <<'PY'
import sys
from pathlib import Path

import proofs_check
import reference

src = Path(sys.argv[1]).resolve()
for mod in (proofs_check, reference):
    where = Path(mod.__file__).resolve()
    if where.is_relative_to(src):
        sys.exit(f"check_wheel: {mod.__name__} was imported from the source tree ({where})")
print(f"    proofs_check from {Path(proofs_check.__file__).parent}")
PY
"$tmp/venv/bin/excessmtl-oracle" --version
"$venv_python" -m proofs_check --quick --no-figures --no-progress --out "$tmp/res" \
    >"$tmp/suite.log" 2>&1 \
    || { cat "$tmp/suite.log"; echo "check_wheel: the installed suite failed" >&2; exit 1; }
[[ -f $tmp/res/report.json ]] \
    || { cat "$tmp/suite.log"; echo "check_wheel: no report.json in $tmp/res" >&2; exit 1; }
echo "    report.json written"
echo "--- check_wheel: ok ($(( $(date +%s) - start )) s)"
