"""Mutants of the ExcessMTL weighting (each a small, plausible implementation mistake) and correct
variants written independently of the reference, for the mutation tests of the claim checks.

Every class follows the ``reference.WeightingMethod`` protocol the way a user's code would: plain
attributes, linear-space weights, no reference base class. Each mutant's docstring says which
claim must reject it and why the theory says so (docs/claims.md, "Mutation suite").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HedgeState:
    t: int
    w: np.ndarray
    extra: object = None


class LinearSpaceHedge:
    """Correct: α ← α ⊙ exp(η_α E(θ)) / Σ, written in linear space with a max-shift (an
    independent re-implementation of the theorem dynamics ExcessMTL(exact, paper, no scale
    processing))."""

    needs = frozenset({"excess"})
    label = "LinearSpaceHedge"

    def __init__(self, step_size: float = 1.0) -> None:
        self.step_size = step_size

    def init_state(self, n_tasks: int, dim: int) -> HedgeState:
        return HedgeState(0, np.full(n_tasks, 1.0 / n_tasks))

    def payoff(self, state: HedgeState, losses, excess) -> np.ndarray:
        return np.asarray(excess, dtype=float)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        u = self.payoff(state, losses, excess)
        w = state.w * np.exp(self.step_size * (u - u.max()))
        w = w / w.sum()
        return HedgeState(state.t + 1, w, state.extra), w


class LaggedHedge(LinearSpaceHedge):
    """Correct: the FTRL order, α_t from the payoffs up to θ_{t−2} (the weights are updated after
    the model step). Follow-the-regularised-leader's regret is ln m/η_α + η_α Σ‖E‖²_∞/2, so the
    gap still vanishes at O(1/√T) in the stochastic regime; at full batch it converges to the
    same point."""

    label = "LaggedHedge (FTRL order)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, _ = super().step(state, losses, grads, excess=excess, hessians=hessians)
        return new, state.w


class OfficialScaleHedge(LinearSpaceHedge):
    """Correct re-parametrisation: weights sum to m (the official convention), with η_α = 0.5.
    Up to the factor m the trajectory is Hedge's; verify() normalises the weights."""

    label = "Hedge, Σα = m, η_α = 0.5"

    def __init__(self) -> None:
        super().__init__(step_size=0.5)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, w = super().step(state, losses, grads, excess=excess, hessians=hessians)
        return new, w * len(w)


# ------------------------------------------------------------------------------- mutants
class LossHedge(LinearSpaceHedge):
    """Mutant (rate): the payoff is the loss ℓ_i, not the excess risk E_i = ℓ_i − ℓ_i^* (the
    GroupDRO confusion). Hedge then equalises losses: the dynamics converge to argmin max ℓ_i,
    not argmin max E_i, so the gap of the paper's game plateaus (ρ → √10)."""

    label = "mutant: payoff ℓ instead of E"
    needs = frozenset()

    def payoff(self, state, losses, excess):
        return np.asarray(losses, dtype=float)


class SignFlippedHedge(LinearSpaceHedge):
    """Mutant (rate): α ← α ⊙ exp(−η_α E): weight moves to the best-served task; the dynamics
    approach argmin min_i E_i's neighbourhood, not the min–max point."""

    label = "mutant: sign flipped"

    def payoff(self, state, losses, excess):
        return -np.asarray(excess, dtype=float)


class FirstBaselineHedge(LinearSpaceHedge):
    """Mutant (rate): the official scale processing on exact E, payoff E/E(θ_0): Hedge equalises
    E_i/E_i(θ_0), so it converges to argmin max_i E_i/c_i with c = E(θ_0) (theory §2), another
    point than the paper's min–max solution."""

    label = "mutant: payoff E/E(θ_0)"

    def payoff(self, state, losses, excess):
        e = np.asarray(excess, dtype=float)
        if state.extra is None:
            state.extra = np.maximum(np.abs(e), 1e-12)
        return e / state.extra


class OffsetOptimumHedge(LinearSpaceHedge):
    """Mutant (rate): ℓ_i^* taken from an early-stopped single-task fit, too high by 10% of the
    initial excess: payoff E_i − δ_i. Hedge equalises E_i − δ_i, a different min–max point."""

    label = "mutant: ℓ* off by 10% of E(θ_0)"

    def payoff(self, state, losses, excess):
        e = np.asarray(excess, dtype=float)
        if state.extra is None:
            state.extra = 0.1 * np.abs(e) * np.linspace(1.0, 0.0, len(e))
        return e - state.extra


class FrozenHedge(LinearSpaceHedge):
    """Mutant (rate): the weights stop updating after 20 steps (a warm-up flag inverted): the
    θ-player then minimises a fixed weighted sum, whose minimiser is not the min–max point."""

    label = "mutant: weights frozen after 20 steps"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        if state.t >= 20:
            return HedgeState(state.t + 1, state.w, state.extra), state.w
        return super().step(state, losses, grads, excess=excess, hessians=hessians)


class UniformMixHedge(LinearSpaceHedge):
    """Mutant (rate): an ε-greedy mix α = 0.8·Hedge + 0.2·uniform (a "stability" tweak): the
    played weights put 0.2/m on inactive tasks forever, so the θ-player converges to the
    minimiser of a mixed weighting, not the min–max point."""

    label = "mutant: 20% uniform mixing"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, w = super().step(state, losses, grads, excess=excess, hessians=hessians)
        return new, 0.8 * w + 0.2 / len(w)


class ArgmaxOnly(LinearSpaceHedge):
    """Mutant (rate): all weight on the task with the largest excess risk (best response, an
    "η_α → ∞" shortcut). Best response to the current θ chatters between active tasks; the
    averaged play converges too slowly (no-regret fails), so gap·√T grows."""

    label = "mutant: best response (argmax E)"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        e = np.asarray(excess, dtype=float)
        w = np.zeros(len(e))
        w[int(np.argmax(e))] = 1.0
        return HedgeState(state.t + 1, w, state.extra), w


class DecayingEtaHedge(LinearSpaceHedge):
    """Mutant (rate): η_α,t = η_α/t² (a schedule meant for the θ-player pasted on the α-player):
    Σ_t η_α,t < ∞, so the weights freeze near their start and the dynamics converge to a fixed
    weighted-sum optimum, not the min–max point."""

    label = "mutant: η_α/t²"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        u = np.asarray(excess, dtype=float)
        eta = self.step_size / (state.t + 1) ** 2
        w = state.w * np.exp(eta * (u - u.max()))
        w = w / w.sum()
        return HedgeState(state.t + 1, w, state.extra), w


class SquaredPayoffHedge(LinearSpaceHedge):
    """Mutant that provably satisfies rate: payoff E_i² (a "smoother" payoff). min_θ max_i E_i²
    has the same θ* as the paper's game, and its multipliers β_i ∝ α*_i/(2E_i(θ*)) are α* again,
    because the active tasks share one value E_i(θ*) = v. At full batch the fixed point and the
    rate are unchanged: it is the conformance harness's job (docs/claims.md). With minibatches
    it is not harmless: E[Ê_i²] = E_i² + Var(Ê_i), a payoff biased by each task's minibatch
    variance, and the paired rule of rate finds it on the inactive-task instance, whose tasks'
    noise differs tenfold (docs/claims.md, a finding of the paired design)."""

    harmless_regimes = (None,)

    label = "mutant: payoff E²"

    def payoff(self, state, losses, excess):
        return np.asarray(excess, dtype=float) ** 2


class RolledPayoffHedge(LinearSpaceHedge):
    """Mutant (rate): task i's weight driven by task i+1's excess risk (an off-by-one in the task
    index). The fixed point weights the wrong tasks: the gap plateaus."""

    label = "mutant: payoff of the next task"

    def payoff(self, state, losses, excess):
        return np.roll(np.asarray(excess, dtype=float), -1)


class GradNormPayoffHedge(LinearSpaceHedge):
    """Mutant (rate): payoff ‖g_i‖² (the Taylor estimate with the Hessian dropped, H = I). It is a
    different function of θ than E_i unless every H_i = I, so Hedge equalises the wrong quantity."""

    label = "mutant: payoff ‖g_i‖²"
    needs = frozenset()

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        u = np.sum(np.asarray(grads, dtype=float) ** 2, axis=1)
        w = state.w * np.exp(self.step_size * (u - u.max()))
        w = w / w.sum()
        return HedgeState(state.t + 1, w, state.extra), w


class FloorHedge(LinearSpaceHedge):
    """Mutant (rate, on an instance with an inactive task): weights clipped below at 0.1/m and
    renormalised (a "no task left behind" tweak). Like uniform mixing it keeps weight on a task
    whose α*_i = 0, so on ``inactive_task_problem`` it converges elsewhere."""

    label = "mutant: weights floored at 0.1/m"
    instance = "inactive"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, w = super().step(state, losses, grads, excess=excess, hessians=hessians)
        w = np.maximum(w, 0.1 / len(w))
        return new, w / w.sum()


class OneHotInitHedge(LinearSpaceHedge):
    """Mutant (rate): α_0 = e_1 instead of the uniform 1/m (``np.eye(m)[0]`` for ``np.ones(m)/m``).
    Multiplicative updates keep a zero weight at zero, so only task 1 is ever played and θ goes
    to task 1's optimum, not the min–max point."""

    label = "mutant: α_0 = e_1"

    def init_state(self, n_tasks: int, dim: int) -> HedgeState:
        return HedgeState(0, np.eye(n_tasks)[0])


class StaleExcessHedge(LinearSpaceHedge):
    """Mutant (rate): the payoff is computed once, at θ_0, and reused (a cached estimate never
    refreshed). Hedge then moves all weight to argmax_i E_i(θ_0), a single-task optimum."""

    label = "mutant: payoff frozen at θ_0"

    def payoff(self, state, losses, excess):
        if state.extra is None:
            state.extra = np.asarray(excess, dtype=float).copy()
        return state.extra


class LossRatioHedge(LinearSpaceHedge):
    """Mutant (robustness): GroupDRO with the official scale processing, payoff ℓ_i/ℓ_i(θ_0).
    Label noise raises a task's loss floor ℓ_i^*, so the noisy task's ratio stays highest and its
    weight rises with the noise: it overweights the noisy task, which robustness forbids."""

    label = "mutant: payoff ℓ/ℓ(θ_0)"
    claim = "robustness"
    needs = frozenset()

    def payoff(self, state, losses, excess):
        ls = np.asarray(losses, dtype=float)
        if state.extra is None:
            state.extra = np.maximum(ls, 1e-12)
        return ls / state.extra


class HalfOptimumHedge(LinearSpaceHedge):
    """Mutant (robustness): ℓ_i^* underestimated by half (an early-stopped single-task fit read
    as a lower bound): payoff ℓ_i − ℓ_i^*/2 = E_i + ℓ_i^*/2. Label noise raises ℓ_i^*, so the
    noisy task's payoff and weight rise with the noise, which robustness forbids."""

    label = "mutant: ℓ* underestimated by half"
    claim = "robustness"

    def payoff(self, state, losses, excess):
        ls, e = np.asarray(losses, dtype=float), np.asarray(excess, dtype=float)
        return e + 0.5 * (ls - e)


CORRECT = [LinearSpaceHedge, LaggedHedge, OfficialScaleHedge]
MUTANTS = [LossHedge, SignFlippedHedge, FirstBaselineHedge, OffsetOptimumHedge, FrozenHedge,
           UniformMixHedge, ArgmaxOnly, DecayingEtaHedge]
# more mutants, each with the claim that must reject it (``claim``, default rate) and, where the
# default families cannot tell, the instance (``instance``)
MORE_MUTANTS = [RolledPayoffHedge, GradNormPayoffHedge, FloorHedge, OneHotInitHedge,
                StaleExcessHedge, LossRatioHedge, HalfOptimumHedge]
# mutants that provably satisfy their claim: the conformance harness's job (docs/claims.md)
PROVABLE_SURVIVORS = [SquaredPayoffHedge]
