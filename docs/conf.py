"""Sphinx configuration of the excessmtl-oracle documentation site.

Build (the ``docs`` extra: ``python -m pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -b doctest docs docs/_build/doctest

The Markdown pages are read as they are (MyST). Their ``>>>`` code blocks (docs/tutorial.md,
docs/conformance.md) run as doctests, each page in its own namespace and in a temporary folder,
so the files they write never land in the source tree. The API reference (docs/reference/) is
generated from the docstrings (autodoc, napoleon); the claim pages (docs/claims/) from
docs/report.json by ``python tools/claim_pages.py``.
"""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))            # reference/, gpu/, proofs_check/ without an install

import proofs_check  # noqa: E402

project = "excessmtl-oracle"
author = "excessmtl-oracle contributors"
copyright = "the excessmtl-oracle contributors, MIT licence"
release = version = proofs_check.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.doctest"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "figures", "report.json", "Thumbs.db", ".DS_Store"]
suppress_warnings = [
    "myst.header",      # the generated verdict tables of claims.md nest #### under ## on purpose
]

# MyST: the pages are CommonMark + tables; "#section" links resolve to headings up to level 3
myst_heading_anchors = 3

# autodoc: members as __all__ lists them, in source order, with signatures' type hints in text
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_mock_imports = ["cupy", "torch", "torchjd", "dask", "distributed", "pandas", "pyarrow"]
napoleon_google_docstring = True
napoleon_numpy_docstring = True

html_theme = "alabaster"
html_title = f"excessmtl-oracle {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {"description": "Theory verification of ExcessMTL (He et al., ICML 2024)",
                      "page_width": "1180px", "sidebar_width": "240px"}

# doctest: the Markdown pages' ">>>" blocks are doctests (the sphinx doctest builder only sees
# reST doctest blocks and its own directives, so the MyST code blocks are marked below)
doctest_default_flags = (doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                         | doctest.DONT_ACCEPT_TRUE_FOR_1)
doctest_global_setup = """
import os as _os, tempfile as _tempfile
_doctest_home = _os.getcwd()
_doctest_tmp = _tempfile.TemporaryDirectory(prefix="excessmtl-doctest-")
_os.chdir(_doctest_tmp.name)        # the pages write results, figures and .npz files
"""
doctest_global_cleanup = """
_os.chdir(_doctest_home)
_doctest_tmp.cleanup()
"""


def _mark_doctest_blocks(app, doctree) -> None:
    """A MyST code block (python, pycon or no language) whose first line starts with ``>>>`` is
    a doctest of its page's default group."""
    from docutils import nodes
    for node in doctree.findall(nodes.literal_block):
        if node.get("language", "python") in ("python", "pycon", "default", "none", "") and \
                node.astext().lstrip().startswith(">>>") and "testnodetype" not in node:
            node["testnodetype"] = "doctest"
            node["groups"] = ["default"]


_LITERAL = re.compile(r"(``.+?``)")


def _plain_bars(app, what, name, obj, options, lines) -> None:
    """The docstrings are plain text with reST ``literals``: a ``|`` in them is an absolute value
    (``|x − y|``), never a reST substitution, so it is escaped outside the literals."""
    for i, line in enumerate(lines):
        if "|" in line:
            parts = _LITERAL.split(line)
            lines[i] = "".join(p if k % 2 else p.replace("|", "\\|") for k, p in enumerate(parts))


def setup(app):
    app.connect("doctree-read", _mark_doctest_blocks)
    app.connect("autodoc-process-docstring", _plain_bars)
    return {"parallel_read_safe": True}
