"""Inferring what a port does differently, from the inputs it saw and the weights it returned.

Instead of looking departures up on a grid of values, every continuous parameter is *fitted*
and every discrete choice is *read off* the weights, then the result is confirmed by replaying
the reference (or a harness wrapper of it, ``departures.py``) with the fitted values.

The identity behind the fit. ExcessMTL and GroupDRO update log α_i ← log α_i + η·u_i and then
normalise (a constant per step), so for every step t and pair of tasks i, j

    log(α_t,i / α_t,j) − log(α_{t−1},i / α_{t−1},j) = η·(u_t,i − u_t,j),

where u is the payoff the reference computes from the same inputs: ẽ = Ê/(b + ε_b) (ExcessMTL
after the warm-up, Ê the AdaGrad estimate Σ g²/h, h = sqrt(S + ε) or sqrt(S) + ε or S + ε),
Ê itself on a first-step update or without scale processing, the losses for GroupDRO. Centring
both sides over the tasks of each step removes the per-step constant, so (η, ε, ε_b) are fitted
by (non-linear) least squares over all steps and task pairs, with standard errors from the
Jacobian (σ̂²(JᵀJ)⁻¹, σ̂² = RSS/(N − p)). Discrete choices are read off or enumerated and chosen
by residual: the lag (weights one step late: the first row is the initial one and the rest fit
with the inputs one step earlier), the warm-up length W (leading steps without an update), the
first-step rule, where ε sits (inside or outside the sqrt, or no sqrt: all three are fitted and
their residuals reported) and whether the accumulator is updated before or after the estimate.
The normalisation constant is the sum of the recorded weights (1, m or another constant); clamp
bounds are values at which several weights sit exactly (entries at a bound are left out of the
increments, which a clamp after normalising leaves untouched for the other tasks).

A fit explains a port when the replay with the fitted values reproduces every recorded step
within tolerance; the departures are then simplified (a fitted value is dropped when the claimed
one reproduces too, and rounded to the fewest significant digits that still do), so a port with
η = 3.2e-3 is reported as ``{"step_size": 0.0032}``.

``localise`` says, for a departure that nothing explains, which quantity first differs: the
normalisation (weights agree up to a per-step factor), a clamp (agree except at tasks at a
bound), the lag, the payoff (its scale, a per-step or per-task factor, the warm-up) or the
accumulator, with the step and the per-step residuals.

``float32_replay`` is an independent float32 transcription of the methods (linear-space weights,
as LibMTL), used to recognise float32 rounding by its pattern rather than by its size.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

import reference as R


EPS32 = float(np.finfo(np.float32).eps)
PLACEMENTS = ("inside", "outside", "no sqrt")
Z95 = 1.959963984540054
MAX_REPLAYS = 8           # structures confirmed by replay, best residual first
MULTI_START = 3           # structures refitted from several starting ε


# ---------------------------------------------------------------- claimed and candidate options
def claimed_options(spec) -> dict:
    """Every option of ``spec`` (a ``MethodSpec``) with its default made explicit."""
    base = {"convention": spec.convention, "step_size": spec.step_size, "sign_flip": False,
            "lagged": False, "weight_sum": None, "clamp_min": None, "clamp_max": None,
            "clamp_output_only": False}
    if spec.method == "excessmtl":
        base.update(warmup=1, first_step_update=False, baseline_eps=0.0, eps=1e-7,
                    sqrt_accumulator=True, scale_processing=True, eps_outside=False,
                    accumulate_after=False)
    out = {**base, **{k: v for k, v in spec.options.items() if k != "estimator"}}
    if "warmup" in out:
        out["warmup"] = max(1, int(out["warmup"]))
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != 0 and abs(a - b) <= 1e-15 * abs(a))
    return a == b


def departures_of(candidate: Mapping, claimed: Mapping, method: str, m: int,
                  rescaled: bool) -> dict:
    """The options of ``candidate`` that differ from ``claimed`` and matter: the warm-up and the
    baseline ε only with scale processing, ε only for the AdaGrad estimator, the normalisation
    not at all when weights are compared up to scale."""
    cand = dict(candidate)
    total = cand.pop("weight_sum", None)
    if total is not None and not rescaled:
        conv_total = {"official": float(m), "paper": 1.0}
        for conv, s in conv_total.items():
            if abs(total - s) <= 1e-12 * s:
                cand["convention"], total = conv, None
                break
    out = {}
    for key, val in cand.items():
        if key == "convention" and rescaled:
            continue
        if method == "excessmtl" and not cand.get("scale_processing", True) and \
                key in ("warmup", "first_step_update", "baseline_eps"):
            continue
        if key == "clamp_output_only" and cand.get("clamp_min") is None and \
                cand.get("clamp_max") is None:
            continue
        if key not in claimed or not _same(val, claimed[key]):
            out[key] = val
    if total is not None and not rescaled:
        claimed_total = claimed.get("weight_sum") or (float(m) if cand.get(
            "convention", claimed["convention"]) == "official" else 1.0)
        if abs(total - claimed_total) > 1e-12 * claimed_total:
            out["weight_sum"] = total
    return out


# ------------------------------------------------------------------------- forward pieces
def accumulators(grads: np.ndarray, decay: float = 1.0) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """(g², S_t, S_{t−1}) for S_t = decay·S_{t−1} + g_t², S_0 = 0; arrays (T, m, d)."""
    g2 = grads * grads
    if decay == 1.0:
        S = np.cumsum(g2, axis=0)
    else:
        S = np.empty_like(g2)
        acc = np.zeros_like(g2[0])
        for t in range(len(g2)):
            acc = decay * acc + g2[t]
            S[t] = acc
    before = np.concatenate([np.zeros_like(S[:1]), S[:-1]])
    return g2, S, before


def adagrad(g2: np.ndarray, S: np.ndarray, eps: float, placement: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """(Ê, dÊ/dε), each (T, m), for Ê = Σ_j g²/h with h = sqrt(S + ε) ("inside"),
    sqrt(S) + ε ("outside") or S + ε ("no sqrt"); terms with g = 0 are 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if placement == "inside":
            h = np.sqrt(S + eps)
            dh = 0.5 / h
        elif placement == "outside":
            h = np.sqrt(S) + eps
            dh = np.ones_like(h)
        else:
            h = S + eps
            dh = np.ones_like(h)
        nz = g2 > 0
        q = np.where(nz, g2 / h, 0.0)
        dq = np.where(nz, -q / h * dh, 0.0)
    return q.sum(axis=-1), dq.sum(axis=-1)


@dataclass(frozen=True)
class Structure:
    """The discrete choices of a candidate port (ExcessMTL or GroupDRO)."""

    lag: int = 0
    scaled: bool = True           # scale processing (ExcessMTL)
    first_step: bool = False
    warmup: int = 1
    placement: str = "inside"     # where the accumulator ε sits (ExcessMTL)
    after: bool = False           # accumulator updated after the estimate

    def options(self, method: str) -> dict:
        out: dict[str, bool | int] = {"lagged": bool(self.lag)}
        if method == "excessmtl":
            out.update(scale_processing=self.scaled, first_step_update=self.first_step,
                       warmup=self.warmup, sqrt_accumulator=self.placement != "no sqrt",
                       eps_outside=self.placement == "outside", accumulate_after=self.after)
        return out


def excess_payoffs(st: Structure, g2: np.ndarray, S: np.ndarray, S_before: np.ndarray,
                   eps: float, baseline_eps: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, ∂u/∂ε, ∂u/∂ε_b), each (T, m): the payoff by which log α moves at each step (0 where
    the structure does not update: the warm-up), for ExcessMTL with the AdaGrad estimator."""
    E, dE = adagrad(g2, S_before if st.after else S, eps, st.placement)
    zeros = np.zeros_like(E)
    if not st.scaled:
        return E, dE, zeros
    u, ua, ub = zeros.copy(), zeros.copy(), zeros.copy()
    W = st.warmup
    if st.first_step:
        u[0], ua[0] = E[0], dE[0]
    if W < len(E):
        b, db = E[:W].mean(axis=0), dE[:W].mean(axis=0)
        den = b + baseline_eps
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            u[W:] = E[W:] / den
            ua[W:] = dE[W:] / den - E[W:] * db / den ** 2
            ub[W:] = -E[W:] / den ** 2
    return u, ua, ub


# ------------------------------------------------------------------- increments of log α
def center(X: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each row minus its mean over the valid entries; invalid entries (and rows with fewer
    than two valid entries, which carry no information on differences) are 0."""
    k = valid.sum(axis=1, keepdims=True)
    Xv = np.where(valid, X, 0.0)
    mean = Xv.sum(axis=1, keepdims=True) / np.maximum(k, 1)
    return np.where(valid & (k >= 2), X - mean, 0.0)


def log_increments(A: np.ndarray, init: np.ndarray, blocked: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(v, valid): v_t = log A_t − log A_{t−1} (A_0 = ``init``) and where it is defined (both
    weights positive and finite, and neither ``blocked``, e.g. at a clamp bound)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.where((A > 0) & np.isfinite(A), np.log(np.where(A > 0, A, 1.0)), np.nan)
        L0 = np.log(init)
    prev = np.vstack([L0[None, :], L[:-1]])
    v = L - prev
    valid = np.isfinite(v)
    if blocked is not None:
        prev_blocked = np.vstack([np.zeros_like(blocked[:1]), blocked[:-1]])
        valid &= ~blocked & ~prev_blocked
    return np.where(valid, v, 0.0), valid


def leading_counts(A: np.ndarray, tol: float) -> tuple[int, int]:
    """(z0, z1): the number of leading rows whose entries are all equal (no update from the
    uniform start), and, when the first row is not uniform, the number of rows after it equal to
    it (no update after a first-step update)."""
    def uniform(row):
        return np.all(np.abs(row - row[0]) <= tol * np.abs(row[0]))
    z0 = 0
    while z0 < len(A) and uniform(A[z0]):
        z0 += 1
    z1 = 0
    if z0 == 0:
        while 1 + z1 < len(A) and np.allclose(A[1 + z1], A[0], rtol=tol, atol=0):
            z1 += 1
    return z0, z1


def static(A: np.ndarray, rtol: float, atol: float) -> bool:
    """Whether the weights never move: every row equals the first within the comparison
    tolerance (``rtol``, ``atol``). Any step size small enough not to show fits such weights,
    so none is an explanation (η = 0, or no update within the recording)."""
    return len(A) >= 2 and bool(np.all(np.isclose(A[1:], A[0], rtol=rtol, atol=atol)))


def bounds(A: np.ndarray) -> tuple[float | None, float | None, np.ndarray]:
    """(low, high, at_bound): values at which at least two weights of non-uniform rows sit
    exactly (to 4 ulps): the signature of weights clamped after normalising."""
    finite = np.isfinite(A).all(axis=1)
    rows = finite & (np.ptp(np.where(np.isfinite(A), A, 0.0), axis=1) >
                     1e-12 * np.abs(np.where(np.isfinite(A), A, 0.0)).max(axis=1))
    at = np.zeros(A.shape, dtype=bool)
    if not rows.any():
        return None, None, at
    vals = A[rows]
    out = []
    for v in (vals.min(), vals.max()):
        hit = np.isclose(A, v, rtol=4 * np.finfo(float).eps, atol=0) & rows[:, None]
        ok = v > 0 and hit.sum() >= 2
        out.append(float(v) if ok else None)
        if ok:
            at |= hit
    lo, hi = out
    if lo is not None and hi is not None and lo == hi:
        return None, None, np.zeros(A.shape, dtype=bool)
    return lo, hi, at


# ---------------------------------------------------------------------------- one fit
@dataclass
class StructureFit:
    """The least-squares fit of one structure: parameters, their standard errors, the residual
    sum of squares over N independent differences, and the per-step max residual."""

    structure: Structure
    eta: float
    eps: float = float("nan")
    baseline_eps: float = float("nan")
    rss: float = float("inf")
    dof: int = 0
    stderr: dict = field(default_factory=dict)
    per_step: np.ndarray | None = None
    free: tuple[str, ...] = ("step_size",)


def _fit(v: np.ndarray, valid: np.ndarray, model: Callable, x0: np.ndarray,
         lower: np.ndarray, names: tuple[str, ...], iters: int = 40
         ) -> tuple[np.ndarray, float, dict, np.ndarray]:
    """Least squares of center(v) ≈ center(η(θ)·u(θ)) over the free parameters θ, with
    ``model(θ) -> (η, u, [∂(η u)/∂θ_k ...])``, by damped Gauss–Newton (Levenberg–Marquardt on
    column-scaled normal equations, θ kept above ``lower``); returns (θ, RSS, standard errors
    by name, per-step max |residual|)."""
    cv = center(v, valid)
    k = valid.sum(axis=1, keepdims=True)
    sel = valid & (k >= 2)
    inv_k = 1.0 / np.maximum(k, 1)

    def c(X):                                 # center(X, valid) restricted to sel, flattened
        mean = np.where(valid, X, 0.0).sum(axis=1, keepdims=True) * inv_k
        return (X - mean)[sel]

    cv_sel = cv[sel]

    def parts(th):
        eta, u, derivs = model(th)
        r = cv_sel - eta * c(u)
        J = np.stack([-c(d) for d in derivs], axis=1) if derivs else np.zeros((len(r), 0))
        ok = np.all(np.isfinite(r)) and np.all(np.isfinite(J))
        return r, J, (float(r @ r) if ok else float("inf"))

    th = np.maximum(np.asarray(x0, dtype=float), lower)
    r, J, rss = parts(th)
    lam = 1e-6
    for _ in range(min(iters, 20) if len(th) else 0):
        if not math.isfinite(rss) or rss == 0.0:
            break
        sc = np.sqrt(np.sum(J * J, axis=0))
        sc[sc == 0] = 1.0
        Js = J / sc
        H, g = Js.T @ Js, Js.T @ r
        improved = False
        for _try in range(8):
            try:
                step = -np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-300), g) / sc
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            new = np.maximum(th + step, lower)
            r2, J2, rss2 = parts(new)
            if rss2 < rss:
                done = rss - rss2 <= 1e-12 * rss
                th, r, J, rss = new, r2, J2, rss2
                lam = max(lam / 10, 1e-12)
                improved = not done
                break
            lam *= 10
        if not improved:
            break
    if not math.isfinite(rss):
        return th, float("inf"), {}, np.full(len(v), np.inf)
    N = int(sel.sum() - (sel.sum(axis=1) > 0).sum())
    se = {}
    if N > len(th) and len(th):
        s2 = rss / (N - len(th))
        cov = s2 * np.linalg.pinv(J.T @ J)
        se = {n: float(math.sqrt(max(cov[i, i], 0.0))) for i, n in enumerate(names)}
    full = np.zeros(v.shape)
    full[sel] = np.abs(r)
    return th, rss, se, full.max(axis=1)


def _linear_start(v, valid, u, derivs) -> np.ndarray:
    """(η, δ_1, …) from the linearised model center(v) ≈ η·center(u) + Σ (η δ_k)·center(∂u_k)."""
    sel = valid & (valid.sum(axis=1, keepdims=True) >= 2)
    cols = [center(u, valid)[sel]] + [center(d, valid)[sel] for d in derivs]
    X = np.stack(cols, axis=1)
    y = center(v, valid)[sel]
    ok = np.all(np.isfinite(X), axis=1)
    if ok.sum() < X.shape[1]:
        return np.zeros(X.shape[1])
    scale = np.abs(X[ok]).max(axis=0)
    scale[scale == 0] = 1.0
    coef = np.linalg.lstsq(X[ok] / scale, y[ok], rcond=None)[0] / scale
    eta = coef[0]
    return np.concatenate([[eta], coef[1:] / eta if eta != 0 else np.zeros(len(coef) - 1)])


EPS_STARTS = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)
CONTINUOUS = ("step_size", "eps", "baseline_eps")


_FITS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fits", default=None)


@contextlib.contextmanager
def fit_cache() -> Iterator[None]:
    """Within the block, ``fit_excess`` returns the fit it already made for the same inputs
    instead of fitting again (the diagnosis of one recording fits the same structures at
    float64 and float32 tolerance); the fits are the same, only made once."""
    token = _FITS.set({} if _FITS.get() is None else _FITS.get())
    try:
        yield
    finally:
        _FITS.reset(token)


def fit_excess(st: Structure, v: np.ndarray, valid: np.ndarray, acc: tuple, claimed: dict,
               *, free: tuple[str, ...] = CONTINUOUS, starts: tuple[float, ...] = ()
               ) -> StructureFit:
    """Fit the ``free`` ones of (η, ε, ε_b) of ExcessMTL with structure ``st`` to the
    increments ``v``, the others held at their ``claimed`` values ("step_size", "eps",
    "baseline_eps"); from the claimed ε (and each of ``starts``), keeping the best. Inside
    ``fit_cache()`` a fit of the same inputs is made once."""
    memo = _FITS.get()
    if memo is None:
        return _fit_excess(st, v, valid, acc, claimed, free=free, starts=starts)
    key = (st, tuple(free), tuple(starts), float(claimed["step_size"]), float(claimed["eps"]),
           float(claimed["baseline_eps"]), v.shape, v.tobytes(), valid.tobytes(),
           *(a.tobytes() for a in acc))
    if key not in memo:
        memo[key] = _fit_excess(st, v, valid, acc, claimed, free=free, starts=starts)
    return replace(memo[key])


def _fit_excess(st: Structure, v: np.ndarray, valid: np.ndarray, acc: tuple, claimed: dict,
                *, free: tuple[str, ...], starts: tuple[float, ...]) -> StructureFit:
    g2, S, Sb = acc
    T = len(v)
    free = tuple(n for n in free if n != "baseline_eps" or (st.scaled and st.warmup < T))
    floor = 1e-30 if st.after or st.placement == "no sqrt" else 0.0
    eta0, eps0 = float(claimed["step_size"]), max(float(claimed["eps"]), floor)
    beps0 = float(claimed["baseline_eps"])
    idx = {n: i for i, n in enumerate(free)}

    def full(th):
        return (th[idx["step_size"]] if "step_size" in idx else eta0,
                th[idx["eps"]] if "eps" in idx else eps0,
                th[idx["baseline_eps"]] if "baseline_eps" in idx else beps0)

    memo: dict = {}

    def payoffs(eps, beps):                    # u depends on (ε, ε_b) only, not on η
        key = (float(eps), float(beps))
        if key not in memo:
            if len(memo) > 64:
                memo.clear()
            memo[key] = excess_payoffs(st, g2, S, Sb, eps, beps)
        return memo[key]

    def model(th):
        eta, eps, beps = full(th)
        u, ua, ub = payoffs(eps, beps)
        d = {"step_size": u, "eps": eta * ua, "baseline_eps": eta * ub}
        return eta, u, [d[n] for n in free]

    lower = np.array([-np.inf if n == "step_size" else floor if n == "eps" else 0.0
                      for n in free])
    best: tuple | None = None
    for e0 in (eps0,) + (tuple(starts) if "eps" in idx else ()):
        vals = {"step_size": eta0, "eps": e0, "baseline_eps": beps0}
        x0 = np.array([vals[n] for n in free])
        if "step_size" in idx:              # a linearised first step from the start
            u, ua, ub = payoffs(e0, beps0)
            extra = [d for n, d in (("eps", ua), ("baseline_eps", ub)) if n in idx]
            lin = _linear_start(v, valid, u, extra)
            if np.all(np.isfinite(lin)) and lin[0] != 0:
                x0[idx["step_size"]] = lin[0]
                for k, n in enumerate(n for n in ("eps", "baseline_eps") if n in idx):
                    x0[idx[n]] = vals[n] + lin[1 + k]
        th, rss, se, per = _fit(v, valid, model, x0, lower, free)
        if best is None or rss < best[1]:
            best = (th, rss, se, per)
    assert best is not None                  # the loop runs at least once (from eps0)
    th, rss, se, per = best
    eta, eps, beps = full(th)
    sel = valid & (valid.sum(axis=1, keepdims=True) >= 2)
    dof = int(sel.sum() - (sel.sum(axis=1) > 0).sum())
    return StructureFit(st, float(eta), float(eps), float(beps), rss, dof, se, per, free)


def fit_losses(st: Structure, v: np.ndarray, valid: np.ndarray, losses: np.ndarray, *,
               fixed: bool = False, eta: float = 1.0) -> StructureFit:
    """Fit η of GroupDRO (payoff = the losses) to the increments ``v`` (``fixed``: η held at
    ``eta``, the residual only)."""
    if fixed:
        th, rss, se, per = _fit(v, valid, lambda th: (eta, losses, []), np.zeros(0),
                                np.zeros(0), ())
        sel = valid & (valid.sum(axis=1, keepdims=True) >= 2)
        dof = int(sel.sum() - (sel.sum(axis=1) > 0).sum())
        return StructureFit(st, float(eta), rss=rss, dof=dof, per_step=per, free=())
    lin = _linear_start(v, valid, losses, [])
    th, rss, se, per = _fit(v, valid, lambda th: (th[0], losses, [losses]), lin[:1],
                            np.array([-np.inf]), ("step_size",))
    sel = valid & (valid.sum(axis=1, keepdims=True) >= 2)
    dof = int(sel.sum() - (sel.sum(axis=1) > 0).sum())
    return StructureFit(st, float(th[0]), rss=rss, dof=dof, stderr=se, per_step=per)


# ------------------------------------------------------------------------------ replay
def replay_weights(method: R.WeightingMethod, losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The weights ``method`` returns on the inputs, (T, m); NaN from the step where it raises
    (a candidate that cannot run there does not reproduce it)."""
    T, m = losses.shape
    out = np.full((T, m), np.nan)
    try:
        with np.errstate(all="ignore"):
            state = method.init_state(m, grads.shape[2])
            for t in range(T):
                state, w = method.step(state, losses[t], grads[t])
                out[t] = np.asarray(w, dtype=float)
    except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError):
        pass
    return out


def _norm(w: np.ndarray) -> np.ndarray:
    s = w.sum(axis=-1, keepdims=True)
    ok = (s > 0) & np.all(w >= 0, axis=-1, keepdims=True)
    return np.divide(w, s, out=np.full_like(w, np.nan), where=ok)


def agreement(weights: np.ndarray, actual: np.ndarray, rtol: float, atol: float,
              rescaled: bool) -> tuple[int, float]:
    """(steps agreed before the first mismatch, max relative error over all steps)."""
    a, w = (_norm(actual), _norm(weights)) if rescaled else (actual, weights)
    ok = np.all(np.isclose(a, w, rtol=rtol, atol=atol) & np.isfinite(a) & np.isfinite(w),
                axis=1)
    agreed = len(ok) if ok.all() else int(np.argmin(ok))
    with np.errstate(all="ignore"):
        rel = np.abs(a - w) / np.maximum(np.abs(w), np.finfo(float).tiny)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    return agreed, float(rel.max()) if rel.size else float("inf")


# --------------------------------------------------------------------------- inference
@dataclass(frozen=True)
class Inference:
    """What ``infer`` found. ``explained_by``: the departures (harness options) whose replay
    reproduces every step, simplified; ``fitted``: every fitted parameter with its uncertainty,
    residuals and the steps the fit reproduces; ``closest``: when nothing explains, the best
    candidate, only if it agrees for more steps than the claimed reference or at least halves
    its largest relative error (else None); ``closest_steps``: the steps it agrees for."""

    explained_by: dict | None
    alternatives: tuple[dict, ...] = ()
    fitted: dict = field(default_factory=dict)
    steps_reproduced: int | None = None
    closest: dict | None = None
    closest_steps: int | None = None
    closest_error: float | None = None
    # ``infer(..., closest="lazy")``: the search of the closest candidate by prefix, not yet
    # run; ``complete(inference)`` runs it (the fits it reuses are already made)
    pending: Callable[[], Inference] | None = field(default=None, repr=False, compare=False)


def complete(inference: Inference) -> Inference:
    """``inference`` with its closest candidate searched (a no-op unless ``infer`` was called
    with ``closest="lazy"`` and found no explanation)."""
    return inference.pending() if inference.pending is not None else inference


def _interval(value: float, se: float | None) -> dict:
    out: dict[str, float | list[float]] = {"value": value}
    if se is not None and math.isfinite(se):
        out["stderr"] = se
        out["ci95"] = [value - Z95 * se, value + Z95 * se]
    return out


def _candidate_options(method: str, fit: StructureFit, norm: dict, clamp: dict) -> dict:
    opts = fit.structure.options(method)
    if method in ("excessmtl", "groupdro"):
        opts["step_size"] = abs(fit.eta)
        opts["sign_flip"] = fit.eta < 0
    if method == "excessmtl":
        opts["eps"] = fit.eps
        if fit.structure.scaled:
            opts["baseline_eps"] = fit.baseline_eps
    opts.update(norm)
    opts.update(clamp)
    return opts


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits - 1}e}") if x != 0 else 0.0


def simplify(dep: dict, reproduces: Callable[[dict], bool], width: Mapping | None = None
             ) -> dict:
    """Drop each departure the replay does not need, then round each fitted value to the fewest
    significant digits that still reproduce every step and stay within ``width[key]`` of the
    fitted value (its 95% interval, widened by the tolerance)."""
    width = width or {}
    dep = dict(dep)
    for key in ("clamp_output_only", "sign_flip", "step_size", "eps", "baseline_eps",
                "eps_outside", "sqrt_accumulator", "accumulate_after", "first_step_update",
                "warmup", "scale_processing", "lagged", "weight_sum", "convention",
                "clamp_min", "clamp_max"):
        if key not in dep:
            continue
        trial = {k: v for k, v in dep.items() if k != key}
        if reproduces(trial):
            dep = trial
    for key in ("step_size", "eps", "baseline_eps", "weight_sum", "clamp_min", "clamp_max"):
        val = dep.get(key)
        if not isinstance(val, float) or val == 0:
            continue
        for digits in range(1, 17):
            r = _round_sig(val, digits)
            if r == val:
                break
            if abs(r - val) <= width.get(key, math.inf) and reproduces({**dep, key: r}):
                dep[key] = r
                break
    return dep


def as_convention(dep: dict, claimed: Mapping, m: int, rescaled: bool,
                  reproduces: Callable[[dict], bool], *, drop_claimed: bool = True) -> dict:
    """A fitted Σα that rounds to exactly 1 or m (float32 weights do not sum to 1 to 1e-12, so
    ``departures_of`` keeps them as ``weight_sum``) is the other convention, or none at all
    when it is the claimed one (unless not ``drop_claimed``), provided the replay with the
    convention still reproduces."""
    total = dep.get("weight_sum")
    if rescaled or not isinstance(total, float):
        return dep
    for conv, s in (("official", float(m)), ("paper", 1.0)):
        if total != s or (conv == claimed["convention"] and not drop_claimed):
            continue
        trial = {k: v for k, v in dep.items() if k not in ("weight_sum", "convention")}
        if conv != claimed["convention"]:
            trial = {"convention": conv, **trial}
        if reproduces(trial):
            return trial
    return dep


def normalisation(A: np.ndarray, at_bound: np.ndarray, m: int, tol: float) -> dict:
    """The normalisation constant: the sum of the weights over the steps where none sits at a
    clamp bound (value, relative spread, whether it is constant within ``tol``)."""
    rows = np.isfinite(A).all(axis=1) & ~at_bound.any(axis=1)
    if not rows.any():
        return {}
    sums = A[rows].sum(axis=1)
    value = float(np.median(sums))
    spread = float(np.ptp(sums) / abs(value)) if value else float("inf")
    return {"value": value, "spread": spread, "constant": bool(spread <= tol), "steps": int(
        rows.sum())}


def infer(spec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray, rtol: float,
          atol: float, *, rescaled: bool = False, closest: bool | str = True) -> Inference:
    """Fit the departures of a port from its recorded weights ``actual`` (T, m) on ``losses``
    (T, m) and ``grads`` (T, m, d), and confirm them by replay at (``rtol``, ``atol``).

    ``closest``: whether, when nothing explains, the closest candidate is also searched on the
    first 4, 8, 16, … steps (``_closest_by_prefix``, the costly part); ``"lazy"`` defers that
    search to ``complete(inference)``, for a caller that may not need it."""
    method = spec.method
    T, m = actual.shape
    claimed = claimed_options(spec)
    finite_rows = np.isfinite(actual).all(axis=1)
    Tf = int(np.argmin(finite_rows)) if not finite_rows.all() else T
    if Tf < T or T < 2 or method == "mgda":      # non-finite weights are never explained
        return Inference(None)
    A = actual[:Tf]
    L, G = losses[:Tf], grads[:Tf]
    tol = max(10 * rtol, 1e-12)
    lo, hi, at_bound = bounds(A) if method != "equalweights" else (None, None,
                                                                   np.zeros(A.shape, bool))
    norm_fit = normalisation(A, at_bound, m, tol)
    norm = {}
    if norm_fit.get("constant") and not rescaled:
        norm = {"weight_sum": norm_fit["value"]}
    clamp_sets: list[dict] = [{}]
    if lo is not None or hi is not None:
        base = {"clamp_min": lo, "clamp_max": hi}
        clamp_sets = [base, {**base, "clamp_output_only": True}]
    fitted: dict = {}
    if norm_fit:
        fitted["weight_sum"] = norm_fit
    if lo is not None:
        fitted["clamp_min"] = {"value": lo, "count": int(np.isclose(A, lo, rtol=1e-15,
                                                                    atol=0).sum())}
    if hi is not None:
        fitted["clamp_max"] = {"value": hi, "count": int(np.isclose(A, hi, rtol=1e-15,
                                                                    atol=0).sum())}

    fits: list[StructureFit] = []
    inputs: dict = {}
    if method in ("excessmtl", "groupdro"):
        fits, inputs = _fit_structures(method, claimed, A, L, G, at_bound, tol)
        fits = [f for f in fits if math.isfinite(f.rss)]
        fits.sort(key=lambda f: f.rss)
    candidates: list[tuple[StructureFit | None, dict]] = [
        (f, cl) for f in fits[:MAX_REPLAYS] for cl in clamp_sets]
    if static(A, rtol, atol) and method in ("excessmtl", "groupdro"):
        # weights that never move (η = 0, or no update within the recording) fit any step size
        # small enough not to show: no fitted value can explain them, only Σα, a clamp, a lag
        candidates = [(None, cl) for cl in clamp_sets]
    if method == "equalweights":
        candidates = [(None, {})]

    def options(f: StructureFit | None, cl: dict) -> dict:
        if f is None:
            return departures_of({**norm, **cl, "lagged": False}, claimed, method, m, rescaled)
        return departures_of(_candidate_options(method, f, norm, cl), claimed, method, m,
                             rescaled)

    def reproduces(dep: dict) -> bool:
        try:
            w = replay_weights(spec.build(**dep), L, G)
        except (TypeError, ValueError):
            return False
        return agreement(w, A, rtol, atol, rescaled)[0] == Tf

    claimed_w = replay_weights(spec.build(), L, G)
    claimed_agreed, claimed_err = agreement(claimed_w, A, rtol, atol, rescaled)
    explanations = []             # (departures, fit) of every candidate that reproduces
    best_miss = None
    for f, cl in candidates:
        dep = options(f, cl)
        try:
            w = replay_weights(spec.build(**dep), L, G)
        except (TypeError, ValueError):
            continue
        agreed, err = agreement(w, A, rtol, atol, rescaled)
        if agreed == Tf:
            g, dep = _parsimonious(method, f, inputs, claimed, lambda g, cl=cl: options(g, cl),
                                   reproduces) or (f, dep)
            simple = simplify(dep, reproduces, _widths(g, norm_fit, rtol))
            explanations.append((as_convention(simple, claimed, m, rescaled, reproduces), g))
            if not explanations[-1][0]:
                break                 # the claim itself reproduces: nothing is simpler
        elif best_miss is None or (agreed, -err) > (best_miss[1], -best_miss[2]):
            best_miss = (dep, agreed, err, f)
    found: tuple | None = None
    others: list = []
    if explanations:
        # the fewest departures first, then the smallest residual: with few steps several
        # structures reproduce the port, and the simplest is the explanation
        explanations.sort(key=lambda e: (len(e[0]), e[1].rss if e[1] is not None else 0.0))
        found = (explanations[0][1], explanations[0][0])
        for simple, _ in explanations[1:]:
            if len(simple) == len(found[1]) and set(simple) != set(found[1]) and \
                    all(set(simple) != set(o) for o in others):
                others.append(simple)
    if found is not None:
        f, simple = found
        if f is not None:
            fitted.update(_fitted_entries(method, f, fits))
        fitted["steps_reproduced"] = Tf
        return Inference(simple, tuple(others), fitted, Tf)
    if fits:
        fitted.update(_fitted_entries(method, fits[0], fits))

    def unexplained(search: bool) -> Inference:
        miss = best_miss
        prefix = _closest_by_prefix(method, spec, claimed, A, L, G, at_bound, tol, norm,
                                    clamp_sets, rtol, atol, rescaled, m) if search else None
        if prefix is not None and (miss is None or prefix[1] > miss[1]):
            miss = prefix
        if miss is not None:
            dep, agreed, e, f = miss
            claimed_rss = _claimed_rss(method, spec, claimed, A, L, G, at_bound, tol)
            better_fit = f is not None and f.rss <= 1e-2 * claimed_rss and e <= 0.5 * claimed_err
            if dep and (agreed > claimed_agreed or better_fit):
                near = {k: (_round_sig(v, 4) if isinstance(v, float) else v)
                        for k, v in dep.items()}
                near = as_convention(near, claimed, m, rescaled, lambda d: True,
                                     drop_claimed=False)
                return Inference(None, (), fitted, None, near, agreed, e)
        return Inference(None, (), fitted, None, None, None, None)

    if closest == "lazy":
        return replace(unexplained(False), pending=lambda: unexplained(True))
    return unexplained(bool(closest))


def _closest_by_prefix(method, spec, claimed, A, L, G, at_bound, tol, norm, clamp_sets, rtol,
                       atol, rescaled, m) -> tuple | None:
    """The candidate fitted on the first K steps (K = 4, 8, 16, … < T), with the fewest freed
    parameters that reproduce those steps, that agrees for the most steps of the whole run: a
    departure that sets in late distorts a fit over every step, not one over the steps before
    it. (departures, steps agreed, max relative error, fit) or None."""
    if method not in ("excessmtl", "groupdro") or static(A, rtol, atol):
        return None
    Tf = len(A)
    best = None
    K = 4
    while K < Tf:
        fits, inputs = _fit_structures(method, claimed, A[:K], L[:K], G[:K], at_bound[:K], tol,
                                       multi_start=1)
        fits = sorted((f for f in fits if math.isfinite(f.rss)), key=lambda f: f.rss)

        def reproduces_prefix(dep, K=K):
            try:
                w = replay_weights(spec.build(**dep), L[:K], G[:K])
            except (TypeError, ValueError):
                return False
            return agreement(w, A[:K], rtol, atol, rescaled)[0] == K

        for f in fits[:1]:
            for cl in clamp_sets:
                def options(g, cl=cl):
                    return departures_of(_candidate_options(method, g, norm, cl), claimed,
                                         method, m, rescaled)
                found = _parsimonious(method, f, inputs, claimed, options, reproduces_prefix,
                                      multi_start=False)
                g, dep = found if found is not None else (f, options(f))
                try:
                    w = replay_weights(spec.build(**dep), L, G)
                except (TypeError, ValueError):
                    continue
                agreed, err = agreement(w, A, rtol, atol, rescaled)
                if best is None or (agreed, -len(dep)) > (best[1], -len(best[0])):
                    best = (dep, agreed, err, g)
        K *= 2
    return best


def _claimed_rss(method: str, spec, claimed: dict, A, L, G, at_bound, tol) -> float:
    """The residual sum of squares of the changes of log α under the claimed reference (its
    structure and values): what a closest candidate must improve on."""
    T, m = A.shape
    v, valid = log_increments(A, np.full(m, 1.0 / m), at_bound)
    eta = -claimed["step_size"] if claimed["sign_flip"] else claimed["step_size"]
    claimed = {**claimed, "step_size": eta}
    if method == "groupdro":
        return fit_losses(Structure(), v, valid, L, fixed=True, eta=eta).rss
    placement = "no sqrt" if not claimed["sqrt_accumulator"] else (
        "outside" if claimed["eps_outside"] else "inside")
    st = Structure(int(claimed["lagged"]), claimed["scale_processing"],
                   claimed["first_step_update"], claimed["warmup"], placement,
                   claimed["accumulate_after"])
    if st.lag:
        v, valid = log_increments(A[1:], A[0], at_bound[1:])
        L, G = L[:-1], G[:-1]
    return fit_excess(st, v, valid, accumulators(G), claimed, free=()).rss


def _widths(f: StructureFit | None, norm_fit: dict, rtol: float) -> dict:
    """How far a rounded value may move from the fitted one: its 95% interval plus ten times
    the relative tolerance (a fitted value held at its claimed value is not rounded)."""
    out = {}
    if f is not None:
        for key, val in (("step_size", abs(f.eta)), ("eps", f.eps),
                         ("baseline_eps", f.baseline_eps)):
            se = f.stderr.get(key)
            if se is not None and math.isfinite(val):
                out[key] = Z95 * se + 10 * rtol * abs(val)
    if norm_fit:
        out["weight_sum"] = norm_fit["spread"] * abs(norm_fit["value"]) + \
            10 * rtol * abs(norm_fit["value"])
    return out


def _parsimonious(method: str, f: StructureFit | None, inputs: dict, claimed: dict,
                  options: Callable, reproduces: Callable, multi_start: bool = True
                  ) -> tuple | None:
    """The fit of ``f``'s structure with the fewest continuous parameters freed from their
    claimed values (none, then one, two, three; the best residual first) whose replay
    reproduces every step, as (fit, departures); None if only the full fit does. Near-
    degenerate parameters (η and ε when the baseline is dominated by ε) are so not both
    reported when one explains the port."""
    if f is None or f.structure not in inputs:
        return None
    v, valid, acc = inputs[f.structure]
    for size in range(len(CONTINUOUS)):
        trials = []
        for free in combinations(CONTINUOUS, size):
            if method == "groupdro" and set(free) - {"step_size"}:
                continue
            if method == "groupdro":
                g = fit_losses(f.structure, v, valid, acc, fixed=not free,
                               eta=claimed["step_size"])
            else:
                g = fit_excess(f.structure, v, valid, acc, claimed, free=free,
                               starts=EPS_STARTS if "eps" in free and multi_start else ())
            if math.isfinite(g.rss):
                trials.append(g)
        for g in sorted(trials, key=lambda g: g.rss):
            dep = options(g)
            if reproduces(dep):
                return g, dep
    return None


def _fit_structures(method: str, claimed: dict, A: np.ndarray, L: np.ndarray, G: np.ndarray,
                    at_bound: np.ndarray, tol: float, multi_start: int = MULTI_START
                    ) -> tuple[list[StructureFit], dict]:
    """Every structure the weights allow, each fitted (best ``multi_start`` again from several
    starting ε), and the increments each was fitted to."""
    T, m = A.shape
    out: list[StructureFit] = []
    inputs: dict = {}
    acc = accumulators(G) if method == "excessmtl" else None
    for lag in (0, 1):
        if lag:
            row = A[0]
            if T < 3 or not np.all(np.abs(row - row[0]) <= tol * abs(row[0])):
                continue
        Al = A[lag:]
        init = A[0] if lag else np.full(m, 1.0 / m)
        v, valid = log_increments(Al, init, at_bound[lag:])
        Tl = len(Al)
        if method == "groupdro":
            st = Structure(lag=lag)
            inputs[st] = (v, valid, L[:Tl])
            out.append(fit_losses(st, v, valid, L[:Tl]))
            continue
        z0, z1 = leading_counts(Al, tol)
        shapes = []
        if z0 >= 1:
            shapes.append((True, False, z0))
        else:
            shapes.append((True, True, 1 + z1))
            shapes.append((False, False, 1))
        if claimed["scale_processing"]:
            shapes.append((True, claimed["first_step_update"], claimed["warmup"]))
        shapes = list(dict.fromkeys(shapes))
        assert acc is not None                  # excessmtl (groupdro continued above)
        accl = tuple(x[:Tl] for x in acc)
        for scaled, first, W in shapes:
            if scaled and W >= Tl and not first:
                continue
            for placement in PLACEMENTS:
                for after in (False, True):
                    st = Structure(lag, scaled, first, W, placement, after)
                    f = fit_excess(st, v, valid, accl, claimed)
                    inputs[st] = (v, valid, accl)
                    out.append(f)
    if method == "excessmtl" and out:
        # the best few again from several starting ε: a far-off ε is not found from the claimed
        out.sort(key=lambda f: f.rss)
        for n, f in enumerate(out[:multi_start]):
            v, valid, accl = inputs[f.structure]
            out[n] = fit_excess(f.structure, v, valid, accl, claimed, starts=EPS_STARTS)
    return out, inputs


def _fitted_entries(method: str, f: StructureFit, fits: list[StructureFit]) -> dict:
    """The report's view of a structure fit: values with standard errors and 95% intervals,
    and the residuals of the three ε placements for the same structure otherwise."""
    def entry(name: str, value: float) -> dict:
        if name not in f.free:
            return {"value": value, "fixed": True}       # held at the claimed value
        return _interval(value, f.stderr.get(name))

    out = {"step_size": entry("step_size", f.eta),
           "lagged": {"value": bool(f.structure.lag)}, "rss": f.rss, "dof": f.dof}
    if method == "excessmtl":
        st = f.structure
        rss = {}
        for g in fits:
            if replace(g.structure, placement=st.placement) == st:
                rss[g.structure.placement] = g.rss
        out["eps"] = {**entry("eps", f.eps), "placement": st.placement,
                      "rss": rss, "accumulate_after": st.after}
        out["scale_processing"] = {"value": st.scaled}
        if st.scaled:
            out["warmup"] = {"value": st.warmup}
            out["first_step_update"] = {"value": st.first_step}
            out["baseline_eps"] = entry("baseline_eps", f.baseline_eps)
    return out


# ---------------------------------------------------------------------------- localise
def _per_step_factor_fit(cv: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step: the factor κ_t minimising |cv_t − κ_t cr_t| and the max residual."""
    den = np.sum(cr * cr, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(den > 0, np.sum(cv * cr, axis=1) / den, np.nan)
    res = np.abs(cv - np.nan_to_num(kappa)[:, None] * cr).max(axis=1)
    return kappa, res


def localise(spec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
             expected: np.ndarray, rtol: float, atol: float, *, rescaled: bool = False
             ) -> dict | None:
    """Which quantity first differs from the claimed reference, at which step, and the
    per-step residual pattern: ``{"quantity", "detail", "step", "pattern", "residuals"}``.

    In order, at the first divergent step: the weights themselves (not finite, negative), the
    normalisation (the weights agree up to a per-step factor), a clamp (they agree except at
    tasks sitting at a common bound), the lag (they are the reference's of the step before),
    then the payoff from the per-step changes of log α_i/α_j: a constant factor (step size,
    sign), a factor varying by step (a schedule), updates where the reference has none or the
    reverse (warm-up, first step), a factor per task (the baseline), the accumulator (an
    AdaGrad estimate with the accumulator updated after the estimate, or decaying), else the
    estimate Ê itself."""
    T, m = expected.shape
    a, e = (_norm(actual), _norm(expected)) if rescaled else (actual, expected)
    ok = np.all(np.isclose(a, e, rtol=rtol, atol=atol) & np.isfinite(a), axis=1)
    if ok.all():
        return None
    k = int(np.argmin(ok))
    with np.errstate(all="ignore"):
        rel = np.abs(a - e) / np.maximum(np.abs(e), np.finfo(float).tiny)
    rel_step = np.where(np.isfinite(rel), rel, np.inf).max(axis=1)
    out = {"step": k + 1, "relative_errors": rel_step.tolist()}
    if not np.all(np.isfinite(actual[k])):
        return {**out, "quantity": "weights", "detail": "not finite",
                "pattern": f"the weights are NaN or infinite at step {k + 1}"}
    if np.any(actual[k] < 0):
        return {**out, "quantity": "weights", "detail": "negative",
                "pattern": f"a weight is negative at step {k + 1}"}
    tol = max(10 * rtol, 1e-12)
    fin = np.isfinite(actual).all(axis=1)
    Tf = int(np.argmin(fin)) if not fin.all() else T
    with np.errstate(all="ignore"):
        ratio = actual[:Tf] / expected[:Tf]
        spread = np.ptp(ratio, axis=1) / np.abs(ratio).max(axis=1)
    prop = np.where(np.isfinite(spread), spread, np.inf) <= tol
    if not rescaled and prop[k]:
        f = np.nanmean(ratio, axis=1)
        if prop.all():
            const = np.ptp(f) <= tol * abs(f[0])
            pat = ("the weights agree up to a per-step constant factor at every step: " +
                   (f"the same factor {f[0]:.6g} throughout (Σα = {actual[0].sum():.6g} "
                    f"instead of {expected[0].sum():.6g})" if const else
                    f"the factor varies from {np.min(f):.6g} to {np.max(f):.6g} (Σα is not "
                    "a constant)"))
        else:
            j = int(np.argmin(prop[k:])) + k
            pat = (f"the weights agree up to the factor {f[k]:.6g} from step {k + 1}; from step "
                   f"{j + 1} they also differ beyond a factor")
        return {**out, "quantity": "normalisation", "detail": "constant" if prop.all() else
                "then more", "pattern": pat, "residuals": spread.tolist()}
    if not rescaled and m >= 3:
        aff = _affine(actual[:Tf], expected[:Tf])
        if aff is not None and aff[2][k] <= tol * max(1.0, float(np.abs(actual[k]).max())):
            slope, icpt, res_aff = aff
            every = np.all(res_aff <= tol * np.maximum(1.0, np.abs(actual[:Tf]).max(axis=1)))
            fitted_steps = np.isfinite(slope)
            const = every and np.ptp(slope[fitted_steps]) <= tol and \
                np.ptp(icpt[fitted_steps]) <= tol
            pat = (f"the weights are an affine function of the reference's at step {k + 1}: "
                   f"{slope[k]:.6g}·α + {icpt[k]:.6g}" +
                   (" at every step (e.g. mixed with uniform weights after normalising)"
                    if const else " (from step to step the coefficients change)"
                    if every else "; later steps differ beyond that"))
            return {**out, "quantity": "normalisation", "detail": "affine", "pattern": pat,
                    "coefficients": [float(slope[k]), float(icpt[k])],
                    "residuals": res_aff.tolist()}
    lo, hi, at = bounds(actual[:Tf])
    bad = ~np.isclose(a[k], e[k], rtol=rtol, atol=atol)
    if (lo is not None or hi is not None) and bad.any() and np.all(at[k][bad]):
        mism = ~np.isclose(a[:Tf], e[:Tf], rtol=rtol, atol=atol)
        only = np.all(~mism | at, axis=1)
        level = " and ".join(f"{x:.6g}" for x in (lo, hi) if x is not None)
        if only.all():
            pat = (f"the weights agree with the reference except at tasks at the bound "
                   f"({level}), {int(at.sum())} entries over {Tf} steps: clamped after "
                   "normalising, only in what is returned")
        else:
            j = int(np.argmin(only))
            pat = (f"the weights agree except at tasks at the bound ({level}) up to step {j}; "
                   f"from step {j + 1} the other weights differ too: the clamped weights are "
                   "fed back into the next update")
        return {**out, "quantity": "clamp", "detail": "output only" if only.all() else "kept",
                "pattern": pat, "bounds": [lo, hi], "residuals": at.sum(axis=1).tolist()}
    init = expected[0] if spec.method in ("equalweights", "mgda") else \
        _initial(spec, m, grads.shape[2])
    if Tf >= 2 and np.allclose(a[0], _norm(init[None])[0] if rescaled else init, rtol=rtol,
                               atol=atol) and \
            np.all(np.isclose(a[1:Tf], e[:Tf - 1], rtol=rtol, atol=atol)):
        return {**out, "quantity": "lag", "detail": "one step late",
                "pattern": "the weights at step t are the reference's at step t − 1 (the "
                           "initial ones at step 1): updated after the model step",
                "residuals": rel_step.tolist()}
    if spec.method not in ("excessmtl", "groupdro"):
        return {**out, "quantity": "weights", "detail": "values",
                "pattern": f"the weights first differ at step {k + 1} (max relative error "
                           f"{rel_step[k]:.3e}), beyond a factor, a clamp or a lag"}
    return _localise_payoff(spec, losses[:Tf], grads[:Tf], actual[:Tf], expected[:Tf], init,
                            out, tol)


def _affine(actual: np.ndarray, expected: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per step, the least-squares a_t, b_t of actual ≈ a_t·expected + b_t over the tasks, and
    the max residual; None where the reference's weights are all equal at some step (no
    slope to fit)."""
    T, m = actual.shape
    slope, icpt, res = np.zeros(T), np.zeros(T), np.full(T, np.inf)
    for t in range(T):
        x, y = expected[t], actual[t]
        if np.ptp(x) <= 1e-12 * np.abs(x).max():      # no slope to fit: NaN coefficients
            slope[t] = icpt[t] = np.nan
            res[t] = 0.0 if np.ptp(y) <= 1e-12 * np.abs(y).max() else np.inf
            continue
        X = np.stack([x, np.ones(m)], axis=1)
        (slope[t], icpt[t]), *_ = np.linalg.lstsq(X, y, rcond=None)
        res[t] = float(np.abs(X @ [slope[t], icpt[t]] - y).max())
        if abs(slope[t]) <= 1e-6:          # the port's row is flat: no affine relation
            res[t] = np.inf
    return slope, icpt, res


def _initial(spec, m: int, d: int) -> np.ndarray:
    """The claimed initial weights: Σα/m each (1 official, 1/m paper)."""
    total = spec.options.get("weight_sum") or (float(m) if spec.convention == "official"
                                               else 1.0)
    return np.full(m, total / m)


def _localise_payoff(spec, losses, grads, actual, expected, init, out, tol) -> dict:
    T, m = actual.shape
    v, valid = log_increments(actual, init)
    ve, valid_e = log_increments(expected, init)
    both = valid & valid_e
    cv, ce = center(v, both), center(ve, both)
    inc_tol = 2 * tol + 1e-13
    r = np.abs(cv - ce).max(axis=1)
    bad = r > inc_tol * np.maximum(1.0, np.abs(ce).max(axis=1))
    if not bad.any():
        return {**out, "quantity": "weights", "detail": "values",
                "pattern": "the per-step changes of log α_i/α_j agree with the reference's, "
                           "yet the weights differ: a difference of a per-step constant",
                "residuals": r.tolist()}
    ku = int(np.argmin(~bad))
    res = {**out, "step": ku + 1, "residuals": r.tolist()}
    scale = max(float(np.abs(ce).max()), 1e-300)
    thr = inc_tol * max(1.0, scale)
    # updates where the reference has none, or none where it updates
    moves = np.abs(cv).max(axis=1) > thr
    ref_moves = np.abs(ce).max(axis=1) > thr
    if moves[ku] != ref_moves[ku]:
        what = ("the port updates the weights at step {s} where the reference does not (it "
                "only records the estimate: a first-step update, or a shorter warm-up)"
                if moves[ku] else
                "the port keeps the weights (their ratios) at step {s} where the reference "
                "changes them: a longer warm-up, a skipped update, or payoffs made equal "
                "across tasks (e.g. clipped)")
        return {**res, "quantity": "payoff", "detail": "update where none" if moves[ku]
                else "no update", "pattern": what.format(s=ku + 1)}
    den = float(np.sum(ce * ce))
    kappa = float(np.sum(cv * ce) / den) if den > 0 else float("nan")
    glob = np.abs(cv - kappa * ce).max(axis=1)
    if math.isfinite(kappa) and np.all(glob <= thr):
        detail = "sign" if kappa < 0 else "step size"
        return {**res, "quantity": "payoff", "detail": detail, "factor": kappa,
                "pattern": f"the per-step changes of log α_i/α_j are the reference's times "
                           f"{kappa:.6g} at every step: η_α = {kappa * spec.step_size:.6g} "
                           f"instead of {spec.step_size:g}" +
                           (" (the weights move against the payoff)" if kappa < 0 else ""),
                "residuals": glob.tolist()}
    kt, per = _per_step_factor_fit(cv, ce)
    upd = ref_moves
    if upd.sum() >= 2 and np.all(per[upd] <= thr) and np.all(~moves[~upd]):
        ks = kt[upd]
        return {**res, "quantity": "payoff", "detail": "schedule", "factors": kt.tolist(),
                "pattern": f"the per-step changes are the reference's times a factor that "
                           f"varies by step, from {np.nanmin(ks):.6g} to {np.nanmax(ks):.6g}: a "
                           "step-size schedule, or a payoff scaled by a per-step constant",
                "residuals": per.tolist()}
    # a factor per task on the reference's payoffs (after its warm-up): the baseline
    pay = claimed_payoffs(spec, losses, grads)
    rows = np.flatnonzero(ref_moves & np.all(np.isfinite(pay), axis=1) & both.all(axis=1)) \
        if pay is not None else np.zeros(0, dtype=int)
    if len(rows) >= 2 and pay is not None:      # rows is empty without payoffs
        # v_t,i ≈ k_i·u_t,i + c_t: the per-step constants c_t are projected out by centring
        # each step over the tasks (Frisch–Waugh–Lovell), which leaves an m-column problem
        P, V = pay[rows], v[rows]
        X = (P[:, None, :] * (np.eye(m) - 1.0 / m)[None, :, :]).reshape(-1, m)
        y = (V - V.mean(axis=1, keepdims=True)).reshape(-1)
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        resid = float(np.abs(X @ coef - y).max())
        kk = coef / spec.step_size
        if resid <= thr and np.ptp(kk) > 1e3 * thr * max(1.0, float(np.abs(kk).max())):
            return {**res, "quantity": "payoff", "detail": "baseline", "factors": kk.tolist(),
                    "pattern": "the per-step changes are the reference's payoffs times a "
                               f"factor per task ({', '.join(f'{x:.6g}' for x in kk)}) at "
                               "every step: the baseline b_i of scale processing differs (the "
                               "port's is b_i divided by these factors)",
                    "residuals": r.tolist()}
    if spec.method == "excessmtl":
        acc_loc = _accumulator_hypotheses(spec, grads, v, valid, r, thr)
        if acc_loc is not None:
            return {**res, **acc_loc}
    return {**res, "quantity": "payoff", "detail": "estimate",
            "pattern": f"the per-step changes of log α_i/α_j first differ from the "
                       f"reference's at step {ku + 1} (residual {r[ku]:.3e}); no constant, "
                       "per-step or per-task factor and no accumulator variant explains them: "
                       "the estimate Ê (or the payoff made from it) differs"}


def claimed_payoffs(spec, losses: np.ndarray, grads: np.ndarray) -> np.ndarray | None:
    """η·u (T, m) of the claimed reference from the inputs: by how much it moves log α at each
    step (0 in its warm-up), up to a per-step constant."""
    claimed = claimed_options(spec)
    sign = -1.0 if claimed["sign_flip"] else 1.0
    if spec.method == "groupdro":
        return sign * spec.step_size * np.asarray(losses, dtype=float)
    if spec.method != "excessmtl" or claimed["lagged"]:
        return None
    placement = "no sqrt" if not claimed["sqrt_accumulator"] else (
        "outside" if claimed["eps_outside"] else "inside")
    st = Structure(0, claimed["scale_processing"], claimed["first_step_update"],
                   claimed["warmup"], placement, claimed["accumulate_after"])
    g2, S, Sb = accumulators(grads)
    u, _, _ = excess_payoffs(st, g2, S, Sb, claimed["eps"], claimed["baseline_eps"])
    return sign * spec.step_size * u


def _accumulator_hypotheses(spec, grads, v, valid, r_claimed, thr) -> dict | None:
    """An AdaGrad estimate whose accumulator is updated after the estimate (instead of before,
    or the reverse), or decays (S ← βS + g², β fitted by a bounded 1-D search on log(1 − β)),
    with the claimed structure otherwise; a hypothesis that brings the residual of the changes
    to the tolerance at every step is reported."""
    claimed = claimed_options(spec)
    placement = "no sqrt" if not claimed["sqrt_accumulator"] else (
        "outside" if claimed["eps_outside"] else "inside")
    st = Structure(0, claimed["scale_processing"], claimed["first_step_update"],
                   claimed["warmup"], placement, not claimed["accumulate_after"])
    order = fit_excess(st, v, valid, accumulators(grads), claimed)
    label = "updated after the estimate" if st.after else "updated before the estimate"
    best = (label, order)
    same = replace(st, after=claimed["accumulate_after"])

    def decayed(x: float) -> StructureFit:            # β = 1 − exp(x)
        return fit_excess(same, v, valid, accumulators(grads, 1.0 - math.exp(x)), claimed)

    found = minimize_scalar(lambda x: decayed(x).rss, bounds=(math.log(1e-4), math.log(0.9)),
                            method="bounded", options={"xatol": 1e-6})
    beta = 1.0 - math.exp(float(found.x))
    f_decay = decayed(float(found.x))
    if f_decay.rss < order.rss:
        best = (f"decaying, S ← {beta:.3g}·S + g²", f_decay)
    label, f = best
    assert f.per_step is not None                # fit_* always record it
    if np.all(f.per_step <= thr):
        return {"quantity": "accumulator", "detail": label, "fitted_step_size": f.eta,
                "pattern": f"the changes match an AdaGrad estimate whose accumulator is {label}"
                           f" (fitted η_α = {f.eta:.6g}, max residual "
                           f"{float(np.max(f.per_step)):.2e} against {float(np.max(r_claimed)):.2e}"
                           " for the reference's accumulator)",
                "residuals": f.per_step.tolist()}
    return None


# ------------------------------------------------------------------------- float32 replay
def float32_replay(spec, losses: np.ndarray, grads: np.ndarray, **override: object
                   ) -> np.ndarray:
    """An independent float32 transcription of ``spec`` (with ``override`` options), computing
    every quantity in float32 with linear-space weights (α ← α·exp(η u), renormalised), as
    LibMTL does; returns float64 copies of its weights (T, m)."""
    o = {**claimed_options(spec), **override}
    f = np.float32
    T, m = losses.shape
    g_all, l_all = grads.astype(f), losses.astype(f)
    total = f(o["weight_sum"]) if o.get("weight_sum") else f(m if o["convention"] == "official"
                                                            else 1.0)
    w = np.full(m, total / f(m), dtype=f)
    sign = f(-1.0 if o["sign_flip"] else 1.0)
    eta = f(o["step_size"])
    S = None
    warm = np.zeros(m, dtype=f)
    base: Any = None          # the baseline, set at t = warmup − 1, before the first scaled step
    out = np.empty((T, m))
    previous = w.copy()
    with np.errstate(all="ignore"):
        for t in range(T):
            if spec.method == "equalweights":
                payoff = None
            elif spec.method == "groupdro":
                payoff = l_all[t]
            else:
                g = g_all[t]
                S = np.zeros_like(g) if S is None else S
                g2 = g * g
                new = S + g2
                used = S if o["accumulate_after"] else new
                eps = f(o["eps"])
                h = (used + eps if not o["sqrt_accumulator"] else
                     np.sqrt(used) + eps if o["eps_outside"] else np.sqrt(used + eps))
                e = np.sum(np.where(g2 > 0, g2 / h, f(0)), axis=1, dtype=f)
                S = new
                payoff = None
                if not o["scale_processing"]:
                    payoff = e
                elif t < o["warmup"]:
                    warm = warm + e
                    if t == 0 and o["first_step_update"]:
                        payoff = e
                    if t == o["warmup"] - 1:
                        base = warm / f(o["warmup"])
                else:
                    payoff = e / (base + f(o["baseline_eps"]))
            if payoff is not None:
                z = sign * eta * payoff
                w = w * np.exp(z - z.max())
                w = w / w.sum() * total
            if o["clamp_min"] is not None or o["clamp_max"] is not None:
                clipped = np.clip(w, o["clamp_min"], o["clamp_max"]).astype(f)
                ret = clipped
                if not o["clamp_output_only"]:
                    w = clipped
            else:
                ret = w
            if o["lagged"]:
                out[t], previous = previous, ret.copy()
            else:
                out[t] = ret
    return out.astype(np.float64)


ROUNDING_RHO = 0.7        # lag-1 autocorrelation of the residuals below which they are noise


def residual_pattern(actual: np.ndarray, expected: np.ndarray, init: np.ndarray
                     ) -> tuple[float, float, int]:
    """(ρ, rms, n): the lag-1 autocorrelation over steps, pooled over tasks, of the residuals of
    the per-step changes of log α_i/α_j (the port's minus the reference's, step 1 left out),
    their root mean square, and how many there are. Rounding gives ρ near 0 (errors carried in
    the state: a random walk, independent changes) or −½ (errors only in what is returned); a
    systematic departure gives smooth residuals, ρ near 1 (measured: float32 ports −0.53 … 0.45,
    float64 departures of the same size 0.93 … 0.99, docs/conformance.md)."""
    v, va = log_increments(actual, init)
    ve, vae = log_increments(expected, init)
    both = va & vae
    r = (center(v, both) - center(ve, both))[1:]
    n = int(both[1:].sum())
    den = float(np.sum(r * r))
    if n < 12 or den == 0:
        return float("nan"), math.sqrt(den / max(n, 1)), n
    return float(np.sum(r[1:] * r[:-1]) / den), math.sqrt(den / n), n


def float32_signature(spec, losses: np.ndarray, grads: np.ndarray, actual: np.ndarray,
                      expected: np.ndarray, *, rescaled: bool = False, **override: object
                      ) -> tuple[bool, dict]:
    """Whether the differences from the float64 reference (with ``override`` applied) look like
    float32 rounding, and the evidence.

    Rounding, not a departure, when the residuals of the per-step changes of log α are
    uncorrelated from step to step (``residual_pattern``: ρ <= 0.7, a few float32 ulps in size)
    — or, too few steps to tell, when most returned weights are float32 numbers — and when the
    port differs from the float64 reference by no more than 30 times what an independent float32
    replay (``float32_replay``) does on the same inputs."""
    a = actual
    if override:
        expected = replay_weights(spec.build(**override), losses, grads)
    fin = np.isfinite(a).all(axis=1)
    rows = fin & (np.ptp(np.where(np.isfinite(a), a, 0), axis=1) > 0)
    share = float(np.mean(a[rows].astype(np.float32).astype(np.float64) == a[rows])) \
        if rows.any() else 0.0
    ev: dict = {"float32_share": share}
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(expected))):
        return False, ev
    an, en = (_norm(a), _norm(expected)) if rescaled else (a, expected)
    m = a.shape[1]
    rho, rms, n = residual_pattern(an, en, np.full(m, 1.0 / m))
    ev.update(residual_autocorrelation=rho, residual_rms=rms)
    with np.errstate(all="ignore"):
        to64 = float(np.nanmax(np.abs(an - en) / np.maximum(np.abs(en), 1e-300)))
    ev["reference64_rel"] = to64
    if spec.method == "mgda":
        return share >= 0.9, ev
    r32 = float32_replay(spec, losses, grads, **override)
    rn = _norm(r32) if rescaled else r32
    with np.errstate(all="ignore"):
        noise32 = float(np.nanmax(np.abs(rn - en) / np.maximum(np.abs(en), 1e-300)))
    ev["replay32_rel"] = noise32
    size_ok = to64 <= max(30 * noise32, 16 * EPS32)
    if math.isnan(rho):
        return bool(size_ok and share >= 0.9), ev
    rounding = rho <= ROUNDING_RHO and rms <= 16 * EPS32
    return bool(size_ok and rounding), ev


__all__ = ["Inference", "Structure", "StructureFit", "accumulators", "adagrad", "agreement",
           "as_convention", "bounds", "center", "claimed_options", "complete", "departures_of",
           "excess_payoffs", "fit_cache", "fit_excess", "fit_losses", "float32_replay",
           "float32_signature", "infer", "localise", "log_increments", "normalisation",
           "replay_weights", "residual_pattern", "simplify", "static"]
