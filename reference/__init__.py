"""excessmtl-oracle NumPy reference: exact, float64, transparent.

Public API (names fixed by issue #2): problem generators, weighting methods, ``run`` and the exact
oracles. See docs/api.md.
"""
from .absolute import AbsoluteLossProblem, make_absolute_problem
from .estimators import ESTIMATORS, adagrad_estimate, exact_estimate, taylor_estimate
from ._validate import UserMethodError
from .loop import (DivergenceError, DivergenceWarning, NonFiniteWeightsError, Problem,
                   Trajectory, replay, run)
from .metrics import EXACT as EXACT_PROBLEMS
from .metrics import (DualityGap, Dominance, ExactProblem, MinmaxSolution, ParetoFront,
                      duality_gap, front_gap, is_dominated, minmax_solution, pareto_front,
                      pareto_stationarity)
from .minnorm import MinNormResult
from .nonconvex import TanhNetProblem, make_tanh_problem
from .optimize import minimize_weighted
from . import nonconvex, sampling
from .sampling import SAMPLERS, MinibatchSampler
from .problems import (MultiTaskProblem, make_linear_problem, make_logistic_problem,
                       problem_from_arrays)
from .weighting import (METHODS, EqualWeights, ExcessMTL, GroupDRO, IMTLG, MGDA, WeightingMethod,
                        WeightState)

__all__ = [
    "AbsoluteLossProblem", "EXACT_PROBLEMS", "ESTIMATORS", "METHODS", "SAMPLERS",
    "DivergenceError", "DivergenceWarning", "Dominance",
    "DualityGap", "EqualWeights", "ExactProblem", "ExcessMTL", "GroupDRO", "IMTLG", "MGDA",
    "MinNormResult",
    "MinibatchSampler", "MinmaxSolution", "MultiTaskProblem", "NonFiniteWeightsError",
    "ParetoFront", "Problem", "TanhNetProblem", "Trajectory", "UserMethodError", "WeightState",
    "WeightingMethod", "adagrad_estimate", "duality_gap",
    "exact_estimate", "front_gap", "is_dominated", "make_absolute_problem", "make_linear_problem",
    "make_logistic_problem", "make_tanh_problem", "minimize_weighted", "minmax_solution",
    "nonconvex", "pareto_front",
    "pareto_stationarity", "problem_from_arrays", "replay", "run", "sampling", "taylor_estimate",
]
