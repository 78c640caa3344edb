"""The array-namespace mirror of the reference for large batched runs (NumPy or CuPy).

Same public API as ``reference`` for problems, methods, ``run`` and metrics, plus batched forms
over B replicas (arrays (B, m, ...)). ``backend="cupy"`` needs CuPy and a GPU and never falls back
to the CPU silently (``gpu.backend.BackendUnavailable``). On NumPy, logistic losses take a fused
numba pass, and ``run_batched(..., record="final")`` a compiled run, where numba (the ``fast``
extra) is installed and ``EXCESSMTL_ORACLE_NO_NUMBA`` is unset (``gpu.cpu_fused``).
"""

from reference import IMTLG, MGDA, EqualWeights, ExcessMTL, GroupDRO

from .backend import BACKENDS, BackendUnavailable, namespace, require_cupy, to_numpy
from .loop import BatchedTrajectory, run, run_batched
from .metrics import duality_gap, is_dominated, minmax_solution, pareto_stationarity
from .problems import (BatchedProblem, from_reference, make_linear_batch, make_linear_problem,
                       make_logistic_batch, make_logistic_problem, random_logistic_batch)
from .weighting import BatchedMethod, batched

__all__ = [
    "BACKENDS", "BackendUnavailable", "BatchedMethod", "BatchedProblem", "BatchedTrajectory",
    "EqualWeights", "ExcessMTL", "GroupDRO", "IMTLG", "MGDA", "batched", "duality_gap",
    "from_reference", "is_dominated", "make_linear_batch", "make_linear_problem",
    "make_logistic_batch", "make_logistic_problem", "minmax_solution", "namespace",
    "pareto_stationarity", "random_logistic_batch",
    "require_cupy", "run", "run_batched", "to_numpy",
]
