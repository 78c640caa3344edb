"""Independently written ExcessMTL weighting methods: correct variants, mutants, harmless variants.

Written from the paper's algorithm alone (He et al., "Robust Multi-Task Learning with Excess
Risks", ICML 2024), without reading the toolkit's own implementation, so that the toolkit's
ability to detect bugs can be measured honestly.

The algorithm (what is correct)
-------------------------------
The weight player runs Hedge / exponentiated-gradient ascent on the excess risks

    alpha_{t,i}  propto  alpha_{t-1,i} * exp(eta_alpha * E_i(theta_{t-1})),   alpha_0 uniform,

and the harness takes the (projected) gradient step of theta on sum_i alpha_{t,i} l_i(theta).
The averaged iterates have a duality gap O(1/sqrt(T)) for convex tasks ("rate"); ExcessMTL does not
raise the weight of tasks with label noise ("robustness"), because the excess risk subtracts each
task's own optimum l_i*.

Every class follows the harness protocol::

    needs: frozenset         # {"excess"} to receive exact excess risks
    label, kind, breaks, effect, step_size
    init_state(n_tasks, dim) -> state
    step(state, losses, grads, *, excess=None, hessians=None) -> (new_state, weights)

States are always fresh objects (never mutated in place).  Claim ids used in ``breaks``:
"rate" (convergence of the duality gap to the min-max solution), "robustness", "pareto".
"""

from __future__ import annotations

import numpy as np

__all__ = ["CORRECT", "MUTANTS", "HARMLESS"]


# --------------------------------------------------------------------------- helpers


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / np.sum(w)


def _hedge(alpha: np.ndarray, payoff: np.ndarray, eta: float) -> np.ndarray:
    """One multiplicative-weights step, computed in log space for stability (zero weights stay
    0)."""
    p = eta * np.asarray(payoff, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = np.log(np.asarray(alpha, dtype=np.float64)) + p
    w = np.exp(z - np.max(z))
    return _normalise(w)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def _uniform(m: int) -> np.ndarray:
    return np.full(m, 1.0 / m, dtype=np.float64)


def _excess(excess, losses) -> np.ndarray:
    if excess is None:
        raise ValueError("this method needs exact excess risks (needs={'excess'})")
    return np.asarray(excess, dtype=np.float64)


class _HedgeBase:
    """Plain ExcessMTL Hedge; subclasses override ``payoff`` or ``step``."""

    needs = frozenset({"excess"})
    label = "base"
    kind = "correct"
    breaks: tuple = ()
    effect = ""
    step_size = 1.0

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "t": 0}

    def payoff(self, state, losses, grads, excess):
        return _excess(excess, losses)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        r = self.payoff(state, losses, grads, excess)
        alpha = _hedge(state["alpha"], r, self.step_size)
        return {"alpha": alpha, "t": t}, alpha.copy()


# =========================================================================== CORRECT


class ExcessHedge(_HedgeBase):
    """Reference reading of the paper: alpha_t propto alpha_{t-1} exp(eta E(theta_{t-1})), eta = 1,
    uniform start, weights normalised to sum 1. Must pass every claim."""

    label = "correct: Hedge on excess, eta=1"
    kind = "correct"
    effect = "none (the algorithm as written)"
    step_size = 1.0


class AnytimeHedge(_HedgeBase):
    """Anytime step eta_t = eta_alpha / sqrt(t), t = 1, 2, ... The standard anytime Hedge regret
    bound is O(sqrt(T log m)) with no knowledge of T, so the averaged duality gap still vanishes at
    O(1/sqrt(T)). step_size reports the base eta_alpha."""

    label = "correct: anytime eta/sqrt(t)"
    kind = "correct"
    effect = "none (decaying step, same O(1/sqrt T) rate)"
    step_size = 1.0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        eta_t = self.step_size / np.sqrt(t)
        alpha = _hedge(state["alpha"], _excess(excess, losses), eta_t)
        return {"alpha": alpha, "t": t}, alpha.copy()


class OfficialSumM(_HedgeBase):
    """The official code's convention: weights sum to m (alpha * m). The Hedge update is homogeneous
    of degree one in alpha and the harness divides by the sum, so this is the same algorithm."""

    label = "correct: official sum(alpha)=m convention"
    kind = "correct"
    effect = "none (weights scaled by m, harness renormalises)"
    step_size = 1.0

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": np.ones(n_tasks, dtype=np.float64), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        m = state["alpha"].shape[0]
        e = _excess(excess, losses)
        w = state["alpha"] * np.exp(self.step_size * (e - np.max(e)))
        alpha = m * w / np.sum(w)
        return {"alpha": alpha, "t": state["t"] + 1}, alpha.copy()


class LaggedHedge(_HedgeBase):
    """Returns the weights computed from the previous step's excess (one step late): on step t it
    returns alpha_{t-1} and only then updates its state with E(theta_{t-1}). This is the
    simultaneous-move order of the two-player game; the no-regret argument is unchanged."""

    label = "correct: lagged order (one step late)"
    kind = "correct"
    effect = "none (simultaneous-play ordering)"
    step_size = 1.0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        out = state["alpha"].copy()
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        return {"alpha": alpha, "t": state["t"] + 1}, out


class Float32Hedge(_HedgeBase):
    """Same algorithm computed entirely in float32 (state, payoff, exp, normalisation); the result
    is returned as float64. Rounding error ~1e-7 relative per step, far below any statistical
    effect."""

    label = "correct: float32 arithmetic"
    kind = "correct"
    effect = "rounding ~1e-7 relative per step"
    step_size = 1.0

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": np.full(n_tasks, 1.0 / n_tasks, dtype=np.float32), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        a = np.asarray(state["alpha"], dtype=np.float32)
        e = np.asarray(_excess(excess, losses), dtype=np.float32)
        eta = np.float32(self.step_size)
        p = eta * e
        w = a * np.exp(p - np.max(p))
        w = (w / np.sum(w, dtype=np.float32)).astype(np.float32)
        return {"alpha": w, "t": state["t"] + 1}, w.astype(np.float64)


class SmallEtaHedge(ExcessHedge):
    """Hedge with a smaller constant eta_alpha = 0.3 (declared as step_size). The theorem holds for
    any fixed eta with a bound computed from that eta."""

    label = "correct: Hedge eta=0.3"
    effect = "none (different constant step, declared)"
    step_size = 0.3


class LargeEtaHedge(ExcessHedge):
    """Hedge with a larger constant eta_alpha = 2.0 (declared as step_size)."""

    label = "correct: Hedge eta=2.0"
    effect = "none (different constant step, declared)"
    step_size = 2.0


class LogSpaceHedge(_HedgeBase):
    """Keeps log-weights, adds eta * E each step, returns softmax(log-weights). Identical to the
    multiplicative form in exact arithmetic and more stable numerically."""

    label = "correct: log-space Hedge (softmax)"
    kind = "correct"
    effect = "none (same update in log space)"
    step_size = 1.0

    def init_state(self, n_tasks: int, dim: int):
        return {"logw": np.zeros(n_tasks, dtype=np.float64), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        logw = state["logw"] + self.step_size * _excess(excess, losses)
        logw = logw - np.max(logw)  # keep bounded; softmax is shift invariant
        return {"logw": logw, "t": state["t"] + 1}, _softmax(logw)


# =========================================================================== MUTANTS


class LossPayoff(_HedgeBase):
    """GroupDRO-like: Hedge on the raw losses l_i instead of the excess risks E_i = l_i - l_i*. This
    solves min max_alpha sum alpha_i l_i, a different game whenever the l_i* differ, so the duality
    gap of the excess game does not vanish ("rate"), and noisy tasks (large l_i*) are overweighted
    ("robustness")."""

    needs = frozenset()
    label = "mutant: payoff = losses (GroupDRO)"
    kind = "mutant"
    breaks = ("rate", "robustness")
    effect = "fixed point of the loss game; bias grows with the spread of l_i*"

    def payoff(self, state, losses, grads, excess):
        return np.asarray(losses, dtype=np.float64)


class WrongSign(_HedgeBase):
    """Sign error: exponentiated gradient DESCENT, alpha propto alpha exp(-eta E). The weight player
    minimises instead of maximises, concentrating on the task with the smallest excess; the max over
    alpha of the gap stays of the order of the largest excess ("rate")."""

    label = "mutant: wrong sign (descent on alpha)"
    kind = "mutant"
    breaks = ("rate",)
    effect = "gross: gap ~ max_i E_i, does not vanish"

    def payoff(self, state, losses, grads, excess):
        return -_excess(excess, losses)


class FloorWeights(_HedgeBase):
    """Weights clipped from below at 0.01 (then renormalised) in the state each step, a common
    'don't let tasks die' tweak. When some task is inactive at the saddle (alpha*_i = 0) the theta
    player keeps a >=~0.01 weight on it, so theta converges to a biased point ("rate"). Has no
    effect when every alpha*_i > 0.01."""

    label = "mutant: weights floored at 0.01"
    kind = "mutant"
    breaks = ("rate",)
    effect = "only when some alpha*_i=0: ~1% weight leak onto inactive tasks"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        alpha = _normalise(np.maximum(alpha, 0.01))
        return {"alpha": alpha, "t": state["t"] + 1}, alpha.copy()


class BiasedOptimum(_HedgeBase):
    """l_0* estimated slightly too low: task 0's payoff gets + 0.02 * mean(E at t=1). The game's
    payoff for task 0 is shifted by a constant, so the min-max point moves: task 0 is held to a
    lower excess than the others at the fixed point ("rate")."""

    label = "mutant: l0* biased by 2% of initial mean excess"
    kind = "mutant"
    breaks = ("rate",)
    effect = "fixed point biased by ~2% of the initial excess scale on task 0"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "t": 0, "bias": None}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        e = _excess(excess, losses).copy()
        bias = state["bias"]
        if bias is None:
            bias = 0.02 * float(np.mean(e))
        e[0] += bias
        alpha = _hedge(state["alpha"], e, self.step_size)
        return {"alpha": alpha, "t": state["t"] + 1, "bias": bias}, alpha.copy()


class OneOverTStep(_HedgeBase):
    """Step eta_t = eta_alpha / t instead of eta_alpha / sqrt(t). The total step sum grows only like
    log T, so the regret bound log(m)/eta_T = T log(m)/eta is linear in T: the weights freeze near
    their early values and the gap does not vanish at O(1/sqrt(T)) ("rate")."""

    label = "mutant: eta/t decay (stops learning)"
    kind = "mutant"
    breaks = ("rate",)
    effect = "moderate: alpha moves only ~eta*log T in log space; gap stalls"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size / t)
        return {"alpha": alpha, "t": t}, alpha.copy()


class FreezeAfterWarmup(_HedgeBase):
    """Alpha updated only during the first 10 steps, then frozen. The theta player then minimises a
    fixed weighted loss that is not the min-max weighting ("rate")."""

    label = "mutant: alpha frozen after 10 steps"
    kind = "mutant"
    breaks = ("rate",)
    effect = "gross: weights stuck at their step-10 value"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        if t <= 10:
            alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        else:
            alpha = state["alpha"].copy()
        return {"alpha": alpha, "t": t}, alpha.copy()


class SquaredPayoff(_HedgeBase):
    """Payoff E_i**2. Since E >= 0 the minimax theta of max_i E_i**2 equals that of max_i E_i and
    near the saddle the payoff differences are ~2v(E_i - E_j) (v = min-max value), so in full batch
    this is mostly a misdeclared step size (effective eta*2v). With minibatch excess, E[E**2] = E**2
    + sigma_i**2 biases the weights towards noisier tasks. Not provably harmless ("rate")."""

    label = "mutant: payoff = excess**2"
    kind = "mutant"
    breaks = ("rate",)
    effect = "small/uncertain: effective step 2v*eta; +sigma_i^2 payoff bias under minibatches"

    def payoff(self, state, losses, grads, excess):
        return _excess(excess, losses) ** 2


class ClampNonnegative(_HedgeBase):
    """Payoff max(E_i, 0) ('excess risk cannot be negative'). Exact in full batch (E >= 0), but with
    minibatch losses the excess estimate is unbiased only before clamping; clamping adds a positive
    bias ~E[max(noise, 0)] on tasks whose excess is within noise of 0 ("rate", stochastic setting
    only)."""

    label = "mutant: clamp excess at 0"
    kind = "mutant"
    breaks = ("rate",)
    effect = "zero in full batch; minibatch bias ~0.4*sigma on tasks with E near 0 (likely tiny)"

    def payoff(self, state, losses, grads, excess):
        return np.maximum(_excess(excess, losses), 0.0)


class MeanPayoff(_HedgeBase):
    """Uses mean_i E_i as every task's payoff (a broadcasting bug). All tasks get the same payoff,
    so alpha stays uniform forever: uniform-weight MTL, not the min-max solution ("rate")."""

    label = "mutant: mean excess for all tasks (uniform)"
    kind = "mutant"
    breaks = ("rate",)
    effect = "gross unless alpha* is uniform: weights never leave uniform"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses)
        return np.full_like(e, np.mean(e))


class MaxNormalisedPayoff(_HedgeBase):
    """Payoff E_i / max_j E_j (scale-free). A positive per-step rescaling = time-varying step eta /
    max E_t; the saddle point is unchanged but the weight player's regret is now measured on
    rescaled payoffs, and the step blows up when the min-max value is ~0. Not provably harmless
    ("rate")."""

    label = "mutant: payoff normalised by its max"
    kind = "mutant"
    breaks = ("rate",)
    effect = "small/uncertain: effective step eta/max E_t (larger than declared when E<1)"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses)
        return e / max(float(np.max(e)), 1e-12)


class RatioPayoff(_HedgeBase):
    """Relative excess E_i / l_i* (i.e. l_i/l_i* - 1) instead of E_i. Solves a different min-max
    problem (relative, not absolute, excess); tasks with l_i* ~ 0 dominate ("rate")."""

    label = "mutant: payoff = excess / l*"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large: different game; gross if some l_i* ~ 0"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses)
        lstar = np.asarray(losses, dtype=np.float64) - e
        return e / np.maximum(lstar, 1e-8)


class PeriodicReset(_HedgeBase):
    """Alpha reset to uniform every 20 steps. Each restart throws away the accumulated payoffs, so
    the weights never get further than 20 Hedge steps from uniform; the average alpha stays biased
    toward uniform and the gap has a floor ~log(m)/(20 eta) ("rate")."""

    label = "mutant: reset alpha every 20 steps"
    kind = "mutant"
    breaks = ("rate",)
    effect = "moderate: gap floor ~ log(m)/(20*eta) per restart window"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        base = _uniform(state["alpha"].shape[0]) if (t - 1) % 20 == 0 else state["alpha"]
        alpha = _hedge(base, _excess(excess, losses), self.step_size)
        return {"alpha": alpha, "t": t}, alpha.copy()


class OneHotInit(_HedgeBase):
    """alpha_0 = e_0 instead of uniform. Multiplicative updates keep zero weights at zero, so alpha
    is e_0 forever: single-task training on task 0 ("rate")."""

    label = "mutant: one-hot initial alpha"
    kind = "mutant"
    breaks = ("rate",)
    effect = "gross: only task 0 ever trained"

    def init_state(self, n_tasks: int, dim: int):
        a = np.zeros(n_tasks, dtype=np.float64)
        a[0] = 1.0
        return {"alpha": a, "t": 0}


class MixUniform(_HedgeBase):
    """Returned weights = 0.95 * alpha + 0.05 / m (exploration mixing), Hedge state unchanged. The
    theta player minimises with weights pulled 5% toward uniform, so theta converges to a biased
    point ("rate")."""

    label = "mutant: 5% uniform mixing"
    kind = "mutant"
    breaks = ("rate",)
    effect = "fixed point moved 5% toward uniform weighting (small when alpha* ~ uniform)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        m = alpha.shape[0]
        return {"alpha": alpha, "t": state["t"] + 1}, 0.95 * alpha + 0.05 / m


class HeavyBallMomentum(_HedgeBase):
    """Heavy-ball momentum (beta = 0.9) on the log-weight increments: v = beta v + eta E; log w +=
    v. The fixed point is unchanged but the effective step is eta / (1 - beta) = 10 eta while
    step_size still declares eta, and momentum adds oscillation, so the declared O(1/sqrt(T)) bound
    can be exceeded ("rate")."""

    label = "mutant: momentum 0.9 on log-weights"
    kind = "mutant"
    breaks = ("rate",)
    effect = "effective step 10x the declared eta; oscillation; fixed point unchanged"

    def init_state(self, n_tasks: int, dim: int):
        return {"logw": np.zeros(n_tasks), "v": np.zeros(n_tasks), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        v = 0.9 * state["v"] + self.step_size * _excess(excess, losses)
        logw = state["logw"] + v
        logw = logw - np.max(logw)
        return {"logw": logw, "v": v, "t": state["t"] + 1}, _softmax(logw)


class GradNormPayoff(_HedgeBase):
    """Hedge on the per-task gradient norms ||grad l_i|| instead of the excess risks (confusing
    ExcessMTL with gradient-magnitude balancing). Gradient norms are not excess risks (a task at a
    saddle-active point has nonzero gradient but the game payoff is E_i), so the fixed point is not
    the min-max solution ("rate")."""

    needs = frozenset()
    label = "mutant: payoff = gradient norms"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large: different game"

    def payoff(self, state, losses, grads, excess):
        g = np.asarray(grads, dtype=np.float64)
        return np.linalg.norm(g.reshape(g.shape[0], -1), axis=1)


class RollTaskIndex(_HedgeBase):
    """Off-by-one in the task index: returns np.roll(alpha, 1), so task i receives the weight
    computed for task i-1. The theta player minimises a permuted weighting ("rate")."""

    label = "mutant: weights rolled by one task"
    kind = "mutant"
    breaks = ("rate",)
    effect = "gross unless alpha* is uniform"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        return {"alpha": alpha, "t": state["t"] + 1}, np.roll(alpha, 1)


class StiffMisdeclared(_HedgeBase):
    """Temperature too high: uses eta = 50 internally but declares step_size = 1.0. The Hedge regret
    bound's eta*G^2 term is 50x what the declared step implies and the weights jump nearly to the
    best response each step ("rate"). If theta moves slowly the play is FTL-like and the real gap
    may still be small, so detection is uncertain."""

    label = "mutant: eta=50 used, eta=1 declared"
    kind = "mutant"
    breaks = ("rate",)
    effect = "uncertain: bound's eta-term underestimated 50x; near-best-response oscillation"
    step_size = 1.0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        alpha = _hedge(state["alpha"], _excess(excess, losses), 50.0)
        return {"alpha": alpha, "t": state["t"] + 1}, alpha.copy()


class TinyBias(_HedgeBase):
    """Task 0's payoff multiplied by (1 + 1e-3): a 0.1% relative error in one task's excess (e.g. a
    slightly mis-scaled l_0*). Moves the fixed point by ~1e-3 of the min-max value, probably below
    any detection limit ("rate" in principle)."""

    label = "mutant: 1e-3 relative bias on task 0"
    kind = "mutant"
    breaks = ("rate",)
    effect = "tiny"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses).copy()
        e[0] *= 1.0 + 1e-3
        return e


class WeightedExcessPayoff(_HedgeBase):
    """Payoff alpha_i * E_i (the gradient of sum alpha E w.r.t. alpha is E, not alpha*E). At the
    saddle the active tasks share E_i = v, but payoffs alpha_i v differ unless alpha* is uniform on
    the active set, so the fixed point moves ("rate")."""

    label = "mutant: payoff = alpha * excess"
    kind = "mutant"
    breaks = ("rate",)
    effect = "moderate: fixed point biased toward uniform among active tasks; slowed by factor ~1/m"

    def payoff(self, state, losses, grads, excess):
        return state["alpha"] * _excess(excess, losses)


class RunningMinOptimum(_HedgeBase):
    """l_i* estimated online as the running minimum of the observed loss l_i along the trajectory.
    The joint trajectory never reaches each task's own optimum, so l_hat_i* >= l_i*; with decreasing
    losses the payoff is ~0 and the weights stay near uniform; with minibatches the minimum is
    biased down by noise extremes ("rate")."""

    needs = frozenset()
    label = "mutant: l* = running min of loss"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large: payoff ~0 while losses decrease -> near-uniform weights"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "t": 0, "lmin": None}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        lo = np.asarray(losses, dtype=np.float64)
        lmin = lo.copy() if state["lmin"] is None else np.minimum(state["lmin"], lo)
        alpha = _hedge(state["alpha"], lo - lmin, self.step_size)
        return {"alpha": alpha, "t": state["t"] + 1, "lmin": lmin}, alpha.copy()


class LossRatioPayoff(_HedgeBase):
    """Payoff l_i(theta_t) / l_i(theta_0) (training-progress ratio, DWA-like) instead of the excess.
    A noisy task's loss cannot fall below its noise floor, so its ratio stays high and it is
    overweighted ("robustness"); the game is not the excess game ("rate")."""

    needs = frozenset()
    label = "mutant: payoff = loss / initial loss"
    kind = "mutant"
    breaks = ("rate", "robustness")
    effect = "large: different game; noisy tasks upweighted"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "t": 0, "l0": None}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        lo = np.asarray(losses, dtype=np.float64)
        l0 = lo.copy() if state["l0"] is None else state["l0"]
        alpha = _hedge(state["alpha"], lo / np.maximum(l0, 1e-12), self.step_size)
        return {"alpha": alpha, "t": state["t"] + 1, "l0": l0}, alpha.copy()


class SoftmaxNoMemory(_HedgeBase):
    """alpha_t = softmax(eta E(theta_{t-1})) -- forgets to multiply by alpha_{t-1}. A smoothed best
    response, not Hedge: at the saddle (active E_i = v) it returns near-uniform weights with mass on
    inactive tasks, not alpha* ("rate")."""

    label = "mutant: softmax without memory"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large: weights ~softmax(eta E), far from alpha* for moderate eta"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        alpha = _softmax(self.step_size * _excess(excess, losses))
        return {"alpha": alpha, "t": state["t"] + 1}, alpha.copy()


class CumulativeCompounding(_HedgeBase):
    """Mixes log-space and multiplicative forms: keeps the cumulative payoff S_t = sum E and ALSO
    multiplies the previous alpha by exp(eta S_t). Log-weights become eta * sum_s (t-s+1) E_s: the
    effective step grows linearly in t, so the weights become a hard argmax and oscillate
    ("rate")."""

    label = "mutant: compounding cumulative payoff"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large: effective step ~eta*t, best-response oscillation"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "S": np.zeros(n_tasks), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        S = state["S"] + _excess(excess, losses)
        alpha = _hedge(state["alpha"], S, self.step_size)
        return {"alpha": alpha, "S": S, "t": state["t"] + 1}, alpha.copy()


class IncreasingStep(_HedgeBase):
    """Anytime-step typo: eta_t = eta_alpha * sqrt(t) instead of eta_alpha / sqrt(t). The step
    grows, the eta_t*G^2 regret term grows, and the weights end up best-responding ("rate")."""

    label = "mutant: eta*sqrt(t) (increasing step)"
    kind = "mutant"
    breaks = ("rate",)
    effect = "large for long runs: step grows like sqrt(t)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size * np.sqrt(t))
        return {"alpha": alpha, "t": t}, alpha.copy()


class HalfOptimum(_HedgeBase):
    """Subtracts only half the optimum: payoff l_i - 0.5 l_i* = E_i + 0.5 l_i*. A per-task constant
    shift proportional to l_i*, so tasks with high irreducible loss (label noise) are upweighted
    ("robustness") and the min-max point of the excess game is missed ("rate")."""

    label = "mutant: payoff = loss - 0.5*l*"
    kind = "mutant"
    breaks = ("rate", "robustness")
    effect = "half the GroupDRO bias: fixed point shifted by 0.5*(spread of l_i*)"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses)
        lstar = np.asarray(losses, dtype=np.float64) - e
        return e + 0.5 * lstar


class ReturnsAverage(_HedgeBase):
    """Returns the running average of the Hedge iterates (alpha_bar_t) to the theta player instead
    of alpha_t (confusing the reported averaged iterate with the played one). The played weights lag
    the Hedge iterate by ~t/2 steps, so the weight player's regret is no longer bounded and the
    doubly-averaged alpha overweights early iterates ("rate")."""

    label = "mutant: plays the running-average alpha"
    kind = "mutant"
    breaks = ("rate",)
    effect = "moderate: played weights lag ~t/2 steps; slower-than-1/sqrt(T) gap decay"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "avg": _uniform(n_tasks), "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        alpha = _hedge(state["alpha"], _excess(excess, losses), self.step_size)
        avg = state["avg"] + (alpha - state["avg"]) / (t + 1)  # average incl. alpha_0
        return {"alpha": alpha, "avg": avg, "t": t}, avg.copy()


# =========================================================================== HARMLESS


class ShiftedPayoff(_HedgeBase):
    """Adds the same constant (5.0) to every task's payoff. Hedge is shift-invariant: exp(eta(E_i +
    c)) = exp(eta c) exp(eta E_i) and the common factor cancels in the normalisation, so the weights
    are identical up to rounding."""

    label = "harmless: +5 to every payoff"
    kind = "harmless"
    effect = "none (exactly cancels in normalisation)"

    def payoff(self, state, losses, grads, excess):
        return _excess(excess, losses) + 5.0


class ScaledWeights(_HedgeBase):
    """Returns 7 * alpha. The harness divides by the sum, so the theta step and the normalised
    weights are unchanged."""

    label = "harmless: weights multiplied by 7"
    kind = "harmless"
    effect = "none (harness renormalises)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, alpha = super().step(state, losses, grads, excess=excess, hessians=hessians)
        return new, 7.0 * alpha


class LazyRenormalise(_HedgeBase):
    """Multiplies the state by exp(eta E) every step but renormalises only every 10 steps (the sum
    drifts in between). The update is homogeneous of degree one in alpha, so the direction of the
    weight vector -- all the harness uses after dividing by the sum -- is exactly the same; over 10
    steps the unnormalised scale stays within exp(10 eta max E), far from overflow for bounded
    excess."""

    label = "harmless: renormalise every 10 steps"
    kind = "harmless"
    effect = "none (scale drift only; harness renormalises)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state["t"] + 1
        w = state["alpha"] * np.exp(self.step_size * _excess(excess, losses))
        if t % 10 == 0:
            w = _normalise(w)
        return {"alpha": w, "t": t}, w.copy()


class PerStepMinShift(_HedgeBase):
    """Subtracts min_i E_i from the payoff each step (a 'baseline' for stability). The shift is
    common to all tasks within a step, so by shift-invariance each step's update is unchanged."""

    label = "harmless: subtract per-step min payoff"
    kind = "harmless"
    effect = "none (per-step common shift cancels)"

    def payoff(self, state, losses, grads, excess):
        e = _excess(excess, losses)
        return e - np.min(e)


class TwoStepStale(_HedgeBase):
    """Updates alpha with the excess of the previous-previous step (returns weights two steps late).
    Hedge with a constant feedback delay d = 2 keeps regret O(sqrt((d+1) T log m)) (delayed online
    learning), so the O(1/sqrt(T)) rate survives; only the constant of the eta-term grows (at most
    ~(1 + 2d)x). Harmless for the rate exponent; the lagged (d = 1) order is a correct variant."""

    label = "harmless: excess two steps stale"
    kind = "harmless"
    effect = "rate unchanged; eta-term constant up to ~5x larger"

    def init_state(self, n_tasks: int, dim: int):
        return {"alpha": _uniform(n_tasks), "prev": None, "t": 0}

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        e = _excess(excess, losses)
        prev = state["prev"]
        alpha = state["alpha"] if prev is None else _hedge(state["alpha"], prev, self.step_size)
        out = state["alpha"].copy()
        return {"alpha": alpha, "prev": e.copy(), "t": state["t"] + 1}, out


class StiffEta50(LogSpaceHedge):
    """Temperature very high, eta_alpha = 50, and declared honestly as step_size = 50. The theorem
    holds for any fixed eta with the bound log(m)/(eta T) + eta G^2/2 (+ theta terms) computed from
    that eta, so the method satisfies its own (loose) bound; kept in log space so no weight
    underflows. Harmless with respect to the bound; the bound itself is large."""

    label = "harmless: eta=50 declared"
    kind = "harmless"
    effect = "bound loose (eta-term 50x); theorem still holds"
    step_size = 50.0


# =========================================================================== registries

CORRECT = [
    ExcessHedge,
    AnytimeHedge,
    OfficialSumM,
    LaggedHedge,
    Float32Hedge,
    SmallEtaHedge,
    LargeEtaHedge,
    LogSpaceHedge,
]

MUTANTS = [
    LossPayoff,
    WrongSign,
    FloorWeights,
    BiasedOptimum,
    OneOverTStep,
    FreezeAfterWarmup,
    SquaredPayoff,
    ClampNonnegative,
    MeanPayoff,
    MaxNormalisedPayoff,
    RatioPayoff,
    PeriodicReset,
    OneHotInit,
    MixUniform,
    HeavyBallMomentum,
    GradNormPayoff,
    RollTaskIndex,
    StiffMisdeclared,
    TinyBias,
    WeightedExcessPayoff,
    RunningMinOptimum,
    LossRatioPayoff,
    SoftmaxNoMemory,
    CumulativeCompounding,
    IncreasingStep,
    HalfOptimum,
    ReturnsAverage,
]

HARMLESS = [
    ShiftedPayoff,
    ScaledWeights,
    LazyRenormalise,
    PerStepMinShift,
    TwoStepStale,
    StiffEta50,
]
