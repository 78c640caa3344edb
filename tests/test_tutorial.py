"""docs/tutorial.md runs as written: every code block is a doctest."""

import doctest
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"


def test_the_tutorial_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # it writes my-check/, runs.npz and figures
    result = doctest.testfile(str(TUTORIAL), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15 and result.failed == 0, result
    assert (tmp_path / "my-check" / "report.json").is_file()
    assert {p.name for p in tmp_path.glob("convergence.*")} == {"convergence.png",
                                                                "convergence.svg"}


def test_the_training_loop_recipe_in_the_conformance_guide_runs_as_written():
    guide = TUTORIAL.parent / "conformance.md"
    result = doctest.testfile(str(guide), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0, result
