"""Conformance harness: does *your* weighting implementation match the official code or the paper
convention, and if not, where does it first depart and why?

``step_fn`` is a stateful callable ``step_fn(losses, grads) -> weights`` taking NumPy arrays of
shape (m,) and (m, d) and returning (m,) weights: the signature of LibMTL's ``backward`` with the
autograd part removed. The harness feeds it exactly the inputs the reference sees along the
reference trajectory, compares the weights step by step, and, on a departure, replays the known
variants of other ports (NOTES §9: initial weights, first step, baseline, epsilons, sqrt,
normalisation, sign, step size) to say in plain words which one explains it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import reference as R

from ..claims.controls import SignFlippedExcessMTL

StepFn = Callable[[np.ndarray, np.ndarray], object]
METHOD_NAMES = ("excessmtl", "groupdro", "equalweights", "mgda")


# ------------------------------------------------------------------ the reference side
@dataclass(frozen=True)
class MethodSpec:
    """Which reference method the implementation claims to be."""

    method: str = "excessmtl"
    convention: str = "official"
    step_size: float = 1.0
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"method must be one of {METHOD_NAMES}, got {self.method!r}")
        if self.convention not in R.weighting.CONVENTIONS:
            raise ValueError(f"convention must be 'official' or 'paper', got {self.convention!r}")
        if "estimator" in self.options and self.options["estimator"] != "adagrad":
            raise ValueError("a step_fn sees only (losses, grads), so ExcessMTL is checked with the "
                             "official 'adagrad' estimator; estimator must be 'adagrad'")

    def build(self, **override: object) -> object:
        kw = {**self.options, **override}
        conv = kw.pop("convention", self.convention)
        eta = kw.pop("step_size", self.step_size)
        if self.method == "excessmtl":
            cls = kw.pop("cls", R.ExcessMTL)
            return cls("adagrad", conv, step_size=eta, **kw)
        if self.method == "groupdro":
            method = R.GroupDRO(conv, step_size=eta)
            return _NegatedLosses(method) if kw.get("sign_flip") else method
        if self.method == "equalweights":
            return R.EqualWeights(conv)
        return R.MGDA()

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


class _NegatedLosses:
    """GroupDRO with the sign of the exponent flipped (a known bug shape)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def init_state(self, m: int, d: int):
        return self.inner.init_state(m, d)

    def step(self, state, losses, grads, **kw):
        return self.inner.step(state, -np.asarray(losses), grads, **kw)


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

    def __str__(self) -> str:
        head = (f"{'PASS' if self.passed else 'FAIL'}: {self.steps} steps against "
                f"{self.reference} (rtol {self.rtol:g}, atol {self.atol:g}"
                f"{', weights compared up to scale' if self.rescaled else ''})")
        lines = [head, f"  max abs error {self.max_abs_error:.3e}, max rel error "
                       f"{self.max_rel_error:.3e}"]
        if self.first_divergence_step is not None:
            lines.append(f"  first divergence at step {self.first_divergence_step}")
            if self.expected_at_divergence is not None:
                lines.append(f"    expected {np.array2string(self.expected_at_divergence, precision=8)}")
            if self.actual_at_divergence is not None:
                lines.append(f"    actual   {np.array2string(self.actual_at_divergence, precision=8)}")
        lines += [f"  diagnosis: {d}" for d in self.diagnosis]
        return "\n".join(lines)


def _normalise(w: np.ndarray) -> np.ndarray:
    s = w.sum(axis=-1, keepdims=True)
    return np.divide(w, s, out=np.full_like(w, np.nan), where=s != 0)


def _matches(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Per-step agreement, (T,) bool."""
    ok = np.isclose(actual, expected, rtol=rtol, atol=atol)
    return np.all(ok & np.isfinite(actual), axis=1)


def _variants(spec: MethodSpec, m: int) -> list[tuple[str, object]]:
    """Known departures (NOTES §9), each as a reference method to replay."""
    other = "paper" if spec.convention == "official" else "official"
    swap = ("weights sum to 1 instead of m (paper convention instead of the official one)"
            if spec.convention == "official" else
            "weights sum to m instead of 1 (official convention instead of the paper one)")
    out: list[tuple[str, object]] = []
    if spec.method in ("excessmtl", "groupdro", "equalweights"):
        out.append((swap, spec.build(convention=other)))
    if spec.method == "excessmtl":
        out.append(("updated on the first step (with the raw estimate) instead of only storing "
                    "the baseline", spec.build(first_step_update=True)))
        out += [(f"baseline averaged over a warm-up of {w} steps instead of the first estimate",
                 spec.build(warmup=w)) for w in (2, 3, 4, 5)]
        out += [(f"epsilon {e:g} added to the baseline in the scale-processing division",
                 spec.build(baseline_eps=e)) for e in (1e-12, 1e-10, 1e-8, 1e-7, 1e-6, 1e-5)]
        out.append(("missing sqrt in the accumulator: Σg²/(S+ε) instead of Σg²/sqrt(S+ε)",
                    spec.build(sqrt_accumulator=False)))
        out += [(f"accumulator epsilon {e:g} instead of 1e-7", spec.build(eps=e))
                for e in (0.0, 1e-8, 1e-10, 1e-6)]
        out.append(("sign flip: weights move against the excess-risk estimates",
                    spec.build(cls=SignFlippedExcessMTL)))
    if spec.method == "groupdro":
        out.append(("sign flip: weights move against the losses", spec.build(sign_flip=True)))
    if spec.method in ("excessmtl", "groupdro"):
        out += [(f"step size η_α = {eta:g} instead of {spec.step_size:g}", spec.build(step_size=eta))
                for eta in (1e-2, 0.1, 1.0, 10.0) if not np.isclose(eta, spec.step_size)]
    return out


def diagnose(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
             expected: np.ndarray, rtol: float, atol: float) -> list[str]:
    """Plain-language explanations of a departure, from the known variants that reproduce it."""
    T, m = actual.shape
    exact, scaled, partial = [], [], []
    for text, method in _variants(spec, m):
        try:
            with np.errstate(all="ignore"):
                w = drive(method, losses, grads)
        except (ValueError, FloatingPointError):
            continue
        if _matches(w, expected, rtol, atol).all():
            continue            # indistinguishable from the reference at this tolerance
        if _matches(actual, w, rtol, atol).all():
            exact.append(f"{text} (reproduces all {T} steps)")
        elif _matches(_normalise(actual), _normalise(w), rtol, atol).all():
            scaled.append(f"{text}, and the weights are scaled differently "
                          f"(Σα = {actual[0].sum():.6g}, expected {w[0].sum():.6g})")
        else:
            ok = _matches(actual, w, rtol, atol)
            partial.append((int(np.argmin(ok)), text))
    if exact or scaled:
        return exact or scaled
    if spec.method == "mgda":
        J = grads
        exact = np.array([np.linalg.norm(J[t].T @ expected[t]) for t in range(T)])
        got = np.array([np.linalg.norm(J[t].T @ _normalise(actual[t])) for t in range(T)])
        feasible = np.all(np.isfinite(actual)) and np.all(actual >= 0)
        if feasible:
            excess = np.max((got - exact) / np.maximum(exact, 1e-300))
            return [f"α is feasible (on the simplex) but not the min-norm point: ‖Σα_i g_i‖ "
                    f"exceeds the exact minimum by up to {excess:.3e} (relative) — an approximate "
                    "min-norm solver such as Frank–Wolfe, or a bug in the solver"]
    sums = actual.sum(axis=1)
    notes = []
    if np.allclose(sums, sums[0], rtol=1e-9) and not np.isclose(sums[0], expected[0].sum()):
        notes.append(f"weights sum to {sums[0]:.6g} instead of {expected[0].sum():.6g}")
    best = max(partial, default=(0, ""))
    if best[0] > 0:
        notes.append(f"no known variant explains it; the closest is '{best[1]}', which agrees "
                     f"for the first {best[0]} steps")
    return notes or ["no known convention difference explains it"]


def _call(step_fn: StepFn, losses: np.ndarray, grads: np.ndarray, m: int, t: int
          ) -> tuple[np.ndarray | None, str | None]:
    try:
        out = step_fn(losses.copy(), grads.copy())
    except Exception as exc:  # the implementation under test may raise anything
        return None, f"step_fn raised {type(exc).__name__}: {exc} at step {t}"
    if hasattr(out, "detach") and hasattr(out, "cpu"):        # a torch tensor without the adapter
        out = out.detach().cpu().numpy()
    try:
        w = np.asarray(out, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None, f"step_fn returned {type(out).__name__} at step {t}, not an array of weights"
    if w.shape != (m,):
        return None, f"step_fn returned shape {w.shape} at step {t}, expected ({m},)"
    return w, None


def compare(step_fn: StepFn, spec: MethodSpec, losses: np.ndarray, grads: np.ndarray,
            expected: np.ndarray, *, rtol: float, atol: float, accept_rescaled: bool = False
            ) -> ConformanceReport:
    """Drive ``step_fn`` on recorded inputs and compare with the ``expected`` weights."""
    T, m = expected.shape
    actual = np.full((T, m), np.nan)
    failure = None
    for t in range(T):
        w, failure = _call(step_fn, losses[t], grads[t], m, t + 1)
        if failure:
            break
        actual[t] = w
    a, e = (_normalise(actual), _normalise(expected)) if accept_rescaled else (actual, expected)
    ok = _matches(a, e, rtol, atol)
    done = np.isfinite(actual).all(axis=1)
    err = np.abs(a - e)[done]
    rel = err / np.maximum(np.abs(e[done]), np.finfo(float).tiny)
    first = None if ok.all() else int(np.argmin(ok)) + 1
    diagnosis: list[str] = []
    if failure:
        diagnosis.append(failure)
    elif first is not None:
        diagnosis = diagnose(spec, losses, grads, actual, expected, rtol, atol)
    return ConformanceReport(
        passed=first is None and failure is None, reference=spec.describe(), steps=T,
        first_divergence_step=first, max_abs_error=float(err.max()) if err.size else float("nan"),
        max_rel_error=float(rel.max()) if rel.size else float("nan"),
        expected_at_divergence=None if first is None else e[first - 1],
        actual_at_divergence=None if first is None else a[first - 1],
        diagnosis=tuple(diagnosis), rescaled=accept_rescaled, rtol=rtol, atol=atol)


def check_weighting(step_fn: StepFn, method: str = "excessmtl", convention: str = "official",
                    step_size: float = 1.0, problem: R.MultiTaskProblem | None = None,
                    steps: int = 50, rtol: float = 1e-9, atol: float = 1e-12, *,
                    lr: float = 0.05, accept_rescaled: bool = False, seed: int = 0,
                    **options: object) -> ConformanceReport:
    """Compare a stateful ``step_fn(losses, grads) -> weights`` with the reference ``method`` in
    ``convention``, step by step along the reference trajectory on ``problem`` (default: 3 linear
    tasks, d = 4). ``accept_rescaled`` compares weights up to a positive factor (Σα = 1 vs m).
    ``options`` go to the reference method (e.g. ``warmup=3`` for ExcessMTL)."""
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable (losses, grads) -> weights, got {step_fn!r}")
    spec = MethodSpec(method, convention, float(step_size), dict(options))
    R._validate.positive_int("steps", steps)
    R._validate.real("rtol", rtol, low=0.0)
    R._validate.real("atol", atol, low=0.0)
    problem = default_problem(seed) if problem is None else problem
    losses, grads, expected = reference_inputs(spec, problem, steps, lr)
    return compare(step_fn, spec, losses, grads, expected, rtol=rtol, atol=atol,
                   accept_rescaled=accept_rescaled)


def from_torch(step_fn: Callable, *, dtype: str = "float64", device: str = "cpu") -> StepFn:
    """Adapt a step_fn that takes and returns torch tensors (torch is imported lazily)."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError("from_torch needs PyTorch: pip install torch") from exc
    tdtype = getattr(torch, dtype)

    def wrapped(losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        out = step_fn(torch.as_tensor(losses, dtype=tdtype, device=device),
                      torch.as_tensor(grads, dtype=tdtype, device=device))
        if isinstance(out, torch.Tensor):
            out = out.detach().to("cpu", torch.float64).numpy()
        return np.asarray(out, dtype=float)

    return wrapped
