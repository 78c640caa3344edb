"""Claim 2: each inequality of the convergence proof holds along the actual trajectory.

A failure names the step of docs/theory.md §3 that breaks ([OURS], instrumented proof).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import reference as R

from . import theory
from ..config import SuiteConfig
from ..report.result import ClaimResult, SubCheck

ID = "proof-steps"
STATEMENT = ("Every inequality of the O(1/√T) proof (convexity, one-step GD lemma, telescoping, "
             "θ-regret, be-the-leader α-regret, Jensen, gap <= regrets/T) holds at every step")
SOURCE = "[OURS] docs/theory.md §3 (the paper's proof is not available, NOTES §6)"
CONVENTION = "paper (simplex α), exact E, no scale processing, projected on ‖θ−c‖<=D/2, full batch"


@lru_cache(maxsize=4)
def game_runs(config: SuiteConfig) -> dict:
    """The theorem dynamics on the two default problems, one seed, full batch, to ``horizon``."""
    out = {}
    for name, spec in config.named_problems():
        problem = spec.build(config.seed)
        setup = theory.game_setup(problem)
        traj = theory.run_game(problem, setup, config.horizon)
        out[name] = (problem, setup, traj, theory.log_grid(config.horizon))
    return out


def proof_subchecks(name: str, problem: R.MultiTaskProblem, setup: theory.GameSetup,
                    traj: R.Trajectory, horizons: np.ndarray) -> list[SubCheck]:
    """One sub-check per proof step: worst (lhs − rhs) beyond round-off, which must be <= 0."""
    out = []
    for rep in theory.instrument(problem, traj, setup, horizons):
        where = "held at every step" if rep.first_failure_t is None else \
            f"first broke at t = {rep.first_failure_t}"
        out.append(SubCheck(f"{name}: {rep.name}", rep.worst_violation, 0.0, "upper",
                            note=f"{rep.statement}; {where}"))
    return out


def run(config: SuiteConfig) -> ClaimResult:
    checks, cfg = [], {}
    for name, (problem, setup, traj, horizons) in game_runs(config).items():
        checks += proof_subchecks(name, problem, setup, traj, horizons)
        cfg[name] = {"problem": repr(problem), "horizons": horizons.tolist()}
    headline = max(checks, key=lambda c: c.measured)
    rest = [c for c in checks if c is not headline]
    return ClaimResult(ID, STATEMENT, SOURCE, CONVENTION, (headline, *rest), cfg, {})
