"""Release hygiene: the version everywhere it is shown, the licence, the changelog, no pointer to
a file users do not get, and docs/api.md naming only what the code has."""

import dataclasses
import importlib
import re
import subprocess
import sys
import tomllib
import types
from importlib import metadata
from pathlib import Path

import pytest

import proofs_check
from proofs_check import cli

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def expected_version() -> str:
    try:
        return metadata.version("excessmtl-oracle")
    except metadata.PackageNotFoundError:
        return proofs_check.__version__


# ------------------------------------------------------------------ version, licence, changelog
def test_package_version_is_pyproject_version():
    assert proofs_check.__version__ == PYPROJECT["project"]["version"]


def test_version_flag_prints_the_version_and_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "--version"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"excessmtl-oracle {expected_version()}\n"
    assert proc.stderr == ""


def test_console_script_is_cli_main_and_prints_the_version(capsys):
    assert PYPROJECT["project"]["scripts"]["excessmtl-oracle"] == "proofs_check.cli:main"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"excessmtl-oracle {expected_version()}\n"


def test_version_falls_back_to_the_package_when_not_installed(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert cli.package_version() == proofs_check.__version__


def test_licence_is_mit_and_ships_with_the_distribution():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "LICENSE" in PYPROJECT["project"]["license-files"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the excessmtl-oracle authors" in text


def test_changelog_keeps_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased"
    assert PYPROJECT["project"]["version"] in headings


def test_every_package_directory_is_listed_in_pyproject():
    """A package missing from [tool.setuptools] packages is silently left out of the wheel."""
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
             for top in ("reference", "gpu", "proofs_check")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found <= set(PYPROJECT["tool"]["setuptools"]["packages"]), \
        sorted(found - set(PYPROJECT["tool"]["setuptools"]["packages"]))


# ------------------------------------------------------------------ no pointer outside the project
# A notes file outside the project, cited by section, and the folder it lived in; spelled in
# pieces so that neither this file nor a grep of the tree finds them here.
FORBIDDEN = ("NOT" "ES" " §", "../" "sha" "red")


def project_files() -> list[Path]:
    """The files git tracks or would track (new ones included); without git, the whole tree."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, capture_output=True, check=True,
                             timeout=60).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "build", "dist", "results", "__pycache__", ".pytest_cache",
                ".hypothesis", ".ruff_cache"}
        return [p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]


def test_no_project_file_points_to_notes_users_do_not_get():
    hits = []
    for path in project_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue                                    # binary (npz, png)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            hits += [f"{path.relative_to(ROOT)}:{lineno}: {bad!r}" for bad in FORBIDDEN
                     if bad in line]
    assert not hits, "cite docs/sources.md instead:\n" + "\n".join(hits)


# ------------------------------------------------------------------ docs/api.md against the code
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
# The sections of docs/api.md whose tables name code, and where those names live (searched in
# order: a name like ``sweep.cell.run_cell`` is relative to the package).
SECTIONS = {
    "Problems": ("reference",),
    "Exact oracles": ("reference",),
    "Result objects": ("proofs_check",),
    "Conformance": ("proofs_check.conformance",),
    "Sweeps": ("proofs_check.sweep", "proofs_check"),
    "gpu/ mirror": ("gpu",),
}
CLASSES = {"SubCheck", "ClaimResult", "Report", "Comparison", "ConformanceReport"}
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\([^`]*\))?`")


def table_rows(section: str, text: str = API) -> list[list[str]]:
    """The body rows of the tables under the heading that starts with ``section``."""
    match = re.search(rf"^#+ {re.escape(section)}.*?$(.*?)(?=^#+ |\Z)", text, flags=re.M | re.S)
    assert match, f"docs/api.md has no section {section!r}"
    rows = []
    for line in match.group(1).splitlines():
        if not line.startswith("|") or re.fullmatch(r"\|[-| :]+\|", line.strip()):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] not in ("call", "class"):
            rows.append(cells)
    return rows


def documented(text: str = API) -> list[tuple[str, tuple[str, ...], str | None, str | None, str]]:
    """(section, where to look, class, class to fall back on, name) for every name in the tables.

    A row whose first cell is one class (``ConformanceReport``, ``SubCheck``) documents the
    attributes in its second cell: each must be an attribute of that class. Otherwise the names
    of the first cell are module-level names or ``Class.attr``; a bare name after ``Class.attr``
    in the same cell (```BatchedProblem.hessians`, `excess_risks```) is module-level or, failing
    that, of the same class."""
    out = []
    for section, roots in SECTIONS.items():
        rows = table_rows(section, text)
        assert rows, f"docs/api.md section {section!r} has no table rows"
        for cells in rows:
            first = NAME.findall(cells[0])
            if len(first) == 1 and cells[0] == f"`{first[0]}`" and first[0][:1].isupper():
                out.append((section, roots, None, None, first[0]))
                attrs = dict.fromkeys(NAME.findall(cells[1]))         # once each, in order
                out += [(section, roots, first[0], None, attr) for attr in attrs]
                continue
            fallback = None
            for name in first:
                out.append((section, roots, None, None if "." in name else fallback, name))
                if "." in name and name.split(".")[0][:1].isupper():
                    fallback = name.split(".")[0]
    return out


def resolve(roots: tuple[str, ...], dotted: str) -> object:
    """``dotted`` under the first of ``roots`` that has it (submodules imported on the way)."""
    for root in roots:
        obj: object = importlib.import_module(root)
        try:
            for part in dotted.split("."):
                if hasattr(obj, part):
                    obj = getattr(obj, part)
                elif isinstance(obj, types.ModuleType):
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                else:
                    raise AttributeError(part)
            return obj
        except (AttributeError, ImportError):
            continue
    raise AttributeError(dotted)


def has_attribute(cls: type, name: str) -> bool:
    """A class attribute, a property or method, or a dataclass field without a default."""
    if hasattr(cls, name):
        return True
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True
    return any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__)


def test_api_md_tables_name_the_public_classes():
    classes = {cls for _, _, cls, _, _ in documented() if cls}
    assert CLASSES <= classes, sorted(CLASSES - classes)


def missing(section, roots, owner, fallback, name) -> str | None:
    """Why a documented name does not exist in the code, or None if it does."""
    where = f"docs/api.md ({section}) documents"
    if owner is not None:                               # an attribute of a documented class
        return None if has_attribute(resolve(roots, owner), name) else \
            f"{where} {owner}.{name}, which does not exist"
    if "." in name and name.split(".")[0][:1].isupper():
        cls_name, attr = name.split(".", 1)
        return None if has_attribute(resolve(roots, cls_name), attr) else \
            f"{where} {name}, which does not exist"
    try:
        resolve(roots, name)
        return None
    except AttributeError:
        if fallback is not None and has_attribute(resolve(roots, fallback), name):
            return None
        return f"{where} {name}, which is not in {' or '.join(roots)}"


DOCUMENTED = documented()


@pytest.mark.parametrize("section,roots,owner,fallback,name", DOCUMENTED,
                         ids=[f"{d[0]}:{d[2] + '.' if d[2] else ''}{d[4]}" for d in DOCUMENTED])
def test_every_name_in_api_md_tables_exists(section, roots, owner, fallback, name):
    problem = missing(section, roots, owner, fallback, name)
    assert problem is None, problem


def test_the_api_check_catches_a_missing_attribute():
    """Negative control: documenting an attribute that does not exist (``SubCheck.outcome``;
    the attribute is ``verdict``), or a function that does not exist, fails with the name."""
    row = "`passed`, `failed`, `to_json()` |"
    assert API.count(row) == 1
    bad = API.replace(row, "`passed`, `failed`, `outcome`, `to_json()` |", 1).replace(
        "| `front_gap(problem, theta)` |", "| `front_gaps(problem, theta)` |")
    problems = [m for entry in documented(bad) if (m := missing(*entry))]
    assert problems == ["docs/api.md (Exact oracles) documents front_gaps, which is not in "
                        "reference", "docs/api.md (Result objects) documents SubCheck.outcome, "
                        "which does not exist"]
