"""One grid cell: every method on the cell's problem, over the grid's seeds, batched through
``gpu/`` (NumPy or CuPy). A pure function of its arguments, so any Dask worker can run it and a
lost cell can be recomputed identically.

Per seed s and method, at θ_T (the last iterate):
  max_excess       = max_i E_i(θ_T)
  alpha_noisy      = α_{T,0} / Σ_i α_{T,i}      (task 0 is the noisy task; weights on Δ_m)
  clean_max_excess = max_{i ≥ 1} E_i(θ_T)
  gap              = max_i E_i(θ_T) − min_θ max_i E_i(θ)   (the min–max value, exact)
  start_is_saddle  = the method scale-processes (ExcessMTL) and θ₀ already is the scaled
                     saddle, min_θ max_i E_i(θ)/E_i(θ₀) ≥ 1 − 1e-6, so its weights cannot move:
                     ``holds`` does not count such a row as robust
Every run starts at the cell's ``theta0`` (``proofs_check.theta0``; default "zero"; task 0 is the
noisy task, the others the clean ones).
Whether the robustness claim holds compares cells (``holds.py``).
"""

from __future__ import annotations

import warnings

import numpy as np

import gpu
import reference as R
from reference.sampling import SamplerKind

from ..claims.common import BATCHED, smoothness, weight_sum
from ..claims.robustness_scope import start_is_saddle as scaled_saddle
from ..theta0 import initial_point, parse
from .grid import parse_method

METRICS = ("max_excess", "alpha_noisy", "clean_max_excess", "gap", "start_is_saddle")


def noise_vector(s: dict) -> list[float]:
    """Task 0 at the cell's ``noise``; the others at ``clean_noise`` (default: σ 0.1 / ρ 0)."""
    clean = s.get("clean_noise", 0.0 if s["family"] == "logistic" else 0.1)
    return [s["noise"]] + [clean] * (s["n_tasks"] - 1)


def build_problems(s: dict, seeds: list[int]) -> list[R.MultiTaskProblem]:
    noise = noise_vector(s)
    if s["family"] == "linear":
        return [R.make_linear_problem(s["n_tasks"], s["dim"], s["n_samples"], noise=noise,
                                      seed=seed) for seed in seeds]
    return [R.make_logistic_problem(s["n_tasks"], s["dim"], s["n_samples"], flip=noise,
                                    seed=seed) for seed in seeds]


def build_method(name: str, s: dict) -> R.WeightingMethod:
    spec = parse_method(name)
    if spec["kind"] == "ExcessMTL":
        return R.ExcessMTL(spec["estimator"] or s["estimator"], spec["convention"],
                           step_size=s["step_size"], warmup=s["warmup"],
                           scale_processing=s["scale_processing"])
    if spec["kind"] == "GroupDRO":
        return R.GroupDRO(spec["convention"], step_size=s["step_size"])
    return R.EqualWeights(spec["convention"])


def starts(s: dict, problems, seeds: list[int]) -> np.ndarray:
    """θ₀ of each seed's problem, (S, d)."""
    start = parse(s.get("theta0", "zero"))
    clean = tuple(range(1, s["n_tasks"]))
    return np.array([initial_point(start, p, seed, clean) for p, seed in zip(problems, seeds)])


def _scale_processed(name: str, s: dict) -> bool:
    """The method divides its payoff by E(θ₀): only then can a start be the fixed point."""
    return parse_method(name)["kind"] == "ExcessMTL" and bool(s["scale_processing"])


def start_is_saddle(problems, theta0: np.ndarray) -> np.ndarray:
    """(S,) 1.0 where θ₀ already is the saddle of the scaled game max_i E_i(θ)/E_i(θ₀)."""
    return np.array([float(scaled_saddle(p, t)) for p, t in zip(problems, theta0)])


def final_state(problems: list[R.MultiTaskProblem], method: R.WeightingMethod, steps: int,
                lr: float, batch_size: int | None, sampler: SamplerKind,
                seeds: list[int], backend: str, theta0: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Final weights and excess risks, (S, m) each; NaN rows for a replica that diverged."""
    if type(method) in BATCHED:
        batch = gpu.from_reference(problems, backend=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", R.DivergenceWarning)
            traj = gpu.run_batched(batch, method, steps, lr=lr, record="final", theta0=theta0,
                                   batch_size=batch_size, sampler=sampler, seeds=seeds)
        return np.asarray(traj.weights[0], float), np.asarray(traj.excess[0], float)
    m = problems[0].n_tasks
    w, e = np.full((len(problems), m), np.nan), np.full((len(problems), m), np.nan)
    for k, p in enumerate(problems):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", R.DivergenceWarning)
                tr = R.run(p, method, steps, lr=lr, batch_size=batch_size, sampler=sampler,
                           seed=seeds[k], theta0=None if theta0 is None else theta0[k])
        except (FloatingPointError, R.DivergenceWarning):
            continue
        w[k], e[k] = tr.weights[-1], tr.excess[-1]
    return w, e


def run_cell(settings: dict, seeds: list[int], steps: int, methods: list[str],
             backend: str = "numpy") -> dict:
    """Every method on the cell's problem over ``seeds``: a dict of arrays, (M, S, m) weights
    (on the simplex) and excess risks, (S,) min–max values, and the (M, S) metrics."""
    problems = build_problems(settings, seeds)
    th0 = starts(settings, problems, seeds)
    saddle = start_is_saddle(problems, th0) if "theta0" in settings else np.zeros(len(seeds))
    minmax = np.array([R.minmax_solution(p).value for p in problems])
    L = max(smoothness(p) for p in problems)
    b = settings["batch_size"] or None
    Ws, Es = [], []
    for name in methods:
        method = build_method(name, settings)
        base = 1.0 / L if settings["lr"] is None else settings["lr"]
        lr = base / weight_sum(problems[0], method)
        w, e = final_state(problems, method, steps, lr, b, settings["sampler"], seeds, backend,
                           theta0=th0)
        Ws.append(w / w.sum(axis=1, keepdims=True))
        Es.append(e)
    W, E = np.stack(Ws), np.stack(Es)
    out = {"weights": W, "excess": E, "minmax": minmax,
           "max_excess": E.max(axis=2), "alpha_noisy": W[:, :, 0],
           "clean_max_excess": E[:, :, 1:].max(axis=2), "gap": E.max(axis=2) - minmax,
           "start_is_saddle": np.array([saddle * _scale_processed(name, settings)
                                        for name in methods])}
    return out


def rows(cell: dict, result: dict, seeds: list[int], methods: list[str]) -> list[dict]:
    """One tidy row per seed × method, with the cell's axes by their key names."""
    out = []
    for i, name in enumerate(methods):
        for k, seed in enumerate(seeds):
            row = dict(cell)
            row.update(seed=seed, method=name)
            row.update({key: float(result[key][i, k]) for key in METRICS})
            out.append(row)
    return out
