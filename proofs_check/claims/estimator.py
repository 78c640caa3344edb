"""Claim 5: the Taylor excess-risk estimator, and what the official AdaGrad estimator does.

[ABS]/[SS] E_i is estimated by a Taylor approximation; [CODE] the official estimator uses the
AdaGrad accumulator (docs/sources.md §S2.3). Findings are reported as measured, pass or fail.
"""

from __future__ import annotations

import warnings

import numpy as np

import gpu
import reference as R

from ..config import SuiteConfig
from ..report.result import ClaimResult, SubCheck
from .common import BATCHED, smoothness, weight_sum


ID = "estimator"
STATEMENT = ("½gᵀH⁻¹g is exact on quadratics and first-order accurate (relative) on logistic; the "
             "official AdaGrad estimate tracks the relative excess risk; ExcessMTL driven by each "
             "estimator reaches the min–max excess-risk solution")
SOURCE = "[ABS]/[SS] Taylor estimator; [CODE] AdaGrad estimator; [OURS] docs/sources.md §S2.4 gap"
CONVENTION = "estimators on full-batch GD; min–max runs: paper convention"
MINMAX_RTOL = 1e-3


def taylor_quadratic_error(problem: R.MultiTaskProblem, steps: int = 200) -> float:
    traj = R.run(problem, R.EqualWeights("paper"), steps, lr=0.1)
    errs = [np.max(np.abs(R.taylor_estimate(problem.grads(t), problem.hessians(t)) - e) / e)
            for t, e in zip(traj.thetas, traj.excess)]
    return float(np.max(errs))


def taylor_relative_errors(problem: R.MultiTaskProblem, seed: int, directions: int = 5,
                           deltas: np.ndarray = np.logspace(-3, -1, 7)) -> np.ndarray:
    """|½gᵀH⁻¹g − E|/E at θ = θ_i* + δu for random unit u, one row per (task, direction),
    one column per δ."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(problem.n_tasks):
        for _ in range(directions):
            u = rng.standard_normal(problem.dim)
            u /= np.linalg.norm(u)
            rel = []
            for d in deltas:
                th = problem.optimal_params[i] + d * u
                ex = problem.excess_risks(th)[i]
                ta = R.taylor_estimate(problem.grads(th)[i:i + 1], problem.hessians(th)[i:i + 1])
                rel.append(abs(ta[0] - ex) / ex)
            rows.append(rel)
    return np.array(rows)


def taylor_logistic_slopes(problem: R.MultiTaskProblem, seed: int, directions: int = 5
                           ) -> np.ndarray:
    """Fitted slopes of log(relative Taylor error) on log‖θ − θ_i*‖, δ ∈ [1e-3, 1e-1]."""
    deltas = np.logspace(-3, -1, 7)
    rel = taylor_relative_errors(problem, seed, directions, deltas)
    return np.array([np.polyfit(np.log(deltas), np.log(r), 1)[0] for r in rel])


def adagrad_ratio(seed: int, steps: int = 50) -> dict:
    """Ê_t/Ê_1 against E_t/E_1 on a 5-D linear regression under GD (the setting of
    docs/sources.md §S2.4: n = 200, noise 0.5, lr 0.1, θ_0 = 0; our generator)."""
    p = R.make_linear_problem(1, 5, 200, noise=0.5, seed=seed)
    traj = R.run(p, R.ExcessMTL("adagrad", "official"), steps, lr=0.1)
    true = traj.excess[:-1, 0] / traj.excess[0, 0]
    est = traj.estimates[:, 0] / traj.estimates[0, 0]
    return {"t": np.arange(1, steps + 1), "true_ratio": true, "adagrad_ratio": est}


def _spread(values: np.ndarray, ok: np.ndarray) -> str:
    f = values[np.isfinite(values)]
    if f.size == 0:
        return "every seed diverged"
    q10, q50, q90 = np.percentile(f, [10, 50, 90])
    return (f"per seed q10/q50/q90 = {q10:.3g}/{q50:.3g}/{q90:.3g}; {np.mean(ok):.0%} of "
            f"{values.size} seeds pass")


def minmax_reach(problems: list[R.MultiTaskProblem], method: R.WeightingMethod, steps: int,
                 lr: float, backend: str = "numpy") -> np.ndarray:
    """Per seed |max_i E_i(θ_T)/min_θ max_i E_i(θ) − 1| (inf for a diverged replica), all seeds
    in one batched run through gpu/ with one common lr."""
    values = np.array([R.minmax_solution(p).value for p in problems])
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", R.DivergenceWarning)
        if type(method) in BATCHED:          # exactly a reference class: its batched twin
            batch = gpu.from_reference(problems, backend=backend)
            traj = gpu.run_batched(batch, method, steps, lr=lr, record="final")
            final = np.asarray(traj.excess[0], float).max(axis=1)
        else:                                # a subclass or a user's method: as it is
            final = np.full(len(problems), np.inf)
            for k, p in enumerate(problems):
                try:
                    final[k] = R.run(p, method, steps, lr=lr).max_excess[-1]
                except FloatingPointError:
                    continue
    out = np.abs(final / values - 1.0)
    return np.where(np.isfinite(out), out, np.inf)


def minmax_subcheck(name: str, reach: np.ndarray) -> SubCheck:
    """The median over seeds of the relative distance to the min–max value, against 1e-3."""
    return SubCheck(f"{name}: |max E(θ_T)/minmax − 1| (median of {reach.size} seeds)",
                    float(np.median(reach)), MINMAX_RTOL, "upper",
                    note=_spread(reach, reach <= MINMAX_RTOL)
                    + "; min–max values exact, certified by their duality gaps")


def run(config: SuiteConfig) -> ClaimResult:
    """Every sub-check over the config's seeds (each seed its own data): the Taylor error is the
    worst over seeds, an order or a ratio the median over seeds (the spread in the note)."""
    seeds = [config.seed + k for k in range(config.seeds)]
    specs = dict(config.named_problems())
    lins = [specs["linear"].build(s) for s in seeds] if "linear" in specs else []
    logs = [specs["logistic"].build(s) for s in seeds] if "logistic" in specs else []
    checks = []
    if lins:
        errs = np.array([taylor_quadratic_error(p) for p in lins])
        checks.append(SubCheck(f"taylor on linear: max relative error vs exact (worst of "
                               f"{len(seeds)} seeds)", float(errs.max()), 1e-10, "upper",
                               note=_spread(errs, errs <= 1e-10)))
    if logs:
        slopes = np.concatenate([taylor_logistic_slopes(p, s) for p, s in zip(logs, seeds)])
        per_seed = np.median(slopes.reshape(len(seeds), -1), axis=1)
        checks.append(SubCheck(
            f"taylor on logistic: median order of the relative error ({len(seeds)} seeds)",
            float(np.median(slopes)), 1.0, "tight", rtol=0.1,
            note=("E − ½gᵀH⁻¹g = ∇³ℓ[δ,δ,δ]/6 + O(δ⁴): order 1 generically, higher along "
                  "directions where the cubic form vanishes; "
                  + _spread(per_seed, np.abs(per_seed - 1) <= 0.1))))
    ratios = [adagrad_ratio(s) for s in seeds]
    k = 19  # t = 20
    r20 = np.array([r["adagrad_ratio"][k] / r["true_ratio"][k] for r in ratios])
    ratio = ratios[0]
    checks.append(SubCheck(
        f"adagrad: (Ê_20/Ê_1)/(E_20/E_1) (median of {len(seeds)} seeds)",
        float(np.median(r20)), 1.0, "tight", rtol=0.1,
        note=(f"seed {seeds[0]}: Ê_t/Ê_1 = {ratio['adagrad_ratio'][4]:.3g}, "
              f"{ratio['adagrad_ratio'][19]:.3g}, {ratio['adagrad_ratio'][49]:.3g} vs E_t/E_1 = "
              f"{ratio['true_ratio'][4]:.3g}, {ratio['true_ratio'][19]:.3g}, "
              f"{ratio['true_ratio'][49]:.3g} at t = 5, 20, 50; "
              + _spread(r20, np.abs(r20 - 1) <= 0.1))))
    variants = {
        "ExcessMTL(exact, no scale proc.)": R.ExcessMTL("exact", "paper", scale_processing=False),
        "ExcessMTL(taylor, no scale proc.)": R.ExcessMTL("taylor", "paper", scale_processing=False),
        "ExcessMTL(adagrad, official algorithm)": R.ExcessMTL("adagrad", "paper"),
    }
    for pname, problems in (("linear", lins), ("logistic", logs)):
        if not problems:
            continue
        L = max(smoothness(p) for p in problems)
        for vname, method in variants.items():
            lr = (1.0 / L if config.lr is None else config.lr) / weight_sum(problems[0], method)
            reach = minmax_reach(problems, method, config.train_steps, lr, config.backend)
            checks.append(minmax_subcheck(f"{pname} {vname}", reach))
    cfg = {"steps": config.train_steps, "minmax_rtol": MINMAX_RTOL, "seeds": seeds,
           "decision": "Taylor error: every seed; orders, ratios, reach: median over seeds"}
    return ClaimResult(ID, STATEMENT, SOURCE, CONVENTION, tuple(checks), cfg,
                       {f"ratio_{k}": v for k, v in ratio.items()})
