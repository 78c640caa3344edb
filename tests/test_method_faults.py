"""A misbehaving user method, and the round-one leftovers.

A user's weighting method is code we do not control: it may write into its inputs, return weights
that are not weights, raise, or call ``sys.exit``. None of that may corrupt our records, be
silently normalised into a verdict, or end a check with exit code 0. Each case below drives one
public entry point (``reference.run``/``replay``, ``proofs_check.compare``/``verify``, the
command line) with one such method.
"""

import sys
import textwrap

import numpy as np
import pytest

import gpu
import proofs_check as pc
import reference as R
from proofs_check import cli
from proofs_check.conformance import golden
from proofs_check.conformance import harness as conformance

P = R.make_linear_problem(3, 4, 30, noise=[0.1, 0.3, 1.0], seed=0)      # m = 3, d = 4
LOG = R.make_logistic_problem(3, 4, 40, flip=[0.0, 0.1, 0.3], seed=1)


# ------------------------------------------------------------------ 1. writing into the inputs
class _LossShare:
    """Weights ∝ ℓ_i (a loss-proportional method), stateless."""

    needs = frozenset({"excess", "hessians"})

    def init_state(self, n_tasks, dim):
        return 0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        return state + 1, losses / losses.sum()


class _LossShareInPlace(_LossShare):
    """The same weights, computed by writing into every input."""

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        losses /= losses.sum()
        w = losses.copy()
        grads *= 0.0
        if excess is not None:
            excess *= 0.0
        if hessians is not None:
            hessians[...] = np.nan
        return state + 1, w


RECORDS = ("thetas", "weights", "losses", "excess", "grad_norms", "combined_grad_norms")


@pytest.mark.parametrize("batch_size", [None, 8], ids=["full batch", "minibatch"])
def test_a_method_writing_into_its_inputs_changes_no_record(batch_size):
    clean = R.run(LOG, _LossShare(), 30, lr=0.5, batch_size=batch_size, seed=3)
    dirty = R.run(LOG, _LossShareInPlace(), 30, lr=0.5, batch_size=batch_size, seed=3)
    for name in RECORDS:
        np.testing.assert_allclose(getattr(dirty, name), getattr(clean, name), rtol=1e-13,
                                   atol=1e-15, err_msg=name)
    # the records are the true values at the recorded iterates, and θ moved (grads *= 0 did not
    # reach the θ-step)
    for t in (0, 15, 30):
        np.testing.assert_allclose(dirty.losses[t], LOG.losses(dirty.thetas[t]), rtol=1e-13)
        np.testing.assert_allclose(dirty.excess[t], LOG.excess_risks(dirty.thetas[t]),
                                   rtol=1e-9, atol=1e-15)
    assert np.linalg.norm(dirty.thetas[-1] - dirty.thetas[0]) > 1e-3


def test_compare_records_are_not_rewritten_by_an_in_place_method():
    res = pc.compare(P, {"clean": _LossShare(), "in place": _LossShareInPlace()}, 20)
    np.testing.assert_allclose(res.losses[1], res.losses[0], rtol=1e-13)
    np.testing.assert_allclose(res.excess[1], res.excess[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.weights[1], res.weights[0], rtol=1e-13)
    assert not np.allclose(res.losses[1, 0, :, :].sum(axis=-1), 1.0)   # not losses/Σ losses


def test_replay_does_not_write_into_the_callers_arrays():
    rng = np.random.default_rng(0)
    losses, grads = rng.random((6, 3)) + 0.5, rng.standard_normal((6, 3, 4))
    excess, hessians = rng.random((6, 3)), np.tile(np.eye(4), (6, 3, 1, 1))
    kept = [a.copy() for a in (losses, grads, excess, hessians)]
    w = R.replay(_LossShareInPlace(), losses, grads, excess=excess, hessians=hessians)
    for a, b in zip((losses, grads, excess, hessians), kept):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(w, kept[0] / kept[0].sum(axis=1, keepdims=True), rtol=1e-13)


# ------------------------------------------------------------------ 2. weights that are not weights
class _Returns:
    """Returns ``bad`` at step ``at`` (1-based) and equal weights otherwise."""

    def __init__(self, bad, at=1):
        self.bad, self.at = bad, at

    def init_state(self, n_tasks, dim):
        return 0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        t = state + 1
        return t, (self.bad if t == self.at else np.ones(len(losses)))


BAD_WEIGHTS = [
    ("all -1", -np.ones(3), "negative"),
    ("mixed sign", np.array([2.0, -1.0, 0.5]), "negative"),
    ("all zero", np.zeros(3), "summing to 0"),
    ("NaN", np.array([np.nan, 1.0, 1.0]), "not finite"),
    ("inf", np.array([np.inf, 1.0, 1.0]), "not finite"),
    ("wrong shape", np.ones(2), "shape (2,)"),
    ("2-D", np.ones((3, 1)), "shape (3, 1)"),
    ("None", None, "NoneType"),
    ("a string", "abc", "str"),
]


@pytest.mark.parametrize("bad, why", [c[1:] for c in BAD_WEIGHTS], ids=[c[0] for c in BAD_WEIGHTS])
def test_weights_that_are_not_weights_are_refused_naming_the_method_and_step(bad, why):
    with pytest.raises(ValueError) as info:
        R.run(P, _Returns(bad, at=3), 10)
    msg = str(info.value)
    assert "_Returns" in msg and "t=3" in msg and why in msg, msg


def test_negative_weights_are_refused_rather_than_flipped_into_equal_weights():
    """w / w.sum() turns −1 for every task into 1/m: such a method must not get EqualWeights'
    verdicts, in verify as in run."""
    with pytest.raises(R.UserMethodError, match=r"_Returns.*negative.*t=1"):
        pc.verify(_Returns(-np.ones(3)), claims=["pareto-stationary"], quick=True, seeds=1,
                  steps=100)
    with pytest.raises(R.UserMethodError, match="negative"):
        R.replay(_Returns(-np.ones(3)), np.ones((2, 3)), np.ones((2, 3, 4)))


def test_a_step_that_returns_no_state_weights_pair_is_named():
    class NoPair(_Returns):
        def step(self, state, losses, grads, **kw):
            return np.ones(len(losses))

    with pytest.raises(R.UserMethodError, match=r"NoPair.*\(state, weights\).*t=1"):
        R.run(P, NoPair(None), 5)


def test_signed_weights_are_allowed_only_where_declared():
    """IMTL-G's closed form may weight a task negatively (Σα = 1): it declares it."""
    alpha = np.array([1.5, -0.5])
    assert R.IMTLG.signed_weights is True
    np.testing.assert_allclose(R.loop.checked_weights(R.IMTLG(), alpha, 2, 1), alpha)
    with pytest.raises(R.UserMethodError, match="negative"):
        R.loop.checked_weights(_Returns(None), alpha, 2, 1)
    with pytest.raises(R.UserMethodError, match="summing to"):
        R.loop.checked_weights(R.IMTLG(), np.array([0.5, -1.0]), 2, 4)


def test_non_finite_weights_are_a_divergence_and_a_value_error():
    """Counted as a failed run by the claims (DivergenceError), refused as a ValueError."""
    with pytest.raises(R.DivergenceError) as info:
        R.run(P, _Returns(np.full(3, np.nan), at=2), 5)
    assert isinstance(info.value, ValueError) and "t=2" in str(info.value)


# ------------------------------------------------------------------ 3. user code that raises
class _Raises(_Returns):
    def __init__(self, exc, where="step", at=3):
        super().__init__(None)
        self.exc, self.where, self.at_step = exc, where, at

    def init_state(self, n_tasks, dim):
        if self.where == "init_state":
            raise self.exc
        return 0

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        if state + 1 == self.at_step:
            raise self.exc
        return state + 1, np.ones(len(losses))


def test_system_exit_in_a_method_is_a_named_error_in_run():
    with pytest.raises(R.UserMethodError, match=r"_Raises raised SystemExit\(0\) in step at t=3"):
        R.run(P, _Raises(SystemExit(0)), 10)
    with pytest.raises(R.UserMethodError, match=r"SystemExit\(0\) in init_state"):
        R.run(P, _Raises(SystemExit(0), "init_state"), 10)


def test_ctrl_c_in_a_method_still_interrupts():
    with pytest.raises(KeyboardInterrupt):
        R.run(P, _Raises(KeyboardInterrupt()), 10)


def test_the_command_lines_sigterm_exception_still_terminates():
    from proofs_check.cli_policy import Terminated
    with pytest.raises(Terminated):
        R.run(P, _Raises(Terminated()), 10)


def test_an_ordinary_exception_in_run_keeps_its_type():
    with pytest.raises(FloatingPointError, match="mine"):       # a divergence, as before
        R.run(P, _Raises(FloatingPointError("mine")), 10)


def test_verify_raises_a_methods_error_instead_of_counting_it_as_a_failed_run():
    """The rate and Pareto claims count a run that raises ValueError as a failed seed: an error
    of the method itself must surface, not become a verdict."""
    with pytest.raises(R.UserMethodError, match=r"_Raises raised ValueError in step at t=3: boom"):
        pc.verify(_Raises(ValueError("boom")), claims=["pareto-optimal"], quick=True, seeds=1,
                  steps=100)


USER_MODULE = """
    import sys
    import numpy as np

    if {exit_at_import}:
        sys.exit(0)


    class MyWeighting:
        def __init__(self, where):
            self.where = where

        def init_state(self, n_tasks, dim):
            if self.where == "init_state":
                sys.exit(0)
            return 0

        def step(self, state, losses, grads, *, excess=None, hessians=None):
            if self.where == "step" and state == 2:
                sys.exit(0)
            if self.where == "raise" and state == 2:
                raise RuntimeError("the user's bug")
            return state + 1, np.ones(len(losses))


    def make_step():
        return MyWeighting("step")


    def make_init():
        return MyWeighting("init_state")


    def make_raise():
        return MyWeighting("raise")


    def make_exit():
        sys.exit(0)
"""

CLI_FAULTS = [
    ("sys.exit(0) in step", "faulty:make_step", False,
     ["MyWeighting", "SystemExit(0)", "step at t=3"]),
    ("sys.exit(0) in init_state", "faulty:make_init", False,
     ["MyWeighting", "SystemExit(0)", "init_state"]),
    ("RuntimeError in step", "faulty:make_raise", False,
     ["MyWeighting", "RuntimeError", "t=3", "the user's bug"]),
    ("sys.exit(0) in the factory", "faulty:make_exit", False,
     ["--method faulty:make_exit", "factory", "SystemExit(0)"]),
    ("sys.exit(0) at import", "faulty:make_step", True,
     ["--method faulty:make_step", "module", "SystemExit(0)", "import"]),
]


@pytest.mark.parametrize("target, at_import, names", [c[1:] for c in CLI_FAULTS],
                         ids=[c[0] for c in CLI_FAULTS])
def test_a_method_that_exits_or_raises_makes_the_cli_exit_2_with_one_line(
        tmp_path, monkeypatch, capsys, target, at_import, names):
    module = f"faulty_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(USER_MODULE).format(exit_at_import=at_import))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    target = target.replace("faulty", module)
    names = [n.replace("faulty", module) for n in names]
    out = tmp_path / "out"
    try:
        code = cli.main(["--method", target, "--quick", "--claims", "pareto-stationary",
                         "--seeds", "1", "--batch-sizes", "none", "--no-figures",
                         "--no-progress", "--strict", "--out", str(out)])
    except SystemExit as exc:                    # the user's sys.exit(0) must not get out
        pytest.fail(f"SystemExit({exc.code}) escaped the command line")
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert all(n in err for n in names), err
    assert not (out / "report.json").exists()


# ------------------------------------------------------------------ 4. round-one leftovers
def test_pareto_stationarity_of_huge_gradients_is_finite_and_scale_equivariant():
    J = np.random.default_rng(4).standard_normal((3, 5))
    small, huge = R.pareto_stationarity(J), R.pareto_stationarity(J * 1e300)
    assert np.isfinite(huge.value) and np.isfinite(huge.kkt_residual)
    assert huge.value == pytest.approx(small.value * 1e300, rel=1e-12)
    np.testing.assert_allclose(huge.alpha, small.alpha, rtol=1e-10, atol=1e-14)
    assert huge.kkt_residual == pytest.approx(small.kkt_residual, abs=1e-13)
    assert huge.kkt_residual <= 1e-12 and huge.support == small.support


LEFTOVERS = [
    ("taylor grads 1-D", lambda: R.taylor_estimate(np.ones(3), np.ones((3, 4, 4))), ValueError,
     ["grads", "(m, d)"]),
    ("taylor hessians 2-D", lambda: R.taylor_estimate(np.ones((3, 4)), np.ones((3, 4))),
     ValueError, ["hessians", "(3, 4, 4)"]),
    ("taylor hessians of another size",
     lambda: R.taylor_estimate(np.ones((3, 4)), np.ones((2, 4, 4))), ValueError,
     ["hessians", "(3, 4, 4)"]),
    ("adagrad accum of another shape", lambda: R.adagrad_estimate(np.zeros((3, 3)),
                                                                  np.ones((3, 4))),
     ValueError, ["accum", "(3, 4)"]),
    ("adagrad grads 1-D", lambda: R.adagrad_estimate(np.zeros((3, 4)), np.ones(4)), ValueError,
     ["grads", "(m, d)"]),
    ("minimize_weighted negative weights",
     lambda: R.minimize_weighted(P, np.array([1.0, -0.5, 1.0])), ValueError,
     ["weights", "non-negative"]),
    ("minimize_weighted wrong length", lambda: R.minimize_weighted(P, np.ones(2)), ValueError,
     ["weights"]),
    ("check_weighting step_size='abc'",
     lambda: conformance.check_weighting(lambda x, g: x, step_size="abc"), TypeError,
     ["step_size must be a positive float"]),
    ("check_weighting step_size=0",
     lambda: conformance.check_weighting(lambda x, g: x, step_size=0.0), ValueError,
     ["step_size must be a positive float"]),
    ("run exact excess on a problem without excess risks",
     lambda: R.run(R.make_tanh_problem(), R.ExcessMTL("exact"), 5), TypeError,
     ["ExcessMTL", "TanhNetProblem", "excess"]),
    ("run needs given as a string", lambda: R.run(P, type("StrNeeds", (_LossShare,),
                                                          {"needs": "excess"})(), 5),
     TypeError, ["StrNeeds", "needs"]),
    ("gpu random_logistic_batch replicas=0",
     lambda: gpu.random_logistic_batch(0, 3, 10, 4), ValueError, ["replicas"]),
    ("gpu replica out of range", lambda: gpu.make_linear_batch(3, 4, 20, seeds=[0, 1]).replica(5),
     IndexError, ["index", "0 … 1"]),
    ("gpu trajectory replica out of range",
     lambda: gpu.run_batched(gpu.make_linear_batch(3, 4, 20, seeds=[0, 1]), R.EqualWeights(),
                             2).replica(2), IndexError, ["0 … 1"]),
]


@pytest.mark.parametrize("call, exc, names", [c[1:] for c in LEFTOVERS],
                         ids=[c[0] for c in LEFTOVERS])
def test_a_round_one_leftover_names_its_argument(call, exc, names):
    with pytest.raises(exc) as info:
        call()
    assert all(n in str(info.value) for n in names), str(info.value)


def test_minimize_weighted_still_solves_with_non_negative_weights():
    res = R.minimize_weighted(P, np.array([0.2, 0.0, 0.8]))
    assert res.grad_norm <= 1e-10


@pytest.mark.parametrize("name", ["plain", "looks.npz"])
def test_load_golden_on_a_directory_is_a_value_error_naming_it(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    with pytest.raises(ValueError, match="directory") as info:
        golden.load_golden(d)
    assert str(d) in str(info.value)
    assert not isinstance(info.value, OSError)


# ------------------------------------------------------------ conformance targets that exit
EXITING = {
    "exits_at_import": "import sys\nsys.exit(0)\n",
    "factory_exits": "import sys\ndef make(n_tasks):\n    sys.exit(0)\n",
    "step_exits": "import sys\ndef make(n_tasks):\n    return lambda losses, grads: sys.exit(0)\n",
}


@pytest.mark.parametrize("target, code", [("exits_at_import:make", 2),
                                          ("factory_exits:make", 2), ("step_exits:make", 1)])
def test_a_conformance_target_calling_sys_exit_never_exits_0(tmp_path, monkeypatch, capsys,
                                                               target, code):
    from proofs_check import cli
    for name, src in EXITING.items():
        (tmp_path / f"{name}.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["conformance", target, "--steps", "3"]) == code
    out = capsys.readouterr()
    assert "SystemExit(0)" in out.err + out.out and "Traceback" not in out.err


class ReadsExcessUndeclared:
    """Hedge on the excess risks that forgot ``needs = {"excess"}``: it is given excess=None."""

    def init_state(self, n_tasks, dim):
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        logits = state + excess
        return logits, np.exp(logits - logits.max())


def test_a_method_that_reads_excess_without_declaring_it_is_told_to_declare_it():
    with pytest.raises(R.UserMethodError, match=r"must declare it, e\.g\. needs = "
                                                r"frozenset\(\{'excess'\}\)") as info:
        pc.verify(ReadsExcessUndeclared(), claims=["rate"], seeds=2, quick=True)
    assert "at t=1" in str(info.value) and "NoneType" in str(info.value)


def test_a_needs_typo_is_a_value_error_listing_the_valid_names():
    method = ReadsExcessUndeclared()
    method.needs = {"exces"}
    with pytest.raises(ValueError, match=r"needs lists \['exces'\]; it may name only "
                                         r"\['excess', 'hessians'\]"):
        pc.verify(method, claims=["rate"], seeds=2, quick=True)


class PlainHedge(ReadsExcessUndeclared):
    needs = frozenset({"excess"})


@pytest.mark.parametrize("eta, says", [(None, "has no step_size attribute"),
                                       ("1", "has step_size = '1', not a number")])
def test_a_method_without_a_float_step_size_is_told_which_bounds_were_skipped(eta, says):
    method = PlainHedge()
    if eta is not None:
        method.step_size = eta
    report = pc.verify(method, claims=["rate"], seeds=2, steps=200)
    rate = report.claim("rate")
    assert len(rate.notes) == 1 and says in rate.notes[0] and "bounds" in rate.notes[0]
    assert not any("bound" in c.name for c in rate.checks)
    assert f"note: the method {says}" in report.table().replace("\n      ", " ")
    assert report.to_json()["claims"][0]["notes"] == list(rate.notes)
    method.step_size = 0.5
    assert pc.verify(method, claims=["rate"], seeds=2, steps=200).claim("rate").notes == ()
