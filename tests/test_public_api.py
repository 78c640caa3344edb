"""The public API a user reaches for: config files, compare + the plot functions, verify on a
configured family (docs/api.md, docs/tutorial.md)."""

import json

import numpy as np
import pytest

import proofs_check as pc
import reference as R
from proofs_check.report import atomic
from proofs_check.config import ProblemSpec, SuiteConfig

TWO = R.make_linear_problem(2, 3, 60, noise=[0.1, 1.0], seed=0)
METHODS = {"ExcessMTL": R.ExcessMTL("exact", "official"), "GroupDRO": R.GroupDRO(),
           "Equal": R.EqualWeights("paper")}


@pytest.fixture(scope="module")
def runs():
    return pc.compare(TWO, METHODS, 150, batch_size=8, seeds=2)


def test_compare_records_exact_quantities_for_every_method_and_seed(runs):
    assert runs.labels == ("ExcessMTL", "GroupDRO", "Equal") and runs.noisy_tasks == (1,)
    assert runs.losses.shape == (3, 2, 151, 2) and runs.weights.shape == (3, 2, 150, 2)
    np.testing.assert_allclose(runs.weights.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(runs.excess, runs.losses - TWO.optimal_losses, atol=1e-12)
    np.testing.assert_allclose(runs.gap, runs.excess.max(-1) - R.minmax_solution(TWO).value,
                               atol=1e-12)
    assert np.all(runs.gap >= -1e-9)                 # the min–max value is a lower bound
    assert len(runs.rows()) == 3 * 2 * 151 * 2


def test_compare_takes_the_convention_out_of_the_learning_rate():
    """Official (Σα = m) and paper (Σα = 1) ExcessMTL take the same θ-steps: lr/m is applied
    inside, so their trajectories coincide."""
    res = pc.compare(TWO, {"official": R.ExcessMTL("exact", "official"),
                           "paper": R.ExcessMTL("exact", "paper")}, 50)
    np.testing.assert_allclose(res.losses[0], res.losses[1], rtol=1e-10)


def test_saved_results_round_trip_and_never_overwrite_a_foreign_file(runs, tmp_path):
    path = runs.save(tmp_path / "runs.npz")
    back = pc.load_comparison(path)
    assert back.labels == runs.labels and back.noisy_tasks == runs.noisy_tasks
    np.testing.assert_array_equal(back.gap, runs.gap)
    with pytest.raises(atomic.OutputPathError, match="exists"):
        runs.save(path)
    runs.save(path, overwrite=True)
    (tmp_path / "mine.npz").write_bytes(b"user data")
    with pytest.raises(ValueError):
        runs.save(tmp_path / "mine.npz", overwrite=True)
    assert (tmp_path / "mine.npz").read_bytes() == b"user data"
    with pytest.raises(ValueError, match="not a comparison"):
        pc.load_comparison(tmp_path / "mine.npz")


@pytest.mark.parametrize("plot", [pc.plot_convergence, pc.plot_weights, pc.plot_front])
def test_each_plot_writes_a_png_and_a_vector_copy_from_saved_results(plot, runs, tmp_path):
    saved = runs.save(tmp_path / "runs.npz")
    written = plot(saved, tmp_path / "figs" / plot.__name__)
    assert [p.suffix for p in written] == [".png", ".svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in written[1].read_bytes()[:2000]
    with pytest.raises(atomic.OutputPathError, match="exists"):
        plot(runs, tmp_path / "figs" / plot.__name__)
    pdf = plot(runs, tmp_path / "figs" / f"{plot.__name__}-pdf", vector="pdf")
    assert pdf[1].read_bytes()[:4] == b"%PDF"


def test_plot_gap_vs_T_draws_from_a_report_or_its_folder(tmp_path):
    rep = pc.verify(claims=["rate"], seeds=2, steps=200, quick=True)
    assert [p.suffix for p in pc.plot_gap_vs_T(rep, tmp_path / "gap")] == [".png", ".svg"]
    rep.save(tmp_path / "out", figures=False)
    assert len(pc.plot_gap_vs_T(tmp_path / "out", tmp_path / "gap2", vector="pdf")) == 2
    with pytest.raises(ValueError, match="report.json"):
        pc.plot_gap_vs_T(tmp_path, tmp_path / "gap3")


@pytest.mark.parametrize("call, exc, name", [
    (lambda: pc.compare("linear", [R.GroupDRO()], 10), TypeError, "problem"),
    (lambda: pc.compare(TWO, [], 10), ValueError, "methods"),
    (lambda: pc.compare(TWO, [R.GroupDRO(), R.GroupDRO()], 10), ValueError, "labels"),
    (lambda: pc.compare(TWO, [R.GroupDRO()], 0), ValueError, "steps"),
    (lambda: pc.compare(TWO, [R.GroupDRO()], 10, lr=-1.0), ValueError, "lr"),
    (lambda: pc.compare(TWO, [R.GroupDRO()], 10, noisy_tasks=[5]), ValueError, "noisy_tasks"),
    (lambda: pc.plot_convergence(3, "x"), TypeError, "results"),
    (lambda: pc.plot_front(pc.compare(TWO, [R.GroupDRO()], 5), "x", tasks=(0, 0)), ValueError,
     "tasks"),
    (lambda: pc.plot_weights(pc.compare(TWO, [R.GroupDRO()], 5), "x", vector="eps"), ValueError,
     "vector"),
])
def test_bad_arguments_are_named(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# ------------------------------------------------------------------ config files
GRID = """
[[problems]]
family = "linear"
n_tasks = 5
dim = 4
n_samples = 80
noise = [1.0, 0.1, 0.1, 1.5, 0.1]

[run]
quick = true
seeds = 3
steps = 300
batch_sizes = [0, 16]
"""


def test_a_config_file_sets_the_problems_and_sizes_of_every_claim(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(GRID)
    cfg = SuiteConfig.from_toml(f)
    assert cfg.problems == (ProblemSpec("linear", 5, 4, 80, (1.0, 0.1, 0.1, 1.5, 0.1)),)
    assert (cfg.seeds, cfg.steps, cfg.batch_sizes, cfg.quick) == (3, 300, (16,), True)
    assert cfg.train_steps == cfg.rate_steps == cfg.horizon == 300
    assert cfg.linear().n_tasks == 5 and cfg.spec("linear").noisy_tasks == (0, 3)
    assert SuiteConfig.from_toml(f, seeds=5).seeds == 5           # the command line wins


@pytest.mark.parametrize("text, name", [
    ("[problem]\nfamily = 'cubic'\n", "family"),
    ("[problem]\nn_tasks = 3\nnoise = [0.1]\n", "noise"),
    ("[problem]\nfamily = 'logistic'\nnoise = [0.9, 0, 0]\n", "noise"),
    ("[problem]\nwidth = 3\n", "width"),
    ("[run]\nsteps = 10\n", "steps"),
    ("[run]\nseedz = 3\n", "seedz"),
    ("[run]\nbatch_sizes = 8\n", "batch_sizes"),
    ("[sweep]\n", "sweep"),
    ("[run\n", "TOML"),
])
def test_a_bad_config_file_is_refused_naming_the_key(tmp_path, text, name):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises((ValueError, TypeError), match=name):
        SuiteConfig.from_toml(f)


def test_the_cli_runs_every_claim_on_the_configured_family(tmp_path, capsys):
    from proofs_check.cli import main
    f = tmp_path / "mine.toml"
    f.write_text(GRID)
    code = main(["--config", str(f), "--out", str(tmp_path / "out"), "--no-figures",
                 "--claims", "robustness,pareto-stationary"])
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["problems"][0]["n_tasks"] == 5
    rob = next(c for c in report["claims"] if c["id"] == "robustness")
    assert rob["config"]["problems"]["linear"]["noisy_tasks"] == [0, 3]
    assert rob["config"]["seeds"] == [0, 1, 2]
    assert main(["--config", str(tmp_path / "none.toml")]) == 2
    assert "--config" in capsys.readouterr().err


# ------------------------------------------------------------------ verify, every claim
class MyHedge:
    """A user's method (not a reference class): Hedge on the excess risks, weights on Δ_m."""

    needs = frozenset({"excess"})

    def init_state(self, n_tasks, dim):
        return np.zeros(n_tasks)

    def step(self, state, losses, grads, *, excess=None, hessians=None):
        s = state + 0.5 * np.asarray(excess)
        w = np.exp(s - s.max())
        return s, w / w.sum()


def test_verify_runs_every_claim_on_a_user_family_with_five_tasks_and_two_noisy_ones():
    spec = ProblemSpec("linear", 5, 4, 80, (1.0, 0.1, 0.1, 1.5, 0.1))
    report = pc.verify(MyHedge(), spec, seeds=3, steps=300, quick=True)
    assert [c.id for c in report.claims] == list(pc.VERIFIABLE)
    assert all(c.method == "MyHedge" for c in report.claims)
    rob = report.claim("robustness")
    assert rob.arrays["linear|MyHedge|weights_all"].shape == (3, 3, 5)
    assert rob.arrays["linear|noisy"].tolist() == [0, 3]
    stat = report.claim("pareto-stationary")
    assert stat.config["seeds"] == [0, 1, 2] and stat.config["steps"] == 300
    assert "3 seeds" in stat.checks[0].name
    # GroupDRO's loss weighting fails robustness on the same family (4 seeds: the SPRT fails a
    # rule after 4 exceedances; on 3 it could only say inconclusive)
    dro = pc.verify(R.GroupDRO("paper"), spec, claims=["robustness"], seeds=4, quick=True)
    assert dro.claim("robustness").failed
