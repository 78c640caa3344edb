"""The rate claim's grid and its shared pieces (``rate``, ``official_reduction``): the growth
thresholds of the decision rules, the log grid of horizons T, the seeds' starts θ_0 and the
averaged iterates (θ̄_T, ᾱ_T). Their own module, so that both claims build on it and neither on
the other (docs/api.md, "Layers")."""

from __future__ import annotations

import numpy as np

from . import theory

GROWTH_STOCHASTIC = 10 ** 0.25
GROWTH_DETERMINISTIC = 10 ** -0.25


def seed_starts(setup: theory.GameSetup, seeds: list[int]) -> np.ndarray:
    """θ_0 per seed: c + (R/2)·u_s with u_s uniform on the unit sphere (default_rng(s))."""
    out = []
    for s in seeds:
        u = np.random.default_rng(s).standard_normal(setup.center.shape[0])
        out.append(setup.center + 0.5 * setup.radius * u / np.linalg.norm(u))
    return np.array(out)


def horizons(steps: int, points: int = 21) -> np.ndarray:
    """A log grid over the last two decades, [T/100, T]."""
    return np.unique(np.round(np.logspace(np.log10(max(steps / 100, 1)), np.log10(steps),
                                          points)).astype(int))


def _averages(thetas: np.ndarray, weights: np.ndarray, T: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """θ̄_T = mean(θ_0..θ_{T−1}), ᾱ_T = mean(α_1..α_T) on the simplex, at each T (time first)."""
    steps = weights.shape[0]
    tb = np.cumsum(thetas[:-1], axis=0) / np.arange(1, steps + 1).reshape(-1, *[1] * (
        thetas.ndim - 1))
    w = weights / weights.sum(axis=-1, keepdims=True)
    ab = np.cumsum(w, axis=0) / np.arange(1, steps + 1).reshape(-1, *[1] * (weights.ndim - 1))
    return tb[T - 1], ab[T - 1]
