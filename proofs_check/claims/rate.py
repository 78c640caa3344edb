"""Claim 1: the duality gap of the averaged iterates vanishes at the O(1/√T) rate (convex), for
any weighting method run in the theorem's loop, over seeds, in both regimes.

[SS] "O(1/√t) convergence ... in convex settings"; [ABS] "convergence guarantees". The bounds and
the decision rules are ours (docs/theory.md §3, §3b; docs/claims.md "rate").

Loop: projected SGD on Θ = {‖θ − c‖ <= R} with η_t = D/(G√(2t)) (the theorem's θ-player), driven
by the method's weights; per seed s, θ_0 = c + (R/2)·u_s (u_s uniform on the sphere) and, in the
stochastic regime, the minibatch stream of seed s. Measured per seed: gap_T of (θ̄_T, ᾱ_T) on the
full training set, at T on a log grid over the last two decades.

Decision rules. Per seed s the statistic is ρ_s = median over the last decade of gap_T·√T
divided by the same median over the decade before. Each rule marks a seed that exceeds its
per-seed threshold (a failed run exceeds every threshold), and an SPRT over the seeds decides
pass, fail or inconclusive (``proofs_check.decide``, theory §8), adding seeds while undecided up
to the budget ``max_seeds``:

* the paper's O(1/√T), every regime: ρ_s > 10^{1/4}. A method that converges keeps gap·√T
  bounded, ρ <= 1 (full batch, constant η_α: ρ ≈ 10^{-1/2}); one that stalls at another point
  than the min–max solution has a gap that plateaus, ρ → √10 = 3.16; the threshold is their
  geometric midpoint.
* paired with the theorem dynamics, minibatch regimes (``verify``): the theorem dynamics run on
  the same θ_0 and minibatch stream as the method, seed by seed (common random numbers), and
  D_s = log10 of the growth of gap_method/gap_theorem over the last decade; the seed exceeds
  when D_s > 1/4 (the method's gap·√T grows by 10^{1/4} more than the theorem's on the same
  draws). The shared minibatch noise cancels, which is what makes a stall floor visible.
* full batch, smooth tasks, the constant-step theorem dynamics' 1/T (theory §3b): ρ_s >
  10^{-1/4}. It decides in the suite, where the method is the theorem dynamics; ``verify``
  reports it without deciding, since a method with the paper's O(1/√T) (an anytime η_α/√t, the
  FTRL order) need not have it.
* full batch, every seed and T, when the method exposes its η_α (``step_size``): gap_T <= the
  data-dependent bound of theory §3, and <= the a-priori bound √2·D·G/√T + ln m/(η_α T).
* nonsmooth tasks (LAD): the 1/T argument needs a last iterate that converges at a summable rate,
  which subgradient steps do not give, so full batch has the O(1/√T) rule only.
* the tight instance (``instances.tight_bound_problem``, theory §3c), full batch: the two bounds
  only, every seed and T. There the theorem dynamics reach measured/bound ≈ 0.2 (the suite checks
  that this tightness stays >= 0.1), so the bound has at most ~5× slack. The growth rule does not
  apply: by design Hedge is still shedding the inactive tasks' weight over the whole horizon.
* every seed's run completes (a method that raises or diverges fails the claim).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np

import gpu
import reference as R
from reference.loop import Schedule
from reference.sampling import SamplerKind

from . import theory
from .common import runs_each, sequential_check
from .instances import tight_bound_problem
from .official_reduction import reduction_subchecks
from .rate_grid import (GROWTH_DETERMINISTIC, GROWTH_STOCHASTIC, _averages, horizons,
                        seed_starts)
from ..config import SuiteConfig, noisy_tasks_of
from ..decide import Decision, SequentialRule, sequential_seeds
from ..report.result import ClaimResult, SubCheck

ID = "rate"
STATEMENT = ("The duality gap of the averaged iterates (θ̄_T, ᾱ_T) vanishes: gap·√T does not grow "
             "with minibatches, gap falls like 1/T at full batch (median over seeds), and at full "
             "batch it stays under the theorem's bounds on every seed")
SOURCE = "[SS] O(1/√t) convex rate; bounds and decision rules [OURS] docs/theory.md §3, §3b"
CONVENTION = "any convention (weights normalised to the simplex); projected SGD, η_t ∝ 1/√t"
REFERENCE_CLASSES = (R.ExcessMTL, R.GroupDRO, R.EqualWeights, R.MGDA, R.IMTLG)
TIGHTNESS_MIN = 0.1
TIGHT = "tight full batch"


@dataclass(frozen=True)
class SeedRuns:
    """What the rate claim measured for one (problem, regime): per seed s and horizon T."""

    name: str
    batch_size: int | None
    T: np.ndarray                      # (K,)
    gaps: np.ndarray                   # (S, K), NaN for a seed whose run failed
    data_bound: np.ndarray             # (S, K)
    apriori: np.ndarray                # (K,) (NaN when η_α is unknown)
    failures: tuple[str, ...]
    seeds: tuple[int, ...]
    curves: dict = field(default_factory=dict, repr=False)   # seed 0's α and E, for figures
    rule: str = "growth"               # "growth" (+ bounds at full batch) | "bounds" (tight)
    smooth: bool = True                # False for LAD tasks: full batch uses the 1/√T rule
    theorem_gaps: np.ndarray | None = None   # (S, K): the theorem dynamics on the same draws

    def extend(self, more: SeedRuns) -> SeedRuns:
        """These runs followed by ``more`` (the next seeds of the same problem and regime)."""
        tg = None if self.theorem_gaps is None or more.theorem_gaps is None else \
            np.vstack([self.theorem_gaps, more.theorem_gaps])
        return replace(self, gaps=np.vstack([self.gaps, more.gaps]),
                       data_bound=np.vstack([self.data_bound, more.data_bound]),
                       failures=self.failures + more.failures, seeds=self.seeds + more.seeds,
                       theorem_gaps=tg)

    @property
    def paired_growth(self) -> np.ndarray | None:
        """D_s = log10 of the growth of gap_method/gap_theorem over the last decade, (S,), or
        None without the theorem dynamics' runs."""
        if self.theorem_gaps is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log10(self._decade_growth(self.gaps / self.theorem_gaps))

    @property
    def tightness(self) -> float:
        """Median over seeds of max_T gap_T / data-dependent bound (NaN without η_α)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.gaps / self.data_bound
        ok = np.isfinite(r).all(axis=1)
        return float(np.median(r[ok].max(axis=1))) if ok.any() else float("nan")

    @property
    def growth(self) -> np.ndarray:
        """ρ_s = median_{T in last decade} gap·√T / median_{T in the decade before}, (S,)."""
        return self._decade_growth(self.gaps * np.sqrt(self.T))

    def _decade_growth(self, values: np.ndarray) -> np.ndarray:
        """Per seed, the median of ``values`` (S, K) over the last decade of T divided by its
        median over the decade before."""
        late, early = self.T >= self.T[-1] / 10, self.T <= self.T[-1] / 10
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.median(values[:, late], axis=1) / np.median(values[:, early], axis=1)


def _eta_alpha(method: R.WeightingMethod) -> float | None:
    eta = getattr(method, "step_size", None)
    return float(eta) if isinstance(eta, (int, float)) and not isinstance(eta, bool) else None


class RunKwargs(TypedDict):
    """The keywords of the theorem's loop shared by every run of a (problem, regime)."""

    lr: float
    schedule: Schedule
    project_radius: float
    project_center: np.ndarray
    batch_size: int | None
    sampler: SamplerKind


def run_seeds(name: str, problem: R.ExactProblem, method: R.WeightingMethod,
              setup: theory.GameSetup, steps: int, seeds: list[int], *,
              batch_size: int | None = None,
              sampler: SamplerKind = "with_replacement", backend: str = "numpy",
              rule: str = "growth") -> SeedRuns:
    """Run ``method`` in the theorem's loop once per seed and measure gap_T on the grid.

    Reference methods run batched through ``gpu`` (all seeds at once); any other object with the
    ``reference.WeightingMethod`` protocol runs seed by seed through ``reference.run``."""
    if rule not in ("growth", "bounds"):
        raise ValueError(f"rule must be 'growth' or 'bounds', got {rule!r}")
    T = horizons(steps)
    S = len(seeds)
    smooth = getattr(problem, "loss", None) != "absolute"
    starts = seed_starts(setup, seeds)
    eta_alpha = _eta_alpha(method)
    # the bounds use the method's own η_α (and are not computed without one)
    game = setup if eta_alpha is None else replace(setup, eta_alpha=eta_alpha)
    common = RunKwargs(lr=setup.eta_theta, schedule="inv_sqrt", project_radius=setup.radius,
                       project_center=setup.center, batch_size=batch_size, sampler=sampler)
    gaps = np.full((S, len(T)), np.nan)
    bound = np.full((S, len(T)), np.nan)
    failures: list[str] = []
    curves: dict = {}
    w0: np.ndarray | None = None
    e0: np.ndarray | None = None
    if type(method) in REFERENCE_CLASSES and isinstance(problem, R.EXACT_PROBLEMS):
        # gpu.from_reference stacks LAD problems too; its annotation names MultiTaskProblem only
        batch = gpu.from_reference([problem] * S,  # type: ignore[list-item]
                                   backend=backend, keep_samples=batch_size is not None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", R.DivergenceWarning)
                tr = gpu.run_batched(batch, method, steps, theta0=starts, seeds=seeds, **common)
        except (ValueError, FloatingPointError, R.DivergenceWarning) as exc:
            return SeedRuns(name, batch_size, T, gaps, bound, np.full(len(T), np.nan),
                            (f"all seeds: {exc}",), tuple(seeds), rule=rule, smooth=smooth)
        tb, ab = _averages(tr.thetas, tr.weights, T)                     # (K, S, ·)
        gaps = np.stack([gpu.duality_gap(batch, tb[k], ab[k]) for k in range(len(T))], axis=1)
        if eta_alpha is not None:
            bound = theory.data_bound(tr.step_sizes, tr.combined_grad_norms, game, T).T
        w0, e0 = tr.weights[:, 0], tr.excess[:, 0]
    else:
        combined = np.full((steps, S), np.nan)
        etas = None
        for s_i, (seed, one) in enumerate(zip(seeds, runs_of(problem, method, steps, starts,
                                                               seeds, common))):
            if isinstance(one, BaseException):
                failures.append(f"seed {seed}: {type(one).__name__}: {one}")
                continue
            tb, ab = _averages(one.thetas, one.weights, T)
            gaps[s_i] = [R.duality_gap(problem, tb[k], ab[k]).gap for k in range(len(T))]
            combined[:, s_i], etas = one.combined_grad_norms, one.step_sizes
            if w0 is None:
                w0, e0 = one.weights, one.excess
        if etas is not None and eta_alpha is not None:
            bound = theory.data_bound(etas, combined, game, T).T
    if w0 is not None and e0 is not None:          # set together
        idx = np.unique(np.round(np.logspace(0, np.log10(steps), 200)).astype(int)) - 1
        curves = {"traj_t": idx + 1, "weights": (w0 / w0.sum(-1, keepdims=True))[idx],
                  "excess": e0[idx + 1], "minmax": np.array([R.minmax_solution(problem).value])}
    apriori = theory.apriori_bound(game, T) if eta_alpha else np.full(len(T), np.nan)
    return SeedRuns(name, batch_size, T, gaps, bound, apriori, tuple(failures), tuple(seeds),
                    curves, rule, smooth)


def runs_of(problem: R.ExactProblem, method: R.WeightingMethod, steps: int, starts: np.ndarray,
            seeds: list[int], common: RunKwargs) -> list[R.Trajectory | BaseException]:
    """``reference.run`` once per seed, or the exception that ended the run (``runs_each``): a
    ``ValueError``/``TypeError`` of a run is a failed run, as a divergence is."""
    return runs_each([problem] * len(seeds), method, steps, starts, seeds=seeds,
                     failed=(ValueError, TypeError, FloatingPointError), **common)


def tight_runs(method: R.WeightingMethod, seeds: list[int], steps: int, *, seed: int = 0,
               backend: str = "numpy") -> SeedRuns | None:
    """``method`` on the tight instance (problem seed ``seed``), full batch, bound rules only;
    None when the method exposes no η_α (``step_size``): the bounds need it."""
    if _eta_alpha(method) is None:
        return None
    problem = tight_bound_problem(seed)
    return run_seeds(TIGHT, problem, method, theory.game_setup(problem), steps, seeds,
                     backend=backend, rule="bounds")


def tight_config(seed: int, steps: int, seeds: list[int]) -> dict:
    """What the report records of the tight instance's runs."""
    problem = tight_bound_problem(seed)
    return {"problem": repr(problem), **theory.game_setup(problem).to_json(), "steps": steps,
            "seeds": seeds, "rule": "both bounds, every seed and T (theory §3c)"}


def median_rule_false_alarm(p_seed: float, n_seeds: int) -> float:
    """P(the median of n_seeds i.i.d. values exceeds the threshold) when each exceeds with
    probability p_seed: P(Binomial(n, p) >= ⌊n/2⌋ + 1)."""
    k0 = n_seeds // 2 + 1
    return float(sum(math.comb(n_seeds, k) * p_seed ** k * (1 - p_seed) ** (n_seeds - k)
                     for k in range(k0, n_seeds + 1)))


PAIRED_GROWTH = 0.25
"""The paired rule's per-seed threshold on D_s, in decades (10^{1/4}, as the absolute rule)."""
THEOREM_RULE = "gap falls like 1/T (the constant-step theorem dynamics, theory §3b)"


def rate_subchecks(runs: SeedRuns, rule: SequentialRule | None = None, *,
                   one_over_t_decides: bool = True) -> list[SubCheck]:
    """The decision rules of the module docstring, with their per-seed statistics and the
    sequential decisions in the notes. ``one_over_t_decides``: the full-batch 1/T rule decides
    (the suite, whose method is the theorem dynamics) or is only reported (``verify``)."""
    rule = rule or SequentialRule(max_seeds=max(32, len(runs.seeds)))
    S = len(runs.seeds)
    ok = np.isfinite(runs.gaps).all(axis=1)
    checks = [SubCheck(f"{runs.name}: seeds whose run failed", float(S - ok.sum()), 0.0, "upper",
                       note="; ".join(runs.failures[:2]) or f"all {S} runs completed")]
    if not ok.any():
        return checks
    stochastic = runs.batch_size is not None
    rho = np.where(ok, runs.growth, np.nan)
    T = f"T = {runs.T[0]}..{runs.T[-1]}"
    if runs.rule == "growth":
        what = "the paper's O(1/√T): gap·√T does not grow"
        if not stochastic and not runs.smooth:
            what += " (nonsmooth tasks: the only rate rule)"
        checks.append(sequential_check(
            f"{runs.name}: growth of gap·√T over the last decade (paper's O(1/√T))", rho,
            GROWTH_STOCHASTIC, rule, f"{what}; a plateau gives 3.16; {T}"))
        if not stochastic and runs.smooth:
            checks.append(sequential_check(
                f"{runs.name}: growth of gap·√T over the last decade (1/T of the theorem "
                "dynamics)", rho, GROWTH_DETERMINISTIC, rule,
                f"{THEOREM_RULE}: ρ ≈ 10^(-1/2) for them" +
                ("" if one_over_t_decides else "; reported, not deciding: a method with the "
                 "paper's O(1/√T) need not have it") + f"; {T}",
                decides=one_over_t_decides))
        paired = runs.paired_growth
        if stochastic and paired is not None:
            checks.append(sequential_check(
                f"{runs.name}: growth of gap/gap of the theorem dynamics on the same draws",
                np.where(ok, paired, np.nan), PAIRED_GROWTH, rule,
                "paired with the theorem dynamics (same θ_0 and minibatch stream per seed): "
                "log10 of the growth of gap_method/gap_theorem over the last decade; a stall "
                f"floor makes it grow; {T}", log=True))
    if not stochastic and np.isfinite(runs.apriori).all():
        g = runs.gaps[ok]
        checks.append(SubCheck(f"{runs.name}: max over seeds and T of gap/data-dependent bound",
                               float(np.nanmax(g / runs.data_bound[ok])), 1.0, "upper",
                               note="[D²/(2η_T) + Σ η_t‖ĝ_t‖²/2 + ln m/η_α]/T, theorem §3, "
                                    f"every one of {int(ok.sum())} seeds; tightness (median "
                                    f"over seeds of max over T) {runs.tightness:.3g}"))
        checks.append(SubCheck(f"{runs.name}: max over seeds and T of gap/a-priori bound",
                               float(np.max(g / runs.apriori)), 1.0, "upper",
                               note="√2·D·G/√T + ln m/(η_α T), every seed"))
    return checks


_THEOREM_RUNS: OrderedDict[tuple, np.ndarray] = OrderedDict()
_THEOREM_RUNS_MAX = 64


def _problem_key(problem: object) -> str:
    """A digest of a problem's type and every array and scalar it holds."""
    h = hashlib.sha1(type(problem).__qualname__.encode())
    for key, value in sorted(vars(problem).items()):
        h.update(key.encode())
        if isinstance(value, np.ndarray):
            h.update(str(value.dtype).encode() + str(value.shape).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def theorem_gaps(problem: R.ExactProblem, theorem: R.WeightingMethod, setup: theory.GameSetup,
                 steps: int, seeds: list[int], batch_size: int | None, sampler: SamplerKind,
                 backend: str) -> np.ndarray:
    """gap_T of the theorem dynamics on these seeds, (S, K): the paired rule's reference runs,
    kept (at most 64 entries, least recently used out) for the next method checked on the same
    problem, seeds and regime. The runs are deterministic, so a kept entry is what a new run
    would give."""
    key = (_problem_key(problem), repr(theorem), steps, tuple(seeds), batch_size, sampler,
           backend, setup.eta_theta, setup.radius, setup.center.tobytes())
    if key in _THEOREM_RUNS:
        _THEOREM_RUNS.move_to_end(key)
        return _THEOREM_RUNS[key].copy()
    gaps = run_seeds("theorem", problem, theorem, setup, steps, seeds, batch_size=batch_size,
                     sampler=sampler, backend=backend).gaps
    _THEOREM_RUNS[key] = gaps.copy()
    while len(_THEOREM_RUNS) > _THEOREM_RUNS_MAX:
        _THEOREM_RUNS.popitem(last=False)
    return gaps


def decided_runs(name: str, problem: R.ExactProblem, method: R.WeightingMethod,
                 setup: theory.GameSetup, steps: int, seeds: list[int], rule: SequentialRule,
                 *, batch_size: int | None = None, sampler: SamplerKind = "with_replacement",
                 backend: str = "numpy", paired: R.WeightingMethod | None = None,
                 extend: bool = True, one_over_t_decides: bool = True) -> SeedRuns:
    """``run_seeds`` on ``seeds``, then on the seeds that follow, a block at a time, while a
    sequential rule of ``rate_subchecks`` is undecided and the budget ``rule.max_seeds`` lasts
    (``extend=False``: exactly ``seeds``). ``paired``: the theorem dynamics, run on the same
    seeds in the minibatch regimes for the paired rule."""
    pair = paired if batch_size is not None else None

    def block(chunk: list[int]) -> SeedRuns:
        runs = run_seeds(name, problem, method, setup, steps, chunk, batch_size=batch_size,
                         sampler=sampler, backend=backend)
        if pair is None:
            return runs
        return replace(runs, theorem_gaps=theorem_gaps(problem, pair, setup, steps, chunk,
                                                       batch_size, sampler, backend))

    def joined(blocks: list[SeedRuns]) -> SeedRuns:
        out = blocks[0]
        for more in blocks[1:]:
            out = out.extend(more)
        return out

    if not extend:
        return block(list(seeds))

    def decisions(blocks: list) -> list[Decision]:
        checks = rate_subchecks(joined(blocks), rule, one_over_t_decides=one_over_t_decides)
        return [c.decision for c in checks if c.decision is not None and c.decides]

    return joined(sequential_seeds(block, seeds[0], rule, decisions, initial=len(seeds)))


def claim_result(runs: list[SeedRuns], config: dict, rule: SequentialRule | None = None, *,
                 one_over_t_decides: bool = True) -> ClaimResult:
    """The claim over every (problem, regime): fails if a deciding sub-check fails."""
    checks, arrays = [], {}
    for r in runs:
        checks += rate_subchecks(r, rule, one_over_t_decides=one_over_t_decides)
        key = r.name.replace(" ", "_")
        arrays.update({f"{key}_T": r.T, f"{key}_gaps": r.gaps, f"{key}_growth": r.growth,
                       f"{key}_apriori": r.apriori, f"{key}_seeds": np.array(r.seeds),
                       f"{key}_data_bound": r.data_bound,
                       f"{key}_bounds_only": np.array(r.rule == "bounds"),
                       f"{key}_batch": np.array(-1 if r.batch_size is None else r.batch_size)})
        arrays.update({f"{key}_{k}": v for k, v in r.curves.items()})
    growth = [c for c in checks if "growth" in c.name and c.decides]
    if growth:                 # headline: the least comfortable growth check (or the first failure)
        order = {"fail": 2, "inconclusive": 1, "pass": 0}
        worst = max(growth, key=lambda c: (order[c.verdict], c.measured / c.bound))
        checks = [worst, *(c for c in checks if c is not worst)]
    return ClaimResult(ID, STATEMENT, SOURCE, CONVENTION, tuple(checks), config, arrays)


def regimes(config: SuiteConfig) -> list[tuple[str, int | None]]:
    return [("full batch", None)] + [(f"batch {b}", b) for b in config.batch_sizes]


def run(config: SuiteConfig) -> ClaimResult:
    method = R.ExcessMTL("exact", "paper", scale_processing=False, **config.method_kwargs())
    seeds = list(range(config.seed, config.seed + config.seeds))
    runs, cfg = [], {}
    for pname, spec in config.named_problems():
        problem = spec.build(config.seed)
        setup = theory.game_setup(problem)
        cfg[pname] = {"problem": repr(problem), "noisy_tasks": list(noisy_tasks_of(problem)),
                      "method": repr(method), **setup.to_json(),
                      "steps": config.rate_steps, "seeds": seeds}
        for rname, b in regimes(config):
            runs.append(decided_runs(f"{pname} {rname}", problem, method, setup,
                                     config.rate_steps, seeds, config.rule(), batch_size=b,
                                     backend=config.backend))
    tight = tight_runs(method, seeds, config.rate_steps, seed=config.seed, backend=config.backend)
    if tight is not None:
        cfg["tight"] = {**tight_config(config.seed, config.rate_steps, seeds),
                        "method": repr(method)}
        runs.append(tight)
    result = claim_result(runs, cfg, config.rule())
    extra = []
    for pname, spec in config.named_problems():
        problem = spec.build(config.seed)
        extra += reduction_subchecks(pname, problem, theory.game_setup(problem),
                                     config.rate_steps, seeds, config.backend)
    if tight is not None:
        extra.append(SubCheck(
            f"{TIGHT}: tightness of the bound, median over seeds of max over T of gap/bound",
            tight.tightness, TIGHTNESS_MIN, "lower",
            note="measured with the theorem dynamics; >= 0.1 means a method 10× slower than them "
                 "breaks the bound here (theory §3c)"))
    return replace(result, checks=(*result.checks, *extra))
