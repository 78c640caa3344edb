"""Claim checks of ExcessMTL: each claim states itself, measures, and gives a verdict with the
numbers behind it. ``python -m proofs_check`` runs them all."""

from .claims import CLAIMS
from .config import SuiteConfig
from .result import ClaimResult, SubCheck
from .verify import Report, verify

__all__ = ["CLAIMS", "ClaimResult", "Report", "SubCheck", "SuiteConfig", "run_suite", "verify"]


def run_suite(*args, **kwargs):
    """See ``proofs_check.suite.run_suite``."""
    from .suite import run_suite as _run
    return _run(*args, **kwargs)
