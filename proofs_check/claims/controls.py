"""Deliberately wrong methods: the negative controls each claim check must reject (tests/).

They share the reference's step interface so every check can be driven with them unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import reference as R


class SignFlippedExcessMTL(R.ExcessMTL):
    """log α ← log α − η_α Ê: raises the weight of the task with the *smallest* excess risk."""

    name = "SignFlippedExcessMTL"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, _ = super().step(state, losses, grads, excess=excess, hessians=hessians)
        # the reference added η_α·ẽ (up to a constant); subtract it instead, and re-centre so
        # log α stays bounded
        flipped = 2 * state.log_alpha - new.log_alpha
        flipped = replace(new, log_alpha=flipped - np.max(flipped))
        return flipped, self.weights(flipped)


class UnnormalisedExcessMTL(R.ExcessMTL):
    """α ← α ⊙ exp(η_α Ê) without renormalisation (log α accumulates η_α Ê, α = exp(log α)):
    Σα grows without bound, so the effective θ-step does too."""

    name = "UnnormalisedExcessMTL"

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        new, _ = super().step(state, losses, grads, excess=excess, hessians=hessians)
        assert new.estimate is not None          # ExcessMTL.step always sets it
        log_alpha = state.log_alpha + self.step_size * new.estimate
        raw = replace(new, log_alpha=log_alpha)
        return raw, np.exp(log_alpha)
