"""θ₀, the start of every run, as part of a problem family.

A start is written as a short string, in config files, grid axes and reports alike:

    "zero"                     θ₀ = 0 (every logistic task starts at loss ln 2)
    "random:R"                 θ₀ = R·u, u uniform on the unit sphere, drawn from the seed
    "pretrained:TASKS"         θ₀ = argmin_θ Σ_{i ∈ TASKS} ℓ_i(θ), a model trained on those tasks
    "pretrained:TASKS:F"       θ₀ = F · that model (F = 0.5: half-way from 0 to it)

TASKS is ``clean`` (the tasks whose noise is the smallest) or task indices joined by ``+``
(``0+1``). The same string gives the same θ₀ for every noise level of one seed (the clean tasks'
data do not change with the noisy task's noise), so a noise sweep compares like with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import reference as R

KINDS = ("zero", "random", "pretrained")
EXAMPLES = ("zero", "random:0.5", "pretrained:clean", "pretrained:clean:0.5", "pretrained:0+1")


@dataclass(frozen=True)
class Start:
    """A parsed θ₀ spec (``parse``)."""

    kind: str
    norm: float = 0.0                      # random: ‖θ₀‖
    tasks: str = "clean"                   # pretrained: "clean" or "0+1"
    fraction: float = 1.0                  # pretrained: θ₀ = fraction · θ_TASKS

    @property
    def text(self) -> str:
        if self.kind == "zero":
            return "zero"
        if self.kind == "random":
            return f"random:{self.norm:g}"
        return f"pretrained:{self.tasks}" + ("" if self.fraction == 1.0 else
                                              f":{self.fraction:g}")

    def describe(self) -> str:
        """The start in words, for findings' scopes."""
        if self.kind == "zero":
            return "θ₀ = 0"
        if self.kind == "random":
            return f"θ₀ random with ‖θ₀‖ = {self.norm:g}"
        who = "the clean tasks" if self.tasks == "clean" else f"tasks {self.tasks}"
        if self.fraction == 1.0:
            return f"θ₀ pre-trained on {who}"
        return f"θ₀ {self.fraction:g} of the way to a model pre-trained on {who}"

    def task_set(self, clean: tuple[int, ...], m: int) -> tuple[int, ...]:
        if self.tasks == "clean":
            return tuple(clean)
        idx = tuple(int(t) for t in self.tasks.split("+"))
        if any(i >= m for i in idx):
            raise ValueError(f"theta0: task index out of range for n_tasks = {m} in "
                             f"{self.text!r}")
        return idx


def parse(text: object, name: str = "theta0") -> Start:
    """A θ₀ spec string (module docstring) as a ``Start``; a ValueError naming ``name`` and the
    accepted forms otherwise."""
    forms = "'zero', 'random:R' (R > 0), 'pretrained:clean', 'pretrained:0+1' or " \
            "'pretrained:clean:F' (0 < F ≤ 1)"
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, one of {forms}; got {text!r}")
    parts = text.strip().split(":")
    kind = parts[0]
    try:
        if kind == "zero" and len(parts) == 1:
            return Start("zero")
        if kind == "random" and len(parts) == 2:
            r = float(parts[1])
            if r > 0 and math.isfinite(r):
                return Start("random", norm=r)
        if kind == "pretrained" and len(parts) in (2, 3):
            tasks = parts[1]
            ok = tasks == "clean" or (tasks != "" and all(t.isdigit() for t in tasks.split("+")))
            f = float(parts[2]) if len(parts) == 3 else 1.0
            if ok and 0 < f <= 1:
                return Start("pretrained", tasks=tasks, fraction=f)
    except ValueError:
        pass
    raise ValueError(f"{name} must be one of {forms}; got {text!r}")


def _sphere(seed: int, d: int) -> np.ndarray:
    u = np.random.default_rng([int(seed), 0x7E7A0]).standard_normal(d)
    return u / np.linalg.norm(u)


def initial_point(start: Start | str, problem: R.MultiTaskProblem, seed: int,
                  clean: tuple[int, ...]) -> np.ndarray:
    """θ₀ (d,) for ``problem`` drawn with ``seed``; ``clean`` are its clean tasks."""
    start = parse(start) if isinstance(start, str) else start
    d = problem.dim
    if start.kind == "zero":
        return np.zeros(d)
    if start.kind == "random":
        return start.norm * _sphere(seed, d)
    w = np.zeros(problem.n_tasks)
    w[list(start.task_set(clean, problem.n_tasks))] = 1.0
    return start.fraction * np.asarray(R.minimize_weighted(problem, w).theta, float)
