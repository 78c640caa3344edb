"""Conformance harness: does *your* weighting implementation match the official code or the paper
convention, and if not, where does it first depart and why?

``step_fn`` is a stateful callable ``step_fn(losses, grads) -> weights`` taking NumPy arrays of
shape (m,) and (m, d) and returning (m,) weights: the signature of LibMTL's ``backward`` with the
autograd part removed. The harness feeds it exactly the inputs the reference sees along the
reference trajectory, compares the weights step by step, and, on a departure, searches the known
departures of other ports (NOTES §9: normalisation, first step, warm-up, baseline and accumulator
ε, sqrt, sign, step size, weights one step late) for the smallest combination that reproduces it
(``ConformanceReport.explained_by``), or recognises differences of float32 size.

``check_recording`` (``record.py``) does the same on inputs recorded inside a real training loop.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

import reference as R
from reference._validate import describe_exception, passes_through

from ..claims.controls import SignFlippedExcessMTL
from . import departures as D

StepFn = Callable[[np.ndarray, np.ndarray], object]
METHOD_NAMES = ("excessmtl", "groupdro", "equalweights", "mgda")
# default (rtol, atol) per declared precision: about 10³ units in the last place of the weights
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-7), "float16": (1e-2, 1e-4),
              "bfloat16": (3e-2, 1e-4)}
OPTIONS = {"excessmtl": ("warmup", "first_step_update", "baseline_eps", "eps",
                         "sqrt_accumulator", "scale_processing", "sign_flip", "lagged"),
           "groupdro": ("sign_flip", "lagged"), "equalweights": ("lagged",), "mgda": ()}


# ------------------------------------------------------------------ the reference side
def positive_step_size(value: object, name: str = "step_size") -> float:
    """η_α as a float, or an error saying that ``name`` must be a positive float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive float (the step size η_α), got {value!r}")
    eta = float(value)
    if not (eta > 0 and math.isfinite(eta)):
        raise ValueError(f"{name} must be a positive float (the step size η_α), got {value!r}")
    return eta


@dataclass(frozen=True)
class MethodSpec:
    """Which reference method the implementation claims to be."""

    method: str = "excessmtl"
    convention: str = "official"
    step_size: float = 1.0
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_size", positive_step_size(self.step_size))
        if self.method not in METHOD_NAMES:
            raise ValueError(f"method must be one of {METHOD_NAMES}, got {self.method!r}")
        if self.convention not in R.weighting.CONVENTIONS:
            raise ValueError(f"convention must be 'official' or 'paper', got {self.convention!r}")
        if "estimator" in self.options and self.options["estimator"] != "adagrad":
            raise ValueError("a step_fn sees only (losses, grads), so ExcessMTL is checked with the "
                             "official 'adagrad' estimator; estimator must be 'adagrad'")
        allowed = OPTIONS[self.method] + (("estimator",) if self.method == "excessmtl" else ())
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            raise ValueError(f"options {unknown} do not apply to {self.method}; it takes "
                             f"{list(allowed) or 'none'}")

    def build(self, **override: object) -> object:
        """The reference method with ``override`` (departures, see ``departures.py``) applied."""
        kw = {**self.options, **override}
        conv = kw.pop("convention", self.convention)
        eta = kw.pop("step_size", self.step_size)
        lagged = kw.pop("lagged", False)
        flip = kw.pop("sign_flip", False)
        kw.pop("estimator", None)
        if self.method == "excessmtl":
            cls = SignFlippedExcessMTL if flip else R.ExcessMTL
            method = cls("adagrad", conv, step_size=eta, **kw)
        elif self.method == "groupdro":
            method = R.GroupDRO(conv, step_size=eta)
            method = D.NegatedLosses(method) if flip else method
        elif self.method == "equalweights":
            method = R.EqualWeights(conv)
        else:
            method = R.MGDA()
        return D.Lagged(method) if lagged else method

    def describe(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.options.items())
        if self.method == "excessmtl":
            return (f"ExcessMTL(adagrad, {self.convention}, step_size={self.step_size}{extra}) "
                    "[CODE]" if self.convention == "official" else
                    f"ExcessMTL(adagrad, paper, step_size={self.step_size}{extra}) [REC]")
        if self.method == "groupdro":
            return f"GroupDRO({self.convention}, step_size={self.step_size})"
        if self.method == "equalweights":
            return f"EqualWeights({self.convention})"
        return "MGDA (exact min-norm point, Σα = 1)"


def drive(method: object, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The weights a reference method returns on a recorded input sequence, (T, m)."""
    return R.replay(method, losses, grads)


def reference_inputs(spec: MethodSpec, problem: R.MultiTaskProblem, steps: int, lr: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(losses, grads, weights) along the reference trajectory of ``spec`` on ``problem``."""
    traj = R.run(problem, spec.build(), steps, lr=lr)
    grads = np.stack([problem.grads(th) for th in traj.thetas[:-1]])
    return traj.losses[:-1], grads, traj.weights


def default_problem(seed: int = 0) -> R.MultiTaskProblem:
    """3 linear tasks, d = 4, n = 64, noise (0.1, 0.3, 1.0)."""
    return R.make_linear_problem(3, 4, 64, noise=[0.1, 0.3, 1.0], seed=seed)


# ---------------------------------------------------------------------- the report
@dataclass(frozen=True)
class ConformanceReport:
    """Step-by-step agreement of an implementation's weights with the reference.

    ``explained_by``: the smallest combination (up to three) of known departures, as reference
    keyword options, that reproduces every step (None if none does); ``precision``: "float32"
    (or the declared dtype) when the differences are of that size rather than a departure."""

    passed: bool
    reference: str
    steps: int
    first_divergence_step: int | None        # 1-based
    max_abs_error: float
    max_rel_error: float
    expected_at_divergence: np.ndarray | None
    actual_at_divergence: np.ndarray | None
    diagnosis: tuple[str, ...]
    rescaled: bool = False
    rtol: float = 0.0
    atol: float = 0.0
    explained_by: dict | None = None
    alternatives: tuple[dict, ...] = ()
    precision: str | None = None
    dtype: str = "float64"

    def __str__(self) -> str:
        head = (f"{'PASS' if self.passed else 'FAIL'}: {self.steps} steps against "
                f"{self.reference} (rtol {self.rtol:g}, atol {self.atol:g}, {self.dtype}"
                f"{', weights compared up to scale' if self.rescaled else ''})")
        lines = [head, f"  max abs error {self.max_abs_error:.3e}, max rel error "
                       f"{self.max_rel_error:.3e}"]
        if self.first_divergence_step is not None:
            lines.append(f"  first divergence at step {self.first_divergence_step}")
            if self.expected_at_divergence is not None:
                lines.append(f"    expected {np.array2string(self.expected_at_divergence, precision=8)}")
            if self.actual_at_divergence is not None:
                lines.append(f"    actual   {np.array2string(self.actual_at_divergence, precision=8)}")
        if self.explained_by is not None:
            lines.append(f"  explained by: {_options_text(self.explained_by)}")
        lines += [f"  diagnosis: {d}" for d in self.diagnosis]
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-ready dict (arrays as lists, NaN as None)."""
        def clean(x):
            if isinstance(x, np.ndarray):
                return [clean(v) for v in x.tolist()]
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (float, np.floating)):
                return float(x) if math.isfinite(x) else None
            if isinstance(x, np.integer):
                return int(x)
            return x
        return clean({f: getattr(self, f) for f in self.__dataclass_fields__})

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def _options_text(options: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def _normalise(w: np.ndarray) -> np.ndarray:
    """Rows divided by their sum: weights up to a *positive* factor. A row summing to <= 0 (or
    with a negative entry) has no such form and becomes NaN, a mismatch: dividing by a negative
    sum would turn weights of −1 into 1/m."""
    s = w.sum(axis=-1, keepdims=True)
    ok = (s > 0) & np.all(w >= 0, axis=-1, keepdims=True)
    return np.divide(w, s, out=np.full_like(w, np.nan), where=ok)


def _matches(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Per-step agreement, (T,) bool."""
    ok = np.isclose(actual, expected, rtol=rtol, atol=atol)
    return np.all(ok & np.isfinite(actual), axis=1)


def tolerances(dtype: str, rtol: float | None, atol: float | None) -> tuple[float, float]:
    """(rtol, atol): the given ones, else the defaults of the declared ``dtype``."""
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be one of {tuple(TOLERANCES)}, got {dtype!r}")
    d_rtol, d_atol = TOLERANCES[dtype]
    rtol = d_rtol if rtol is None else R._validate.real("rtol", rtol, low=0.0)
    atol = d_atol if atol is None else R._validate.real("atol", atol, low=0.0)
    return rtol, atol


def _mgda_note(grads: np.ndarray, actual: np.ndarray, expected: np.ndarray) -> list[str]:
    T = len(actual)
    best = np.array([np.linalg.norm(grads[t].T @ expected[t]) for t in range(T)])
    got = np.array([np.linalg.norm(grads[t].T @ _normalise(actual[t])) for t in range(T)])
    if np.all(np.isfinite(actual)) and np.all(actual >= 0):
        excess = np.max((got - best) / np.maximum(best, 1e-300))
        return [f"α is feasible (on the simplex) but not the min-norm point: ‖Σα_i g_i‖ exceeds "
                f"the exact minimum by up to {excess:.3e} (relative) — an approximate min-norm "
                "solver such as Frank–Wolfe, or a bug in the solver"]
    return []


def diagnose(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
             expected: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False,
             dtype: str = "float64") -> tuple[dict | None, tuple[dict, ...], str | None, list[str]]:
    """(explained_by, alternatives, precision, plain-language notes) for a departure.

    1. the smallest combination (≤ 3) of known departures reproducing every step at (rtol, atol);
    2. else, for a float64 claim, differences within float32 tolerance: float32 arithmetic;
    3. else the smallest combination reproducing it at float32 tolerance (departure + float32);
    4. else the closest miss."""
    group_list = D.groups(spec.method, spec.convention, spec.step_size, spec.options,
                          rescaled=rescaled)
    claimed = {"step_size": spec.step_size, **spec.options}

    def search(rt: float, at: float):
        return D.explain(spec.build, group_list, losses, grads, actual, rt, at, rescaled=rescaled)

    def words(combo: dict) -> str:
        return "; ".join(D.describe(k, v, claimed) for k, v in combo.items())

    T = len(actual)
    combo, others, closest = search(rtol, atol)
    if combo is not None:
        notes = [f"{words(combo)} (reproduces all {T} steps)"]
        notes += [f"equally explained by: {words(c)}" for c in others]
        return combo, tuple(others), None, notes
    if dtype == "float64" and np.all(np.isfinite(actual)):
        r32, a32 = TOLERANCES["float32"]
        a, e = (_normalise(actual), _normalise(expected)) if rescaled else (actual, expected)
        rel = np.max(np.abs(a - e) / np.maximum(np.abs(e), np.finfo(float).tiny))
        ulps = rel / np.finfo(np.float32).eps
        if _matches(a, e, r32, a32).all():
            return None, (), "float32", [
                f"the differences are of float32 size (max relative error {rel:.2e} = "
                f"{ulps:.0f} float32 ulps), not a departure: the implementation computes in "
                "float32 somewhere (e.g. weights made with torch.zeros/ones, float32 by "
                "default); declare dtype='float32' (--dtype float32) to check it at that "
                "precision"]
        combo32, others32, _ = search(r32, a32)
        if combo32 is not None:
            return combo32, tuple(others32), "float32", [
                f"{words(combo32)}, computed in float32 (reproduces all {T} steps within "
                "float32 tolerance)"]
    notes = _mgda_note(grads, actual, expected) if spec.method == "mgda" else []
    sums = actual.sum(axis=1)
    if np.allclose(sums, sums[0], rtol=1e-9) and not np.isclose(sums[0], expected[0].sum()):
        notes.append(f"weights sum to {sums[0]:.6g} instead of {expected[0].sum():.6g}")
    if closest[0] > 0:
        notes.append(f"no combination of up to 3 known departures explains it; the closest is "
                     f"'{words(closest[1])}', which agrees for the first {closest[0]} steps")
    return None, (), None, notes or ["no combination of up to 3 known departures explains it"]


def _call(step_fn: StepFn, losses: np.ndarray, grads: np.ndarray, m: int, t: int
          ) -> tuple[np.ndarray | None, str | None]:
    try:
        out = step_fn(losses.copy(), grads.copy())
    except BaseException as exc:  # noqa: BLE001 - the implementation may raise anything, exit too
        if passes_through(exc):
            raise
        hint = ""
        if hasattr(step_fn, "parameters") and hasattr(step_fn, "forward"):
            hint = (" (a torch module: wrap it with conformance.from_torchjd(...) or "
                    "conformance.from_torch(...), see docs/conformance.md)")
        elif "Tensor" in str(exc):
            hint = (" (it seems to expect torch tensors: wrap it with conformance.from_torch(...)"
                    ", or pass --torch on the command line)")
        kind, text = describe_exception(exc)
        return None, f"step_fn raised {kind}{': ' + text if text else ''} at step {t}{hint}"
    if hasattr(out, "detach") and hasattr(out, "cpu"):        # a torch tensor without the adapter
        out = out.detach().cpu().numpy()
    try:
        w = np.asarray(out, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None, f"step_fn returned {type(out).__name__} at step {t}, not an array of weights"
    if w.shape != (m,):
        return None, f"step_fn returned shape {w.shape} at step {t}, expected ({m},)"
    return w, None


def judge(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
          expected: np.ndarray, *, rtol: float, atol: float, accept_rescaled: bool = False,
          dtype: str = "float64", failure: str | None = None) -> ConformanceReport:
    """Compare recorded weights ``actual`` (T, m; NaN rows where the implementation stopped)
    with the reference's ``expected`` on the same inputs, and diagnose a departure."""
    T, m = expected.shape
    a, e = (_normalise(actual), _normalise(expected)) if accept_rescaled else (actual, expected)
    ok = _matches(a, e, rtol, atol)
    done = np.isfinite(actual).all(axis=1)
    err = np.abs(a - e)[done]
    rel = err / np.maximum(np.abs(e[done]), np.finfo(float).tiny)
    first = None if ok.all() else int(np.argmin(ok)) + 1
    diagnosis: list[str] = []
    explained, others, precision = None, (), None
    if failure:
        diagnosis.append(failure)
    elif first is not None:
        explained, others, precision, diagnosis = diagnose(
            spec, losses, grads, actual, expected, rtol, atol, rescaled=accept_rescaled,
            dtype=dtype)
    return ConformanceReport(
        passed=first is None and failure is None, reference=spec.describe(), steps=T,
        first_divergence_step=first, max_abs_error=float(err.max()) if err.size else float("nan"),
        max_rel_error=float(rel.max()) if rel.size else float("nan"),
        expected_at_divergence=None if first is None else e[first - 1],
        actual_at_divergence=None if first is None else a[first - 1],
        diagnosis=tuple(diagnosis), rescaled=accept_rescaled, rtol=rtol, atol=atol,
        explained_by=explained, alternatives=tuple(others), precision=precision, dtype=dtype)


def compare(step_fn: StepFn, spec: MethodSpec, losses: np.ndarray, grads: np.ndarray,
            expected: np.ndarray, *, rtol: float, atol: float, accept_rescaled: bool = False,
            dtype: str = "float64") -> ConformanceReport:
    """Drive ``step_fn`` on recorded inputs and compare with the ``expected`` weights."""
    T, m = expected.shape
    actual = np.full((T, m), np.nan)
    failure = None
    for t in range(T):
        w, failure = _call(step_fn, losses[t], grads[t], m, t + 1)
        if failure:
            break
        actual[t] = w
    return judge(spec, losses, grads, actual, expected, rtol=rtol, atol=atol,
                 accept_rescaled=accept_rescaled, dtype=dtype, failure=failure)


def check_weighting(step_fn: StepFn, method: str = "excessmtl", convention: str = "official",
                    step_size: float = 1.0, problem: R.MultiTaskProblem | None = None,
                    steps: int = 50, rtol: float | None = None, atol: float | None = None, *,
                    lr: float = 0.05, accept_rescaled: bool = False, seed: int = 0,
                    dtype: str = "float64", **options: object) -> ConformanceReport:
    """Compare a stateful ``step_fn(losses, grads) -> weights`` with the reference ``method`` in
    ``convention``, step by step along the reference trajectory on ``problem`` (default: 3 linear
    tasks, d = 4). ``accept_rescaled`` compares weights up to a positive factor (Σα = 1 vs m).
    ``dtype`` is the precision the implementation declares; it sets the default tolerances
    (float64: rtol 1e-9, atol 1e-12; float32: 1e-4, 1e-7). ``options`` go to the reference
    method (e.g. ``warmup=3``, ``first_step_update=True`` for ExcessMTL)."""
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable (losses, grads) -> weights, got {step_fn!r}")
    spec = MethodSpec(method, convention, positive_step_size(step_size), dict(options))
    R._validate.positive_int("steps", steps)
    rtol, atol = tolerances(dtype, rtol, atol)
    problem = default_problem(seed) if problem is None else problem
    losses, grads, expected = reference_inputs(spec, problem, steps, lr)
    return compare(step_fn, spec, losses, grads, expected, rtol=rtol, atol=atol,
                   accept_rescaled=accept_rescaled, dtype=dtype)
