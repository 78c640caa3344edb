"""Golden trajectories: the reference's inputs and weights on small problems, shipped as .npz so
that implementations in any language can test themselves without running Python.

Format (version 1), one file ``{method}-{convention}-{problem}.npz`` per case, no pickle:

    losses   float64 (T, m)     ℓ_i(θ_{t−1}) fed at step t = 1..T
    grads    float64 (T, m, d)  ∇ℓ_i(θ_{t−1}) fed at step t
    weights  float64 (T, m)     the weights the reference returns at step t
    meta     unicode scalar     JSON: format_version, method, convention, step_size, options,
                                problem, lr, steps, rtol, atol, generator

Feed (losses[t], grads[t]) to a fresh implementation in order; it must return weights[t] within
|actual − expected| <= atol + rtol·|expected| (the tolerances are in meta).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import reference as R

from ... import limits
from ...inputs import InputFileError, read_npz
from ...report import atomic
from ..harness import (METHOD_NAMES, TOLERANCES, ConformanceReport, MethodSpec, StepFn, compare,
                           default_problem, reference_inputs)

FORMAT_VERSION = 1
GOLDEN_DIR = Path(__file__).resolve().parent
STEPS = 50
RTOL, ATOL = 1e-9, 1e-12
CASES = [(m, c) for m in ("excessmtl", "groupdro", "equalweights") for c in ("official", "paper")]
CASES.append(("mgda", "official"))
PROBLEMS = {"linear": (lambda: default_problem(0), 0.05),
            "logistic": (lambda: R.make_logistic_problem(3, 4, 64, flip=[0.0, 0.1, 0.3], seed=0),
                         0.5)}
META_FIELDS = ("format_version", "method", "convention", "step_size", "options", "problem", "lr",
               "steps", "rtol", "atol")


class GoldenFormatError(ValueError):
    """A golden file that is corrupt, truncated or does not follow the documented format."""


@dataclass(frozen=True)
class GoldenTrajectory:
    name: str
    losses: np.ndarray
    grads: np.ndarray
    weights: np.ndarray
    meta: dict

    @property
    def spec(self) -> MethodSpec:
        return MethodSpec(self.meta["method"], self.meta["convention"],
                          float(self.meta["step_size"]), dict(self.meta["options"]))


def names() -> list[str]:
    return [f"{m}-{c}-{p}" for m, c in CASES for p in PROBLEMS]


def make_golden(method: str, convention: str, problem: str) -> dict[str, np.ndarray]:
    """The arrays of one golden case, computed by the reference."""
    make, lr = PROBLEMS[problem]
    prob = make()
    spec = MethodSpec(method, convention, 1.0)
    losses, grads, weights = reference_inputs(spec, prob, STEPS, lr)
    meta = {"format_version": FORMAT_VERSION, "method": method, "convention": convention,
            "step_size": 1.0, "options": {}, "problem": repr(prob), "lr": lr, "steps": STEPS,
            "rtol": RTOL, "atol": ATOL, "generator": "excessmtl-oracle reference (float64)"}
    return {"losses": losses, "grads": grads, "weights": weights,
            "meta": np.array(json.dumps(meta))}


def _is_golden_file(path: Path) -> bool:
    try:
        load_golden(path)
    except (GoldenFormatError, OSError):
        return False
    return True


def generate(directory: Path = GOLDEN_DIR) -> list[Path]:
    """(Re)write every golden file into ``directory`` (atomic writes). A file of the same name
    that is not a golden file is never overwritten (``OutputPathError``, before any write)."""
    targets = [(name, atomic.check_output_file(Path(directory) / f"{name}.npz",
                                               "--write-golden", _is_golden_file))
               for name in names()]
    out = []
    for name, path in targets:
        method, convention, problem = name.split("-")
        atomic.write_npz(path, make_golden(method, convention, problem))
        out.append(path)
    return out


def _fail(path: Path, why: str) -> GoldenFormatError:
    return GoldenFormatError(f"golden file {path}: {why}")


def load_golden(name_or_path: str | Path) -> GoldenTrajectory:
    """Load and validate a golden trajectory: a shipped name (``names()``), or a path to an .npz
    file. Anything else, e.g. a name with a folder in it, is refused."""
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"name_or_path must be a shipped golden name or a path to an .npz file, "
                        f"got {type(name_or_path).__name__}")
    p = Path(name_or_path)
    if p.is_dir() and str(name_or_path) not in names():
        raise ValueError(f"name_or_path: {str(p)!r} is a directory, not a golden trajectory: "
                         "give a shipped name (see names()) or the path of an .npz file")
    if p.suffix != ".npz":
        if str(name_or_path) not in names():
            raise ValueError(f"name_or_path: no shipped golden trajectory {str(name_or_path)!r} "
                             f"(give a path ending in .npz for your own file); shipped: {names()}")
        p = GOLDEN_DIR / f"{name_or_path}.npz"
    if p.is_dir():
        raise ValueError(f"name_or_path: {str(p)!r} is a directory, not a golden .npz file")
    if not p.is_file():
        raise FileNotFoundError(f"no golden file {p}")
    data = _read_arrays(p)
    missing = {"losses", "grads", "weights", "meta"} - set(data)
    if missing:
        raise _fail(p, f"missing arrays {sorted(missing)}")
    for key, ndim in (("losses", 2), ("grads", 3), ("weights", 2)):
        a = data[key]
        if a.dtype != np.float64:
            raise _fail(p, f"{key} must be float64, got {a.dtype}")
        if a.ndim != ndim:
            raise _fail(p, f"{key} must be {ndim}-D, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise _fail(p, f"{key} contains NaN or inf")
    T, m = data["losses"].shape
    if data["grads"].shape[:2] != (T, m) or data["weights"].shape != (T, m) or T < 1 or m < 1:
        raise _fail(p, f"inconsistent shapes: losses {data['losses'].shape}, grads "
                       f"{data['grads'].shape}, weights {data['weights'].shape}")
    if data["meta"].shape != () or data["meta"].dtype.kind != "U":
        raise _fail(p, f"meta must be a unicode scalar holding JSON, got dtype "
                       f"{data['meta'].dtype} and shape {data['meta'].shape}")
    try:
        meta = json.loads(str(data["meta"]))
    except json.JSONDecodeError as exc:
        raise _fail(p, f"meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _fail(p, f"meta must be a JSON object, got {type(meta).__name__}")
    absent = [k for k in META_FIELDS if k not in meta]
    if absent:
        raise _fail(p, f"meta lacks fields {absent}")
    if meta["format_version"] != FORMAT_VERSION:
        raise _fail(p, f"format_version {meta['format_version']} is not supported "
                       f"(this reader knows {FORMAT_VERSION})")
    _check_meta_types(p, meta)
    return GoldenTrajectory(p.stem, data["losses"], data["grads"], data["weights"], meta)


def _read_arrays(p: Path) -> dict[str, np.ndarray]:
    """The arrays of the golden file ``p``, read only if it is a regular file within the memory
    limit, every .npy header matching its member's size (a header claiming a huge shape is
    refused before any allocation) and every member's CRC right (``proofs_check.inputs``)."""
    try:
        return read_npz(p, "golden file", ("losses", "grads", "weights", "meta"),
                        limits.max_bytes())
    except InputFileError as exc:
        why = exc.why if exc.kind == "file" else f"corrupt or truncated ({exc.why})"
        raise _fail(p, why) from None


def _check_meta_types(p: Path, meta: dict) -> None:
    def number(key: str, positive: bool) -> None:
        val = meta[key]
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not np.isfinite(val) \
                or val < 0 or (positive and val == 0):
            raise _fail(p, f"meta field {key!r} must be a finite number "
                           f"{'> 0' if positive else '>= 0'}, got {val!r}")

    for key, positive in (("step_size", True), ("lr", True), ("rtol", False), ("atol", False)):
        number(key, positive)
    if meta["method"] not in METHOD_NAMES:
        raise _fail(p, f"meta field 'method' must be one of {METHOD_NAMES}, got {meta['method']!r}")
    if meta["convention"] not in ("official", "paper"):
        raise _fail(p, f"meta field 'convention' must be 'official' or 'paper', got "
                       f"{meta['convention']!r}")
    if not isinstance(meta["options"], dict):
        raise _fail(p, f"meta field 'options' must be a JSON object, got {meta['options']!r}")
    if isinstance(meta["steps"], bool) or not isinstance(meta["steps"], int) or meta["steps"] < 1:
        raise _fail(p, f"meta field 'steps' must be a positive integer, got {meta['steps']!r}")
    try:
        MethodSpec(meta["method"], meta["convention"], float(meta["step_size"]),
                   dict(meta["options"])).build()
    except (TypeError, ValueError) as exc:
        raise _fail(p, f"meta does not describe a reference method ({exc})") from None


def check_golden(step_fn: StepFn, name_or_path: str | Path, *, accept_rescaled: bool = False,
                 dtype: str | None = None, rtol: float | None = None,
                 atol: float | None = None) -> ConformanceReport:
    """Drive ``step_fn`` with a golden trajectory's inputs and compare with its weights.

    Tolerances: ``rtol``/``atol`` if given, else the declared ``dtype``'s (``TOLERANCES``), else
    the golden file's own (float64)."""
    g = load_golden(name_or_path)
    if dtype is not None and dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {tuple(TOLERANCES)}, got {dtype!r}")
    d_rtol, d_atol = TOLERANCES[dtype] if dtype else (g.meta["rtol"], g.meta["atol"])
    return compare(step_fn, g.spec, g.losses, g.grads, g.weights,
                   rtol=d_rtol if rtol is None else rtol, atol=d_atol if atol is None else atol,
                   accept_rescaled=accept_rescaled, dtype=dtype or "float64")
