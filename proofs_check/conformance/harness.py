"""Conformance harness: does *your* weighting implementation match the official code or the paper
convention, and if not, where does it first depart and why?

``step_fn`` is a stateful callable ``step_fn(losses, grads) -> weights`` taking NumPy arrays of
shape (m,) and (m, d) and returning (m,) weights: the signature of LibMTL's ``backward`` with the
autograd part removed. The harness feeds it exactly the inputs the reference sees along the
reference trajectory, compares the weights step by step, and, on a departure, *fits* the known
departures of other ports (docs/sources.md §S9: normalisation, first step, warm-up, baseline and
accumulator ε and where ε sits, sqrt, sign, step size, clamp bounds, weights one step late) from
the weights it returned (``fit.py``), confirms them by replaying the reference with the fitted
values (``ConformanceReport.explained_by``, ``fitted``), recognises float32 rounding by its
residual pattern, and otherwise localises what first differs (``localisation``).
``port.assert_conforms`` raises with the report for a port's CI.

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
from . import fit as F

StepFn = Callable[[np.ndarray, np.ndarray], object]
METHOD_NAMES = ("excessmtl", "groupdro", "equalweights", "mgda")
# default (rtol, atol) per declared precision: about 10³ units in the last place of the weights
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-7), "float16": (1e-2, 1e-4),
              "bfloat16": (3e-2, 1e-4)}
_SCALE = ("weight_sum", "clamp_min", "clamp_max", "clamp_output_only")
OPTIONS = {"excessmtl": ("warmup", "first_step_update", "baseline_eps", "eps",
                         "sqrt_accumulator", "scale_processing", "sign_flip", "lagged",
                         "eps_outside", "accumulate_after") + _SCALE,
           "groupdro": ("sign_flip", "lagged") + _SCALE,
           "equalweights": ("lagged", "weight_sum"), "mgda": ()}
# the harness options no reference class has (departures.py replays them), with their types
HARNESS_OPTIONS = {"sign_flip": bool, "lagged": bool, "eps_outside": bool,
                   "accumulate_after": bool, "clamp_output_only": bool, "weight_sum": float,
                   "clamp_min": float, "clamp_max": float}


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
            raise ValueError("a step_fn sees only (losses, grads), so ExcessMTL is checked with "
                             "the official 'adagrad' estimator; estimator must be 'adagrad'")
        allowed = OPTIONS[self.method] + (("estimator",) if self.method == "excessmtl" else ())
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            raise ValueError(f"options {unknown} do not apply to {self.method}; it takes "
                             f"{list(allowed) or 'none'}")
        _check_harness_options(self.options)

    def build(self, **override: object) -> R.WeightingMethod:
        """The reference method with ``override`` (departures, see ``departures.py``) applied:
        reference options go to the reference class, the harness options (``HARNESS_OPTIONS``)
        wrap it."""
        kw = {**self.options, **override}
        conv = kw.pop("convention", self.convention)
        eta = kw.pop("step_size", self.step_size)
        lagged = kw.pop("lagged", False)
        flip = kw.pop("sign_flip", False)
        total = kw.pop("weight_sum", None)
        low, high = kw.pop("clamp_min", None), kw.pop("clamp_max", None)
        output_only = kw.pop("clamp_output_only", False)
        outside, after = kw.pop("eps_outside", False), kw.pop("accumulate_after", False)
        kw.pop("estimator", None)
        method: D.InnerMethod
        if self.method == "excessmtl":
            if outside or after:
                method = D.AdaGradVariant(conv, step_size=eta, eps_outside=outside,
                                          accumulate_after=after, sign=-1.0 if flip else 1.0,
                                          **kw)
            else:
                cls = SignFlippedExcessMTL if flip else R.ExcessMTL
                method = cls("adagrad", conv, step_size=eta, **kw)
        elif self.method == "groupdro":
            method = R.GroupDRO(conv, step_size=eta)
            method = D.NegatedLosses(method) if flip else method
        elif self.method == "equalweights":
            method = R.EqualWeights(conv)
        else:
            method = R.MGDA()
        if total is not None:
            method = D.Rescaled(method, total)
        if low is not None or high is not None:
            method = D.Clamped(method, low, high, output_only=output_only)
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


def _check_harness_options(options: dict) -> None:
    """The harness options' types and ranges, each error naming the option."""
    for name, kind in HARNESS_OPTIONS.items():
        if name not in options:
            continue
        val = options[name]
        if kind is bool:
            if not isinstance(val, bool):
                raise TypeError(f"{name} must be a bool, got {val!r}")
            continue
        if val is None and name in ("clamp_min", "clamp_max"):
            continue
        if isinstance(val, bool) or not isinstance(val, Real):
            raise TypeError(f"{name} must be a positive float, got {val!r}")
        if not (math.isfinite(float(val)) and float(val) > 0):
            raise ValueError(f"{name} must be a positive finite float, got {val!r}")
    low, high = options.get("clamp_min"), options.get("clamp_max")
    if low is not None and high is not None and not low < high:
        raise ValueError(f"clamp_min must be below clamp_max, got clamp_min={low!r}, "
                         f"clamp_max={high!r}")


def drive(method: R.WeightingMethod, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
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

    ``explained_by``: the departures, as reference or harness keyword options with their values
    *fitted* from the weights (``fit.py``), whose replay reproduces every step (None if none
    does); ``precision``: "float32" when the differences are float32 rounding rather than a
    departure. ``fitted``: every fitted parameter with its standard error and 95% interval, the
    residuals of the alternatives (e.g. ε inside or outside the sqrt); ``steps_reproduced``: the
    steps the explanation reproduces; ``localisation``: which quantity first differs from the
    claimed reference (normalisation, clamp, lag, payoff, accumulator, weights), at which step,
    with the per-step residual pattern; ``closest``/``closest_steps``: when nothing explains it,
    the best candidate, only if it agrees for more steps than the claimed reference or at least
    halves its largest relative error."""

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
    fitted: dict = field(default_factory=dict)
    steps_reproduced: int | None = None
    localisation: dict | None = None
    closest: dict | None = None
    closest_steps: int | None = None

    def __str__(self) -> str:
        head = (f"{'PASS' if self.passed else 'FAIL'}: {self.steps} steps against "
                f"{self.reference} (rtol {self.rtol:g}, atol {self.atol:g}, {self.dtype}"
                f"{', weights compared up to scale' if self.rescaled else ''})")
        lines = [head, f"  max abs error {self.max_abs_error:.3e}, max rel error "
                       f"{self.max_rel_error:.3e}"]
        if self.first_divergence_step is not None:
            lines.append(f"  first divergence at step {self.first_divergence_step}")
            if self.expected_at_divergence is not None:
                expected = np.array2string(self.expected_at_divergence, precision=8)
                lines.append(f"    expected {expected}")
            if self.actual_at_divergence is not None:
                actual = np.array2string(self.actual_at_divergence, precision=8)
                lines.append(f"    actual   {actual}")
        if self.explained_by is not None:
            lines.append(f"  explained by: {_options_text(self.explained_by)}"
                         + (f" (reproduces {self.steps_reproduced} steps)"
                            if self.steps_reproduced else ""))
        label = "fitted" if self.explained_by is not None else "best fit (not reproducing)"
        lines += [f"  {label}: {t}" for t in _fitted_text(self.fitted, self.explained_by)]
        if self.localisation is not None:
            loc = self.localisation
            lines.append(f"  first differs: {loc['quantity']} ({loc.get('detail', '')}) at step "
                         f"{loc['step']}")
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


def _fitted_text(fitted: dict, explained: dict | None) -> list[str]:
    """One line per fitted parameter that matters: the ones in ``explained`` (or all continuous
    ones when nothing explains), with standard errors and the residuals of ε's placement."""
    out = []
    keys = [k for k in ("step_size", "eps", "baseline_eps") if k in fitted]
    if explained is not None:
        keys = [k for k in keys if k in explained or (k == "eps" and (
            "eps_outside" in explained or "sqrt_accumulator" in explained))]
    for k in keys:
        f = fitted[k]
        se = f" ± {f['stderr']:.2g}" if "stderr" in f else ""
        extra = ""
        if k == "eps" and f.get("rss"):
            extra = "; residual " + ", ".join(f"{p} {r:.3g}" for p, r in f["rss"].items())
        out.append(f"{k} = {f['value']:.6g}{se}{extra}")
    ws = fitted.get("weight_sum")
    if ws and (explained is None or "weight_sum" in explained or "convention" in explained):
        out.append(f"Σα = {ws['value']:.6g}" + ("" if ws["constant"] else
                                                  f" (not constant: spread {ws['spread']:.2g})"))
    for k in ("clamp_min", "clamp_max"):
        if k in fitted:
            out.append(f"{k} = {fitted[k]['value']:.6g} ({fitted[k]['count']} weights sit "
                       "there)")
    return out


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


@dataclass(frozen=True)
class Diagnosis:
    """Everything ``diagnose_all`` found for a departure (see ``ConformanceReport``)."""

    explained_by: dict | None
    alternatives: tuple[dict, ...]
    precision: str | None
    notes: list
    fitted: dict = field(default_factory=dict)
    steps_reproduced: int | None = None
    localisation: dict | None = None
    closest: dict | None = None
    closest_steps: int | None = None


def diagnose(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
             expected: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False,
             dtype: str = "float64") -> tuple[dict | None, tuple[dict, ...], str | None,
                                              list[str]]:
    """(explained_by, alternatives, precision, plain-language notes) for a departure; the rest
    of the diagnosis (fitted parameters, localisation, closest candidate) is in
    ``diagnose_all``."""
    d = diagnose_all(spec, losses, grads, actual, expected, rtol, atol, rescaled=rescaled,
                     dtype=dtype)
    return d.explained_by, d.alternatives, d.precision, d.notes


def _words(combo: dict, claimed: dict) -> str:
    return "; ".join(D.describe(k, v, claimed) for k, v in combo.items())


def _fit_note(fitted: dict, combo: dict) -> str:
    parts = []
    for k in ("step_size", "eps", "baseline_eps"):
        if k in combo and k in fitted and "stderr" in fitted[k]:
            lo, hi = fitted[k]["ci95"]
            parts.append(f"{k} fitted {fitted[k]['value']:.6g} ± {fitted[k]['stderr']:.2g} (95% "
                         f"interval [{lo:.6g}, {hi:.6g}])")
    if "eps" in fitted and fitted["eps"].get("rss") and (
            "eps_outside" in combo or "sqrt_accumulator" in combo or "eps" in combo):
        rss = fitted["eps"]["rss"]
        parts.append("ε placement chosen by residual: " + ", ".join(
            f"{p} {r:.3g}" for p, r in rss.items()))
    return "; ".join(parts)


def diagnose_all(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
                 expected: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False,
                 dtype: str = "float64") -> Diagnosis:
    with F.fit_cache():                 # the structures fitted twice are fitted once
        return _diagnose_all(spec, losses, grads, actual, expected, rtol, atol,
                             rescaled=rescaled, dtype=dtype)


def _diagnose_all(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
                  expected: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False,
                  dtype: str = "float64") -> Diagnosis:
    """The diagnosis of a departure, in order:

    1. the departures with their parameters *fitted* from the weights (``fit.infer``: step
       size, ε and its placement, baseline ε, warm-up, first step, Σα, clamp bounds, lag, sign),
       confirmed by replaying the reference with them at (rtol, atol);
    2. else, for a float64 claim whose differences fit within float32 tolerance, float32
       arithmetic, but only when the differences look like float32 rounding
       (``fit.float32_signature``: the weights are float32 numbers, or an independent float32
       replay reproduces them where the float64 one does not);
    3. else the fitted departures reproduced at float32 tolerance, with that same signature;
    4. else the localisation of what first differs (``fit.localise``) and the closest candidate,
       only if it improves on the claimed reference."""
    claimed = {"step_size": spec.step_size, **spec.options}
    T = len(actual)
    loc = F.localise(spec, losses, grads, actual, expected, rtol, atol, rescaled=rescaled)
    inf = F.infer(spec, losses, grads, actual, rtol, atol, rescaled=rescaled, closest="lazy")
    if inf.explained_by is not None:
        combo = inf.explained_by
        fit_text = _fit_note(inf.fitted, combo)
        notes = [f"{_words(combo, claimed)} (fitted; the reference with it reproduces all {T} "
                 "steps)" + (f"; {fit_text}" if fit_text else "")]
        notes += [f"equally explained by: {_words(c, claimed)}" for c in inf.alternatives]
        return Diagnosis(combo, inf.alternatives, None, notes, inf.fitted, T, loc)
    notes = []
    if dtype == "float64" and np.all(np.isfinite(actual)):
        r32, a32 = TOLERANCES["float32"]
        a, e = (_normalise(actual), _normalise(expected)) if rescaled else (actual, expected)
        with np.errstate(over="ignore", invalid="ignore"):    # a reference weight of 0
            rel = np.max(np.abs(a - e) / np.maximum(np.abs(e), np.finfo(float).tiny))
            ulps = rel / np.finfo(np.float32).eps
        if _matches(a, e, r32, a32).all():
            is32, ev = F.float32_signature(spec, losses, grads, actual, expected,
                                           rescaled=rescaled)
            if is32:
                return Diagnosis(None, (), "float32", [
                    f"the differences are of float32 size (max relative error {rel:.2e} = "
                    f"{ulps:.0f} float32 ulps) and look like float32 rounding "
                    f"({_evidence(ev)}), and no float64 departure with fitted parameters "
                    "explains them: the implementation computes in float32 somewhere (e.g. "
                    "weights made with torch.zeros/ones, float32 by default); declare "
                    "dtype='float32' (--dtype float32) to check it at that precision"],
                    inf.fitted, None, None)          # rounding, not a departure to localise
            notes.append(f"the differences are small (max relative error {rel:.2e}) but are "
                         f"not float32 rounding ({_evidence(ev)}): a departure computed in "
                         "float64, which declaring dtype='float32' must not hide")
        else:
            inf32 = F.infer(spec, losses, grads, actual, r32, a32, rescaled=rescaled,
                            closest=False)
            if inf32.explained_by is not None:
                combo32 = inf32.explained_by
                is32, ev = F.float32_signature(spec, losses, grads, actual, expected,
                                               rescaled=rescaled, **combo32)
                if is32:
                    return Diagnosis(combo32, inf32.alternatives, "float32", [
                        f"{_words(combo32, claimed)}, computed in float32 (fitted; reproduces "
                        f"all {T} steps within float32 tolerance; {_evidence(ev)})"],
                        inf32.fitted, T, loc)
                notes.append(f"within float32 tolerance '{_words(combo32, claimed)}' "
                             f"reproduces every step, but the differences are not float32 "
                             f"rounding ({_evidence(ev)})")
    inf = F.complete(inf)                   # the closest candidate, needed from here on
    if spec.method == "mgda":
        notes = _mgda_note(grads, actual, expected) + notes
    sums = actual.sum(axis=1)
    if np.allclose(sums, sums[0], rtol=1e-9) and not np.isclose(sums[0], expected[0].sum()):
        notes.append(f"weights sum to {sums[0]:.6g} instead of {expected[0].sum():.6g}")
    if spec.method in ("excessmtl", "groupdro") and np.all(np.isfinite(actual)) and \
            F.static(actual, rtol, atol) and not F.static(expected, rtol, atol):
        notes.append(f"the weights never move: all {T} steps return the first step's weights, "
                     "where the reference's change (η_α = 0, or no update within the "
                     "recording); no step size can be fitted to that")
    agreed = (int(np.argmin(_matches(*((_normalise(actual), _normalise(expected)) if rescaled
                                       else (actual, expected)), rtol, atol))))
    fitted_what = ("with their parameters fitted: step size, ε and its placement, baseline ε, "
                   "warm-up, first step, Σα, clamp bounds, lag, sign"
                   if spec.method in ("excessmtl", "groupdro") else "")
    none_text = "no combination of up to 3 known departures explains it" + (
        f" ({fitted_what})" if fitted_what else "")
    if inf.closest is not None:
        none_text += (f"; the closest is '{_words(inf.closest, claimed)}', which agrees for the "
                      f"first {inf.closest_steps} steps (the claimed reference: {agreed}) with a "
                      f"max relative error of {inf.closest_error:.3g}")
    notes.append(none_text)
    if loc is not None:
        notes.append(f"first differs: {loc['quantity']} ({loc.get('detail', '')}) at step "
                     f"{loc['step']}: {loc['pattern']}")
    return Diagnosis(None, (), None, notes, inf.fitted, None, loc, inf.closest,
                     inf.closest_steps)


diagnose_all.__doc__ = _diagnose_all.__doc__


def _evidence(ev: dict) -> str:
    parts = [f"{100 * ev['float32_share']:.0f}% of the weights are float32 numbers"]
    rho = ev.get("residual_autocorrelation")
    if rho is not None and math.isfinite(rho):
        parts.append(f"step-to-step correlation of the residuals {rho:+.2f} ("
                     + ("noise" if rho <= F.ROUNDING_RHO else "smooth: systematic") + ")")
    if "replay32_rel" in ev:
        parts.append(f"{ev['reference64_rel']:.2g} relative from the float64 reference, where "
                     f"float32 arithmetic gives {ev['replay32_rel']:.2g}")
    return "; ".join(parts)


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
    with np.errstate(over="ignore", invalid="ignore"):        # a reference weight of 0
        rel = err / np.maximum(np.abs(e[done]), np.finfo(float).tiny)
    first = None if ok.all() else int(np.argmin(ok)) + 1
    diag = Diagnosis(None, (), None, [])
    if failure:
        diag = Diagnosis(None, (), None, [failure])
    elif first is not None:
        diag = diagnose_all(spec, losses, grads, actual, expected, rtol, atol,
                            rescaled=accept_rescaled, dtype=dtype)
    elif dtype != "float64" and done.all():
        with F.fit_cache():
            hidden = _hidden_by_precision(spec, losses, grads, actual, expected,
                                          accept_rescaled)
        if hidden is not None:
            diag = hidden
            strict = _matches(a, e, *TOLERANCES["float64"])
            first = int(np.argmin(strict)) + 1
    return ConformanceReport(
        passed=first is None and failure is None, reference=spec.describe(), steps=T,
        first_divergence_step=first, max_abs_error=float(err.max()) if err.size else float("nan"),
        max_rel_error=float(rel.max()) if rel.size else float("nan"),
        expected_at_divergence=None if first is None else e[first - 1],
        actual_at_divergence=None if first is None else a[first - 1],
        diagnosis=tuple(diag.notes), rescaled=accept_rescaled, rtol=rtol, atol=atol,
        explained_by=diag.explained_by, alternatives=tuple(diag.alternatives),
        precision=diag.precision, dtype=dtype, fitted=diag.fitted,
        steps_reproduced=diag.steps_reproduced, localisation=diag.localisation,
        closest=diag.closest, closest_steps=diag.closest_steps)


def _hidden_by_precision(spec: MethodSpec, losses: np.ndarray, grads: np.ndarray,
                         actual: np.ndarray, expected: np.ndarray, rescaled: bool
                         ) -> Diagnosis | None:
    """A check that passes at a declared lower precision, of weights that are *not* float32
    numbers (the port returns float64 values), which fail at float64 tolerance with a departure
    that a float64 fit explains exactly: the declared precision would hide a departure, so it
    is reported (e.g. ε outside the sqrt computed in float64, declared as float32)."""
    a, e = (_normalise(actual), _normalise(expected)) if rescaled else (actual, expected)
    r64, a64 = TOLERANCES["float64"]
    if _matches(a, e, r64, a64).all():
        return None
    is32, ev = F.float32_signature(spec, losses, grads, actual, expected, rescaled=rescaled)
    if ev["float32_share"] >= 0.5:
        return None
    inf = F.infer(spec, losses, grads, actual, r64, a64, rescaled=rescaled, closest=False)
    claimed = {"step_size": spec.step_size, **spec.options}
    T = len(actual)
    if inf.explained_by:
        return Diagnosis(inf.explained_by, inf.alternatives, None, [
            f"passes at the declared precision, but the weights are float64 numbers "
            f"({_evidence(ev)}) and differ from the reference by a departure that a float64 "
            f"fit explains exactly: {_words(inf.explained_by, claimed)} (reproduces all {T} "
            "steps at float64 tolerance); the declared precision must not hide it"],
            inf.fitted, T)
    rho = ev.get("residual_autocorrelation")
    if rho is None or not math.isfinite(rho) or rho <= F.ROUNDING_RHO:
        return None                     # rounding-like: what the declared precision is for
    loc = F.localise(spec, losses, grads, actual, expected, r64, a64, rescaled=rescaled)
    where = (f"; first differs: {loc['quantity']} ({loc.get('detail', '')}) at step "
             f"{loc['step']}: {loc['pattern']}" if loc else "")
    return Diagnosis(None, (), None, [
        f"passes at the declared precision, but the weights are float64 numbers and their "
        f"differences from the reference are systematic, not rounding ({_evidence(ev)}): a "
        f"departure smaller than the declared tolerance, which it must not hide{where}"],
        inf.fitted, None, loc)


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
