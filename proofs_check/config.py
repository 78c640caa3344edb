"""What the suite runs on: the problem families (``ProblemSpec``) and the sizes (``SuiteConfig``).

Every claim reads its problems, steps, seeds and regimes from here, so a config file
(``SuiteConfig.from_toml``, ``python -m proofs_check --config FILE.toml``) changes them all,
robustness included. See docs/api.md "Config files".
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

import reference as R

from . import limits
from . import theta0 as theta0_mod
from .decide import SequentialRule
from .stepsize import lr_for, weight_sum
from .inputs import read_text_file

FAMILIES = ("linear", "logistic")


@dataclass(frozen=True)
class ProblemSpec:
    """A generated problem family: m tasks in R^d with n samples each.

    ``noise`` is per task: the noise std σ_i (linear) or the label-flip rate ρ_i ∈ [0, 0.5]
    (logistic). The *noisy tasks* are those whose noise is above the smallest; the robustness
    claim sweeps their noise over ``sweep_levels`` while the clean tasks keep theirs.

    ``theta0`` is the start θ₀ of the robustness claim's runs (and of a sweep's): "zero",
    "random:R", "pretrained:clean", "pretrained:clean:F" or "pretrained:0+1"
    (``proofs_check.theta0``). The other claims choose their own starts.
    """

    family: str = "linear"
    n_tasks: int = 3
    dim: int = 5
    n_samples: int = 200
    noise: tuple[float, ...] | None = (0.1, 0.1, 1.0)   # None: ``default_noise``
    theta0: str = "zero"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        m = R._validate.positive_int("n_tasks", self.n_tasks)
        d = R._validate.positive_int("dim", self.dim)
        n = R._validate.positive_int("n_samples", self.n_samples, minimum=2)
        # before anything of size m is built (the noise), and before any data
        limits.check_work([limits.estimate_work(f"a {self.family} problem", m, n, d)])
        noise = default_noise(self.family, m) if self.noise is None else self.noise
        if isinstance(noise, (int, float)) and not isinstance(noise, bool):
            noise = (float(noise),) * m
        if not isinstance(noise, (tuple, list)) or len(noise) != m:
            raise ValueError(f"noise must be one number or a list of n_tasks = {m} numbers, got "
                             f"{self.noise!r}")
        high = 0.5 if self.family == "logistic" else None
        vals = tuple(R._validate.real("noise", x, low=0.0, high=high) for x in noise)
        object.__setattr__(self, "noise", vals)
        start = theta0_mod.parse(self.theta0)
        if start.kind == "pretrained":
            start.task_set(self.clean_tasks, m)               # indices in range
        object.__setattr__(self, "theta0", start.text)

    @property
    def clean_tasks(self) -> tuple[int, ...]:
        noisy = set(self.noisy_tasks)
        return tuple(i for i in range(self.n_tasks) if i not in noisy)

    def start(self, problem: R.MultiTaskProblem, seed: int) -> np.ndarray:
        """θ₀ of ``problem`` (built by ``build`` with ``seed``)."""
        return theta0_mod.initial_point(self.theta0, problem, seed, self.clean_tasks)

    @property
    def noisy_tasks(self) -> tuple[int, ...]:
        """Tasks whose noise is above the smallest (the last task if all are equal)."""
        return above_smallest(self.noise) or (self.n_tasks - 1,)

    def sweep_levels(self, quick: bool) -> tuple[float, ...]:
        """The noise levels the robustness claim gives the noisy tasks (lowest first)."""
        if self.family == "linear":
            return (0.1, 1.0, 4.0) if quick else (0.1, 0.3, 1.0, 2.0, 4.0)
        return (0.0, 0.2, 0.4) if quick else (0.0, 0.1, 0.2, 0.3, 0.4)

    def noise_at(self, level: float) -> tuple[float, ...]:
        """This spec's noise with every noisy task set to ``level``."""
        noisy = set(self.noisy_tasks)
        return tuple(level if i in noisy else x for i, x in enumerate(self._noise))

    @property
    def _noise(self) -> tuple[float, ...]:
        """``noise`` once built: ``__post_init__`` replaces None by ``default_noise``."""
        assert self.noise is not None
        return self.noise

    def build(self, seed: int = 0, noise: tuple[float, ...] | None = None) -> R.MultiTaskProblem:
        levels = list(self._noise if noise is None else noise)
        if self.family == "linear":
            return R.make_linear_problem(self.n_tasks, self.dim, self.n_samples, noise=levels,
                                         seed=seed)
        return R.make_logistic_problem(self.n_tasks, self.dim, self.n_samples, flip=levels,
                                       seed=seed)

    def to_json(self) -> dict:
        return {**asdict(self), "noise": list(self._noise), "noisy_tasks": list(self.noisy_tasks)}


def default_noise(family: object, n_tasks: object) -> tuple[float, ...]:
    """The default per-task noise: every task clean but the last (σ 0.1 vs 1.0; ρ 0 vs 0.3)."""
    lo, hi = (0.0, 0.3) if family == "logistic" else (0.1, 1.0)
    m = n_tasks if isinstance(n_tasks, int) and not isinstance(n_tasks, bool) and n_tasks > 0 \
        else 1
    return (lo,) * (m - 1) + (hi,)


DEFAULT_PROBLEMS = (ProblemSpec("linear", 3, 5, 200, (0.1, 0.1, 1.0)),
                    ProblemSpec("logistic", 3, 5, 300, (0.0, 0.0, 0.3)))


@dataclass(frozen=True)
class SuiteConfig:
    """Sizes of the suite: ``quick`` (< 20 s) and the default (< 60 s) on 2 cores.

    ``steps`` overrides T of every claim's runs; ``lr`` the constant θ-step of the constant-step
    claims (default 1/L, divided by m for Σα = m methods); ``step_size`` the η_α of the suite's
    ExcessMTL and GroupDRO variants (default: each method's own, 1).
    """

    quick: bool = False
    seed: int = 0
    backend: str = "numpy"      # array backend of the batched (multi-seed) runs
    replicas: int | None = None  # seeds per noise level of the robustness sweep (None: seeds)
    seeds: int = 8              # seeds of every claim's statistics (per problem and regime)
    max_seeds: int | None = None  # the seed budget of the rules decided sequentially over
                                  # seeds (None: max(32, seeds))
    batch_sizes: tuple[int, ...] = (8, 64)   # stochastic regimes of the rate claim
    problems: tuple[ProblemSpec, ...] = DEFAULT_PROBLEMS
    steps: int | None = None
    lr: float | None = None
    step_size: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.quick, bool):
            raise TypeError(f"quick must be a bool, got {self.quick!r}")
        R._validate.positive_int("seed", self.seed, minimum=0)
        if self.replicas is not None:
            R._validate.positive_int("replicas", self.replicas)
        R._validate.positive_int("seeds", self.seeds)
        if self.max_seeds is not None:
            R._validate.positive_int("max_seeds", self.max_seeds)
        if self.max_seeds is not None and self.max_seeds < self.seeds:
            raise ValueError(f"max_seeds (the seed budget) must be >= seeds = {self.seeds}, got "
                             f"{self.max_seeds}")
        if not isinstance(self.batch_sizes, tuple):
            raise TypeError(f"batch_sizes must be a tuple of integers, got {self.batch_sizes!r}")
        for b in self.batch_sizes:
            R._validate.positive_int("batch_sizes", b)
        if self.backend not in ("numpy", "cupy"):
            raise ValueError(f"backend must be 'numpy' or 'cupy', got {self.backend!r}")
        if not isinstance(self.problems, tuple) or not self.problems or \
                not all(isinstance(p, ProblemSpec) for p in self.problems):
            raise TypeError(f"problems must be a non-empty tuple of ProblemSpec, got "
                            f"{self.problems!r}")
        if self.steps is not None:
            R._validate.positive_int("steps", self.steps, minimum=100)
        for name in ("lr", "step_size"):
            if getattr(self, name) is not None:
                R._validate.real(name, getattr(self, name), low=0.0, low_open=True)
        limits.check_work(self.work())

    def work(self) -> list[limits.Work]:
        """The estimated size of the suite's largest runs (``proofs_check.limits``): the rate
        claim (seeds batched, full trajectories, one run per regime), the robustness claim
        (noise levels × replicas batched, six methods) and the convergence runs (seeds ×
        horizon, full trajectories), for every problem the claims use."""
        reps = self.replicas if self.replicas is not None else self.seeds
        batch = max(self.batch_sizes, default=0)
        specs = dict(self.named_problems())
        for fam in FAMILIES:
            if fam not in {p.family for p in self.problems}:
                specs[fam] = self.spec(fam)
        out = []
        for name, p in specs.items():
            m, n, d = p.n_tasks, p.n_samples, p.dim
            out += [limits.estimate_work(f"the rate claim ({name})", m, n, d,
                                         replicas=self.seeds, batch=batch,
                                         steps=self.rate_steps, records=self.rate_steps + 1,
                                         runs=1 + len(self.batch_sizes)),
                    limits.estimate_work(f"the robustness claim ({name})", m, n, d,
                                         replicas=len(p.sweep_levels(self.quick)) * reps,
                                         steps=self.train_steps, runs=6),
                    limits.estimate_work(f"the convergence claim ({name})", m, n, d,
                                         replicas=self.seeds, steps=self.horizon,
                                         records=self.horizon + 1)]
        return out

    # ------------------------------------------------------------------ sizes
    @property
    def horizon(self) -> int:
        """T_max of the convergence run (two decades from T = 10 in quick mode, three otherwise)."""
        return self.steps or (1000 if self.quick else 10000)

    @property
    def rate_steps(self) -> int:
        """T of the rate claim's runs: its grid spans [T/100, T]."""
        return self.steps or (1000 if self.quick else 2000)

    @property
    def train_steps(self) -> int:
        """Steps of the constant-step runs (Pareto, stationarity, estimator, robustness)."""
        return self.steps or (600 if self.quick else 2000)

    # ------------------------------------------------------------------ problems
    def spec(self, family: str) -> ProblemSpec:
        """The first configured problem of ``family``, else the default one."""
        for p in self.problems:
            if p.family == family:
                return p
        return next(p for p in DEFAULT_PROBLEMS if p.family == family)

    def linear(self, noise: tuple[float, ...] | None = None) -> R.MultiTaskProblem:
        """The configured linear problem (default: 3 tasks, d = 5, n = 200, the last one with 10×
        the noise); ``noise`` overrides the per-task noise (and so the number of tasks)."""
        spec = self.spec("linear")
        if noise is not None:
            spec = replace(spec, n_tasks=len(noise), noise=tuple(noise))
        return spec.build(self.seed)

    def logistic(self, flip: tuple[float, ...] | None = None) -> R.MultiTaskProblem:
        """The configured logistic problem (default: 3 tasks, d = 5, n = 300, the last one with
        30% flipped labels); ``flip`` overrides the per-task flip rates."""
        spec = self.spec("logistic")
        if flip is not None:
            spec = replace(spec, n_tasks=len(flip), noise=tuple(flip))
        return spec.build(self.seed)

    def named_problems(self) -> list[tuple[str, ProblemSpec]]:
        """(name, spec) of every configured problem: the family, numbered if it repeats."""
        fams = [p.family for p in self.problems]
        return [(f if fams.count(f) == 1 else f"{f}{k}", p)
                for k, (f, p) in enumerate(zip(fams, self.problems))]

    def theta_lr(self, problem: R.MultiTaskProblem, method: R.WeightingMethod) -> float:
        """The constant θ-step: ``lr`` if set (divided by m for Σα = m methods), else 1/L."""
        if self.lr is None:
            return lr_for(problem, method)
        return self.lr / weight_sum(problem, method)

    def rule(self) -> SequentialRule:
        """The sequential test of the rules decided over seeds, with this config's budget."""
        return SequentialRule(max_seeds=self.seed_budget)

    @property
    def seed_budget(self) -> int:
        """The most seeds a sequential rule may use: ``max_seeds``, else max(32, seeds)."""
        return self.max_seeds if self.max_seeds is not None else max(32, self.seeds)

    def method_kwargs(self) -> dict:
        """Keyword arguments for the suite's own ExcessMTL / GroupDRO variants."""
        return {} if self.step_size is None else {"step_size": self.step_size}

    def to_json(self) -> dict:
        d = asdict(self)
        d["problems"] = [p.to_json() for p in self.problems]
        d["batch_sizes"] = list(self.batch_sizes)
        return {**d, "horizon": self.horizon, "rate_steps": self.rate_steps,
                "train_steps": self.train_steps}

    # ------------------------------------------------------------------ files
    @classmethod
    def from_toml(cls, path: str | Path, **overrides: object) -> SuiteConfig:
        """Read a config file (docs/api.md "Config files"); ``overrides`` win over the file.

        Errors name the file, the section and the key."""
        path = Path(path)
        data = read_toml(path, "--config")
        try:
            return cls.from_dict(data, source=str(path), **overrides)
        except RecursionError:
            raise ValueError(f"--config: {path} is nested too deeply") from None

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "config", **overrides: object
                  ) -> SuiteConfig:
        unknown = set(data) - {"problem", "problems", "run"}
        if unknown:
            raise ValueError(f"{source}: unknown section(s) {sorted(unknown)}; expected [problem] "
                             f"(or [[problems]]) and [run]")
        if "problem" in data and "problems" in data:
            raise ValueError(f"{source}: give either [problem] or [[problems]], not both")
        raw = data.get("problems", [data["problem"]] if "problem" in data else [])
        if not isinstance(raw, list):
            raise ValueError(f"{source}: [[problems]] must be an array of tables")
        specs = tuple(_spec_from(table, f"{source} [problem]") for table in raw)
        run = data.get("run", {})
        if not isinstance(run, dict):
            raise ValueError(f"{source}: [run] must be a table")
        keys = {f.name for f in fields(cls)} - {"problems"}
        unknown = set(run) - keys
        if unknown:
            raise ValueError(f"{source} [run]: unknown key(s) {sorted(unknown)}; expected some "
                             f"of {sorted(keys)}")
        kwargs = dict(run)
        if "batch_sizes" in kwargs:
            b = kwargs["batch_sizes"]
            if not isinstance(b, list):
                raise ValueError(f"{source} [run]: batch_sizes must be a list of positive "
                                 f"integers (0 or none: full batch only), got {b!r}")
            kwargs["batch_sizes"] = tuple(x for x in b if x != 0)
        if specs:
            kwargs["problems"] = specs
        kwargs.update(overrides)
        try:
            return cls(**kwargs)
        except limits.LimitError as exc:
            raise limits.LimitError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{source} [run]: {exc}") from None


def _spec_from(table: object, where: str) -> ProblemSpec:
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table, got {table!r}")
    keys = {f.name for f in fields(ProblemSpec)}
    unknown = set(table) - keys
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of "
                         f"{sorted(keys)}")
    kw = dict(table)
    if isinstance(kw.get("noise"), list):
        kw["noise"] = tuple(kw["noise"])
    if "noise" not in kw:
        kw["noise"] = None                  # the default, once n_tasks is known to be sane
    try:
        return ProblemSpec(**kw)
    except limits.LimitError as exc:
        raise limits.LimitError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def above_smallest(noise: object) -> tuple[int, ...]:
    """The tasks whose noise is above the smallest: the noisy ones."""
    noise = np.asarray(noise, dtype=float)
    return tuple(int(i) for i in np.flatnonzero(noise > noise.min()))


def noisy_tasks_of(problem: R.ExactProblem) -> tuple[int, ...]:
    """The noisy tasks of a generated problem, () for one built from arrays (noise unknown)."""
    return () if problem.noise is None else above_smallest(problem.noise)


def read_toml(path: Path, name: str) -> dict:
    """The parsed TOML file at ``path``; a ValueError naming ``name`` (the option or argument
    that gave it) if it cannot be read or parsed. Only a regular file of at most 1 MiB is read
    (a FIFO, device or directory is refused: ``proofs_check.inputs``)."""
    text = read_text_file(path, name)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ValueError(f"{name}: {path} is not usable TOML: it is nested too deeply") from None
    except ValueError as exc:    # TOMLDecodeError, or an integer of more than 4300 digits
        raise ValueError(f"{name}: {path} is not valid TOML: {exc}") from None
