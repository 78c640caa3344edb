"""Record a weighting inside a real training loop, then replay the reference on exactly what it
saw.

Whatever the model, batch size, dtype, optimiser or device, a weighting call sees (losses,
task gradients) and returns weights. ``Recorder`` stores those per call as float64 copies;
``check_recording`` feeds the same inputs to the reference and compares step by step, with the
same diagnosis as ``check_weighting`` (``explained_by``, float32 recognition)::

    rec = Recorder(my_weighting)              # a plain function (losses, grads) -> weights
    ...  w = rec(losses, grads)  ...          # in the loop, in place of my_weighting
    report = check_recording(rec, convention="paper")

    with record(aggregator) as rec:           # a TorchJD Weighting or aggregator: a forward hook
        ...  the training loop, unchanged  ...
    report = check_recording(rec, convention="paper")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

import reference as R

from .. import limits
from ..inputs import InputFileError, read_npz
from ..report import atomic
from .adapters import dtype_name, is_torch_module, to_numpy, torchjd_weighting
from .harness import ConformanceReport, MethodSpec, judge, positive_step_size, tolerances

_PRECISION = ("float64", "float32", "bfloat16", "float16")   # most to least precise
RECORDING_KEY = "excessmtl_oracle_recording_dtype"


@dataclass(frozen=True)
class Recording:
    """Per weighting call t = 1..T: ``losses`` (T, m) or None (the weighting never saw them),
    ``grads`` (T, m, d), the ``weights`` (T, m) it returned, and ``dtype``: the least precise
    dtype among its inputs and outputs."""

    losses: np.ndarray | None
    grads: np.ndarray
    weights: np.ndarray
    dtype: str = "float64"

    def __post_init__(self) -> None:
        if self.weights.ndim != 2:
            raise ValueError(f"weights must have shape (T, m), got {self.weights.shape}")
        T, m = self.weights.shape
        if T < 1 or m < 1:
            raise ValueError(f"a recording must hold at least one step of at least one task; "
                             f"this one has weights of shape {self.weights.shape}")
        if self.grads.ndim != 3 or self.grads.shape[:2] != (T, m):
            raise ValueError(f"grads must have shape ({T}, {m}, d), got {self.grads.shape}")
        if self.losses is not None and self.losses.shape != (T, m):
            raise ValueError(f"losses must have shape ({T}, {m}), got {self.losses.shape}")

    @property
    def steps(self) -> int:
        return len(self.weights)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write one ``.npz`` (to a temporary file, then renamed). An existing file is replaced
        only if it is a recording saved by us and ``overwrite`` is True."""
        arrays = {"grads": self.grads, "weights": self.weights, RECORDING_KEY: np.array(self.dtype)}
        if self.losses is not None:
            arrays["losses"] = self.losses
        return atomic.save_marked_npz(path, arrays, key=RECORDING_KEY, what="recording",
                                      overwrite=overwrite)


def load_recording(path: str | Path, *, name: str = "path") -> Recording:
    """A recording saved by ``Recording.save``. ``name`` (the argument or option that gave
    ``path``) is named in every error: a file that is not regular (a FIFO, a device, a
    directory), is empty, truncated or corrupt, claims arrays larger than it holds, is above the
    memory limit (``proofs_check.limits``), or holds no step."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"{name} must be a path to a recording (.npz), got "
                        f"{type(path).__name__}")
    p = Path(path)

    def bad(why: str) -> ValueError:
        return ValueError(f"{name}: {p} is not a saved recording: {why}")

    try:
        z = read_npz(p, name, ("losses", "grads", "weights", RECORDING_KEY),
                     limits.max_bytes())
    except InputFileError as exc:
        raise bad(exc.why) from None
    missing = [k for k in ("grads", "weights", RECORDING_KEY) if k not in z]
    if missing:
        raise bad(f"it lacks the arrays {missing}")
    marker = z[RECORDING_KEY]
    if marker.shape != () or marker.dtype.kind != "U" or str(marker) not in _PRECISION:
        raise bad(f"its {RECORDING_KEY} must be one of {_PRECISION}, got {marker!r}")
    arrays = {}
    for key, ndim, shape in (("weights", 2, "(T, m)"), ("grads", 3, "(T, m, d)"),
                             ("losses", 2, "(T, m)")):
        if key not in z:
            continue
        a = z[key]
        if a.dtype.kind not in "fiu":
            raise bad(f"{key} must hold real numbers, got dtype {a.dtype}")
        if a.ndim != ndim:
            raise bad(f"{key} must have shape {shape}, got {a.shape}")
        arrays[key] = a.astype(np.float64, copy=False)
    if arrays["weights"].shape[0] == 0:
        raise bad("it holds 0 steps (the weighting was never called)")
    try:
        return Recording(losses=arrays.get("losses"), grads=arrays["grads"],
                         weights=arrays["weights"], dtype=str(marker))
    except ValueError as exc:
        raise bad(str(exc)) from None


class Recorder:
    """Wrap a weighting function ``fn(losses, grads) -> weights`` (NumPy arrays or torch
    tensors, any dtype or device): calling the recorder calls ``fn`` unchanged and stores a
    float64 copy of its inputs and output. ``Recorder()`` with no function records what is
    passed to ``add(losses, grads, weights)``."""

    def __init__(self, fn: Callable | None = None) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be a callable (losses, grads) -> weights, got "
                            f"{type(fn).__name__}")
        self.fn = fn
        self._losses: list[np.ndarray | None] = []
        self._grads: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._dtypes: set[str] = set()

    def __call__(self, losses, grads):
        if self.fn is None:
            raise TypeError("this Recorder wraps no function: call add(losses, grads, weights)")
        out = self.fn(losses, grads)
        self.add(losses, grads, out)
        return out

    def add(self, losses, grads, weights) -> None:
        """Record one call: its losses (or None), task gradients (m, d) and returned weights."""
        g = to_numpy(grads)
        w = to_numpy(weights).reshape(-1)
        if g.ndim != 2 or g.shape[0] != w.shape[0]:
            raise ValueError(f"grads must be (m, d) with m = {w.shape[0]} weights, got shape "
                             f"{g.shape}")
        self._losses.append(None if losses is None else to_numpy(losses).reshape(-1))
        self._grads.append(g)
        self._weights.append(w)
        self._dtypes |= {dtype_name(x) for x in (losses, grads, weights) if x is not None}

    def __len__(self) -> int:
        return len(self._weights)

    @property
    def recording(self) -> Recording:
        """What was recorded so far. A recording keeps one shape: a number of tasks or of
        parameters that changes between calls is a ``ValueError`` naming the first call where
        it does (record each run in its own ``Recorder``)."""
        if not self._weights:
            raise ValueError("nothing was recorded: the weighting was never called")
        _same_shapes(self._grads, self._losses)
        no_losses = any(x is None for x in self._losses)
        known = [d for d in _PRECISION if d in self._dtypes]
        losses = cast("list[np.ndarray]", self._losses)          # none is None
        return Recording(losses=None if no_losses else np.stack(losses),
                         grads=np.stack(self._grads), weights=np.stack(self._weights),
                         dtype=known[-1] if known else "float64")


def _same_shapes(grads: list[np.ndarray], losses: list[np.ndarray | None]) -> None:
    """Every call's gradients of the first call's shape (m, d), and its losses of length m (or
    none on every call)."""
    first = grads[0].shape
    for t, g in enumerate(grads, start=1):
        if g.shape != first:
            what = "number of tasks" if g.shape[0] != first[0] else "number of parameters"
            raise ValueError(f"recording: the {what} changes at call {t}: the task gradients "
                             f"have shape {first} from call 1 and {g.shape} at call {t}; a "
                             "recording must keep one shape (a port that resets its state on "
                             "a new shape, as TorchJD does, starts a new run there: record each "
                             "run in its own Recorder)")
    given = [x is not None for x in losses]
    if any(given) and not all(given):
        t = given.index(not given[0]) + 1
        raise ValueError(f"recording: losses were recorded on some calls and not on others "
                         f"(first change at call {t}); pass them on every call or on none")
    for t, x in enumerate(losses, start=1):
        if x is not None and x.shape != (first[0],):
            raise ValueError(f"recording: the losses at call {t} have shape {x.shape}, expected "
                             f"({first[0]},), one per task")


MIN_STEPS = 2      # the first ExcessMTL step only stores the baseline: nothing to fit before


def _checkable(rec: Recording, method: str) -> None:
    """A recording the reference can be replayed on and a departure fitted to: at least
    ``MIN_STEPS`` steps, finite losses (when the method uses them) and gradients. Non-finite
    *weights* are the port's own output, a finding the report localises, not bad input."""
    if rec.steps < MIN_STEPS:
        raise ValueError(f"recording: it holds {rec.steps} step, and a check needs at least "
                         f"{MIN_STEPS}: the first step of ExcessMTL only stores the baseline, "
                         "so nothing about the update can be compared or fitted; record more "
                         "calls of the weighting")
    arrays = [("grads", rec.grads)]
    if rec.losses is not None and method == "groupdro":
        arrays.insert(0, ("losses", rec.losses))
    elif rec.losses is not None:
        arrays.append(("losses", rec.losses))
    for name, a in arrays:
        bad = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        if bad.any():
            t = int(np.argmax(bad)) + 1
            raise ValueError(f"recording: the {name} at step {t} (of {rec.steps}) hold NaN or "
                             f"inf, and the reference cannot be replayed on them; check the "
                             "training loop (a diverged loss or an overflowing gradient) and "
                             f"record the steps before {t} only")


@contextlib.contextmanager
def record(target: object) -> Iterator[Recorder]:
    """Record every call of ``target`` inside the ``with`` block.

    ``target`` is a TorchJD ``Weighting`` or weighted aggregator (a forward hook records the
    Jacobian matrix it is given and the weights it returns; the hook is removed on exit) or a
    plain function, which the yielded recorder wraps: call the recorder in its place."""
    if is_torch_module(target):
        module = torchjd_weighting(target)
        rec = Recorder()

        def hook(_module, args, output):
            rec.add(None, args[0], output)

        handle = module.register_forward_hook(hook)
        try:
            yield rec
        finally:
            handle.remove()
    elif callable(target):
        yield Recorder(target)
    else:
        raise TypeError(f"target must be a TorchJD Weighting/aggregator or a callable (losses, "
                        f"grads) -> weights, got {type(target).__name__}")


def check_recording(recording: Recording | Recorder, method: str = "excessmtl",
                    convention: str = "official", step_size: float = 1.0, *,
                    rtol: float | None = None, atol: float | None = None,
                    dtype: str | None = None, accept_rescaled: bool = False,
                    **options: object) -> ConformanceReport:
    """Replay the reference ``method`` on exactly the recorded inputs and compare its weights
    with the recorded ones, step by step. ``dtype`` (default: the recording's own) sets the
    default tolerances; ``options`` go to the reference method (e.g. ``warmup=3``).

    A recording that cannot be checked is a ``ValueError`` saying why: fewer than
    ``MIN_STEPS`` steps, NaN or inf in the recorded gradients or losses (naming the step), and,
    from a ``Recorder``, shapes that change between calls. NaN or inf in the returned weights is
    the port's output, reported as a finding."""
    rec = recording.recording if isinstance(recording, Recorder) else recording
    if not isinstance(rec, Recording):
        raise TypeError(f"recording must be a Recording or Recorder, got {type(rec).__name__}")
    dtype = rec.dtype if dtype is None else dtype
    rtol, atol = tolerances(dtype, rtol, atol)
    spec = MethodSpec(method, convention, positive_step_size(step_size), dict(options))
    _checkable(rec, method)
    losses = rec.losses
    if losses is None:
        if method == "groupdro":
            raise ValueError("recording: GroupDRO weights depend on the losses, and this "
                             "recording has none (a TorchJD weighting sees only gradients)")
        losses = np.zeros(rec.weights.shape)       # unused by the other methods
    expected = R.replay(spec.build(), losses, rec.grads)
    return judge(spec, losses, rec.grads, rec.weights, expected, rtol=rtol, atol=atol,
                 accept_rescaled=accept_rescaled, dtype=dtype)
