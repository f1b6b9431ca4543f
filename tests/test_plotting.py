"""The pictures of skdisent.plotting on tiny fitted models, and the information ProVLAE records."""

import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from skdisent import VLAE, BetaVAE, ProVLAE  # noqa: E402
from skdisent import plotting  # noqa: E402
from skdisent.datasets import make_dsprites  # noqa: E402

TINY = {"conv_channels": 4, "dense_units": 8, "batch_size": 32, "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def data():
    """128 dSprites images of 16x16 and their factors."""
    return make_dsprites(n_samples=128, size=16, random_state=0, return_X_y=True)


@pytest.fixture(scope="module")
def models(data):
    X, _ = data
    return {
        "BetaVAE": BetaVAE(n_components=3, n_epochs=1, depth=2, **TINY).fit(X),
        "VLAE": VLAE(levels=2, latent_dim=2, n_epochs=2, **TINY).fit(X),
        "ProVLAE": ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1,
                           snapshot_steps=True, **TINY).fit(X),
    }


def assert_png(path):
    """A PNG that exists and is not one flat colour."""
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert image[..., :3].std() > 0.01


@pytest.mark.parametrize("name", ["BetaVAE", "VLAE", "ProVLAE"])
def test_traversals(models, data, name, tmp_path):
    X, _ = data
    figure = plotting.plot_traversals(models[name], X, index=3, n_values=5,
                                      path=tmp_path / "t.png")
    assert isinstance(figure, Figure)
    assert_png(tmp_path / "t.png")
    levels = [d for d in models[name].latent_dims_ if d]
    assert len(figure.axes) == len(levels)  # one block per level with latents
    labels = [t.get_text() for ax in figure.axes for t in ax.get_yticklabels()]
    assert len(labels) == models[name].n_components_  # one row per latent


def test_traversals_from_the_prior_need_no_images(models):
    figure = plotting.plot_traversals(models["VLAE"])
    assert isinstance(figure, Figure)
    labels = [t.get_text() for ax in figure.axes for t in ax.get_yticklabels()]
    assert labels == ["z2.1", "z2.2", "z1.1", "z1.2"]  # the deepest level first


@pytest.mark.parametrize("name", ["BetaVAE", "ProVLAE"])
def test_samples_per_level(models, data, name, tmp_path):
    X, _ = data
    figure = plotting.plot_samples_per_level(models[name], X, n_samples=4, path=tmp_path / "s.png")
    assert isinstance(figure, Figure)
    assert_png(tmp_path / "s.png")
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert len(labels) == len([d for d in models[name].latent_dims_ if d])


def test_samples_per_level_are_repeatable(models, data):
    X, _ = data
    a = plotting.plot_samples_per_level(models["VLAE"], X, random_state=1)
    b = plotting.plot_samples_per_level(models["VLAE"], X, random_state=1)
    np.testing.assert_array_equal(a.axes[0].images[0].get_array(), b.axes[0].images[0].get_array())


def test_reconstructions_of_several_models(models, data, tmp_path):
    X, _ = data
    figure = plotting.plot_reconstructions(models, X, n_images=5, path=tmp_path / "r.png")
    assert_png(tmp_path / "r.png")
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["input", "BetaVAE", "VLAE", "ProVLAE"]
    assert isinstance(plotting.plot_reconstructions(models["VLAE"], X), Figure)


def test_information_flow(models, tmp_path):
    figure = plotting.plot_information_flow(models["ProVLAE"], path=tmp_path / "i.png")
    assert_png(tmp_path / "i.png")
    assert len(figure.axes) == 2  # one panel per progressive step
    ticks = sorted(figure.axes[0].get_yticklabels(), key=lambda t: t.get_position()[1])
    assert [t.get_text() for t in ticks] == ["level 1", "level 2"]  # the deepest on top


def test_information_flow_needs_a_progressive_fit(models):
    with pytest.raises(ValueError, match="progressive step"):
        plotting.plot_information_flow(models["VLAE"])


def test_information_flow_steps(models, data, tmp_path):
    X, _ = data
    model = models["ProVLAE"]
    figure = plotting.plot_information_flow_steps(model, X, index=2, n_samples=3,
                                                  path=tmp_path / "f5.png")
    assert isinstance(figure, Figure)
    assert_png(tmp_path / "f5.png")
    steps, levels = 2, 2
    image_axes = [ax for ax in figure.axes if ax.images]
    assert len(figure.axes) == 2 * steps * levels and len(image_axes) == steps * levels
    # axes row by row: one row per level, the deepest on top; one column block per step,
    # level 1 not active at step 0
    labels = [t.get_text() for ax in image_axes for t in ax.get_yticklabels()]
    assert labels == ["z2", "z2", "z1\n(inactive)", "z1"]
    # I(x; z_l) beside every row, from each step's end record; I(x; z) on top of each step
    bars = [ax for ax in figure.axes if not ax.images]
    written = [float(t.get_text()) for ax in bars for t in ax.texts]
    expected = [s.history_[-1][f"information_{level}"] for level in (2, 1)
                for s in model.step_snapshots_]
    np.testing.assert_allclose(written, expected, atol=0.005)
    titles = [ax.get_title(loc="left") for ax in image_axes if ax.get_title(loc="left")]
    assert titles == [f"step {s}: I(x; z) = {r.history_[-1]['information_total']:.2f}"
                      for s, r in enumerate(model.step_snapshots_)]
    assert "log 128" in figure.get_suptitle()  # the bound of the 128 training rows

    def cells(ax):  # the row's three 16x16 images, out of the mosaic
        mosaic = np.asarray(ax.images[0].get_array())
        return [mosaic[:, c * 17: c * 17 + 16] for c in range(3)]

    # the decoder ignores an inactive level: its row repeats one image (to float rounding)
    assert all(np.allclose(c, cells(image_axes[2])[0], atol=1e-6) for c in cells(image_axes[2]))
    assert not all(np.allclose(c, cells(image_axes[0])[0], atol=1e-6)
                   for c in cells(image_axes[0]))


def test_information_flow_steps_needs_snapshots(models, data):
    X, _ = data
    with pytest.raises(ValueError, match="snapshot_steps=True"):
        plotting.plot_information_flow_steps(models["VLAE"], X)


def test_score_vs_reconstruction(tmp_path):
    results = [
        {"model": m, "beta": b, "seed": s, "reconstruction_error": 10 + b + s,
         "mig": 0.1 * b + 0.01 * s, "mig_sup": 0.2, "factor_vae_score": 0.5}
        for m in ("BetaVAE", "ProVLAE") for b in (1.0, 4.0) for s in (0, 1, 2)
    ]
    figure = plotting.plot_score_vs_reconstruction(results, top_k=2, path=tmp_path / "f.png")
    assert_png(tmp_path / "f.png")
    assert len(figure.axes) == 3
    x, y = figure.axes[1].lines[0].get_data()  # MIG panel, BetaVAE: the best two seeds of each beta
    np.testing.assert_allclose(x, [10 + 1 + 1.5, 10 + 4 + 1.5])
    np.testing.assert_allclose(y, [0.1 + 0.015, 0.4 + 0.015])
    pandas = pytest.importorskip("pandas")
    assert isinstance(plotting.plot_score_vs_reconstruction(pandas.DataFrame(results),
                                                            scores=["mig"]), Figure)


def test_score_vs_reconstruction_names_a_missing_key():
    with pytest.raises(ValueError, match="'mig_sup'"):
        plotting.plot_score_vs_reconstruction([{"model": "VLAE", "reconstruction_error": 1.0,
                                                "mig": 0.1, "factor_vae_score": 0.2}])


def test_unfitted_and_flat_models_are_refused(data):
    X, _ = data
    with pytest.raises(NotFittedError):
        plotting.plot_traversals(VLAE())
    flat = VLAE(levels=2, latent_dim=1, n_epochs=1, **TINY).fit(X.reshape(len(X), -1)[:, :20])
    with pytest.raises(ValueError, match="image_shape"):
        plotting.plot_traversals(flat)


def test_without_matplotlib_the_error_names_the_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "skdisent\[plot\]"'):
        plotting.plot_traversals(models["VLAE"])


# ------------------------------------------ ProVLAE's information per progressive step


def test_provlae_records_the_information_at_each_step_end(models):
    model = models["ProVLAE"]
    assert model.information_per_step_.shape == (2, 2)
    assert np.isfinite(model.information_per_step_).all()
    ends = [r for r in model.history_ if "information_total" in r]
    assert [r["epoch"] for r in ends] == [1, 2]
    assert {"information_1", "information_2"} <= set(ends[0])


def test_information_is_repeatable_and_leaves_training_alone(data):
    X, _ = data
    params = dict(levels=2, latent_dim=2, epochs_per_step=2, fade_in_steps=1, **TINY)
    a, b = ProVLAE(**params).fit(X), ProVLAE(**params).fit(X)
    np.testing.assert_array_equal(a.information_per_step_, b.information_per_step_)
    assert [r["epoch"] for r in a.history_ if "information_total" in r] == [2, 4]
    # the records of epochs that end no step hold no information
    assert all("information_1" not in r for r in a.history_ if r["epoch"] % 2)
    # the estimate draws nothing from the training's generators: the losses match a fit
    # whose information records are switched off
    c = ProVLAE(**params)
    c._information_record = lambda source, device: {}
    c.fit(X)
    assert [r["loss"] for r in c.history_] == [r["loss"] for r in a.history_]
