"""The corpus: every port, the loop it is recorded in, what it does differently from the
official code, and what a right diagnosis says.

Every port is checked against the same claim, the official code as its README runs it
(``convention="official"``, η_α = 1, float64 tolerances), so the table answers one question:
what does this port do differently from the official code? A port's truth (``expect``) comes
from reading its code, not from the oracle. Identical implementations share one recording
(``recording`` is cached on the implementation and the loop).

The verdict of a report (``verdict``):

* exact: an expected explanation is reported exactly (the options and their values, within
  1e-9 relative, and the precision); an expected non-explanation is reported unexplained, at
  the expected first divergent step, with the expected component first differing;
* partial: the right options with other values, the right explanation with another precision,
  or unexplained at the right step with another component;
* wrong: anything else (a pass, a wrong explanation, an explanation of what the oracle cannot
  know).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import reference as R
from proofs_check import conformance as C

from .adaomd import FederatedExcessMTL, SyntheticExcessMTL
from .libmtl import LibMTLExcessMTL
from .poimtlnet import PoiMtlNetExcessMTL
from .stereo import StereoDistillExcessMTL
from .torchjd import TorchJDExcessMTL

CLAIM = {"method": "excessmtl", "convention": "official", "step_size": 1.0, "dtype": "float64"}


@dataclass(frozen=True)
class Loop:
    """A minibatch loop on linear tasks: per-task minibatch losses and gradients go to the
    weighting, θ moves along the weighted sum of the gradients. ``start``: θ_0 = 0, or the
    optimum of task k ("optimum:k", a task that starts where it is already solved, as a
    distillation loss whose student starts from the teacher)."""

    n_tasks: int = 3
    steps: int = 40
    noise: tuple[float, ...] = (0.1, 0.3, 1.0)
    seed: int = 0
    lr: float = 0.02
    batch: int = 16
    start: str = "zero"

    def problem(self) -> R.MultiTaskProblem:
        return R.make_linear_problem(self.n_tasks, 4, 128, noise=list(self.noise),
                                     seed=self.seed)

    def run(self, weighting: Callable) -> C.Recorder:
        P = self.problem()
        rec = C.Recorder(weighting)
        rng = np.random.default_rng(self.seed)
        theta = np.zeros(P.dim)
        if self.start.startswith("optimum:"):
            theta = np.array(P.optimal_params[int(self.start.split(":")[1])], dtype=float)
        for _ in range(self.steps):
            rows = rng.integers(0, P.n_samples, size=(P.n_tasks, self.batch))
            losses, grads = P.losses(theta, rows), P.grads(theta, rows)
            w = np.asarray(rec(losses, grads), dtype=float)
            if np.all(np.isfinite(w)):          # a port that returned NaN: the loop goes on
                theta = theta - self.lr * w @ grads
        return rec


@dataclass(frozen=True)
class Expect:
    """What a right report says: ``explained_by`` and ``precision`` when the oracle's model
    covers the departure; otherwise ``step`` (the first divergent step) and ``component`` (the
    quantity of ``localisation``)."""

    explained_by: dict | None = None
    precision: str | None = None
    step: int | None = None
    component: str | None = None


@dataclass(frozen=True)
class Port:
    name: str
    repo: str
    path: str
    commit: str
    differs: str                        # what it does differently from the official code
    impl: tuple                         # (class, keyword items): the re-implementation
    expect: Expect
    loop: Loop = field(default_factory=Loop)

    @property
    def source(self) -> str:
        if not self.commit:
            return self.repo                # a source the index could not attribute
        return f"{self.repo}, `{self.path}` @ {self.commit}"

    def make(self) -> Callable:
        cls, items = self.impl
        return cls(self.loop.n_tasks, **dict(items))

    def check(self) -> C.ConformanceReport:
        return check(self.impl, self.loop)


def _impl(cls, **kw) -> tuple:
    return cls, tuple(sorted(kw.items()))


@functools.lru_cache(maxsize=None)
def recording(impl: tuple, loop: Loop) -> C.Recording:
    """The recording of the implementation ``impl`` in ``loop``, made once."""
    cls, items = impl
    return loop.run(cls(loop.n_tasks, **dict(items))).recording


@functools.lru_cache(maxsize=None)
def check(impl: tuple, loop: Loop) -> C.ConformanceReport:
    """The oracle's report on that recording against the official code (``CLAIM``), once."""
    return C.check_recording(recording(impl, loop), **CLAIM)


LIBMTL_1E2 = _impl(LibMTLExcessMTL, robust_step_size=1e-2)
OFFICIAL_TORCHJD = "SimplexLab/TorchJD"
ADAOMD = "uiuctml/AdaOMD-TCH"

PORTS = [
    Port("official code, README's η_α = 1", "yifei-he/ExcessMTL",
         "LibMTL/LibMTL/weighting/ExcessMTL.py", "b179956021c9ac26f93f986a35d034ffea38f790",
         "only float32 arithmetic: the estimates go into `torch.zeros(task_num)` and the weights "
         "start as a float32 tensor",
         _impl(LibMTLExcessMTL, robust_step_size=1.0), Expect(precision="float32")),
    Port("LibMTL", "median-research-group/LibMTL", "LibMTL/weighting/ExcessMTL.py",
         "b65c9140c6b51a0cf8b38e4a00e9ab73c768954c",
         "η_α = 1e-2 (the default of `LibMTL/config.py`), float32",
         LIBMTL_1E2, Expect({"step_size": 0.01}, "float32")),
    Port("VT-Solution (a LibMTL copy)", "srikesh-07/VT-Solution",
         "LibMTL/weighting/ExcessMTL.py", "3a6e1d948decc754d4b570c1e95982d725373925",
         "η_α = 1e-2 (the default of `LibMTL/args.py`), float32",
         LIBMTL_1E2, Expect({"step_size": 0.01}, "float32")),
    Port("MMRRec", "panda0xm/MMRRec", "weighting/ExcessMTL.py",
         "34766f8ca11c46662ccd53a4a437a91b373f36f1",
         "η_α = 1e-2 written into the code, float32",
         LIBMTL_1E2, Expect({"step_size": 0.01}, "float32")),
    Port("TorchJD v0.17 (`n_warmup_steps=0`, the default)", OFFICIAL_TORCHJD,
         "src/torchjd/aggregation/_excess_mtl.py", "5a373b436cbd9f5ea30d4f5d4c3a6ecf87f40fa3",
         "Σα = 1; the first call updates with the raw estimate; the baseline is divided "
         "with ε = 1e-7",
         _impl(TorchJDExcessMTL, robust_step_size=1.0, n_warmup_steps=0),
         Expect({"convention": "paper", "first_step_update": True, "baseline_eps": 1e-7})),
    Port("TorchJD, PR #747 before review (`n_warmup_steps=1`, the default)", OFFICIAL_TORCHJD,
         "src/torchjd/aggregation/_excess_mtl.py", "ceaaf1289c32334bb543fc2b6d41d688f8074d06",
         "Σα = 1; the baseline is divided with ε = 1e-7",
         _impl(TorchJDExcessMTL, robust_step_size=1.0, n_warmup_steps=1),
         Expect({"convention": "paper", "baseline_eps": 1e-7})),
    Port("TorchJD v0.17 as configured for the paper's warm-up (`n_warmup_steps=3`, "
         "`robust_step_size=0.5`)", OFFICIAL_TORCHJD,
         "src/torchjd/aggregation/_excess_mtl.py", "5a373b436cbd9f5ea30d4f5d4c3a6ecf87f40fa3",
         "Σα = 1; the baseline is the mean of 3 warm-up estimates, divided with ε = 1e-7; "
         "η_α = 0.5",
         _impl(TorchJDExcessMTL, robust_step_size=0.5, n_warmup_steps=3),
         Expect({"convention": "paper", "warmup": 3, "baseline_eps": 1e-7,
                 "step_size": 0.5})),
    Port("AdaOMD-TCH, federated `ExcessMTL`", ADAOMD, "FL/scripts/methods/ExcessMTL.py",
         "92d3499907e587beb78db19b2f19c3032f052792",
         "Σα = 1; the round applies the weights of the round before (updated after the model "
         "step); η_α = `--learning-rate-lambda` (0.1 here, from the swept 0.001 … 1); float32",
         _impl(FederatedExcessMTL, learning_rate_lambda=0.1),
         Expect({"convention": "paper", "lagged": True, "step_size": 0.1}, "float32")),
    Port("AdaOMD-TCH, federated `AdaExcessMTL` (same weighting step)", ADAOMD,
         "FL/scripts/methods/AdaExcessMTL.py", "92d3499907e587beb78db19b2f19c3032f052792",
         "as the federated `ExcessMTL`: its weighting step is the same; only the reported "
         "model is averaged differently",
         _impl(FederatedExcessMTL, learning_rate_lambda=0.1),
         Expect({"convention": "paper", "lagged": True, "step_size": 0.1}, "float32")),
    Port("AdaOMD-TCH, synthetic `ExcessMTLCore` (libmoon-style solver, `--eta 1.0`)", ADAOMD,
         "synthetic/libmoonRAW/solver/gradient/methods/core/core_solver.py",
         "463a959c9c1288bbe3ccb9dd7ac1dd5eda5e16d6",
         "Σα = 1; the first call updates with estimate/baseline, all ones, which moves "
         "nothing; float32",
         _impl(SyntheticExcessMTL, eta=1.0), Expect({"convention": "paper"}, "float32")),
    Port("AdaOMD-TCH, synthetic `ExcessMTLCore` at the runner's default `--eta 0`", ADAOMD,
         "synthetic/libmoonRAW/solver/gradient/methods/core/core_solver.py",
         "463a959c9c1288bbe3ccb9dd7ac1dd5eda5e16d6",
         "Σα = 1 and η_α = 0: the weights never move, which no option of the reference "
         "describes (η_α must be positive)",
         _impl(SyntheticExcessMTL, eta=0.0), Expect(step=1, component="normalisation")),
    Port("PoiMtlNet", "VitorHugoOli/PoiMtlNet", "src/losses/excess_mtl/loss.py",
         "84da311128b9d7197e0b41f71ee4230592319650",
         "η_α = 1e-2; the baseline floored at 1e-7 (not reached here); float64 in a float64 "
         "loop", _impl(PoiMtlNetExcessMTL), Expect({"step_size": 0.01})),
    Port("PoiMtlNet, a task that starts at its optimum", "VitorHugoOli/PoiMtlNet",
         "src/losses/excess_mtl/loss.py", "84da311128b9d7197e0b41f71ee4230592319650",
         "the weights are updated in linear space: with a first estimate near 0, "
         "exp(η·estimate/baseline) overflows and the weights are NaN from step 2 (the "
         "reference works in log space)",
         _impl(PoiMtlNetExcessMTL), Expect(step=2, component="weights"),
         Loop(steps=40, noise=(0.1, 0.3, 1e-5), start="optimum:2")),
    Port("stereo distillation (`ysstereo`, `StereoLabelDistiller`)",
         "not identified: repository, file and commit unknown (the code index holds the file, "
         "id 53886281944, but names no repository)", "", "",
         "η_α = 1e-2 written into the code; weights clamped to [0.1, 5] after normalising "
         "and kept (with two tasks, 5 is never reached); everything float32",
         _impl(StereoDistillExcessMTL), Expect({"step_size": 0.01, "clamp_min": 0.1},
                                               "float32"),
         Loop(n_tasks=2, noise=(0.1, 0.01), lr=0.05, start="optimum:1")),
]


def _same(got: dict, want: dict) -> bool:
    if set(got) != set(want):
        return False
    for k, v in want.items():
        g = got[k]
        if isinstance(v, float) and not isinstance(v, bool):
            if not (isinstance(g, float) and abs(g - v) <= 1e-9 * abs(v)):
                return False
        elif g != v:
            return False
    return True


def verdict(port: Port, report: C.ConformanceReport) -> str:
    """"exact", "partial" or "wrong" (module docstring)."""
    want = port.expect
    if report.passed:
        return "wrong"
    if want.explained_by is not None or want.precision is not None:
        got = report.explained_by or {}
        if want.explained_by is None and report.explained_by is not None:
            return "wrong"
        if _same(got, want.explained_by or {}):
            return "exact" if report.precision == want.precision else "partial"
        if want.explained_by and set(got) == set(want.explained_by):
            return "partial"
        return "wrong"
    if report.explained_by is not None:
        return "wrong"
    loc = report.localisation or {}
    if report.first_divergence_step != want.step:
        return "wrong"
    return "exact" if loc.get("quantity") == want.component else "partial"


ORDER = ("convention", "weight_sum", "step_size", "sign_flip", "first_step_update", "warmup",
         "scale_processing", "baseline_eps", "eps", "eps_outside", "sqrt_accumulator",
         "accumulate_after", "clamp_min", "clamp_max", "clamp_output_only", "lagged")


def said(report: C.ConformanceReport) -> str:
    """What the oracle says, in one table cell."""
    if report.passed:
        return "PASS"
    parts = []
    if report.explained_by is not None:
        keys = sorted(report.explained_by, key=lambda k: (ORDER.index(k) if k in ORDER
                                                          else len(ORDER), k))
        parts.append("explained by " + ", ".join(
            f"{k}={report.explained_by[k]:g}" if isinstance(report.explained_by[k], float)
            else f"{k}={report.explained_by[k]!r}" for k in keys))
    if report.precision is not None:
        parts.append(f"precision {report.precision}")
    if report.explained_by is None and report.precision is None:
        loc = report.localisation
        parts.append("not explained; " + (
            f"first differs at step {loc['step']}: {loc['quantity']} ({loc.get('detail', '')})"
            if loc else f"first divergence at step {report.first_divergence_step}"))
    return "; ".join(parts)
