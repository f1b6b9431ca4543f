"""The ``skdisent`` command, end to end on tiny settings."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

from skdisent import ProVLAE, load  # noqa: E402
from skdisent.cli import format_table, main  # noqa: E402
from skdisent.evaluation import evaluate_model, reconstruction_error  # noqa: E402
from skdisent.datasets import make_dsprites  # noqa: E402

TINY_FIT = ["-p", "levels=2", "-p", "latent_dim=2", "-p", "epochs_per_step=1", "-p", "batch_size=32",
            "-p", "conv_channels=4", "-p", "dense_units=8", "-p", "fade_in_steps=1",
            "-p", "random_state=0", "-p", "device=cpu"]


def assert_png(path):
    image = imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 50
    assert image[..., :3].std() > 0.01, f"{path} is blank"


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``skdisent demo --quick`` with two levels and 128 images, run once for the module."""
    out = tmp_path_factory.mktemp("demo")
    status = main(["demo", "--quick", "--n-samples", "128", "--eval-samples", "640", "--levels", "2",
                   "--device", "cpu", "-o", str(out)])
    return status, out


def test_demo_writes_the_table_the_pictures_and_the_json(demo):
    status, out = demo
    assert status == 0
    document = json.loads((out / "results.json").read_text())
    results = document["results"]
    assert [r["model"] for r in results] == ["BetaVAE", "VLAE", "ProVLAE"]
    for record in results:
        for key in ("reconstruction_error", "mig", "mig_sup", "factor_vae_score", "time_s"):
            assert np.isfinite(record[key]), (record["model"], key)
        assert 0 <= record["mig"] <= 1 and 0 <= record["mig_sup"] <= 1
        assert record["latent_dims"] in ([0, 4], [2, 2])  # the same number of latents
    # the same number of iterations for every model
    assert len({r["n_iterations"] for r in results}) == 1
    assert len(results[2]["information_per_step"]) == 2  # ProVLAE: one row per step
    assert document["settings"]["image_size"] == 16
    for name in document["pictures"]:
        assert_png(out / name)
    assert {"traversals_provlae.png", "samples_per_level_vlae.png",
            "information_flow_provlae.png", "reconstructions.png",
            "score_vs_reconstruction.png"} <= set(document["pictures"])
    # the demo is a small study: one row per fit, as its results
    from skdisent.study import read_results

    rows = read_results(out)
    assert [(r["model"], r["mig"]) for r in rows] == [(r["model"], r["mig"]) for r in results]


def test_demo_runs_a_sweep_of_betas_and_seeds(tmp_path, capsys):
    status = main(["demo", "--quick", "--n-samples", "128", "--eval-samples", "640", "--levels", "2",
                   "--models", "provlae", "--betas", "1", "4", "--seeds", "0", "1",
                   "--device", "cpu", "-o", str(tmp_path)])
    assert status == 0
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert sum(line.startswith("ProVLAE") for line in table) == 4
    assert "epoch 1/2" in captured.err  # progress on standard error
    document = json.loads((tmp_path / "results.json").read_text())
    assert {(r["beta"], r["seed"]) for r in document["results"]} == {(1, 0), (1, 1), (4, 0), (4, 1)}
    assert (tmp_path / "traversals_provlae_beta4_seed1.png").is_file()


def test_fit_evaluate_traverse(tmp_path, capsys):
    model_file = tmp_path / "model.safetensors"
    assert main(["fit", "provlae", "--dataset", "dsprites", "--image-size", "16", "--n-samples",
                 "128", *TINY_FIT, "-o", str(model_file)]) == 0
    assert "epoch 2/2" in capsys.readouterr().err
    model = load(model_file)
    assert isinstance(model, ProVLAE) and model.input_shape_ == (1, 16, 16)

    scores_file = tmp_path / "scores.json"
    assert main(["evaluate", str(model_file), "--dataset", "dsprites", "--n-samples", "640",
                 "-o", str(scores_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["model", "beta"] and "ProVLAE" in out
    scores = json.loads(scores_file.read_text())["scores"]
    assert scores["model"] == "ProVLAE"
    assert 0 <= scores["mig"] <= 1 and 0 <= scores["factor_vae_score"] <= 1
    assert scores["reconstruction_error"] > 0

    pictures = tmp_path / "pictures"
    assert main(["traverse", str(model_file), "--dataset", "dsprites", "-o", str(pictures)]) == 0
    names = sorted(p.name for p in pictures.iterdir())
    assert names == ["information_flow.png", "reconstructions.png", "samples_per_level.png",
                     "traversals.png"]
    for path in pictures.iterdir():
        assert_png(path)


def test_fit_on_a_file_of_images_and_a_joblib_model(tmp_path, capsys):
    X, y = make_dsprites(n_samples=96, size=16, random_state=0, return_X_y=True)
    np.savez(tmp_path / "data.npz", images=X, factors=y)
    np.save(tmp_path / "images.npy", X[:, 0])  # (n, H, W)
    model_file = tmp_path / "model.joblib"
    assert main(["fit", "vlae", "--images", str(tmp_path / "images.npy"), "--quiet", "-p",
                 "n_epochs=1", "-p", "conv_channels=4", "-p", "dense_units=8", "-p", "levels=2",
                 "-o", str(model_file)]) == 0
    assert capsys.readouterr().out.strip() == str(model_file)
    # Opening a pickle runs its code: refused unless the user says so.
    assert main(["traverse", str(model_file), "-o", str(tmp_path / "p")]) == 1
    assert "loading a pickle runs whatever code it holds; pass --allow-pickle-code" in \
        one_line_error(capsys)
    assert not (tmp_path / "p" / "traversals.png").exists()
    assert main(["traverse", str(model_file), "--allow-pickle-code", "--images",
                 str(tmp_path / "images.npy"), "-o", str(tmp_path / "p")]) == 0
    assert_png(tmp_path / "p" / "traversals.png")


def test_a_pickle_of_something_else_is_one_line(tmp_path, capsys):
    joblib = pytest.importorskip("joblib")
    joblib.dump({"not": "a model"}, tmp_path / "thing.pkl")
    assert main(["evaluate", str(tmp_path / "thing.pkl"), "--allow-pickle-code", "--dataset",
                 "dsprites"]) == 1
    assert one_line_error(capsys).endswith("holds a dict, not a skdisent model")


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["fit", "nosuchmodel", "--dataset", "dsprites"], 2, "unknown model 'nosuchmodel'"),
        (["fit", "vlae"], 2, "one of the arguments --dataset --images is required"),
        (["demo", "--betas", "-1"], 2, "non-negative"),
        (["demo", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
        (["evaluate", "missing.safetensors", "--dataset", "dsprites"], 1, "no such model file"),
        (["fit", "vlae", "--images", "missing.npy"], 1, "no such file: missing.npy"),
        (["fit", "vlae", "--dataset", "dsprites", "-p", "colour=3"], 1, "no parameter 'colour'"),
        (["fit", "vlae", "--dataset", "dsprites", "--n-samples", "8", "-p", "beta=-2"], 1,
         "'beta' parameter of VLAE"),
        (["demo", "--models", "ldf"], 1, "the demo compares"),
        (["demo", "--quick", "--n-samples", "10"], 1, "less than two batches"),
        (["fit", "vlae", "--dataset", "dsprites", "--image-size", "8"], 1,
         "--image-size 8 is too small for dsprites: it draws images of 16 pixels or more"),
        (["fit", "vlae", "--dataset", "dsprites", "-p", "device=mps"], 1,
         "--device mps: device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
        (["demo", "--threads", "0"], 2, "expected a thread count"),
    ],
)
def test_mistakes_end_with_one_line_and_a_non_zero_status(argv, status, message, capsys,
                                                          monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    assert code == status
    assert message in one_line_error(capsys)


def test_a_model_file_that_is_not_one(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    assert main(["traverse", str(bad)]) == 1
    one_line_error(capsys)


def test_python_dash_m_skdisent():
    done = subprocess.run([sys.executable, "-m", "skdisent", "fit", "nosuchmodel"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "unknown model" in done.stderr


def test_scores_helpers():
    X, y = make_dsprites(n_samples=640, size=16, random_state=0, return_X_y=True)
    model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1, conv_channels=4,
                    dense_units=8, batch_size=64, device="cpu", random_state=0).fit(X)
    error = reconstruction_error(model, X)
    assert error == pytest.approx(reconstruction_error(model, X.astype(np.float32) / 255), rel=1e-4)
    assert error == pytest.approx(reconstruction_error(model, X, batch_size=7), rel=1e-6)
    scores = evaluate_model(model, X, y)
    assert scores["factor_vae_batch_size"] == min(64, np.bincount(y[:, 2]).min())
    table = format_table([{"model": "ProVLAE", "beta": 1.0, "seed": 0, **scores, "time_s": 1.5}])
    assert table.splitlines()[2].split()[0] == "ProVLAE"


def test_sampling_estimator_scores(capsys):
    X, y = make_dsprites(n_samples=640, size=16, random_state=0, return_X_y=True)
    model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1, conv_channels=4,
                    dense_units=8, batch_size=64, device="cpu", random_state=0).fit(X)
    scores = evaluate_model(model, X, y, estimator="sampling", sampling_factors=[1, 2, 3, 4])
    assert 0 <= scores["mig"] <= 1 and 0 <= scores["mig_sup"] <= 1


# ------------------------------------------------------------------ Ctrl-C


def ctrl_c_at(monkeypatch, update):
    """Make optimiser update number ``update`` (1-based, over the process) raise Ctrl-C."""
    from skdisent.engine import Trainer

    count, original = itertools.count(1), Trainer.optimize

    def optimize(trainer, loss, name):
        if next(count) == update:
            raise KeyboardInterrupt
        return original(trainer, loss, name)

    monkeypatch.setattr(Trainer, "optimize", optimize)


def test_ctrl_c_ends_fit_with_a_checkpoint_the_same_command_resumes(tmp_path, capsys,
                                                                    monkeypatch):
    model_file = tmp_path / "model.safetensors"
    argv = ["fit", "provlae", "--dataset", "dsprites", "--image-size", "16", "--n-samples", "128",
            *TINY_FIT, "-o", str(model_file)]
    ctrl_c_at(monkeypatch, 6)  # the 2nd of 4 steps of epoch 2: epoch 1 is kept
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    checkpoints = tmp_path / "model.safetensors.checkpoints"
    assert err == (f"skdisent fit: interrupted after epoch 1 of 2; run the same command again "
                   f"to continue from the checkpoint in {checkpoints}")
    assert not model_file.exists() and (checkpoints / "epoch-000001.safetensors").exists()
    monkeypatch.undo()
    assert main(argv) == 0  # continues from epoch 1
    assert model_file.exists() and not checkpoints.exists()
    resumed = load(model_file)
    assert resumed.n_iter_ == 2 and not resumed.warm_start and resumed.checkpoint_dir is None
    model_file.unlink()
    assert main(argv) == 0  # the same fit, never interrupted
    X = make_dsprites(n_samples=64, size=16, random_state=5, return_X_y=True)[0]
    np.testing.assert_array_equal(load(model_file).transform(X), resumed.transform(X))


def test_ctrl_c_ends_the_demo_without_a_table_or_results(tmp_path, capsys, monkeypatch):
    argv = ["demo", "--quick", "--n-samples", "128", "--eval-samples", "640", "--levels", "2",
            "--device", "cpu", "-o", str(tmp_path)]
    ctrl_c_at(monkeypatch, 5)  # in the first epoch of the second model (two steps an epoch)
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert captured.out == ""  # no table
    assert "skdisent demo: interrupted after epoch" in captured.err.splitlines()[-1]
    assert not (tmp_path / "results.json").exists()
    monkeypatch.undo()
    assert main(argv) == 0
    assert (tmp_path / "results.json").exists() and not (tmp_path / "checkpoints").exists()
    document = json.loads((tmp_path / "results.json").read_text())
    assert {r["threads"] for r in document["results"]} == {document["environment"]["torch_threads"]}


def test_demo_network_options_reach_the_models():
    from skdisent.cli import build_parser
    from skdisent.cli._demo_run import _demo_model
    from skdisent.cli.demo import _demo_settings

    parser = build_parser()
    paper = _demo_settings(parser.parse_args(["demo", "--paper"]))
    assert (paper["normalization"], paper["initialization"]) == ("affine", "glorot")
    default = _demo_settings(parser.parse_args(["demo"]))
    assert (default["normalization"], default["initialization"]) == ("affine", "torch")
    chosen = _demo_settings(parser.parse_args(
        ["demo", "--normalization", "batch", "--initialization", "glorot"]))
    for name in ("betavae", "vlae", "provlae"):
        params = _demo_model(name, 4.0, 0, chosen, 1000).get_params()
        assert (params["normalization"], params["initialization"]) == ("batch", "glorot")


def test_demo_compares_the_other_hierarchical_models(tmp_path):
    status = main(["demo", "--quick", "--n-samples", "128", "--eval-samples", "640", "--levels",
                   "2", "--models", "hierarchicalvae", "teacherstudent", "nvae", "--device",
                   "cpu", "-o", str(tmp_path)])
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["model"] for r in results] == ["HierarchicalVAE", "TeacherStudentVAE", "NVAE"]
    assert len({r["n_iterations"] for r in results}) == 1  # the same iterations
    assert all(np.isfinite(r["reconstruction_error"]) for r in results)
    # NVAE's spatial latents: its groups resampled one at a time, not a row per latent
    pictures = {path.name for path in tmp_path.glob("*.png")}
    assert {"group_variation_nvae.png", "traversals_hierarchicalvae.png"} <= pictures, pictures
    assert "traversals_nvae.png" not in pictures
