"""Every bad input is named: each case calls one public entry point with one bad argument and
asserts the exception type and that the message names the argument (or CLI flag) at fault.

The table is the documentation of the error policy (docs/api.md, "Errors"): ``TypeError`` for a
value of the wrong kind, ``ValueError`` (or our subclasses ``GoldenFormatError``,
``OutputPathError``) for a value of the right kind that is out of range or of the wrong shape.
"""

import json

import numpy as np
import pytest

import gpu
import reference as R
from proofs_check import cli
from proofs_check.conformance import golden
from proofs_check.conformance import harness as conformance
from proofs_check.report import atomic, suite
from proofs_check.config import SuiteConfig
from proofs_check.decide import SequentialRule

P = R.make_linear_problem(3, 4, 20, seed=0)                 # m = 3, d = 4
P2 = R.make_linear_problem(2, 4, 20, seed=0)
B = gpu.make_linear_batch(3, 4, 20, seeds=[0, 1])            # B = 2, m = 3, d = 4
X, Y = P.X, P.y
THETA = np.zeros(4)
LOSSES, GRADS = np.ones(3), np.ones((3, 4))
ADAGRAD = R.ExcessMTL("adagrad", "paper")


class _FullBatchOnly:
    """A user's problem with full-batch oracles only (no losses(θ, idx))."""

    def __init__(self):
        self.inner = R.make_tanh_problem()
        self.n_tasks, self.dim = self.inner.n_tasks, self.inner.dim

    def losses(self, theta):
        return self.inner.losses(theta)

    def grads(self, theta):
        return self.inner.grads(theta)


def _step(method, losses=LOSSES, grads=GRADS, **kw):
    return method.step(method.init_state(3, 4), losses, grads, **kw)


def _replay(**kw):
    args = {"method": ADAGRAD, "losses": np.ones((5, 3)), "grads": np.ones((5, 3, 4)), **kw}
    return R.replay(args.pop("method"), args.pop("losses"), args.pop("grads"), **args)


def _golden_file(tmp_path, **changes):
    g = golden.load_golden("excessmtl-official-linear")
    arrays = {"losses": g.losses, "grads": g.grads, "weights": g.weights,
              "meta": np.array(json.dumps(g.meta))}
    if "meta" in changes:
        arrays["meta"] = np.array(json.dumps(changes.pop("meta")))
    arrays.update(changes)
    path = tmp_path / "case.npz"
    atomic.write_npz(path, {k: v for k, v in arrays.items() if v is not None})
    return path


def _meta(**changes):
    return {**golden.load_golden("excessmtl-official-linear").meta, **changes}


CASES = [
    # ------------------------------------------------------------ reference generators
    ("linear n_tasks=0", lambda: R.make_linear_problem(0, 4, 20), ValueError, "n_tasks"),
    ("linear n_tasks=2.5", lambda: R.make_linear_problem(2.5, 4, 20), TypeError, "n_tasks"),
    ("linear n_tasks=True", lambda: R.make_linear_problem(True, 4, 20), TypeError, "n_tasks"),
    ("linear dim=-1", lambda: R.make_linear_problem(3, -1, 20), ValueError, "dim"),
    ("linear n_samples='20'", lambda: R.make_linear_problem(3, 4, "20"), TypeError, "n_samples"),
    ("linear noise of 2 for 3 tasks", lambda: R.make_linear_problem(3, 4, 20, noise=[0.1, 0.2]),
     ValueError, "noise"),
    ("linear noise<0", lambda: R.make_linear_problem(3, 4, 20, noise=-1.0), ValueError, "noise"),
    ("linear noise=nan", lambda: R.make_linear_problem(3, 4, 20, noise=float("nan")), ValueError,
     "noise"),
    ("linear noise complex", lambda: R.make_linear_problem(3, 4, 20, noise=[1j, 0, 0]),
     TypeError, "noise"),
    ("linear relatedness=1.5", lambda: R.make_linear_problem(3, 4, 20, relatedness=1.5),
     ValueError, "relatedness"),
    ("linear l2<0", lambda: R.make_linear_problem(3, 4, 20, l2=-1.0), ValueError, "l2"),
    ("linear seed=-1", lambda: R.make_linear_problem(3, 4, 20, seed=-1), ValueError, "seed"),
    ("linear seed=1.5", lambda: R.make_linear_problem(3, 4, 20, seed=1.5), TypeError, "seed"),
    ("logistic flip=0.6", lambda: R.make_logistic_problem(3, 4, 20, flip=0.6), ValueError,
     "flip"),
    ("logistic flip per task short", lambda: R.make_logistic_problem(3, 4, 20, flip=[0.1]),
     ValueError, "flip"),
    ("logistic signal<0", lambda: R.make_logistic_problem(3, 4, 20, signal=-1.0), ValueError,
     "signal"),
    ("logistic l2=nan", lambda: R.make_logistic_problem(3, 4, 20, l2=float("nan")), ValueError,
     "l2"),
    # ------------------------------------------------------------ problems from user arrays
    ("arrays loss='quadratic'", lambda: R.problem_from_arrays("quadratic", X, Y), ValueError,
     "loss"),
    ("arrays X complex", lambda: R.problem_from_arrays("linear", X + 1j, Y), TypeError, "X"),
    ("arrays X ragged (sample counts differ)",
     lambda: R.problem_from_arrays("linear", [X[0], X[1][:10], X[2]], Y), ValueError, "X"),
    ("arrays X 2-D", lambda: R.problem_from_arrays("linear", X[0], Y), ValueError, "X"),
    ("arrays y wrong shape", lambda: R.problem_from_arrays("linear", X, Y[:, :5]), ValueError,
     "y"),
    ("arrays X with NaN", lambda: R.problem_from_arrays("linear", np.where(X > 1, np.nan, X), Y),
     ValueError, "X"),
    ("arrays X near 1e200", lambda: R.problem_from_arrays("linear", X * 1e200, Y), ValueError,
     "X"),
    ("arrays y near 1e200", lambda: R.problem_from_arrays("linear", X, Y * 1e200), ValueError,
     "y"),
    ("arrays logistic y=2", lambda: R.problem_from_arrays("logistic", X, np.full_like(Y, 2.0)),
     ValueError, "y"),
    ("arrays X strings", lambda: R.problem_from_arrays("linear", [[["a"]]], Y), TypeError, "X"),
    ("arrays X None", lambda: R.problem_from_arrays("linear", None, Y), TypeError, "X"),
    ("arrays l2<0", lambda: R.problem_from_arrays("linear", X, Y, l2=-1.0), ValueError, "l2"),
    # ------------------------------------------------------------ problem oracles
    ("losses theta wrong size", lambda: P.losses(np.zeros(5)), ValueError, "theta"),
    ("grads theta NaN", lambda: P.grads(np.full(4, np.nan)), ValueError, "theta"),
    ("excess theta complex", lambda: P.excess_risks(np.zeros(4) + 1j), TypeError, "theta"),
    ("hessians theta string", lambda: P.hessians("0000"), TypeError, "theta"),
    # ------------------------------------------------------------ methods: construction
    ("ExcessMTL estimator", lambda: R.ExcessMTL("fisher"), ValueError, "estimator"),
    ("ExcessMTL convention", lambda: R.ExcessMTL("exact", "both"), ValueError, "convention"),
    ("ExcessMTL step_size=0", lambda: R.ExcessMTL(step_size=0.0), ValueError, "step_size"),
    ("ExcessMTL step_size=nan", lambda: R.ExcessMTL(step_size=float("nan")), ValueError,
     "step_size"),
    ("ExcessMTL step_size='1'", lambda: R.ExcessMTL(step_size="1"), TypeError, "step_size"),
    ("ExcessMTL warmup=-1", lambda: R.ExcessMTL(warmup=-1), ValueError, "warmup"),
    ("ExcessMTL warmup=1.5", lambda: R.ExcessMTL(warmup=1.5), TypeError, "warmup"),
    ("ExcessMTL scale_processing='yes'", lambda: R.ExcessMTL(scale_processing="yes"), TypeError,
     "scale_processing"),
    ("ExcessMTL eps<0", lambda: R.ExcessMTL(eps=-1.0), ValueError, "eps"),
    ("ExcessMTL baseline_eps=inf", lambda: R.ExcessMTL(baseline_eps=float("inf")), ValueError,
     "baseline_eps"),
    ("ExcessMTL sqrt_accumulator=1", lambda: R.ExcessMTL(sqrt_accumulator=1), TypeError,
     "sqrt_accumulator"),
    ("GroupDRO convention", lambda: R.GroupDRO("linear"), ValueError, "convention"),
    ("GroupDRO step_size<0", lambda: R.GroupDRO(step_size=-1.0), ValueError, "step_size"),
    ("EqualWeights convention", lambda: R.EqualWeights(None), ValueError, "convention"),
    ("init_state n_tasks=0", lambda: ADAGRAD.init_state(0, 4), ValueError, "n_tasks"),
    ("init_state dim='4'", lambda: ADAGRAD.init_state(3, "4"), TypeError, "dim"),
    # ------------------------------------------------------------ methods: one step
    ("step losses wrong shape", lambda: _step(ADAGRAD, losses=np.ones(2)), ValueError, "losses"),
    ("step losses NaN", lambda: _step(ADAGRAD, losses=np.array([1, np.nan, 1])), ValueError,
     "losses"),
    ("step grads for 2 tasks", lambda: _step(ADAGRAD, grads=np.ones((2, 4))), ValueError,
     "grads"),
    ("step grads of a new dimension", lambda: _step(ADAGRAD, grads=np.ones((3, 5))), ValueError,
     "grads"),
    ("step grads complex", lambda: _step(R.GroupDRO(), grads=GRADS + 1j), TypeError, "grads"),
    ("step state not a WeightState", lambda: ADAGRAD.step({"t": 0}, LOSSES, GRADS), TypeError,
     "state"),
    ("step exact without excess", lambda: _step(R.ExcessMTL("exact")), ValueError, "excess"),
    ("step exact excess wrong shape",
     lambda: _step(R.ExcessMTL("exact"), excess=np.ones(2)), ValueError, "excess"),
    ("step taylor without hessians", lambda: _step(R.ExcessMTL("taylor")), ValueError,
     "hessians"),
    ("step taylor hessians wrong shape",
     lambda: _step(R.ExcessMTL("taylor"), hessians=np.ones((3, 4))), ValueError, "hessians"),
    ("step subnormal scale-processing baseline",
     lambda: _step(R.ExcessMTL("exact"), excess=np.array([1e-320, 1.0, 1.0])), ValueError,
     "baseline"),
    # ------------------------------------------------------------ run
    ("run problem=None", lambda: R.run(None, ADAGRAD, 5), TypeError, "problem"),
    ("run method is a class", lambda: R.run(P, R.ExcessMTL, 5), TypeError, "method"),
    ("run method is a string", lambda: R.run(P, "ExcessMTL", 5), TypeError, "method"),
    ("run method without step", lambda: R.run(P, object(), 5), TypeError, "method"),
    ("run steps=0", lambda: R.run(P, ADAGRAD, 0), ValueError, "steps"),
    ("run steps=1.5", lambda: R.run(P, ADAGRAD, 1.5), TypeError, "steps"),
    ("run lr=0", lambda: R.run(P, ADAGRAD, 5, lr=0.0), ValueError, "lr"),
    ("run lr=nan", lambda: R.run(P, ADAGRAD, 5, lr=float("nan")), ValueError, "lr"),
    ("run schedule", lambda: R.run(P, ADAGRAD, 5, schedule="cosine"), ValueError, "schedule"),
    ("run theta0 wrong shape", lambda: R.run(P, ADAGRAD, 5, theta0=np.zeros(3)), ValueError,
     "theta0"),
    ("run theta0 NaN", lambda: R.run(P, ADAGRAD, 5, theta0=np.full(4, np.nan)), ValueError,
     "theta0"),
    ("run project_radius=0", lambda: R.run(P, ADAGRAD, 5, project_radius=0.0), ValueError,
     "project_radius"),
    ("run project_center wrong shape",
     lambda: R.run(P, ADAGRAD, 5, project_radius=1.0, project_center=np.zeros(2)), ValueError,
     "project_center"),
    ("run lr=500 diverges, naming lr", lambda: R.run(P, R.GroupDRO("paper"), 400, lr=500.0),
     R.DivergenceError, "lr"),
    ("run batch_size=0", lambda: R.run(P, ADAGRAD, 5, batch_size=0), ValueError, "batch_size"),
    ("run batch_size=2.5", lambda: R.run(P, ADAGRAD, 5, batch_size=2.5), TypeError,
     "batch_size"),
    ("run epoch batch_size > n", lambda: R.run(P, ADAGRAD, 5, batch_size=21, sampler="epoch"),
     ValueError, "batch_size"),
    ("run sampler", lambda: R.run(P, ADAGRAD, 5, batch_size=4, sampler="stratified"),
     ValueError, "sampler"),
    ("run sampler seed=-1", lambda: R.run(P, ADAGRAD, 5, batch_size=4, seed=-1), ValueError,
     "seed"),
    ("run minibatches of a full-batch-only problem", lambda: R.run(_FullBatchOnly(), ADAGRAD, 5,
                                                                   batch_size=4),
     TypeError, "batch_size"),
    ("minibatch idx out of range", lambda: P.losses(THETA, np.full((3, 2), 20)), ValueError,
     "idx"),
    ("minibatch idx for 2 tasks", lambda: P.grads(THETA, np.zeros((2, 2), int)), ValueError,
     "idx"),
    # ------------------------------------------------------------ replay
    ("replay method is a string", lambda: _replay(method="ExcessMTL"), TypeError, "method"),
    ("replay method is a class", lambda: _replay(method=R.GroupDRO), TypeError, "method"),
    ("replay short excess", lambda: _replay(method=R.ExcessMTL("exact"),
                                            excess=np.ones((2, 3))), ValueError, "excess"),
    ("replay losses 1-D", lambda: _replay(losses=np.ones(5)), ValueError, "losses"),
    ("replay grads of another length", lambda: _replay(grads=np.ones((4, 3, 4))), ValueError,
     "grads"),
    ("replay hessians wrong shape", lambda: _replay(method=R.ExcessMTL("taylor"),
                                                    hessians=np.ones((5, 3, 4))), ValueError,
     "hessians"),
    # ------------------------------------------------------------ exact oracles
    ("duality_gap problem str", lambda: R.duality_gap("P", THETA, LOSSES), TypeError, "problem"),
    ("duality_gap theta_bar wrong shape", lambda: R.duality_gap(P, np.zeros(3), LOSSES),
     ValueError, "theta_bar"),
    ("duality_gap alpha_bar negative", lambda: R.duality_gap(P, THETA, [1.0, -1.0, 1.0]),
     ValueError, "alpha_bar"),
    ("duality_gap alpha_bar zero", lambda: R.duality_gap(P, THETA, np.zeros(3)), ValueError,
     "alpha_bar"),
    ("duality_gap alpha_bar NaN", lambda: R.duality_gap(P, THETA, [np.nan, 1, 1]), ValueError,
     "alpha_bar"),
    ("duality_gap scales<0", lambda: R.duality_gap(P, THETA, LOSSES, scales=[1, -1, 1]),
     ValueError, "scales"),
    ("minmax problem is a batch", lambda: R.minmax_solution(B), TypeError, "problem"),
    ("minmax scales wrong shape", lambda: R.minmax_solution(P, scales=[1.0, 1.0]), ValueError,
     "scales"),
    ("pareto_stationarity 1-D", lambda: R.pareto_stationarity(np.ones(3)), ValueError, "grads"),
    ("pareto_stationarity NaN", lambda: R.pareto_stationarity([[np.nan, 1.0]]), ValueError,
     "grads"),
    ("pareto_stationarity ragged", lambda: R.pareto_stationarity([[1.0, 2.0], [1.0]]),
     ValueError, "grads"),
    ("is_dominated tol=0", lambda: R.is_dominated(P, THETA, tol=0.0), ValueError, "tol"),
    ("is_dominated tol=nan", lambda: R.is_dominated(P, THETA, tol=float("nan")), ValueError,
     "tol"),
    ("is_dominated feasibility_tol=nan",
     lambda: R.is_dominated(P, THETA, feasibility_tol=float("nan")), ValueError,
     "feasibility_tol"),
    ("is_dominated theta wrong shape", lambda: R.is_dominated(P, np.zeros(2)), ValueError,
     "theta"),
    ("pareto_front 3 tasks", lambda: R.pareto_front(P), ValueError, "problem"),
    ("pareto_front n_points=1", lambda: R.pareto_front(P2, n_points=1), ValueError, "n_points"),
    ("front_gap theta NaN", lambda: R.front_gap(P2, np.full(4, np.nan)), ValueError, "theta"),
    # ------------------------------------------------------------ gpu mirror
    ("gpu backend 'jax'", lambda: gpu.namespace("jax"), ValueError, "backend"),
    ("gpu seeds=5", lambda: gpu.make_linear_batch(3, 4, 20, seeds=5), TypeError, "seeds"),
    ("gpu seeds=[]", lambda: gpu.make_linear_batch(3, 4, 20, seeds=[]), TypeError, "seeds"),
    ("gpu seeds=[-1]", lambda: gpu.make_linear_batch(3, 4, 20, seeds=[-1]), ValueError, "seeds"),
    ("gpu noise per replica wrong", lambda: gpu.make_linear_batch(3, 4, 20, seeds=[0, 1],
                                                                  noise=np.ones((3, 3))),
     ValueError, "noise"),
    ("gpu flip NaN", lambda: gpu.make_logistic_batch(3, 4, 20, seeds=[0], flip=float("nan")),
     ValueError, "flip"),
    ("gpu dtype float16", lambda: gpu.make_linear_batch(3, 4, 20, seeds=[0], dtype="float16"),
     ValueError, "dtype"),
    ("gpu from_reference strings", lambda: gpu.from_reference(["P"]), TypeError, "problems"),
    ("gpu from_reference mixed shapes", lambda: gpu.from_reference([P, P2]), ValueError,
     "problems"),
    ("gpu batched(class)", lambda: gpu.batched(R.ExcessMTL), TypeError, "method"),
    ("gpu batched('ExcessMTL')", lambda: gpu.batched("ExcessMTL"), TypeError, "method"),
    ("gpu run_batched reference problem", lambda: gpu.run_batched(P, ADAGRAD, 5), TypeError,
     "problem"),
    ("gpu run_batched steps=0", lambda: gpu.run_batched(B, ADAGRAD, 0), ValueError, "steps"),
    ("gpu run_batched record", lambda: gpu.run_batched(B, ADAGRAD, 5, record="all"), ValueError,
     "record"),
    ("gpu run_batched theta0 NaN", lambda: gpu.run_batched(B, ADAGRAD, 5,
                                                           theta0=np.full(4, np.nan)),
     ValueError, "theta0"),
    ("gpu run_batched theta0 wrong shape", lambda: gpu.run_batched(B, ADAGRAD, 5,
                                                                   theta0=np.zeros(3)),
     ValueError, "theta0"),
    ("gpu run_batched seeds short", lambda: gpu.run_batched(B, ADAGRAD, 5, batch_size=4,
                                                            seeds=[0]), ValueError, "seeds"),
    ("gpu minibatches without samples", lambda: gpu.run_batched(B, ADAGRAD, 5, batch_size=4),
     ValueError, "batch_size"),
    ("gpu run on 2 replicas", lambda: gpu.run(B, ADAGRAD, 5), ValueError, "problem"),
    ("gpu duality_gap theta NaN", lambda: gpu.duality_gap(B, np.full((2, 4), np.nan),
                                                          np.ones((2, 3))), ValueError,
     "theta_bar"),
    ("gpu duality_gap alpha zero", lambda: gpu.duality_gap(B, np.zeros((2, 4)), np.zeros((2, 3))),
     ValueError, "alpha_bar"),
    ("gpu duality_gap alpha NaN", lambda: gpu.duality_gap(B, np.zeros((2, 4)),
                                                          np.full((2, 3), np.nan)), ValueError,
     "alpha_bar"),
    ("gpu duality_gap problem str", lambda: gpu.duality_gap("B", 0, 0), TypeError, "problem"),
    ("gpu pareto_stationarity 2-D", lambda: gpu.pareto_stationarity(np.ones((3, 4))),
     ValueError, "grads"),
    ("gpu minmax scales wrong shape", lambda: gpu.minmax_solution(B, scales=np.ones(3)),
     ValueError, "scales"),
    ("gpu is_dominated theta wrong shape", lambda: gpu.is_dominated(B, np.zeros(4)), ValueError,
     "theta"),
    # ------------------------------------------------------------ proofs_check
    ("config max_seeds=0", lambda: SuiteConfig(max_seeds=0), ValueError, "max_seeds"),
    ("config max_seeds < seeds", lambda: SuiteConfig(seeds=8, max_seeds=3), ValueError,
     "max_seeds (the seed budget) must be >= seeds"),
    ("sequential rule p0 >= p1", lambda: SequentialRule(p0=0.5, p1=0.5), ValueError, "p0"),
    ("sequential rule alpha=0", lambda: SequentialRule(alpha=0.0), ValueError, "alpha"),
    ("detection target < 0", lambda: SequentialRule().detection_limit(-0.1), ValueError,
     "power"),
    ("suite unknown claim", lambda: suite.run_suite(SuiteConfig(quick=True), ["nope"]),
     ValueError, "claims"),
    ("suite no claim", lambda: suite.run_suite(SuiteConfig(quick=True), [""]), ValueError,
     "claims"),
    ("SuiteConfig seed=-1", lambda: SuiteConfig(seed=-1), ValueError, "seed"),
    ("SuiteConfig replicas=0", lambda: SuiteConfig(replicas=0), ValueError, "replicas"),
    ("SuiteConfig backend", lambda: SuiteConfig(backend="jax"), ValueError, "backend"),
    ("SuiteConfig quick='yes'", lambda: SuiteConfig(quick="yes"), TypeError, "quick"),
    ("check_weighting step_fn not callable", lambda: conformance.check_weighting(42), TypeError,
     "step_fn"),
    ("check_weighting method", lambda: conformance.check_weighting(lambda x, g: x, "adam"),
     ValueError, "method"),
    ("check_weighting convention", lambda: conformance.check_weighting(lambda x, g: x,
                                                                       convention="x"),
     ValueError, "convention"),
    ("check_weighting steps=0", lambda: conformance.check_weighting(lambda x, g: x, steps=0),
     ValueError, "steps"),
    ("check_weighting rtol<0", lambda: conformance.check_weighting(lambda x, g: x, rtol=-1.0),
     ValueError, "rtol"),
    ("check_weighting atol=nan", lambda: conformance.check_weighting(lambda x, g: x,
                                                                     atol=float("nan")),
     ValueError, "atol"),
    ("check_weighting estimator exact", lambda: conformance.check_weighting(
        lambda x, g: x, estimator="exact"), ValueError, "estimator"),
    ("check_weighting problem str", lambda: conformance.check_weighting(lambda x, g: x,
                                                                        problem="linear"),
     TypeError, "problem"),
    ("golden name with ../", lambda: golden.load_golden("../../etc/passwd"), ValueError,
     "name_or_path"),
    ("golden name not a string", lambda: golden.load_golden(42), TypeError, "name_or_path"),
]

FILE_CASES = [
    ("golden .npy renamed .npz", "npy", "npz archive"),
    ("golden meta is a JSON list", {"meta": ["x"]}, "JSON object"),
    ("golden meta step_size string", {"meta": _meta(step_size="1")}, "step_size"),
    ("golden meta options list", {"meta": _meta(options=[])}, "options"),
    ("golden meta steps string", {"meta": _meta(steps="50")}, "steps"),
    ("golden meta unknown option", {"meta": _meta(options={"warp": 2})}, "reference method"),
    ("golden meta method", {"meta": _meta(method="adam")}, "method"),
    ("golden meta rtol NaN", {"meta": _meta(rtol=float("nan"))}, "rtol"),
    ("golden weights missing", {"weights": None}, "weights"),
    ("golden losses float32", {"losses": np.ones((50, 3), np.float32)}, "losses"),
]

CLI_CASES = [
    (["--seed", "-1"], "--seed"),
    (["--replicas", "0"], "--replicas"),
    (["--claims", "nope"], "claims"),
    (["--claims", ","], "claims"),
    (["--backend", "jax"], "--backend"),
    (["--seed", "x"], "--seed"),
    (["--seeds", "0"], "--seeds"),
    (["--max-seeds", "0"], "--max-seeds"),
    (["--max-seeds", "4", "--seeds", "8"], "--max-seeds (the seed budget) must be >= --seeds"),
    (["--batch-sizes", "8,x"], "--batch-sizes"),
    (["--batch-sizes", "0"], "--batch-sizes"),
    (["--method", "nocolon"], "module:callable"),
    (["--method", "math:sqrt"], "factory"),
    (["conformance"], "module:callable"),
    (["conformance", "nocolon"], "module:callable"),
    (["conformance", "m:f", "--steps", "0"], "--steps"),
    (["conformance", "m:f", "--rtol", "nan"], "--rtol"),
    (["conformance", "m:f", "--step-size", "0"], "--step-size"),
    (["conformance", "math:sqrt", "--golden", "nope"], "golden"),
]


@pytest.mark.parametrize("call, exc, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_argument_is_named(call, exc, names):
    with np.errstate(all="ignore"), pytest.raises(exc) as info:
        call()
    assert names in str(info.value), str(info.value)


@pytest.mark.parametrize("change, names", [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_a_bad_golden_file_is_a_format_error(tmp_path, change, names):
    if change == "npy":
        path = tmp_path / "renamed.npz"
        with open(path, "wb") as fh:
            np.save(fh, np.ones(3))
    else:
        path = _golden_file(tmp_path, **change)
    with pytest.raises(golden.GoldenFormatError) as info:
        golden.load_golden(path)
    assert names in str(info.value), str(info.value)


@pytest.mark.parametrize("argv, names", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_a_bad_command_line_exits_2_with_one_line(tmp_path, capsys, argv, names):
    argv = [*argv, "--out", str(tmp_path / "r")] if argv[0] != "conformance" else argv
    try:
        code = cli.main(argv)
    except SystemExit as exc:           # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert names in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_the_table_covers_at_least_80_cases():
    assert len(CASES) + len(FILE_CASES) + len(CLI_CASES) >= 80
