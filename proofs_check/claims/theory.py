"""The convergence bound we check and the proof, instrumented step by step (docs/theory.md §3).

Game: F(θ, α) = Σ_i α_i E_i(θ) on Θ × Δ_m, Θ = {‖θ − c‖ <= R}, D = 2R. Update order of the
official code ([CODE] docs/sources.md §S4) with exact excess risks and no scale processing ([OURS]):

    α_t ∝ α_{t−1} ⊙ exp(η_α E(θ_{t−1})),  α_0 = 1/m          (be-the-leader Hedge)
    θ_t = Π_Θ(θ_{t−1} − η_t ĝ_t),  ĝ_t = Σ_i α_t,i ∇ℓ_i(θ_{t−1})   (projected GD)

Theorem [OURS, docs/theory.md]: with θ̄_T = (1/T)Σ_{t<T} θ_t, ᾱ_T = (1/T)Σ_{t<=T} α_t and
non-increasing η_t,

    gap_T := max_α F(θ̄_T, α) − min_{θ∈Θ} F(θ, ᾱ_T)
          <= [ D²/(2η_T) + Σ_{t<=T} η_t ‖ĝ_t‖²/2 + ln m / η_α ] / T              (data-dependent)
          <= √2·D·G/√T + ln m/(η_α T)   for η_t = D/(G√(2t)), G >= sup_Θ max_i ‖∇ℓ_i‖   (a priori)

The proof is the chain of the inequalities in ``PROOF_STEPS``; ``instrument`` evaluates each one
along an actual trajectory so that a failure names the step that breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

import reference as R
from reference.loop import Schedule, Trajectory

PROOF_STEPS = {
    "convexity": "F(θ_{t−1}, α_t) − F(u, α_t) <= ⟨ĝ_t, θ_{t−1} − u⟩ for every t",
    "one-step": "⟨ĝ_t, θ_{t−1} − u⟩ <= (‖θ_{t−1}−u‖² − ‖θ_t−u‖²)/(2η_t) + η_t‖ĝ_t‖²/2 for every t",
    "telescoping": "Σ_{t<=T} (‖θ_{t−1}−u‖² − ‖θ_t−u‖²)/(2η_t) <= D²/(2η_T)",
    "theta-regret": "Σ_t [F(θ_{t−1}, α_t) − F(u, α_t)] <= D²/(2η_T) + Σ_t η_t‖ĝ_t‖²/2",
    "alpha-regret": ("max_i Σ_{s<=t} E_i(θ_{s−1}) − Σ_{s<=t} F(θ_{s−1}, α_s) <= ln m/η_α "
                     "for every t"),
    "jensen": "max_i E_i(θ̄_T) <= (1/T) max_i Σ_t E_i(θ_{t−1})",
    "gap<=regrets/T": "gap_T <= (Reg_θ(T) + Reg_α(T))/T",
    "comparator-in-ball": "‖u − c‖ <= R (the regret bound needs the comparator in Θ)",
}


@dataclass(frozen=True)
class GameSetup:
    """Constants of the bound: ball centre c, radius R (D = 2R), gradient bound G, the base step
    η = D/(G√2) of η_t = η/√t, and η_α."""

    center: np.ndarray
    radius: float
    G: float
    eta_alpha: float
    n_tasks: int

    @property
    def D(self) -> float:
        return 2.0 * self.radius

    @property
    def eta_theta(self) -> float:
        return self.D / (self.G * np.sqrt(2.0))

    def to_json(self) -> dict:
        return {"center": self.center.tolist(), "radius": self.radius, "D": self.D, "G": self.G,
                "eta_theta": self.eta_theta, "eta_alpha": self.eta_alpha}


def gradient_bound(problem: R.ExactProblem, center: np.ndarray, radius: float) -> float:
    """G >= sup_{‖θ−c‖<=R} max_i ‖∇ℓ_i(θ)‖.

    linear: ∇ℓ_i(θ) = H_i(θ − θ_i*), so ‖∇ℓ_i‖ <= ‖H_i‖₂ (R + ‖c − θ_i*‖).
    logistic: ∇ℓ_i = (1/n) Σ_k (σ(z_k) − y_k) x_k + λθ, |σ − y| <= 1, so
    ‖∇ℓ_i‖ <= (1/n) Σ_k ‖x_k‖ + λ(‖c‖ + R).
    absolute (LAD): |sign| <= 1, so ‖g_i‖ <= (1/n) Σ_k ‖x_k‖.
    """
    if isinstance(problem, R.MultiTaskProblem) and problem.loss == "linear":
        H = problem.hessians(center)
        dist = np.linalg.norm(problem.optimal_params - center, axis=1)
        return float(max(np.linalg.norm(H[i], 2) * (radius + dist[i])
                         for i in range(problem.n_tasks)))
    row = np.linalg.norm(problem.X, axis=2).mean(axis=1)
    if isinstance(problem, R.AbsoluteLossProblem):          # loss "absolute"
        return float(np.max(row))
    return float(np.max(row) + problem.l2 * (np.linalg.norm(center) + radius))


def game_setup(problem: R.ExactProblem, *, eta_alpha: float = 1.0,
               radius_factor: float = 2.0) -> GameSetup:
    """Θ centred at the mean of the task optima, R = radius_factor · max_i ‖θ_i* − c‖ (chosen
    without looking at the min–max solution)."""
    c = problem.optimal_params.mean(axis=0)
    r = radius_factor * max(float(np.max(np.linalg.norm(problem.optimal_params - c, axis=1))),
                            1e-3)
    return GameSetup(center=c, radius=r, G=gradient_bound(problem, c, r), eta_alpha=eta_alpha,
                     n_tasks=problem.n_tasks)


def run_game(problem: R.ExactProblem, setup: GameSetup, steps: int, *,
             schedule: Schedule = "inv_sqrt", lr: float | None = None,
             method: R.WeightingMethod | None = None) -> Trajectory:
    """The dynamics of the theorem: ExcessMTL(exact, paper, no scale processing), projected."""
    method = method or R.ExcessMTL("exact", "paper", step_size=setup.eta_alpha,
                                   scale_processing=False)
    return R.run(problem, method, steps, lr=setup.eta_theta if lr is None else lr,
                 schedule=schedule, theta0=np.zeros(problem.dim), project_radius=setup.radius,
                 project_center=setup.center)


def apriori_bound(setup: GameSetup, T: np.ndarray) -> np.ndarray:
    """√2·D·G/√T + ln m/(η_α T)."""
    T = np.asarray(T, dtype=float)
    return np.sqrt(2.0) * setup.D * setup.G / np.sqrt(T) + np.log(setup.n_tasks) / (
        setup.eta_alpha * T)


def data_bound(step_sizes: np.ndarray, combined_grad_norms: np.ndarray, setup: GameSetup,
               T: np.ndarray) -> np.ndarray:
    """[D²/(2η_T) + Σ_{t<=T} η_t‖ĝ_t‖²/2 + ln m/η_α]/T with the measured ‖ĝ_t‖.

    ``step_sizes`` (steps,) and ``combined_grad_norms`` (steps,) or (steps, S) as a
    ``Trajectory`` (or ``BatchedTrajectory``) records them; returns (K,) or (K, S)."""
    T = np.asarray(T, dtype=int)
    g = np.asarray(combined_grad_norms)
    eta = np.asarray(step_sizes).reshape(-1, *[1] * (g.ndim - 1))
    cum = np.cumsum(eta * g ** 2 / 2.0, axis=0)
    return (setup.D ** 2 / (2.0 * eta[T - 1]) + cum[T - 1]
            + np.log(setup.n_tasks) / setup.eta_alpha) / T.reshape(-1, *[1] * (g.ndim - 1))


def gaps(problem: R.ExactProblem, traj: Trajectory, T: np.ndarray) -> list[R.DualityGap]:
    """gap_T at each T, with θ̄_T and ᾱ_T of the trajectory."""
    tb, ab = traj.theta_bar, traj.alpha_bar
    return [R.duality_gap(problem, tb[t - 1], ab[t - 1]) for t in np.asarray(T, dtype=int)]


def log_grid(T_max: int, T_min: int = 10, points: int = 13) -> np.ndarray:
    return np.unique(np.round(np.logspace(np.log10(T_min), np.log10(T_max), points)).astype(int))


def fit_slope(T: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of log(values) on log(T) and its standard error."""
    x, y = np.log(np.asarray(T, float)), np.log(np.maximum(np.asarray(values, float), 1e-300))
    coef, cov = np.polyfit(x, y, 1, cov=True) if len(x) > 3 else (np.polyfit(x, y, 1), None)
    se = float(np.sqrt(cov[0, 0])) if cov is not None else float("nan")
    return float(coef[0]), se


def _violation(lhs: ArrayLike, rhs: ArrayLike) -> np.ndarray:
    """lhs − rhs beyond round-off (1e-10 relative, 1e-13 absolute): > 0 means the step breaks."""
    a, b = np.asarray(lhs, float), np.asarray(rhs, float)
    return a - b - 1e-10 * (np.abs(a) + np.abs(b)) - 1e-13


@dataclass(frozen=True)
class StepReport:
    name: str
    statement: str
    worst_violation: float       # max(lhs − rhs − tol); <= 0 means it held everywhere
    first_failure_t: int | None  # the first step t (1-based) or horizon T where it broke


def instrument(problem: R.ExactProblem, traj: Trajectory, setup: GameSetup,
               horizons: np.ndarray) -> list[StepReport]:
    """Evaluate every inequality of the proof along ``traj``, for the comparator u_T of each
    horizon T (the minimiser of F(·, ᾱ_T)), at every step t <= T."""
    E = traj.excess[:-1]                                   # E(θ_{t−1}), t = 1..T
    A = traj.simplex_weights                               # α_t
    eta = traj.step_sizes
    th = traj.thetas
    grads = np.stack([problem.grads(x) for x in th[:-1]])  # (T, m, d)
    ghat = np.einsum("tm,tmd->td", A, grads)
    payoff = np.sum(A * E, axis=1)                         # F(θ_{t−1}, α_t)
    cumE = np.cumsum(E, axis=0)
    reg_alpha = cumE.max(axis=1) - np.cumsum(payoff)
    worst: dict[str, float] = {k: -np.inf for k in PROOF_STEPS}
    first: dict[str, int | None] = {k: None for k in PROOF_STEPS}

    def record(name: str, viol: ArrayLike, ts: ArrayLike) -> None:
        v = np.atleast_1d(viol)
        t_of = np.asarray(ts)
        worst[name] = max(worst[name], float(np.max(v)))
        bad = np.flatnonzero(v > 0)
        seen = first[name]
        if bad.size and (seen is None or int(t_of[bad[0]]) < seen):
            first[name] = int(t_of[bad[0]])

    record("alpha-regret", _violation(reg_alpha, np.log(setup.n_tasks) / setup.eta_alpha),
           np.arange(1, len(reg_alpha) + 1))
    for T in np.asarray(horizons, dtype=int):
        gap = R.duality_gap(problem, traj.theta_bar[T - 1], traj.alpha_bar[T - 1])
        u = gap.inner_theta
        ts = np.arange(1, T + 1)
        a = np.sum((th[:T + 1] - u) ** 2, axis=1)
        lin = np.sum(ghat[:T] * (th[:T] - u), axis=1)
        diff = payoff[:T] - A[:T] @ problem.excess_risks(u)
        tele = (a[:-1] - a[1:]) / (2.0 * eta[:T])
        sq = eta[:T] * np.sum(ghat[:T] ** 2, axis=1) / 2.0
        record("convexity", _violation(diff, lin), ts)
        record("one-step", _violation(lin, tele + sq), ts)
        record("telescoping", _violation(tele.sum(), setup.D ** 2 / (2 * eta[T - 1])), [T])
        reg_theta = diff.sum()
        record("theta-regret", _violation(reg_theta, setup.D ** 2 / (2 * eta[T - 1]) + sq.sum()),
               [T])
        record("jensen", _violation(gap.primal, cumE[T - 1].max() / T), [T])
        record("gap<=regrets/T", _violation(gap.gap, (reg_theta + reg_alpha[T - 1]) / T), [T])
        record("comparator-in-ball",
               _violation(np.linalg.norm(u - setup.center), setup.radius), [T])
    return [StepReport(k, PROOF_STEPS[k], worst[k], first[k]) for k in PROOF_STEPS]
