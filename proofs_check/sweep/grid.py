"""The sweep's grid file: a problem family, axes whose product are the cells, and run settings.

Every list under ``[grid]`` is an axis; a cell is one value of each. A value may also be set once
under ``[problem]`` or ``[run]``; an axis overrides it. See docs/sweeps.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .. import limits
from ..theta0 import parse as parse_start
from ..config import read_toml

EXAMPLE = """\
# A sweep grid: every list under [grid] is an axis; the cells are their product.
# Run it:  python -m proofs_check sweep grid.toml --out sweep-out [--workers 2]

[problem]
family = "logistic"          # or "linear"
n_tasks = 3
dim = 5
n_samples = 200
# clean_noise = 0.0          # the other tasks' flip rate (logistic) or noise std (linear)

[grid]                       # every list is an axis; the cells are the product
noise = [0.0, 0.2, 0.4]      # flip rate (logistic) or noise std (linear) of task 0
theta0 = ["zero", "random:0.5", "random:4.5", "pretrained:clean:0.5", "pretrained:clean"]
                             # the start θ₀: 0, random of a norm, (part way to) a model
                             # pre-trained on the clean tasks (or on tasks "pretrained:1+2")
scale_processing = [true, false]   # ExcessMTL: Ê/Ê^(1) (official) or the raw Ê (the paper's game)
# step_size = [0.1, 1.0]     # η_α (default 1)
# batch_size = [0, 8]        # 0 = full batch
# warmup = [0, 3]            # scale-processing warm-up (ExcessMTL)
# estimator = ["exact", "adagrad"]   # for methods written "ExcessMTL" without one
# n_tasks = [3, 5]
# lr = [0.1, 0.5]            # θ step on the simplex scale (default 1/L_max)

[run]
seeds = 8
steps = 500
methods = ["ExcessMTL(exact)", "ExcessMTL(adagrad, official)", "GroupDRO", "EqualWeights"]
"""

PROBLEM_KEYS = {"family": str, "n_tasks": int, "dim": int, "n_samples": int,
                "clean_noise": float, "theta0": str}
RUN_KEYS = {"seeds": int, "steps": int, "methods": list, "sampler": str}
AXES = {"noise": float, "step_size": float, "batch_size": int, "warmup": int,
        "scale_processing": bool, "estimator": str, "n_tasks": int, "dim": int,
        "n_samples": int, "lr": float, "family": str, "theta0": str}
DEFAULTS = {"family": "logistic", "n_tasks": 3, "dim": 5, "n_samples": 200, "noise": 0.0,
            "step_size": 1.0, "batch_size": 0, "warmup": 0, "scale_processing": True,
            "estimator": "exact", "lr": None, "sampler": "with_replacement"}
METHOD_RE = re.compile(r"^(ExcessMTL|GroupDRO|EqualWeights)(?:\((.*)\))?$")


@dataclass(frozen=True)
class Grid:
    """A parsed grid: ``fixed`` values, ``axes`` (name → values, in file order), ``seeds``,
    ``steps``, ``methods`` (their names as written)."""

    fixed: dict
    axes: dict
    seeds: int
    steps: int
    methods: tuple[str, ...]
    source: str = "<grid>"

    def cells(self) -> list[dict]:
        """Every cell: a value of each axis, in the product's order."""
        names = list(self.axes)
        return [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]

    def settings(self, cell: dict) -> dict:
        """Every setting of one cell: fixed values overridden by the cell's."""
        return {**DEFAULTS, **self.fixed, **cell}

    def to_json(self) -> dict:
        return {"fixed": self.fixed, "axes": self.axes, "seeds": self.seeds, "steps": self.steps,
                "methods": list(self.methods)}

    def fingerprint(self) -> str:
        """A hash of what the grid computes (not of its formatting or comments)."""
        return _hash(self.to_json())

    def cell_id(self, cell: dict) -> str:
        """A hash of everything one cell computes: rerun-safe across grids that share it."""
        return _hash({"settings": self.settings(cell), "seeds": self.seeds,
                      "steps": self.steps, "methods": list(self.methods)})


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _typed(where: str, key: str, value: object, kind: type) -> object:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{where} {key}: expected {kind.__name__}, got {value!r}")
    return value


def _table(doc: dict, name: str, source: str) -> dict:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ValueError(f"{source}: [{name}] must be a table, got {value!r}")
    return value


def parse_method(name: object) -> dict:
    """``"ExcessMTL(adagrad, official)"`` → {"kind": "ExcessMTL", "estimator": "adagrad",
    "convention": "official"}; estimator None means the grid's ``estimator`` setting."""
    match = METHOD_RE.match(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"[run] methods: {name!r} is not a method; write ExcessMTL(exact|"
                         "adagrad|taylor[, official|paper]), GroupDRO or EqualWeights")
    kind, args = match.groups()
    out = {"kind": kind, "estimator": None, "convention": "paper"}
    for arg in [a.strip() for a in (args or "").split(",") if a.strip()]:
        if arg in ("exact", "adagrad", "taylor") and kind == "ExcessMTL":
            out["estimator"] = arg
        elif arg in ("official", "paper"):
            out["convention"] = arg
        else:
            raise ValueError(f"[run] methods: {name!r}: unknown option {arg!r}")
    return out


def from_dict(doc: dict, source: str = "<grid>") -> Grid:
    """A Grid from a parsed TOML document; unknown sections or keys are refused by name."""
    unknown = set(doc) - {"problem", "grid", "run"}
    if unknown:
        raise ValueError(f"{source}: unknown section(s) {sorted(unknown)}; expected [problem], "
                         "[grid], [run]")
    if not isinstance(doc, dict):
        raise TypeError(f"{source}: a grid must be a TOML document (a dict), got "
                        f"{type(doc).__name__}")
    fixed: dict = {}
    for key, value in _table(doc, "problem", source).items():
        if key not in PROBLEM_KEYS:
            raise ValueError(f"{source} [problem]: unknown key {key!r}; expected one of "
                             f"{sorted(PROBLEM_KEYS)}")
        fixed[key] = _typed(f"{source} [problem]", key, value, PROBLEM_KEYS[key])
    axes: dict = {}
    for key, values in _table(doc, "grid", source).items():
        if key not in AXES:
            raise ValueError(f"{source} [grid]: unknown axis {key!r}; expected one of "
                             f"{sorted(AXES)}")
        if not isinstance(values, list) or not values:
            raise ValueError(f"{source} [grid] {key}: expected a non-empty list, got {values!r}")
        typed = [_typed(f"{source} [grid]", key, v, AXES[key]) for v in values]
        if len(set(map(repr, typed))) != len(typed):
            raise ValueError(f"{source} [grid] {key}: repeated values {values!r}")
        axes[key] = typed
    run = _table(doc, "run", source)
    for key, value in run.items():
        if key not in RUN_KEYS:
            raise ValueError(f"{source} [run]: unknown key {key!r}; expected one of "
                             f"{sorted(RUN_KEYS)}")
        _typed(f"{source} [run]", key, value, RUN_KEYS[key])
    seeds, steps = run.get("seeds", 8), run.get("steps", 500)
    for key, val in (("seeds", seeds), ("steps", steps)):
        if val < 1:
            raise ValueError(f"{source} [run] {key}: expected a positive integer, got {val}")
    methods = tuple(run.get("methods", ["ExcessMTL(exact)", "GroupDRO", "EqualWeights"]))
    if not methods:
        raise ValueError(f"{source} [run] methods: expected a non-empty list of methods")
    for name in methods:
        parse_method(name)
    if "sampler" in run:
        fixed["sampler"] = run["sampler"]
    grid = Grid(fixed, axes, seeds, steps, methods, source)
    check_size(grid)                       # before the cells are listed, before any work
    for cell in grid.cells():
        _check_settings(grid.settings(cell), source)
    return grid


def check_size(grid: Grid) -> None:
    """Refuse a grid whose work is above the limits (``proofs_check.limits``): more cells than
    EXCESSMTL_ORACLE_MAX_CELLS, a cell whose arrays (its seeds batched, at the largest m, n, d
    and batch size of the grid) need more than EXCESSMTL_ORACLE_MAX_GIB, or more replica-steps
    (cells × seeds × steps × methods) than EXCESSMTL_ORACLE_MAX_STEPS."""
    n_cells = math.prod(len(v) for v in grid.axes.values())
    limits.check_cells(n_cells, grid.source,
                       " × ".join(f"{len(v)} {k}" for k, v in grid.axes.items()) or "no axes")

    def largest(key: str, default: int = 1) -> int:
        vals = grid.axes.get(key, [grid.fixed.get(key, DEFAULTS[key])])
        return max((v for v in vals if isinstance(v, int) and v > 0), default=default)

    work = limits.estimate_work("each cell", largest("n_tasks"), largest("n_samples"),
                                largest("dim"), replicas=grid.seeds,
                                batch=largest("batch_size", 0), steps=grid.steps,
                                runs=len(grid.methods), cells=n_cells)
    limits.check_work([work], grid.source)


def _check_settings(s: dict, source: str) -> None:
    if s["family"] not in ("linear", "logistic"):
        raise ValueError(f"{source}: family must be 'linear' or 'logistic', got {s['family']!r}")
    for key in ("n_tasks", "dim", "n_samples"):
        if s[key] < 1:
            raise ValueError(f"{source}: {key} must be a positive integer, got {s[key]}")
    if s["n_tasks"] < 2:
        raise ValueError(f"{source}: n_tasks must be at least 2 (a noisy task and a clean one)")
    hi = 0.5 if s["family"] == "logistic" else float("inf")
    for key in ("noise", "clean_noise"):
        if key in s and not 0.0 <= s[key] <= hi:
            raise ValueError(f"{source}: {key} must be in [0, {hi}] for {s['family']}, got "
                             f"{s[key]}")
    if "theta0" in s:                   # not in DEFAULTS: cells without it keep their ids
        start = parse_start(s["theta0"], f"{source}: theta0")
        if start.kind == "pretrained" and start.tasks != "clean":
            start.task_set((), s["n_tasks"])
    if s["step_size"] <= 0 or (s["lr"] is not None and s["lr"] <= 0):
        raise ValueError(f"{source}: step_size and lr must be > 0")
    if s["batch_size"] < 0 or s["warmup"] < 0:
        raise ValueError(f"{source}: batch_size and warmup must be >= 0 (batch_size 0 = full)")
    if s["estimator"] not in ("exact", "adagrad", "taylor"):
        raise ValueError(f"{source}: estimator must be exact, adagrad or taylor, got "
                         f"{s['estimator']!r}")
    if s["sampler"] not in ("with_replacement", "epoch"):
        raise ValueError(f"{source}: sampler must be 'with_replacement' or 'epoch'")


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file: a regular file of at most 1 MiB, whose work is within the
    limits (``check_size``)."""
    doc = read_toml(Path(path), "GRID")
    try:
        return from_dict(doc, str(path))
    except RecursionError:
        raise ValueError(f"GRID: {path} is nested too deeply") from None
