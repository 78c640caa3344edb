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


CORRECT = [LinearSpaceHedge, LaggedHedge, OfficialScaleHedge]
MUTANTS = [LossHedge, SignFlippedHedge, FirstBaselineHedge, OffsetOptimumHedge, FrozenHedge,
           UniformMixHedge, ArgmaxOnly, DecayingEtaHedge]
