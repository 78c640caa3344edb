"""Claim checks of ExcessMTL: each claim states itself, measures, and gives a verdict with the
numbers behind it. ``python -m proofs_check`` runs them all; ``verify`` points them at your own
method and problem; ``compare`` and the ``plot_*`` functions run and draw methods side by side."""

__version__ = "0.1.0"   # the version in pyproject.toml (tests/test_release.py keeps them equal)

from .claims import CLAIMS
from .compare import Comparison, OscillationWarning, compare, load_comparison
from .conformance.port import assert_conforms
from .config import ProblemSpec, SuiteConfig
from .plotting import plot_convergence, plot_front, plot_gap_vs_T, plot_weights
from .report.result import ClaimResult, SubCheck
from .verify import VERIFIABLE, Report, verify

__all__ = ["CLAIMS", "ClaimResult", "Comparison", "OscillationWarning", "ProblemSpec", "Report",
           "SubCheck", "SuiteConfig", "VERIFIABLE", "assert_conforms", "compare",
           "load_comparison", "plot_convergence", "plot_front", "plot_gap_vs_T", "plot_weights",
           "run_suite", "verify"]


def run_suite(*args, **kwargs):
    """See ``proofs_check.suite.run_suite``."""
    from .report.suite import run_suite as _run
    return _run(*args, **kwargs)
