"""The paper's claims, one module each. ``CLAIMS`` maps a claim id to its module; every module
defines ID, STATEMENT, SOURCE, CONVENTION and ``run(config) -> ClaimResult``."""

from . import estimator, pareto, proof_steps, rate, robustness, stationarity

CLAIMS = {m.ID: m for m in (rate, proof_steps, pareto, stationarity, estimator, robustness)}
