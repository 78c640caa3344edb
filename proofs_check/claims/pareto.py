"""Claim 3: ExcessMTL's output is Pareto optimal (convex).

[SS] "Pareto optimality in convex settings"; definitions [REC] NOTES §7. Checked with exact
oracles: ``is_dominated`` (a convex program) on 3-task problems, and the distance above the exact
two-task front traced by weighted scalarisation.
"""

from __future__ import annotations

import numpy as np

import reference as R

from ..config import SuiteConfig
from ..result import ClaimResult, SubCheck
from .common import lr_for

ID = "pareto-optimal"
STATEMENT = ("The final iterate of ExcessMTL is not dominated (no θ' improves a task by > 1e-9 "
             "without worsening another), and on 2 tasks it lies on the exact Pareto front")
SOURCE = "[SS] Pareto optimality (convex); definitions [REC] NOTES §7"
CONVENTION = "official (code) and paper; constant lr; last iterate"
DOMINANCE_TOL = 1e-9
FRONT_TOL = 1e-8

EXCESS_VARIANTS = {
    "ExcessMTL(adagrad, official)": lambda: R.ExcessMTL("adagrad", "official"),
    "ExcessMTL(exact, paper)": lambda: R.ExcessMTL("exact", "paper"),
    "ExcessMTL(exact, no scale proc.)": lambda: R.ExcessMTL("exact", "paper",
                                                            scale_processing=False),
}
BASELINES = {"GroupDRO": lambda: R.GroupDRO("paper"), "EqualWeights": lambda: R.EqualWeights("paper"),
             "MGDA": lambda: R.MGDA()}


def dominance_subcheck(name: str, problem: R.MultiTaskProblem, theta: np.ndarray) -> SubCheck:
    res = R.is_dominated(problem, theta, tol=DOMINANCE_TOL)
    return SubCheck(f"{name}: largest improvement by a dominating θ'", float(np.max(res.improvement)),
                    DOMINANCE_TOL, "upper", note="is_dominated (SLSQP on the convex program)")


def run(config: SuiteConfig) -> ClaimResult:
    checks, arrays = [], {}
    for pname, problem in (("linear", config.linear()), ("logistic", config.logistic())):
        for mname, make in EXCESS_VARIANTS.items():
            method = make()
            traj = R.run(problem, method, config.train_steps, lr=lr_for(problem, method))
            checks.append(dominance_subcheck(f"{pname} {mname}", problem, traj.thetas[-1]))
    two = config.linear(noise=(0.1, 1.0))
    front = R.pareto_front(two, 101 if not config.quick else 41)
    arrays["front_losses"] = front.losses
    names, ends = [], []
    for mname, make in {**EXCESS_VARIANTS, **BASELINES}.items():
        method = make()
        traj = R.run(two, method, config.train_steps, lr=lr_for(two, method))
        names.append(mname)
        ends.append(two.losses(traj.thetas[-1]))
        if mname in EXCESS_VARIANTS:
            checks.append(SubCheck(f"2-task {mname}: height above the exact front",
                                   R.front_gap(two, traj.thetas[-1]), FRONT_TOL, "upper",
                                   note="ℓ_2(θ) − min{ℓ_2 : ℓ_1 <= ℓ_1(θ)}"))
    arrays["end_losses"] = np.array(ends)
    arrays["end_names"] = np.array(names)
    arrays["optimal_losses"] = two.optimal_losses
    headline = max(checks, key=lambda c: c.measured / c.bound)
    rest = [c for c in checks if c is not headline]
    cfg = {"steps": config.train_steps, "two_task_problem": repr(two),
           "dominance_tol": DOMINANCE_TOL, "front_tol": FRONT_TOL}
    return ClaimResult(ID, STATEMENT, SOURCE, CONVENTION, (headline, *rest), cfg, arrays)
