"""``verify``: point the claim checks at your own weighting method and your own problem.

    import proofs_check as pc
    report = pc.verify(MyMethod(), my_problem, seeds=8, batch_size=[None, 8])
    print(report.table()); report.save("my-results")

Any object with the ``reference.WeightingMethod`` protocol (``init_state(n_tasks, dim)``,
``step(state, losses, grads, *, excess=None, hessians=None) -> (state, weights)`` and an optional
``needs`` set) is a method; its weights may sum to 1 or to m (they are put on the simplex, so
the θ-step is the theorem's in either convention). It runs inside the theorem's loop (projected
SGD, η_t = D/(G√(2t)), docs/theory.md §3) on each problem, each regime and each seed.

A method that raises (``sys.exit`` included) or returns weights that are not weights (negative,
summing to <= 0, of the wrong shape) is an input error, ``reference.UserMethodError`` naming it
and the step, never a verdict: the command line exits 2.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np
from tqdm import tqdm

import reference as R
from reference.lockstep import BatchedWeightingMethod, offers_batch
from reference.sampling import SamplerKind

from . import pool
from .claims import theory
from .claims import CLAIMS
from .claims import pareto as pareto_claim
from .claims import rate as rate_claim
from .claims import robustness as robustness_claim
from .claims import stationarity as stationarity_claim
from .claims.common import describe
from .claims.instances import inactive_task_problem
from .config import ProblemSpec, SuiteConfig, noisy_tasks_of
from .report.result import ClaimResult, SubCheck
from .report.table import format_table

INACTIVE = "inactive task"
VERIFIABLE = ("rate", "pareto-optimal", "pareto-stationary", "robustness")
"""Claims that ``verify`` runs on any method. ``proof-steps`` and ``estimator`` are about
ExcessMTL's own internals (the proof's inequalities, its excess-risk estimators) and run in the
suite (``python -m proofs_check``)."""


@dataclass(frozen=True)
class Report:
    """The verdicts of ``verify``: one ``ClaimResult`` per (claim, method)."""

    claims: tuple[ClaimResult, ...]
    settings: dict = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    def claim(self, claim_id: str, method: str | int | None = None) -> ClaimResult:
        """The result of ``claim_id``; with several methods, name one (its label or index)."""
        hits = [c for c in self.claims if c.id == claim_id]
        if not hits:
            raise KeyError(f"claim_id {claim_id!r} is not in this report; it has "
                           f"{sorted({c.id for c in self.claims})}")
        if method is None:
            if len(hits) > 1:
                raise ValueError(f"claim {claim_id!r} was checked for {len(hits)} methods; pass "
                                 f"method= one of {[c.method for c in hits]} or an index")
            return hits[0]
        if isinstance(method, int) and not isinstance(method, bool):
            return hits[method]
        for c in hits:
            if c.method == method:
                return c
        raise KeyError(f"method {method!r} not in this report; it has {[c.method for c in hits]}")

    def table(self) -> str:
        return format_table(list(self.claims))

    def to_json(self) -> dict:
        from .report.suite import build_report
        return build_report(self.settings, list(self.claims), self.elapsed_s)

    def save(self, out_dir: str | Path, *, figures: bool = True) -> Path:
        """``report.json``, ``data/*.npz`` and figures under ``out_dir`` (a new or empty folder,
        or an earlier output of ours: nothing else is ever overwritten)."""
        from .report.suite import write_results
        write_results(Path(out_dir), self.settings, list(self.claims), self.elapsed_s,
                      figures=figures)
        return Path(out_dir)


class _Counted(NamedTuple):
    """The state of a ``SimplexWeights``: the inner method's, the steps taken (so that an
    error names its step t), and the smallest and largest Σα of this run so far (per replica
    for the batched protocol). ``estimate`` is the inner state's, for the trajectory records."""

    t: int
    inner: object
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    @property
    def estimate(self) -> object:
        return getattr(self.inner, "estimate", None)


class SimplexWeights:
    """A method whose weights are divided by their sum, so that the θ-step is the theorem's
    whatever the method's convention (Σα = 1 or m).

    The inner method is user code: whatever its ``init_state`` or ``step`` raises (``SystemExit``
    included; a ``FloatingPointError`` is the method diverging, a failed run as for the
    reference methods), and weights that are not weights (``reference.loop.checked_weights``),
    become a ``reference.UserMethodError`` naming it and the step. The claim checks count a
    failed run as a finding, so the first such error is also kept in ``error`` (and raised again
    by every later call): ``verify`` raises it once the claim returns — a broken method is an
    input error (exit 2 on the command line), never a verdict."""

    def __init__(self, inner: R.WeightingMethod) -> None:
        self.inner = inner
        self.needs = R._validate.method_needs("method", inner)
        self.label = describe(inner)
        self._errors: list[R.UserMethodError] = []     # shared with the copies (__deepcopy__)
        self._sums = [1.0, 1.0, 1.0]    # the worst run's max/min of Σα, and its min and max
        eta = getattr(inner, "step_size", None)
        if eta is not None:
            self.step_size = eta

    def __repr__(self) -> str:
        return f"SimplexWeights({self.label})"

    @property
    def sum_drift(self) -> tuple[float, float, float]:
        """(max/min, min, max) of the sum of the raw weights over the steps of the run where it
        varied most, over every run so far (this instance and its copies); (1, 1, 1) before any
        step. Runs on different problems may have different constant sums (Σα = m)."""
        return self._sums[0], self._sums[1], self._sums[2]

    def _seen(self, state: _Counted, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The run's new (lo, hi) of Σα, recording the worst run's spread."""
        lo = sums if state.lo is None else np.minimum(state.lo, sums)
        hi = sums if state.hi is None else np.maximum(state.hi, sums)
        ratio = hi / lo
        k = int(np.argmax(ratio))
        if ratio.flat[k] > self._sums[0]:
            self._sums[:] = [float(ratio.flat[k]), float(lo.flat[k]), float(hi.flat[k])]
        return lo, hi

    @property
    def error(self) -> R.UserMethodError | None:
        """The first error of the method, in this instance or any of its copies."""
        return self._errors[0] if self._errors else None

    def _record(self, exc: R.UserMethodError) -> None:
        if not self._errors:
            self._errors.append(exc)

    def __deepcopy__(self, memo: dict) -> SimplexWeights:
        """A copy with its own copy of the inner method (runs in lockstep give each replica
        one) that reports its errors to the same record as this instance."""
        import copy
        new = copy.copy(self)
        new.inner = copy.deepcopy(self.inner, memo)
        return new

    def _user(self, where: str, fn, *args, **kwargs):
        if self.error is not None:
            raise self.error
        try:
            return R._validate.call_user(f"method {self.label}", where, fn, *args,
                                         keep=(FloatingPointError,), **kwargs)
        except R.UserMethodError as exc:
            self._record(exc)
            raise

    def init_state(self, n_tasks: int, dim: int) -> object:
        return _Counted(0, self._user("init_state", self.inner.init_state, n_tasks, dim))

    def _raise(self, where: str, exc: BaseException) -> None:
        """Raise what ``exc``, raised by the inner method in ``where``, becomes (``_user``); a
        method that reads ``excess`` or ``hessians`` without declaring it in ``needs`` (so it
        was given None) is told so."""
        def again() -> None:
            raise exc
        try:
            self._user(where, again)
        except R.UserMethodError as err:
            hint = self._undeclared(exc)
            if not hint:
                raise
            wrapped = R.UserMethodError(f"{err}; {hint}")
            self._errors[:] = [wrapped]
            raise wrapped from exc

    def _undeclared(self, exc: BaseException) -> str:
        """A hint when ``exc`` looks like arithmetic on an input the method did not declare."""
        if not isinstance(exc, (TypeError, AttributeError)) or "NoneType" not in str(exc):
            return ""
        missing = sorted(R._validate.NEEDS - set(self.needs))
        if not missing:
            return ""
        return (f"it was called with {' and '.join(f'{n}=None' for n in missing)}: a method "
                f"that reads {' or '.join(missing)} must declare it, e.g. needs = "
                f"frozenset({{{missing[0]!r}}}) (valid names: {sorted(R._validate.NEEDS)})")

    def _call(self, name: str, state: object, losses: np.ndarray, grads: np.ndarray,
              excess: object, hessians: object) -> tuple[int, object, object]:
        """(t, the inner state, the raw weights) of the inner method's ``name`` ("step" or
        "step_batch") at step t: what it raises, or a return that is not a (state, weights)
        pair, becomes a ``UserMethodError`` (``_user``), recorded for every later call."""
        init = "init_state" if name == "step" else "init_states"
        if type(state) is not _Counted:
            raise TypeError(f"state must be the state returned by SimplexWeights.{init} or "
                            f"{name}, got {type(state).__name__}")
        if self._errors:
            raise self._errors[0]
        t = state.t + 1
        try:                         # the fast path: one call; the error text only on an error
            out = getattr(self.inner, name)(state.inner, losses, grads, excess=excess,
                                            hessians=hessians)
        except BaseException as exc:  # noqa: BLE001 - user code; _user decides what it becomes
            self._raise(f"{name} at t={t}", exc)
            raise
        if not (isinstance(out, tuple) and len(out) == 2):
            error = R.UserMethodError(f"method {self.label}: {name} must return (state, "
                                      f"weights), got {type(out).__name__} at step t={t}")
            self._record(error)
            raise error
        return t, out[0], out[1]

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t, inner, w = self._call("step", state, losses, grads, excess, hessians)
        try:
            w = R.loop.checked_weights(self.inner, w, len(losses), t, signed=False)
        except R.UserMethodError as exc:
            self._record(exc)
            raise
        total = w.sum()
        lo, hi = self._seen(state, np.array([total]))
        return _Counted(t, inner, lo, hi), w / total

    # the optional batched protocol (reference.lockstep.offers_batch), when the inner method
    # offers it: one call per step for every replica, weights put on the simplex row by row
    @property
    def offers_batch(self) -> bool:
        return offers_batch(self.inner)

    def init_states(self, n_tasks: int, dim: int, replicas: int) -> object:
        batched = cast(BatchedWeightingMethod, self.inner)     # offers_batch says so
        return _Counted(0, self._user("init_states", batched.init_states, n_tasks, dim,
                                      replicas))

    def step_batch(self, state, losses, grads, *, excess=None, hessians=None):
        t, inner, raw = self._call("step_batch", state, losses, grads, excess, hessians)
        try:
            w = np.asarray(raw, dtype=np.float64)
            if w.shape != losses.shape:
                raise R.UserMethodError(f"method {self.label}: step_batch returned weights of "
                                        f"shape {w.shape} at step t={t}, expected "
                                        f"{losses.shape} (one row per replica)")
            sums = w.sum(axis=1)
            if not (np.isfinite(sums).all() and w.min() >= 0 and (sums > 0).all()):
                for row in w:                   # the serial loop's message for the bad row
                    R.loop.checked_weights(self.inner, row, w.shape[1], t, signed=False)
        except R.UserMethodError as exc:
            self._record(exc)
            raise
        lo, hi = self._seen(state, sums)
        return _Counted(t, inner, lo, hi), w / sums[:, None]


def on_simplex(method: R.WeightingMethod) -> R.WeightingMethod:
    """``method`` with weights on the simplex: a reference method's paper-convention twin (its α
    trajectory is the official one divided by m exactly), or ``SimplexWeights(method)``."""
    if type(method) in (R.ExcessMTL, R.GroupDRO, R.EqualWeights):
        ours = cast("R.ExcessMTL | R.GroupDRO | R.EqualWeights", method)
        return type(ours)(**{**ours._params(), "convention": "paper"})
    if type(method) in (R.MGDA, R.IMTLG):
        return method
    return SimplexWeights(method)


def load_method(target: str, option: str = "--method") -> R.WeightingMethod:
    """The method ``FACTORY()`` returns for ``target`` = "module:FACTORY" (the command line's
    ``--method``). Importing the module and calling the factory run user code: what they raise,
    ``SystemExit`` included, is a ``ValueError`` (``reference.UserMethodError``) naming
    ``option`` and the factory, so the command line exits 2 with one line, never 0."""
    from .conformance.cli import call_factory, load_factory
    try:
        factory = load_factory(target)       # an import that raises or exits: a ValueError
    except ValueError as exc:
        raise ValueError(f"{option} {target}: {exc}") from None
    method = call_factory(factory, f"{option} {target}")
    R._validate.method_protocol(option, method)
    return cast(R.WeightingMethod, method)


def _step_size_notes(method: object, simplex: R.WeightingMethod) -> tuple[str, ...]:
    """Why the rate claim's bounds were skipped, for a method without a float ``step_size``."""
    if rate_claim._eta_alpha(simplex) is not None:
        return ()
    eta = getattr(method, "step_size", None)
    why = "has no step_size attribute" if eta is None else \
        f"has step_size = {eta!r}, not a number"
    return (f"the method {why}, so the full-batch bounds of theory §3 (data-dependent and "
            "a-priori, which need its η_α) and the tight instance were skipped; only the growth "
            "rule decided. Give it a float attribute step_size (its η_α) to check them.",)


SUM_DRIFT_TOL = 1e-5
"""Relative spread of Σα over a run that float rounding explains (float32 weights included)."""


def weight_sum_check(simplex: object) -> SubCheck | None:
    """The spread of the sum of a user's raw weights over the steps of each run: verify puts
    the weights on the simplex, but in the user's own loop the θ-step is Σα times the
    theorem's, so a sum that drifts scales it (None for a reference method, or before any
    step)."""
    if not isinstance(simplex, SimplexWeights):
        return None
    ratio, lo, hi = simplex.sum_drift
    if not (np.isfinite(ratio) and lo > 0):
        return None
    return SubCheck("weight sum Σα over the steps of each run: max/min, worst run", ratio,
                    1.0 + SUM_DRIFT_TOL, "upper",
                    note=f"Σα ranged over [{lo:.6g}, {hi:.6g}] in the run where it varied most. "
                         "verify divides the weights by "
                         "their sum, so the claims above see the theorem's θ-step; in your own "
                         "loop the θ-step is Σα times the theorem's, and a sum that drifts "
                         f"scales it by up to {ratio:.3g}× (a constant Σα = 1 or m is fine)")


def _raise_method_error(simplex: object) -> None:
    """Raise the error of a user's method that a claim check counted as a failed run."""
    error = getattr(simplex, "error", None) if isinstance(simplex, SimplexWeights) else None
    if error is not None:
        raise error


def _as_list(value: object, name: str) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} must not be an empty list")
        return list(value)
    return [value]


def _seed_list(seeds: object) -> list[int]:
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        out = [R._validate.positive_int("seeds", s, minimum=0) for s in seeds]
        if not out:
            raise ValueError("seeds must be a positive count or a non-empty list of seeds")
        return out
    return list(range(R._validate.positive_int("seeds", seeds)))


def _regimes(batch_size: object) -> list[int | None]:
    values = batch_size if isinstance(batch_size, (list, tuple)) else [batch_size]
    if not values:
        raise ValueError("batch_size must be None, an integer, or a non-empty list of them")
    return [None if b is None else R._validate.positive_int("batch_size", b) for b in values]


def _problems(problem: Problems | None, config: SuiteConfig
              ) -> tuple[list[tuple[str, R.ExactProblem]], list[tuple[str, ProblemSpec]]]:
    """(named concrete problems, named specs) from ``problem`` (None: the config's families)."""
    items = _as_list(problem, "problem")
    if not items:
        named = config.named_problems()
        return [(n, sp.build(config.seed)) for n, sp in named], named
    for p in items:
        if not isinstance(p, (*R.EXACT_PROBLEMS, ProblemSpec)):
            raise TypeError(f"problem must be a reference MultiTaskProblem or "
                            f"AbsoluteLossProblem (exact optima are needed), a ProblemSpec, or a "
                            f"list of them, got {type(p).__name__}")
    names = [p.family if isinstance(p, ProblemSpec) else p.loss for p in items]
    names = [n if names.count(n) == 1 else f"{n}{k}" for k, n in enumerate(names)]
    concrete = [(n, p.build(config.seed) if isinstance(p, ProblemSpec) else p)
                for n, p in zip(names, items)]
    specs = [(n, p) for n, p in zip(names, items) if isinstance(p, ProblemSpec)]
    return concrete, specs


def _config(config: object, quick: bool, backend: str, seeds: object, steps: int | None,
            lr: float | None) -> tuple[SuiteConfig, list[int]]:
    """The config (given, read from a TOML file, or the default) with the arguments applied, and
    the seed list (``seeds``, else the config's seed, seed + 1, …, seeds of them)."""
    if config is None:
        base = SuiteConfig(quick=quick, backend=backend)
    elif isinstance(config, SuiteConfig):
        base = config
    elif isinstance(config, (str, Path)):
        base = SuiteConfig.from_toml(config)
    else:
        raise TypeError(f"config must be None, a SuiteConfig or the path of a TOML file, got "
                        f"{type(config).__name__}")
    seed_list = _seed_list(seeds) if seeds is not None else \
        list(range(base.seed, base.seed + base.seeds))
    kw: dict = {"seed": seed_list[0], "seeds": len(seed_list)}
    if steps is not None:
        kw["steps"] = steps
    if lr is not None:
        kw["lr"] = lr
    if quick:
        kw["quick"] = True
    if backend != "numpy":
        kw["backend"] = backend
    return replace(base, **kw), seed_list


Problems = R.ExactProblem | ProblemSpec | Sequence[R.ExactProblem | ProblemSpec]
"""What ``verify`` takes as ``problem``: a problem, a problem family, or a list of them."""


def verify(method: R.WeightingMethod | Sequence[R.WeightingMethod] | None = None,
           problem: Problems | None = None, *, claims: Sequence[str] | None = None,
           seeds: int | Sequence[int] | None = None, steps: int | None = None,
           batch_size: int | None | Sequence[int | None] = None,
           sampler: SamplerKind = "with_replacement", quick: bool = False,
           backend: str = "numpy", lr: float | None = None,
           config: SuiteConfig | str | Path | None = None, progress: bool = False,
           workers: int | None = None, max_seeds: int | None = None) -> Report:
    """Check the paper's claims on ``method`` (default: the theorem dynamics,
    ExcessMTL(exact, paper, no scale processing)) and ``problem``.

    ``problem``: a ``MultiTaskProblem``, an ``AbsoluteLossProblem`` (LAD tasks: ``rate`` only), a
    ``ProblemSpec`` (a generated family: the robustness claim sweeps its noisy tasks' noise), or a
    list; default: the config's families, plus, for ``rate``, the tight instance (its bounds)
    and the inactive-task instance (``claims.instances.inactive_task_problem``).
    ``claims``: a subset of ``VERIFIABLE``; default: all of them that apply (robustness needs a
    ``ProblemSpec``). ``seeds``: a count or a list (default: the config's, 8). ``batch_size``:
    the regimes of the rate claim (None: full batch; an integer: minibatches; a list: each).
    ``steps``: T of every run (default 2000, 1000 with ``quick``; at least 100). ``lr``: the
    constant θ-step of the constant-step claims (default 1/L). ``config``: a ``SuiteConfig`` or a
    TOML file (docs/api.md "Config files"); the other arguments override it. ``workers``: the
    processes that run the (claim, method) jobs (default: the environment variable
    EXCESSMTL_ORACLE_WORKERS, else one per core up to one per job; 1 runs them in this
    process); the results are bit-identical whatever the count (``proofs_check.pool``).
    ``max_seeds``: the seed budget of the rules decided sequentially over seeds (default: the
    config's, max(32, seeds)); with a seed count they start on ``seeds`` seeds and add the
    seeds that follow while undecided; a list of seeds is used exactly (the verdict may then be
    "inconclusive"). Verdicts are "pass", "fail" or "inconclusive" (docs/theory.md §8).
    """
    methods = _as_list(method, "method") or [R.ExcessMTL("exact", "paper",
                                                         scale_processing=False)]
    for m in methods:
        R._validate.method_protocol("method", m)
        R._validate.method_needs("method", m)
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {quick!r}")
    if steps is not None:
        R._validate.positive_int("steps", steps, minimum=100)
    if max_seeds is not None:
        R._validate.positive_int("max_seeds", max_seeds)
    cfg_all, seed_list = _config(config, quick, backend, seeds, steps, lr)
    if max_seeds is not None:
        cfg_all = replace(cfg_all, max_seeds=max_seeds)
    problems, specs = _problems(problem, cfg_all)
    lad = [n for n, p in problems if isinstance(p, R.AbsoluteLossProblem)]
    if claims is None:
        ids = [c for c in VERIFIABLE if (c != "robustness" or specs) and (c == "rate" or not lad)]
    else:
        ids = list(claims) if not isinstance(claims, str) else [claims]
    for cid in ids:
        if cid not in CLAIMS:
            raise ValueError(f"claims must be a subset of {list(CLAIMS)}, got {cid!r}")
        if cid not in VERIFIABLE:
            raise ValueError(f"claims: {cid!r} is about ExcessMTL's internals and runs in the "
                             f"suite only (python -m proofs_check --claims {cid}); verify() runs "
                             f"{list(VERIFIABLE)}")
    smooth_only = [c for c in ids if c != "rate"]
    if lad and smooth_only:
        raise ValueError(f"claims: {smooth_only} need smooth tasks (Pareto measures and the "
                         f"noise sweep work on MultiTaskProblem); the LAD problem {lad[0]!r} "
                         "supports claims=['rate'] only")
    if "robustness" in ids and not specs:
        raise ValueError("claims: 'robustness' sweeps the noise of the noisy tasks, so it needs a "
                         "problem family: pass problem=ProblemSpec(...) (or none, for the "
                         "config's families), not only MultiTaskProblem objects")
    T = cfg_all.rate_steps
    regimes = _regimes(batch_size)
    if sampler not in R.SAMPLERS:
        raise ValueError(f"sampler must be one of {R.SAMPLERS}, got {sampler!r}")
    t0 = time.perf_counter()
    games = [(name, p, theory.game_setup(p)) for name, p in problems]
    rate_cfg = {name: {"problem": repr(p), "noisy_tasks": list(noisy_tasks_of(p)),
                       **setup.to_json(), "steps": T, "seeds": seed_list}
                for name, p, setup in games}
    spec_cfg = replace(cfg_all, problems=tuple(sp for _, sp in specs)) if specs else cfg_all
    # the rules decided over seeds: a seed count (or the config's) starts the sequential test,
    # which adds the seeds that follow up to the budget; a list of seeds is used as it is
    extend = not (isinstance(seeds, Sequence) and not isinstance(seeds, str))
    rule = cfg_all.rule() if extend else replace(cfg_all.rule(), max_seeds=len(seed_list))
    theorem = R.ExcessMTL("exact", "paper", scale_processing=False, **cfg_all.method_kwargs())
    # rate on the default families also runs the inactive-task instance (α*_3 = 0), where a
    # weight floor or a uniform mixture converges elsewhere (docs/claims.md "What rate tells
    # apart")
    inactive = [] if problem is not None else \
        [(INACTIVE, p, theory.game_setup(p)) for p in [inactive_task_problem(cfg_all.seed)]]
    for name, p, setup in inactive:
        rate_cfg[name] = {"problem": repr(p), "noisy_tasks": list(noisy_tasks_of(p)),
                          **setup.to_json(), "steps": T, "seeds": seed_list}

    def run_one(m: R.WeightingMethod, cid: str) -> ClaimResult:
        """One claim for one method (a job: in this process or a pool worker)."""
        label, simplex = describe(m), on_simplex(m)
        try:
            if cid == "rate":
                runs = [rate_claim.decided_runs(
                            f"{name} {'full batch' if b is None else f'batch {b}'}", p, simplex,
                            setup, T, seed_list, rule, batch_size=b, sampler=sampler,
                            backend=backend, paired=theorem, extend=extend,
                            one_over_t_decides=False)
                        for name, p, setup in games + inactive for b in regimes]
                tight = rate_claim.tight_runs(simplex, seed_list, T, seed=cfg_all.seed,
                                              backend=backend) if problem is None else None
                cfg = dict(rate_cfg)
                if tight is not None:
                    runs.append(tight)
                    cfg["tight"] = rate_claim.tight_config(cfg_all.seed, T, seed_list)
                result = replace(rate_claim.claim_result(runs, cfg, rule,
                                                         one_over_t_decides=False), method=label,
                                 notes=_step_size_notes(m, simplex))
                drift = weight_sum_check(simplex)
                if drift is not None:
                    result = replace(result, checks=(*result.checks, drift))
            elif cid == "robustness":
                result = robustness_claim.check(simplex, label, spec_cfg)
            else:
                module = pareto_claim if cid == "pareto-optimal" else stationarity_claim
                result = module.check(simplex, label, problems, cfg_all, seed_list)
        except Exception:
            _raise_method_error(simplex)     # the method's own error, if it caused this one
            raise
        _raise_method_error(simplex)         # a claim counts a failed run as a finding
        return result

    jobs = [(m, cid) for m in methods for cid in ids]
    cost = [(len(games) + len(inactive)) * len(regimes) if cid == "rate" else 1
            for _, cid in jobs]
    bar = tqdm(total=sum(cost), desc="verify", disable=not progress, leave=False)
    results = pool.run_jobs(run_one, jobs, workers=pool.worker_count(workers, len(jobs)),
                            done=lambda k: bar.update(cost[k]))
    bar.close()
    settings = {"entry": "verify", "seeds": seed_list, "steps": T, "batch_size": regimes,
                "sampler": sampler, "backend": backend, "seed": seed_list[0],
                "methods": [describe(m) for m in methods],
                "problems": [repr(p) for _, p in problems], "claims": ids,
                "config": cfg_all.to_json()}
    return Report(tuple(results), settings, round(time.perf_counter() - t0, 2))
