"""``compare``: run several weighting methods on one problem and keep tidy, saveable results.

    import proofs_check as pc
    res = pc.compare(problem, {"mine": MyMethod(), "ExcessMTL": R.ExcessMTL()}, steps=500)
    res.save("runs.npz"); pc.plot_convergence("runs.npz", "convergence")

Each method runs in ``reference.run`` with a constant θ-step. The learning rate is handled here,
not by the caller: ``lr=None`` is the stable step below, and a method whose weights sum to m
(the official convention of the reference classes) gets lr/m, so every method takes the same
θ-steps for the same simplex weights. Recorded quantities are exact and measured on the full
training set: losses ℓ_i(θ_t), excess risks E_i(θ_t) = ℓ_i(θ_t) − ℓ_i*, simplex weights α_t,
and the primal gap max_i E_i(θ_t) − min_θ max_i E_i(θ) of the paper's objective.

1/L is the stable step of gradient descent on one L-smooth task, not of the game: with a large
η_α and no scale processing the weights and θ can settle into a period-2 cycle (θ and α
alternate between two points, the gap stays flat). The coupled map is stable for lr < 2/λ,
λ = λ_max(H_α* + (η/2)·JᵀPJ) at the min–max point (docs/theory.md §3d), so the default
``lr=None`` is min(1/L, 1/λ) with λ the largest over the methods compared
(``stepsize.game_step``): half the limit, as 1/L is half of 2/L. A run that still *ends*
oscillating (a user method, whose gain is unknown, or an explicit lr) is detected
(``oscillation``: over the last ``OSC_WINDOW`` iterates, ‖θ_t − θ_{t−2}‖ <
``OSC_RATIO``·‖θ_t − θ_{t−1}‖ at every step, with an amplitude that does not decay, for θ or the
weights) and reported with an ``OscillationWarning`` that suggests a smaller lr, in
``settings["oscillating"]`` and in the titles of the plots drawn from the result. Measured on 432
full-batch runs (72 linear problems with 3 tasks × 6 methods, 2000 steps; ``pytest -m slow
tests/test_conformance_inference.py -k scan``): 6 end in a period-2 cycle at 1/L, all without
scale processing, none at 0.5/L and none at the default; the warning fires on those 6 and on no
other run.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import reference as R
from reference.sampling import SamplerKind

from .report import atomic
from .claims.common import describe, weight_sum
from .config import noisy_tasks_of
from .stepsize import game_step

COMPARISON_KEY = "excessmtl_oracle_comparison"
OSC_WINDOW = 8       # iterates at the end of a run inspected for a period-2 oscillation
OSC_RATIO = 0.1      # ‖x_t − x_{t−2}‖ below this fraction of ‖x_t − x_{t−1}‖: alternating


class OscillationWarning(UserWarning):
    """``compare``: a run ends in a period-2 oscillation of θ or of the weights instead of
    converging; the θ-step (``lr``) is too large for that method on that problem."""


def oscillation(series: np.ndarray, *, window: int = OSC_WINDOW, ratio: float = OSC_RATIO
                ) -> dict | None:
    """A period-2 oscillation at the end of ``series`` (iterates × dims: θ_0…θ_T or the
    weights), or None.

    Over the last ``window`` iterates, every step must still move (‖x_t − x_{t−1}‖ above 1e-9
    of the scale), come back (‖x_t − x_{t−2}‖ < ``ratio``·‖x_t − x_{t−1}‖) and not die out (the
    last step at least half the first of the window): a cycle, not a damped spiral or a
    converged run. Returns {"step": ‖x_T − x_{T−1}‖, "return": max ‖x_t − x_{t−2}‖}."""
    x = np.asarray(series, dtype=float)
    if x.ndim != 2 or len(x) < window + 2 or not np.all(np.isfinite(x[-window - 2:])):
        return None
    tail = x[-window - 2:]
    one = np.linalg.norm(tail[2:] - tail[1:-1], axis=1)
    two = np.linalg.norm(tail[2:] - tail[:-2], axis=1)
    scale = max(1.0, float(np.abs(tail).max()))
    if np.min(one) <= 1e-9 * scale:
        return None
    if np.max(two) >= ratio * np.min(one) or one[-1] < 0.5 * one[0]:
        return None
    return {"step": float(one[-1]), "return": float(np.max(two))}


@dataclass(frozen=True)
class Comparison:
    """Results of ``compare``. Arrays are indexed (method, seed, step[, task]); ``t`` = 0..T."""

    labels: tuple[str, ...]
    problem: str
    noisy_tasks: tuple[int, ...]
    losses: np.ndarray          # (M, S, T+1, m)
    excess: np.ndarray          # (M, S, T+1, m)
    weights: np.ndarray         # (M, S, T, m), on the simplex
    gap: np.ndarray             # (M, S, T+1): max_i E_i(θ_t) − minmax value
    minmax: float
    optimal_losses: np.ndarray  # (m,)
    front: np.ndarray | None = None      # (K, 2) exact Pareto front when m = 2
    settings: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.losses.shape[2] - 1

    @property
    def n_tasks(self) -> int:
        return self.losses.shape[3]

    @property
    def t(self) -> np.ndarray:
        return np.arange(self.steps + 1)

    def task_label(self, i: int) -> str:
        """'task i', with '(noisy)' for the noisy tasks: the same in every figure."""
        return f"task {i}" + (" (noisy)" if i in self.noisy_tasks else "")

    def rows(self) -> list[dict]:
        """Tidy rows: one per (method, seed, step, task) with loss, excess and weight (the weight
        α_t used at step t ≥ 1; None at t = 0), plus the gap of that step."""
        out = []
        M, S, T1, m = self.losses.shape
        for a in range(M):
            for s in range(S):
                for t in range(T1):
                    for i in range(m):
                        out.append({"method": self.labels[a], "seed": s, "step": t, "task": i,
                                    "loss": float(self.losses[a, s, t, i]),
                                    "excess": float(self.excess[a, s, t, i]),
                                    "weight": None if t == 0 else
                                    float(self.weights[a, s, t - 1, i]),
                                    "gap": float(self.gap[a, s, t])})
        return out

    def to_frame(self) -> object:
        """The tidy rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_frame needs pandas (pip install pandas); rows() gives the same "
                              "table as a list of dicts") from exc
        return pd.DataFrame(self.rows())

    def final(self) -> dict[str, dict]:
        """Per method: the median over seeds of the final gap, max excess and weights."""
        return {lab: {"gap": float(np.median(self.gap[a, :, -1])),
                      "max_excess": float(np.median(self.excess[a, :, -1].max(axis=-1))),
                      "weights": np.median(self.weights[a, :, -1], axis=0).tolist()}
                for a, lab in enumerate(self.labels)}

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write one ``.npz`` (written to a temporary file, then renamed). An existing file is
        replaced only if it is a comparison saved by us and ``overwrite`` is True."""
        meta = {"labels": list(self.labels), "problem": self.problem,
                "noisy_tasks": list(self.noisy_tasks), "minmax": self.minmax,
                "settings": self.settings}
        arrays = {"losses": self.losses, "excess": self.excess, "weights": self.weights,
                  "gap": self.gap, "optimal_losses": self.optimal_losses,
                  COMPARISON_KEY: np.array(json.dumps(meta))}
        if self.front is not None:
            arrays["front"] = self.front
        return atomic.save_marked_npz(path, arrays, key=COMPARISON_KEY, what="comparison",
                                      overwrite=overwrite)


def load_comparison(path: str | Path) -> Comparison:
    """A ``Comparison`` saved by ``Comparison.save``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file {str(path)!r}")
    if not atomic.has_npz_key(path, COMPARISON_KEY):
        raise ValueError(f"path: {path} is not a comparison saved by proofs_check.compare")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z[COMPARISON_KEY]))
        return Comparison(tuple(meta["labels"]), meta["problem"], tuple(meta["noisy_tasks"]),
                          z["losses"], z["excess"], z["weights"], z["gap"], float(meta["minmax"]),
                          z["optimal_losses"], z["front"] if "front" in z.files else None,
                          meta["settings"])


def as_comparison(results: Comparison | str | Path) -> Comparison:
    if isinstance(results, Comparison):
        return results
    if isinstance(results, (str, Path)):
        return load_comparison(results)
    raise TypeError(f"results must be a Comparison or the path of a saved one, got "
                    f"{type(results).__name__}")


Methods = R.WeightingMethod | Sequence[R.WeightingMethod] | Mapping[str, R.WeightingMethod]
"""What ``compare`` takes: a method, a list of them, or a dict label → method."""


def _labelled(methods: Methods) -> list[tuple[str, R.WeightingMethod]]:
    if isinstance(methods, Mapping):
        items = [(str(k), v) for k, v in methods.items()]
    elif isinstance(methods, Sequence) and not isinstance(methods, str):
        items = [(describe(m), m) for m in methods]
    else:
        items = [(describe(methods), methods)]
    if not items:
        raise ValueError("methods must be a method, a list of methods or a dict label → method, "
                         "not empty")
    labels = [lab for lab, _ in items]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    if dup:
        raise ValueError(f"methods: labels must be unique, {sorted(dup)} repeat; pass a dict "
                         f"label → method")
    for _, m in items:
        R._validate.method_protocol("methods", m)
    return items


def short_name(problem: R.MultiTaskProblem) -> str:
    """'linear, m=2, d=4, n=100, noise [0.1, 1.0]' (figure titles)."""
    noise = "" if problem.noise is None else \
        f", noise {np.round(np.asarray(problem.noise), 4).tolist()}"
    return (f"{problem.loss}, m={problem.n_tasks}, d={problem.dim}, n={problem.n_samples}"
            f"{noise}")


def compare(problem: R.MultiTaskProblem, methods: Methods, steps: int, *,
            lr: float | None = None, batch_size: int | None = None, seeds: int = 1,
            sampler: SamplerKind = "with_replacement",
            noisy_tasks: Sequence[int] | None = None) -> Comparison:
    """Run every method for ``steps`` steps on ``problem`` (``seeds`` minibatch streams when
    ``batch_size`` is set; the full-batch run is deterministic) and record the exact quantities.

    ``methods``: a method, a list (labelled by ``describe``) or a dict label → method.
    ``lr``: the θ-step for weights on the simplex (default min(1/L, 1/λ), theory §3d); Σα = m
    methods get lr/m.
    ``noisy_tasks``: tasks to label "(noisy)" in figures (default: those with the largest noise
    of a generated problem)."""
    if not isinstance(problem, R.MultiTaskProblem):
        raise TypeError(f"problem must be a reference MultiTaskProblem, got "
                        f"{type(problem).__name__}")
    items = _labelled(methods)
    T = R._validate.positive_int("steps", steps)
    S = R._validate.positive_int("seeds", seeds)
    if lr is not None:
        lr = R._validate.real("lr", lr, low=0.0, low_open=True)
    m = problem.n_tasks
    noisy = noisy_tasks_of(problem) if noisy_tasks is None else \
        tuple(R._validate.positive_int("noisy_tasks", i, minimum=0) for i in noisy_tasks)
    if any(i >= m for i in noisy):
        raise ValueError(f"noisy_tasks must be task indices below n_tasks = {m}, got {noisy}")
    base = game_step(problem, [m for _, m in items]) if lr is None else lr
    mm = R.minmax_solution(problem).value
    shape = (len(items), S, T + 1, m)
    losses, excess = np.full(shape, np.nan), np.full(shape, np.nan)
    weights = np.full((len(items), S, T, m), np.nan)
    failures, oscillating = [], []
    for a, (label, method) in enumerate(items):
        step = base / weight_sum(problem, method)
        for s in range(S):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", R.DivergenceWarning)
                    tr = R.run(problem, method, T, lr=step, batch_size=batch_size,
                               sampler=sampler, seed=s)
            except (FloatingPointError, R.DivergenceWarning) as exc:
                failures.append(f"{label}, seed {s}: {exc}")
                continue
            losses[a, s], excess[a, s], weights[a, s] = tr.losses, tr.excess, tr.simplex_weights
            found = oscillation(tr.thetas) or oscillation(tr.simplex_weights)
            if found is not None:
                oscillating.append(f"{label}, seed {s}: ‖x_T − x_(T−1)‖ = {found['step']:.3g}, "
                                   f"‖x_t − x_(t−2)‖ <= {found['return']:.3g}")
    if oscillating:
        warnings.warn(OscillationWarning(
            "compare: " + "; ".join(oscillating) + f" — the run ends in a period-2 "
            f"oscillation (θ or the weights alternate between two points) instead of "
            f"converging, so its final gap is not a limit. The θ-step is too large for it: "
            f"pass a smaller lr, e.g. lr={0.5 * base:.4g} (half the {base:.4g} used; the "
            f"default, min(1/L, 1/λ) of docs/theory.md §3d, is "
            f"{game_step(problem, [m for _, m in items]):.4g})"), stacklevel=2)
    front = R.pareto_front(problem, 61).losses if m == 2 else None
    settings = {"steps": T, "seeds": S, "batch_size": batch_size, "sampler": sampler,
                "lr": "min(1/L, 1/λ)" if lr is None else lr, "base_lr": base, "failures": failures,
                "oscillating": oscillating}
    return Comparison(tuple(lab for lab, _ in items), short_name(problem), noisy, losses, excess,
                      weights, excess.max(axis=-1) - mm, mm, problem.optimal_losses, front,
                      settings)
