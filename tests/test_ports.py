"""The oracle on a corpus of real public ExcessMTL ports (tests/ports/), the table of them in
docs/conformance.md, ``proofs_check.testing.assert_conforms`` with its ``allowed`` departures and
its pytest fixture, and the named errors on recordings that cannot be checked.

Each port is recorded once (``tests.ports.corpus`` caches recordings and reports); identical
implementations share a recording."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import reference as R
from proofs_check import conformance as C
from proofs_check import testing as T
from tests.ports import corpus as K

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("port_table", ROOT / "tools" / "port_table.py")
port_table = sys.modules.setdefault("port_table", importlib.util.module_from_spec(_spec))
if not hasattr(port_table, "table"):
    _spec.loader.exec_module(port_table)

PORTS = {p.name: p for p in K.PORTS}
LIBMTL = PORTS["LibMTL"]


@pytest.fixture(scope="module")
def reports():
    """Every port's report against the official code, made once."""
    return {name: port.check() for name, port in PORTS.items()}


# ------------------------------------------------------------------------------ the corpus
@pytest.mark.parametrize("name", list(PORTS))
def test_each_port_is_diagnosed_as_its_code_says(reports, name):
    port, report = PORTS[name], reports[name]
    want = port.expect
    assert not report.passed
    if want.explained_by is not None or want.precision is not None:
        assert report.precision == want.precision, report.diagnosis
        assert K._same(report.explained_by or {}, want.explained_by or {}), report.explained_by
        assert report.steps_reproduced == port.loop.steps or report.explained_by is None
    else:                               # outside the oracle's model: localised, not explained
        assert report.explained_by is None and report.precision is None
        assert report.first_divergence_step == want.step
        assert report.localisation["quantity"] == want.component, report.localisation
    assert K.verdict(port, report) == "exact"


def test_float64_ports_are_never_called_float32_and_their_step_sizes_are_exact(reports):
    float64 = [n for n, p in PORTS.items() if p.expect.precision is None]
    assert len(float64) >= 5
    for name in float64:
        assert reports[name].precision is None, name
        fitted = reports[name].explained_by or {}
        if "step_size" in fitted:                   # the fit, before rounding for the report
            eta = reports[name].fitted["step_size"]["value"]
            assert abs(eta - fitted["step_size"]) <= 1e-12 * fitted["step_size"], (name, eta)


def test_float32_step_sizes_are_fitted_within_their_interval(reports):
    for name in ("LibMTL", "AdaOMD-TCH, federated `ExcessMTL`"):
        f = reports[name].fitted["step_size"]
        truth = PORTS[name].expect.explained_by["step_size"]
        assert f["ci95"][0] <= truth <= f["ci95"][1], (name, f)
        assert abs(f["value"] - truth) <= 1e-5 * truth


def test_identical_implementations_share_one_recording(reports):
    for name in ("VT-Solution (a LibMTL copy)", "MMRRec"):
        assert K.recording(PORTS[name].impl, PORTS[name].loop) is \
            K.recording(LIBMTL.impl, LIBMTL.loop)
        assert reports[name] is reports["LibMTL"]


def test_a_port_whose_weights_never_move_is_not_given_a_step_size(reports):
    report = reports["AdaOMD-TCH, synthetic `ExcessMTLCore` at the runner's default `--eta 0`"]
    assert report.explained_by is None
    assert any("the weights never move" in d for d in report.diagnosis), report.diagnosis
    assert report.closest == {"convention": "paper"} and report.closest_steps == 1


def test_the_table_in_the_docs_is_the_tools_output():
    doc = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    assert "python tools/port_table.py --write" in doc
    assert port_table.documented(doc) == port_table.table()
    for port in K.PORTS:
        assert f"| {port.name} |" in port_table.documented(doc)
        assert port.commit in doc


def test_the_verdict_rules():
    port = LIBMTL
    base = dict(passed=False, reference="", steps=40, first_divergence_step=2,
                max_abs_error=0.0, max_rel_error=0.0, expected_at_divergence=None,
                actual_at_divergence=None, diagnosis=())
    make = C.ConformanceReport
    assert K.verdict(port, make(**base, explained_by={"step_size": 0.01},
                                precision="float32")) == "exact"
    assert K.verdict(port, make(**base, explained_by={"step_size": 0.02},
                                precision="float32")) == "partial"
    assert K.verdict(port, make(**base, explained_by={"step_size": 0.01})) == "partial"
    assert K.verdict(port, make(**base, explained_by={"warmup": 2})) == "wrong"
    assert K.verdict(port, make(**{**base, "passed": True})) == "wrong"
    nan = PORTS["PoiMtlNet, a task that starts at its optimum"]
    loc = {"quantity": "payoff", "step": 2}
    assert K.verdict(nan, make(**base, localisation=loc)) == "partial"
    assert K.verdict(nan, make(**{**base, "first_divergence_step": 3})) == "wrong"


# ---------------------------------------------------------------- proofs_check.testing
def test_allowed_departures_let_a_known_port_pass_and_name_the_rest():
    rec = K.recording(LIBMTL.impl, dataclasses.replace(LIBMTL.loop, steps=20))
    report = T.assert_conforms(rec, allowed={"step_size", "float32"}, dtype="float64")
    assert not report.passed and report.explained_by == {"step_size": 0.01}
    with pytest.raises(AssertionError) as info:
        T.assert_conforms(rec, allowed={"step_size"}, dtype="float64")
    text = str(info.value)
    assert text.startswith("FAIL: 20 steps against ExcessMTL(adagrad, official")
    assert "explained by: step_size=0.01" in text and "not allowed: float32" in text
    declared = T.assert_conforms(rec, allowed=["step_size"], dtype="float32")
    assert declared.explained_by == {"step_size": 0.01} and declared.precision is None


def test_a_departure_the_oracle_cannot_name_is_never_allowed():
    port = PORTS["PoiMtlNet, a task that starts at its optimum"]
    with pytest.raises(AssertionError, match="not one the oracle can name"):
        T.assert_conforms(K.recording(port.impl, port.loop), allowed=T.DEPARTURES)


def test_a_weighting_method_and_a_factory_are_checked_too():
    assert T.assert_conforms(R.ExcessMTL("adagrad", "paper"), convention="paper",
                             steps=10).passed
    report = T.assert_conforms(R.ExcessMTL("adagrad", "paper"), allowed={"convention"},
                               steps=10)
    assert report.explained_by == {"convention": "paper"}
    assert T.assert_conforms(lambda n_tasks: PORTS["PoiMtlNet"].make(), steps=20,
                             step_size=0.01).passed


@pytest.mark.parametrize("allowed, error, words", [
    ({"step-size"}, ValueError, "unknown departure(s) ['step-size']"),
    ({"float16"}, ValueError, "'float32', 'lagged'"),
    ("step_size", TypeError, "allowed must be a set of departure names"),
    ({1}, TypeError, "departure names (strings)"),
    (None, TypeError, "allowed must be"),
])
def test_allowed_rejects_what_is_not_a_set_of_departure_names(allowed, error, words):
    with pytest.raises(error) as info:
        T.assert_conforms(R.ExcessMTL(), allowed=allowed)
    assert words in str(info.value)


def test_the_pytest_plugin_offers_the_fixture(pytester):
    pytester.makepyfile(test_port="""
        import reference as R

        def test_port(excessmtl_conformance):
            excessmtl_conformance(R.ExcessMTL("adagrad", "paper"), convention="paper", steps=5)

        def test_departing_port(excessmtl_conformance):
            excessmtl_conformance(R.ExcessMTL("adagrad", "paper"), steps=5)
        """)
    from importlib.metadata import entry_points
    installed = any(e.value == "excessmtl_oracle_pytest" for e in entry_points(group="pytest11"))
    enable = [] if installed else ["-p", "excessmtl_oracle_pytest"]   # the entry point, or -p
    result = pytester.runpytest_inprocess(*enable, "-q", "-p", "no:cacheprovider",
                                          "-p", "no:benchmark")   # it warns under xdist
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: FAIL: 5 steps against*",
                                 "*explained by: convention='paper'*"])


# --------------------------------------------------------------- recordings that cannot be
def _recorder(steps=4, m=3, d=4, nan_at=None, what="grads"):
    rec = C.Recorder()
    for t in range(steps):
        losses, grads = np.ones(m), np.full((m, d), 0.1 * (t + 1))
        if t == nan_at:
            (grads if what == "grads" else losses)[0] = np.nan
        rec.add(losses, grads, np.ones(m))
    return rec


def test_a_recording_whose_shapes_change_is_refused_naming_the_call():
    rec = _recorder(2)
    rec.add(np.ones(3), np.ones((3, 5)), np.ones(3))
    with pytest.raises(ValueError, match=r"number of parameters changes at call 3.*\(3, 4\)"):
        C.check_recording(rec)
    rec = _recorder(2)
    rec.add(np.ones(2), np.ones((2, 4)), np.ones(2))
    with pytest.raises(ValueError, match="number of tasks changes at call 3"):
        rec.recording
    rec = _recorder(2)
    rec.add(None, np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match="losses were recorded on some calls"):
        rec.recording


def test_a_recording_of_one_step_is_refused():
    with pytest.raises(ValueError, match="holds 1 step, and a check needs at least 2"):
        C.check_recording(_recorder(1))
    with pytest.raises(ValueError, match="at least 2"):
        T.assert_conforms(_recorder(1), allowed={"step_size"})


@pytest.mark.parametrize("what", ["grads", "losses"])
def test_nan_in_the_recorded_inputs_is_refused_naming_the_step(what):
    with pytest.raises(ValueError, match=rf"the {what} at step 3 \(of 4\) hold NaN or inf"):
        C.check_recording(_recorder(4, nan_at=2, what=what))


def test_nan_in_the_returned_weights_is_a_finding_not_an_error():
    rec = _recorder(3)
    rec.add(np.ones(3), np.full((3, 4), 0.4), np.array([1.0, np.nan, 1.0]))
    report = C.check_recording(rec)
    assert not report.passed
    assert report.localisation["quantity"] == "weights"
    assert report.localisation["detail"] == "not finite"
