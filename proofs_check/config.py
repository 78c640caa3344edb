"""Sizes of the verification suite: ``quick`` (< 30 s, what CI runs) and the default (< 2 min)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import reference as R


@dataclass(frozen=True)
class SuiteConfig:
    quick: bool = False
    seed: int = 0
    backend: str = "numpy"      # array backend of the batched (multi-seed) runs
    replicas: int = 1           # seeds per noise level in the robustness sweep (1: reference path)
    seeds: int = 8              # seeds per (problem, regime) of the rate claim
    batch_sizes: tuple[int, ...] = (8, 64)   # stochastic regimes of the rate claim

    def __post_init__(self) -> None:
        if not isinstance(self.quick, bool):
            raise TypeError(f"quick must be a bool, got {self.quick!r}")
        R._validate.positive_int("seed", self.seed, minimum=0)
        R._validate.positive_int("replicas", self.replicas)
        R._validate.positive_int("seeds", self.seeds)
        if not isinstance(self.batch_sizes, tuple):
            raise TypeError(f"batch_sizes must be a tuple of integers, got {self.batch_sizes!r}")
        for b in self.batch_sizes:
            R._validate.positive_int("batch_sizes", b)
        if self.backend not in ("numpy", "cupy"):
            raise ValueError(f"backend must be 'numpy' or 'cupy', got {self.backend!r}")

    @property
    def horizon(self) -> int:
        """T_max of the convergence run (two decades from T = 10 in quick mode, three otherwise)."""
        return 1000 if self.quick else 10000

    @property
    def rate_steps(self) -> int:
        """T of the rate claim's runs: its grid spans [T/100, T]."""
        return 1000 if self.quick else 2000

    @property
    def train_steps(self) -> int:
        """Steps of the constant-step runs (Pareto, stationarity, estimator, robustness)."""
        return 600 if self.quick else 2000

    @property
    def noise_grid(self) -> tuple[float, ...]:
        return (0.1, 1.0, 4.0) if self.quick else (0.1, 0.3, 1.0, 2.0, 4.0)

    @property
    def flip_grid(self) -> tuple[float, ...]:
        return (0.0, 0.2, 0.4) if self.quick else (0.0, 0.1, 0.2, 0.3, 0.4)

    def linear(self, noise: tuple[float, ...] = (0.1, 0.1, 1.0)) -> R.MultiTaskProblem:
        """3 linear tasks, d = 5, n = 200; by default the last one has 10× the noise."""
        return R.make_linear_problem(len(noise), 5, 200, noise=list(noise), seed=self.seed)

    def logistic(self, flip: tuple[float, ...] = (0.0, 0.0, 0.3)) -> R.MultiTaskProblem:
        """3 logistic tasks, d = 5, n = 300; by default the last one has 30% flipped labels."""
        return R.make_logistic_problem(len(flip), 5, 300, flip=list(flip), seed=self.seed)

    def to_json(self) -> dict:
        return {**asdict(self), "horizon": self.horizon, "rate_steps": self.rate_steps,
                "train_steps": self.train_steps,
                "noise_grid": list(self.noise_grid), "flip_grid": list(self.flip_grid)}
