"""Pieces shared by several claim checks. The step sizes (``weight_sum``, ``smoothness``,
``lr_for``) live one layer down, in ``proofs_check.stepsize``, since the config uses them too;
they are re-exported here."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

import reference as R
from reference.lockstep import lockstep_supported, run_lockstep

from ..decide import SequentialRule
from ..report.result import SubCheck
from ..stepsize import lr_for, smoothness, weight_sum


# Exact reference classes whose gpu/ twin is held to them and runs on the device (gpu/ also
# batches MGDA, but its min-norm solver runs on the host). A subclass is not batched: it runs as
# it is, through reference.run.
BATCHED = (R.ExcessMTL, R.GroupDRO, R.EqualWeights, R.IMTLG)


def runs_each(problems: Sequence[R.Problem], method: R.WeightingMethod, steps: int,
              theta0: np.ndarray, *, seeds: Sequence[int] | None = None,
              failed: tuple[type[BaseException], ...] = (FloatingPointError,),
              **run_kwargs: Any) -> list[R.Trajectory | BaseException]:
    """``reference.run`` once per replica (``problems[k]`` from ``theta0[k]``, minibatch seed
    ``seeds[k]``), or the exception that ended it: a ``DivergenceWarning``, or one of ``failed``
    (a divergence by default). All replicas run in lockstep (``reference.lockstep``) where the
    problems and the method allow it; a lockstep run that raises one of ``failed`` (a method
    that raises) runs again one by one, so that each replica says its own. Any other exception
    propagates."""
    if lockstep_supported(problems, method):
        try:
            return run_lockstep(problems, method, steps, theta0=theta0, seeds=seeds,
                                **run_kwargs)
        except failed:
            pass
    out: list[R.Trajectory | BaseException] = []
    caught: tuple[type[BaseException], ...] = (*failed, R.DivergenceWarning)
    for k, (problem, start) in enumerate(zip(problems, theta0)):
        kw = dict(run_kwargs) if seeds is None else {**run_kwargs, "seed": seeds[k]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", R.DivergenceWarning)
                out.append(R.run(problem, method, steps, theta0=start, **kw))
        except caught as exc:
            out.append(exc)
    return out


def sequential_check(name: str, per_seed: np.ndarray, threshold: float, rule: SequentialRule,
                what: str, *, log: bool = False, decides: bool = True) -> SubCheck:
    """An SPRT sub-check on "statistic > threshold" per seed (NaN, a failed run, exceeds)."""
    x = np.asarray(per_seed, dtype=float)
    exceed = ~(x <= threshold)
    decision = rule.decide(exceed)
    f = x[np.isfinite(x)]
    spread = (f"per seed q10/q50/q90 = {np.quantile(f, 0.1):.3g}/{np.median(f):.3g}/"
              f"{np.quantile(f, 0.9):.3g}" if f.size else "no seed completed")
    thr = f"{threshold:+.3g} decades" if log else f"{threshold:.3g}"
    return SubCheck(name, decision.k / decision.n, rule.p0, "upper",
                    note=f"{what}; a seed exceeds when its statistic > {thr}; {spread}; "
                         f"{decision.describe()}", decision=decision, decides=decides)


def start_points(problem: R.MultiTaskProblem, seeds: list[int]) -> np.ndarray:
    """θ_0 per seed for the constant-step claims: 0 for seed 0 (the suite's single run), else
    N(0, I)·s/√d with s = the largest ‖θ_i*‖ (a start as far out as the task optima)."""
    scale = float(np.max(np.linalg.norm(problem.optimal_params, axis=1))) / np.sqrt(problem.dim)
    return np.array([np.zeros(problem.dim) if s == 0 else
                     np.random.default_rng([s, 7]).standard_normal(problem.dim) * scale
                     for s in seeds])


def worst_over_seeds(name: str, per_seed: list[SubCheck], seeds: list[int]) -> SubCheck:
    """The sub-check of the worst seed (largest measured/bound), its note naming the rule and the
    spread: the decision rule is "every seed passes"."""
    def badness(c: SubCheck) -> tuple[int, float]:
        excess = c.measured - c.bound if c.kind == "upper" else c.bound - c.measured
        return (0 if c.passed else 1, float(excess) if np.isfinite(excess) else np.inf)
    k = max(range(len(per_seed)), key=lambda i: badness(per_seed[i]))
    passing = sum(c.passed for c in per_seed)
    return replace(per_seed[k], name=f"{name} (worst of {len(seeds)} seeds: seed {seeds[k]})",
                   note=f"{passing}/{len(seeds)} seeds pass; rule: every seed must pass. "
                        f"{per_seed[k].note}".strip())


def describe(method: object) -> str:
    """A short label: ExcessMTL(exact, paper, no scale proc., η_α=1) or the class name."""
    if isinstance(method, R.ExcessMTL):
        sp = "" if method.scale_processing else ", no scale proc."
        return f"ExcessMTL({method.estimator}, {method.convention}{sp}, η_α={method.step_size:g})"
    if isinstance(method, R.GroupDRO):
        return f"GroupDRO({method.convention}, η_α={method.step_size:g})"
    if isinstance(method, R.EqualWeights):
        return f"EqualWeights({method.convention})"
    return str(getattr(method, "label", None) or type(method).__name__)


__all__ = ["BATCHED", "describe", "lr_for", "sequential_check", "smoothness", "start_points",
           "weight_sum", "worst_over_seeds"]
