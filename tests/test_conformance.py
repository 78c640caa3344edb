"""Conformance harness: the reference and an independent implementation pass; each altered
implementation fails at the step where it departs, with the matching diagnosis."""

import json
import shutil
import sys
import types

import numpy as np
import pytest

import reference as R
from proofs_check import conformance as C
from proofs_check.conformance import golden
from proofs_check.cli import main as cli_main
from tests.impls import ExcessMTLLinearSpace, FrankWolfeMGDA, GroupDROLinearSpace


def reference_step_fn(method):
    """Wrap a reference method as a stateful step_fn."""
    state = {}

    def step(losses, grads):
        if "s" not in state:
            state["s"] = method.init_state(len(losses), grads.shape[1])
        state["s"], w = method.step(state["s"], losses, grads)
        return w
    return step


@pytest.mark.parametrize("convention", ["official", "paper"])
@pytest.mark.parametrize("method, make", [
    ("excessmtl", lambda c: R.ExcessMTL("adagrad", c)),
    ("groupdro", lambda c: R.GroupDRO(c)),
    ("equalweights", lambda c: R.EqualWeights(c)),
    ("mgda", lambda c: R.MGDA()),
])
def test_reference_methods_pass_against_themselves(method, make, convention):
    report = C.check_weighting(reference_step_fn(make(convention)), method, convention)
    assert report.passed and report.first_divergence_step is None
    assert report.max_abs_error == 0.0


def test_an_independent_implementation_passes():
    report = C.check_weighting(ExcessMTLLinearSpace(3), "excessmtl", "official")
    assert report.passed, str(report)
    assert report.max_rel_error < 1e-12


def test_independent_groupdro_passes():
    assert C.check_weighting(GroupDROLinearSpace(3), "groupdro", "official").passed


@pytest.mark.parametrize("alteration, step, diagnosis, explained_by", [
    (dict(first_step_update=True), 1, "updated on the first step", {"first_step_update": True}),
    (dict(sum_to_one=True), 1, "weights sum to 1 instead of m", {"convention": "paper"}),
    (dict(baseline_eps=1e-7), 2, "ε = 1e-07 added to the baseline", {"baseline_eps": 1e-7}),
    (dict(sqrt=False), 2, "missing sqrt in the accumulator", {"sqrt_accumulator": False}),
    (dict(sign=-1.0), 2, "sign flip", {"sign_flip": True}),
    (dict(warmup=3), 2, "warm-up of 3 steps", {"warmup": 3}),
    (dict(eta=0.01), 2, "step size η_α = 0.01", {"step_size": 0.01}),
])
def test_each_altered_implementation_fails_where_it_departs_with_its_diagnosis(
        alteration, step, diagnosis, explained_by):
    report = C.check_weighting(ExcessMTLLinearSpace(3, **alteration), "excessmtl", "official")
    assert not report.passed
    assert report.first_divergence_step == step
    assert any(diagnosis in d for d in report.diagnosis), report.diagnosis
    assert report.explained_by == explained_by


def test_sum_to_one_is_accepted_with_the_option():
    report = C.check_weighting(ExcessMTLLinearSpace(3, sum_to_one=True), "excessmtl", "official",
                               accept_rescaled=True)
    assert report.passed and report.rescaled


def test_sum_to_one_plus_another_departure_is_still_caught_with_the_option():
    report = C.check_weighting(ExcessMTLLinearSpace(3, sum_to_one=True, sqrt=False), "excessmtl",
                               "official", accept_rescaled=True)
    assert not report.passed and report.first_divergence_step == 2


def test_paper_convention_is_the_official_one_divided_by_m():
    report = C.check_weighting(ExcessMTLLinearSpace(3, sum_to_one=True), "excessmtl", "paper")
    assert report.passed


def test_approximate_mgda_is_diagnosed_as_an_approximate_solver():
    report = C.check_weighting(FrankWolfeMGDA(iters=3), "mgda")
    assert not report.passed
    assert any("approximate min-norm solver" in d for d in report.diagnosis), report.diagnosis


def test_an_implementation_that_raises_or_returns_the_wrong_shape_is_reported():
    def raises(losses, grads):
        raise RuntimeError("boom")
    r = C.check_weighting(raises)
    assert not r.passed and "RuntimeError: boom at step 1" in r.diagnosis[0]
    r = C.check_weighting(lambda losses, grads: np.ones(2))
    assert not r.passed and "shape (2,)" in r.diagnosis[0]


def test_bad_arguments_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match="method"):
        C.check_weighting(ExcessMTLLinearSpace(3), "adam")
    with pytest.raises(ValueError, match="convention"):
        C.check_weighting(ExcessMTLLinearSpace(3), convention="sum1")
    with pytest.raises(ValueError, match="steps"):
        C.check_weighting(ExcessMTLLinearSpace(3), steps=0)
    with pytest.raises(ValueError, match="estimator"):
        C.check_weighting(ExcessMTLLinearSpace(3), estimator="exact")
    with pytest.raises(TypeError, match="step_fn"):
        C.check_weighting("not callable")


# ------------------------------------------------------------------------- golden files
def test_every_shipped_golden_file_loads_and_the_reference_reproduces_it():
    assert len(golden.names()) == 14
    for name in golden.names():
        g = golden.load_golden(name)
        method, convention, problem = name.split("-")
        fresh = golden.make_golden(method, convention, problem)
        np.testing.assert_allclose(fresh["weights"], g.weights, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(fresh["grads"], g.grads, rtol=1e-10, atol=1e-13)
        assert golden.check_golden(reference_step_fn(g.spec.build()), name).passed


def test_golden_round_trip(tmp_path):
    """Regenerated golden files agree with the shipped ones within the tolerances the files state
    (never bit for bit: another CPU or BLAS kernel changes the last bits, e.g. 4.4e-16 under
    OPENBLAS_CORETYPE=Haswell)."""
    paths = golden.generate(tmp_path)
    for p in paths:
        a, b = golden.load_golden(p), golden.load_golden(p.stem)
        assert a.meta == b.meta
        for key in ("losses", "grads"):
            np.testing.assert_allclose(getattr(a, key), getattr(b, key), rtol=1e-12, atol=1e-15,
                                       err_msg=f"{p.stem}: {key}")
        np.testing.assert_allclose(a.weights, b.weights, rtol=b.meta["rtol"],
                                   atol=b.meta["atol"], err_msg=f"{p.stem}: weights")


def test_an_altered_implementation_fails_against_a_golden_file():
    report = golden.check_golden(ExcessMTLLinearSpace(3, baseline_eps=1e-7),
                                 "excessmtl-official-logistic")
    assert not report.passed and report.first_divergence_step == 2


def _write(tmp_path, **arrays):
    from proofs_check.report import atomic
    p = tmp_path / "case.npz"
    atomic.write_npz(p, arrays)
    return p


def _good():
    g = golden.load_golden("excessmtl-official-linear")
    return {"losses": g.losses, "grads": g.grads, "weights": g.weights,
            "meta": np.array(json.dumps(g.meta))}


def test_a_truncated_golden_file_gives_a_clear_error(tmp_path):
    src = golden.GOLDEN_DIR / "excessmtl-official-linear.npz"
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(src.read_bytes()[:500])
    with pytest.raises(golden.GoldenFormatError, match="corrupt or truncated"):
        golden.load_golden(bad)


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.pop("weights"), "missing arrays"),
    (lambda a: a.update(weights=a["weights"][:-1]), "inconsistent shapes"),
    (lambda a: a.update(losses=a["losses"].astype(np.float32)), "float64"),
    (lambda a: a.update(grads=a["grads"][0]), "3-D"),
    (lambda a: a["weights"].__setitem__((0, 0), np.nan), "NaN or inf"),
    (lambda a: a.update(meta=np.array("{not json")), "not valid JSON"),
    (lambda a: a.update(meta=np.array(json.dumps({"format_version": 1}))), "lacks fields"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])),
                                                  "format_version": 99}))), "not supported"),
])
def test_malformed_golden_files_are_rejected_on_load(tmp_path, edit, message):
    arrays = _good()
    arrays["weights"] = arrays["weights"].copy()
    edit(arrays)
    with pytest.raises(golden.GoldenFormatError, match=message):
        golden.load_golden(_write(tmp_path, **arrays))


def test_unknown_golden_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="excessmtl-official-linear"):
        golden.load_golden("nope")


# ------------------------------------------------------------------------------ torch
class _FakeTensor:
    """Stands in for torch.Tensor to exercise the adapter's conversions without PyTorch."""

    def __init__(self, a):
        self.a = np.asarray(a, dtype=float)

    def detach(self):
        return self

    def to(self, *args):
        return self

    def numpy(self):
        return self.a


def test_torch_adapter_converts_tensors_both_ways(monkeypatch):
    fake = types.SimpleNamespace(Tensor=_FakeTensor, float64="float64",
                                 as_tensor=lambda x, dtype=None, device=None: _FakeTensor(x))
    monkeypatch.setitem(sys.modules, "torch", fake)
    impl = ExcessMTLLinearSpace(3)
    seen = []

    def torch_step(losses, grads):
        seen.append(type(losses))
        return _FakeTensor(impl(losses.a, grads.a))

    assert C.check_weighting(C.from_torch(torch_step)).passed
    assert seen and all(t is _FakeTensor for t in seen)


def test_torch_adapter_with_real_torch():
    torch = pytest.importorskip("torch")
    impl = ExcessMTLLinearSpace(3)

    def torch_step(losses, grads):
        assert isinstance(losses, torch.Tensor) and losses.dtype == torch.float64
        return torch.as_tensor(impl(losses.numpy(), grads.numpy()))

    assert C.check_weighting(C.from_torch(torch_step)).passed


# -------------------------------------------------------------------------------- CLI
def test_cli_checks_a_factory_and_reports_a_departure(tmp_path, monkeypatch, capsys):
    (tmp_path / "user_impl.py").write_text(
        "from tests.impls import ExcessMTLLinearSpace\n"
        "def good(n_tasks):\n    return ExcessMTLLinearSpace(n_tasks)\n"
        "def bad(n_tasks):\n    return ExcessMTLLinearSpace(n_tasks, sqrt=False)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli_main(["conformance", "user_impl:good"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert cli_main(["conformance", "user_impl:bad", "--golden",
                     "excessmtl-official-logistic"]) == 1
    assert "missing sqrt" in capsys.readouterr().out
    assert cli_main(["conformance", "user_impl:missing"]) == 2
    assert "no attribute" in capsys.readouterr().err


def test_cli_lists_and_writes_golden_files(tmp_path, capsys):
    assert cli_main(["conformance", "--list-golden"]) == 0
    assert "mgda-official-linear" in capsys.readouterr().out
    assert cli_main(["conformance", "--write-golden", str(tmp_path / "g")]) == 0
    assert len(list((tmp_path / "g").glob("*.npz"))) == 14
    shutil.rmtree(tmp_path / "g")


def test_a_golden_file_check_honours_the_declared_dtype(tmp_path, monkeypatch, capsys):
    """A float32 port fails a golden file at float64 tolerances and passes when it declares
    float32, through the API and through the CLI's --golden --dtype."""
    (tmp_path / "f32_impl.py").write_text(
        "import numpy as np\n"
        "from tests.impls import ExcessMTLLinearSpace\n"
        "class F32:\n"
        "    def __init__(self, n_tasks):\n        self.inner = ExcessMTLLinearSpace(n_tasks)\n"
        "    def __call__(self, losses, grads):\n"
        "        return np.asarray(self.inner(losses, grads), dtype=np.float32).astype(float)\n"
        "def make(n_tasks):\n    return F32(n_tasks)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import f32_impl
    name = "excessmtl-official-logistic"
    assert not golden.check_golden(f32_impl.make(3), name).passed
    assert golden.check_golden(f32_impl.make(3), name, dtype="float32").passed
    assert cli_main(["conformance", "f32_impl:make", "--golden", name]) == 1
    capsys.readouterr()
    assert cli_main(["conformance", "f32_impl:make", "--golden", name, "--dtype", "float32"]) == 0
    with pytest.raises(ValueError, match="dtype"):
        golden.check_golden(f32_impl.make(3), name, dtype="float8")
