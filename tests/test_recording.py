"""The oracle inside real training loops: a recorder around the user's weighting call, the
reference replayed on exactly what it saw, the smallest combination of known departures named,
float32 arithmetic recognised as such, and real peers (TorchJD 0.18, LibMTL's code) diagnosed
exactly."""

import json

import numpy as np
import pytest

import reference as R
from proofs_check import conformance as C
from tests.impls import ExcessMTLLinearSpace


def numpy_training_loop(weighting, steps=60, batch=16, lr=0.05, seed=0):
    """A plain minibatch loop on 3 linear tasks: per-task minibatch losses and gradients go to
    ``weighting``, θ moves along the weighted sum of gradients."""
    problem = R.make_linear_problem(3, 4, 128, noise=[0.1, 0.3, 1.0], seed=seed)
    rng = np.random.default_rng(seed)
    theta = np.zeros(problem.dim)
    for _ in range(steps):
        rows = rng.integers(0, problem.n_samples, size=(problem.n_tasks, batch))
        losses, grads = problem.losses(theta, rows), problem.grads(theta, rows)
        w = np.asarray(weighting(losses, grads))
        theta = theta - lr * w @ grads
    return theta


class OneStepLate:
    """A port that updates α after the model step: it returns the weights of the previous call."""

    def __init__(self, m):
        self.inner, self.previous = ExcessMTLLinearSpace(m), np.ones(m)

    def __call__(self, losses, grads):
        out, self.previous = self.previous, self.inner(losses, grads)
        return out


# ------------------------------------------------------------------ record and replay (NumPy)
def test_a_faithful_port_recorded_in_a_minibatch_loop_passes():
    rec = C.Recorder(ExcessMTLLinearSpace(3))
    numpy_training_loop(rec)
    report = C.check_recording(rec, "excessmtl", "official")
    assert len(rec) == 60 and report.passed and report.max_rel_error < 1e-12


@pytest.mark.parametrize("port, explained_by", [
    (lambda: ExcessMTLLinearSpace(3, first_step_update=True, baseline_eps=1e-7),
     {"first_step_update": True, "baseline_eps": 1e-7}),
    (lambda: ExcessMTLLinearSpace(3, sum_to_one=True, sqrt=False, eta=0.5),
     {"convention": "paper", "sqrt_accumulator": False, "step_size": 0.5}),
    (lambda: OneStepLate(3), {"lagged": True}),
])
def test_the_smallest_combination_of_departures_is_named(port, explained_by):
    rec = C.Recorder(port())
    numpy_training_loop(rec)
    report = C.check_recording(rec, "excessmtl", "official")
    assert not report.passed
    assert report.explained_by == explained_by
    # and the reference with exactly those options reproduces the port
    options = dict(explained_by)
    convention = options.pop("convention", "official")
    assert C.check_recording(rec, "excessmtl", convention, **options).passed


def test_accept_rescaled_reports_what_remains_after_the_rescaling():
    rec = C.Recorder(ExcessMTLLinearSpace(3, sum_to_one=True, first_step_update=True))
    numpy_training_loop(rec)
    report = C.check_recording(rec, convention="official", accept_rescaled=True)
    assert not report.passed and report.explained_by == {"first_step_update": True}


def test_an_unknown_departure_is_not_explained():
    class Clipped(ExcessMTLLinearSpace):
        def _update(self, payoff):
            super()._update(np.minimum(payoff, 0.9))    # a clip no port is known to make
    rec = C.Recorder(Clipped(3))
    numpy_training_loop(rec)
    report = C.check_recording(rec)
    assert not report.passed and report.explained_by is None and report.precision is None
    assert any("no combination of up to 3 known departures" in d for d in report.diagnosis)


def test_float32_arithmetic_is_recognised_not_named_a_departure():
    class Float32Port(ExcessMTLLinearSpace):
        def __call__(self, losses, grads):
            return super().__call__(losses, np.asarray(grads, np.float32)).astype(np.float32)
    rec = C.Recorder(Float32Port(3))
    numpy_training_loop(rec)
    assert rec.recording.dtype == "float32"            # read off the returned weights
    report = C.check_recording(rec)                    # checked at float32 tolerance by default
    assert report.passed and report.dtype == "float32" and report.rtol == 1e-4
    strict = C.check_recording(rec, dtype="float64")
    assert not strict.passed and strict.precision == "float32" and strict.explained_by is None
    assert any("float32 size" in d for d in strict.diagnosis)


def test_a_departure_in_float32_is_named_with_its_precision():
    class Float32Late(ExcessMTLLinearSpace):
        def __call__(self, losses, grads):
            return np.float32(super().__call__(losses, np.float32(grads))).astype(float)
    rec = C.Recorder(Float32Late(3, first_step_update=True))
    numpy_training_loop(rec)
    report = C.check_recording(rec, dtype="float64")
    assert report.explained_by == {"first_step_update": True}
    assert report.precision == "float32"


def test_a_recording_round_trips_and_never_overwrites(tmp_path):
    rec = C.Recorder(ExcessMTLLinearSpace(3))
    numpy_training_loop(rec, steps=10)
    path = rec.recording.save(tmp_path / "run.npz")
    again = C.load_recording(path)
    np.testing.assert_array_equal(again.weights, rec.recording.weights)
    assert C.check_recording(again).passed
    with pytest.raises(ValueError, match="exists"):
        rec.recording.save(path)
    (tmp_path / "mine.npz").write_bytes(b"not ours")
    with pytest.raises(ValueError, match="not written by"):
        rec.recording.save(tmp_path / "mine.npz", overwrite=True)


def test_report_to_json_is_plain_json():
    rec = C.Recorder(ExcessMTLLinearSpace(3, first_step_update=True))
    numpy_training_loop(rec, steps=20)
    doc = json.loads(json.dumps(C.check_recording(rec).to_json(), allow_nan=False))
    assert doc["passed"] is False and doc["explained_by"] == {"first_step_update": True}
    assert doc["first_divergence_step"] == 1 and len(doc["expected_at_divergence"]) == 3


@pytest.mark.parametrize("call, name", [
    (lambda: C.Recorder(42), "fn"),
    (lambda: C.check_recording("run.npz"), "recording"),
    (lambda: C.check_recording(C.Recorder()), "nothing was recorded"),
    (lambda: C.check_recording(_recording(), dtype="float8"), "dtype"),
    (lambda: C.check_recording(_recording(), warmpu=3), "warmpu"),
    (lambda: C.check_recording(_recording(losses=None), "groupdro"), "losses"),
])
def test_bad_arguments_are_named(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


def _recording(losses=np.ones((2, 3))):
    return C.Recording(losses=losses, grads=np.ones((2, 3, 4)), weights=np.ones((2, 3)))


# ------------------------------------------------------------------- real peers (torch)
def test_libmtl_transcription_with_float32_zeros_is_diagnosed_as_float32():
    pytest.importorskip("torch")
    from tests.impls_torch import LibMTLExcessMTL
    report = C.check_weighting(C.from_torch(LibMTLExcessMTL(3)), steps=200)
    assert not report.passed and report.precision == "float32"
    assert report.explained_by is None and report.max_rel_error < 1e-5
    assert C.check_weighting(C.from_torch(LibMTLExcessMTL(3)), steps=200, dtype="float32").passed


@pytest.mark.parametrize("convention, rescaled, explained_by", [
    ("paper", False, {"first_step_update": True, "baseline_eps": 1e-7}),
    ("official", False, {"convention": "paper", "first_step_update": True, "baseline_eps": 1e-7}),
    ("official", True, {"first_step_update": True, "baseline_eps": 1e-7}),
])
def test_torchjd_is_diagnosed_as_its_exact_combination(convention, rescaled, explained_by):
    pytest.importorskip("torchjd")
    from torchjd.aggregation import ExcessMTLWeighting
    report = C.check_weighting(C.from_torchjd(ExcessMTLWeighting()), convention=convention,
                               steps=200, accept_rescaled=rescaled)
    assert not report.passed and report.explained_by == explained_by
    options = dict(explained_by)
    fixed = C.check_weighting(C.from_torchjd(ExcessMTLWeighting()),
                              convention=options.pop("convention", convention), steps=200,
                              accept_rescaled=rescaled, **options)
    assert fixed.passed and fixed.max_rel_error < 1e-12


def torch_training_loop(aggregator, dtype, steps=40, batch=32, seed=0):
    """A real TorchJD loop: nn.Linear with 3 outputs (one per task), SGD, minibatches of 32;
    the Jacobian of the task losses is aggregated by ``aggregator``."""
    import torch
    from torchjd.autojac import backward, jac_to_grad
    torch.manual_seed(seed)
    X = torch.randn(256, 5, dtype=dtype)
    Y = X @ torch.randn(5, 3, dtype=dtype) + torch.randn(256, 3, dtype=dtype) * \
        torch.tensor([0.1, 0.3, 1.0], dtype=dtype)
    model = torch.nn.Linear(5, 3).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(steps):
        rows = torch.randint(0, 256, (batch,))
        out = model(X[rows])
        losses = ((out - Y[rows]) ** 2).mean(dim=0)
        opt.zero_grad()
        backward(list(losses))
        jac_to_grad(model.parameters(), aggregator)
        opt.step()


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_a_torchjd_training_loop_is_checked_through_the_recorder(dtype_name):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchjd")
    from torchjd.aggregation import ExcessMTL
    aggregator = ExcessMTL()
    with C.record(aggregator) as rec:
        torch_training_loop(aggregator, getattr(torch, dtype_name))
    assert len(rec) == 40 and rec.recording.dtype == dtype_name
    report = C.check_recording(rec, convention="paper")
    assert not report.passed
    # at float32 tolerance (rtol 1e-4) the baseline's ε = 1e-7 is below what can be resolved
    assert report.explained_by == ({"first_step_update": True, "baseline_eps": 1e-7}
                                   if dtype_name == "float64" else {"first_step_update": True})
    exact = C.check_recording(rec, convention="paper", first_step_update=True, baseline_eps=1e-7)
    assert exact.passed, exact
    if dtype_name == "float64":
        assert exact.max_rel_error < 1e-12
    # the hook is gone after the block
    torch_training_loop(aggregator, getattr(torch, dtype_name), steps=2)
    assert len(rec) == 40


# ------------------------------------------------------------------------------------ CLI
def test_cli_takes_any_factory_argument_name_and_every_reference_option(tmp_path, monkeypatch,
                                                                        capsys):
    from proofs_check.cli import main
    (tmp_path / "ports.py").write_text(
        "from tests.impls import ExcessMTLLinearSpace\n"
        "def libmtl_style(task_num):\n    return ExcessMTLLinearSpace(task_num)\n"
        "def any_name(k):\n    return ExcessMTLLinearSpace(k, warmup=3, baseline_eps=1e-7)\n"
        "def no_argument():\n    return ExcessMTLLinearSpace(3, sqrt=False, eta=0.5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["conformance", "ports:libmtl_style"]) == 0
    assert main(["conformance", "ports:any_name", "--warmup", "3", "--baseline-eps", "1e-7"]) == 0
    assert main(["conformance", "ports:no_argument", "--no-sqrt", "--step-size", "0.5"]) == 0
    capsys.readouterr()
    assert main(["conformance", "ports:any_name", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["explained_by"] == {"warmup": 3, "baseline_eps": 1e-7}


def test_cli_checks_a_saved_recording(tmp_path, capsys):
    from proofs_check.cli import main
    rec = C.Recorder(ExcessMTLLinearSpace(3, first_step_update=True))
    numpy_training_loop(rec, steps=20)
    path = rec.recording.save(tmp_path / "loop.npz")
    assert main(["conformance", "--recording", str(path), "--first-step-update"]) == 0
    assert main(["conformance", "--recording", str(path)]) == 1
    assert "explained by: first_step_update=True" in capsys.readouterr().out
    assert main(["conformance", "--recording", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a saved recording" in err


def test_cli_adapts_a_torchjd_class_and_hints_at_tensors(capsys):
    pytest.importorskip("torchjd")
    from proofs_check.cli import main
    assert main(["conformance", "torchjd.aggregation:ExcessMTLWeighting", "--convention",
                 "paper", "--first-step-update", "--baseline-eps", "1e-7"]) == 0
    assert main(["conformance", "tests.impls_torch:LibMTLExcessMTL"]) == 1
    assert "pass --torch" in capsys.readouterr().out
    assert main(["conformance", "tests.impls_torch:LibMTLExcessMTL", "--torch"]) == 1
    assert "float32 size" in capsys.readouterr().out
    assert main(["conformance", "tests.impls_torch:LibMTLExcessMTL", "--torch", "--dtype",
                 "float32"]) == 0
