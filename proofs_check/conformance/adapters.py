"""Adapters from other frameworks to the harness's ``step_fn(losses, grads) -> weights`` on
NumPy float64 arrays. torch is imported lazily: nothing here needs it until an adapter is used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

StepFn = Callable[[np.ndarray, np.ndarray], object]


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("this adapter needs PyTorch: pip install torch") from exc
    return torch


def to_numpy(x: Any) -> np.ndarray:
    """A float64 NumPy copy of an array or tensor (detached, on the CPU; torch is duck-typed, as
    it is optional)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if hasattr(x, "double"):
            x = x.double()
        x = x.numpy()
    return np.array(x, dtype=float)


def dtype_name(x: object) -> str:
    """'float64', 'float32', … of an array or tensor ('float64' for plain Python numbers)."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        return "float64"
    return str(dt).removeprefix("torch.")


def from_torch(step_fn: Callable, *, dtype: str = "float64", device: str = "cpu") -> StepFn:
    """Adapt a step_fn that takes and returns torch tensors."""
    torch = _torch()
    tdtype = getattr(torch, dtype)

    def wrapped(losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        out = step_fn(torch.as_tensor(losses, dtype=tdtype, device=device),
                      torch.as_tensor(grads, dtype=tdtype, device=device))
        if isinstance(out, torch.Tensor):
            out = out.detach().to("cpu", torch.float64).numpy()
        return np.asarray(out, dtype=float)

    return wrapped


def torchjd_weighting(obj: object) -> Any:
    """The TorchJD ``Weighting`` of ``obj``: the object itself, or an aggregator's ``weighting``."""
    inner = getattr(obj, "weighting", None)
    return inner if inner is not None and hasattr(inner, "forward") else obj


def is_torch_module(obj: object) -> bool:
    return hasattr(obj, "forward") and hasattr(obj, "parameters") and callable(obj)


def from_torchjd(weighting: object, *, dtype: str = "float64", device: str = "cpu") -> StepFn:
    """Adapt a TorchJD ``Weighting`` on the Jacobian matrix (e.g. ``ExcessMTLWeighting()``) or a
    weighted aggregator holding one (``ExcessMTL()``): the losses are not used (TorchJD's
    weightings see only the matrix of task gradients)."""
    torch = _torch()
    module = torchjd_weighting(weighting)
    if not is_torch_module(module):
        raise TypeError(f"from_torchjd needs a TorchJD Weighting or WeightedAggregator, got "
                        f"{type(weighting).__name__}")
    tdtype = getattr(torch, dtype)

    def wrapped(losses: np.ndarray, grads: np.ndarray) -> np.ndarray:
        out = module(torch.as_tensor(grads, dtype=tdtype, device=device))
        return out.detach().to("cpu", torch.float64).numpy()

    return wrapped


def adapt(obj: object) -> StepFn:
    """A step_fn from whatever a user's factory returned: a TorchJD weighting or aggregator is
    adapted with ``from_torchjd``; any other callable is used as it is."""
    if is_torch_module(obj) and type(obj).__module__.startswith("torchjd"):
        return from_torchjd(obj)
    if not callable(obj):
        raise TypeError("expected a callable step_fn(losses, grads) -> weights, got "
                        f"{type(obj).__name__}")
    return obj
