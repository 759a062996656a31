"""RunMyANN / ApplyMyANN (chapter 9): train once and save, then apply the saved network to new data."""
import os
import warnings

import numpy as np
import pytest

from annicas_lib import (
    ApplyMyANN,
    Layer_Dense,
    Layer_Dropout,
    Activation_ReLU,
    RunMyANN,
    TrainingResult,
    forward_pass,
    load_network,
    make_spiral,
    save_network,
)

QUICK = dict(samples=30, epochs=150, plot=False, verbose=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "my_ann.npz"
    return RunMyANN(path=path, **QUICK)


def test_run_returns_results_and_writes_the_file(trained):
    assert isinstance(trained, TrainingResult)
    assert os.path.exists(trained.path)
    assert len(trained.monitor) == QUICK["epochs"]
    assert set(trained.monitor.names) == {"accuracy", "loss", "learning_rate"}
    assert trained.x.shape == (90, 2) and trained.y.shape == (90,)
    assert 0.0 <= trained.accuracy <= 1.0 and np.isfinite(trained.loss)
    # the loss goes down and the learning rate follows alpha_0 / (1 + decay * t)
    assert trained.monitor["loss"][-1] < trained.monitor["loss"][0]
    assert trained.monitor["learning_rate"][-1] == pytest.approx(1.0 / (1 + 1e-3 * (QUICK["epochs"] - 1)))
    layers, meta = load_network(trained.path)
    assert [type(layer).__name__ for layer in layers] == ["Layer_Dense", "Activation_ReLU", "Layer_Dense", "Activation_Softmax"]
    assert meta["n_classes"] == 3 and meta["n_features"] == 2 and meta["epochs"] == QUICK["epochs"]
    assert meta["optimizer"] == "sgd" and meta["train_accuracy"] == pytest.approx(trained.accuracy)


def test_apply_predicts_what_the_trained_network_predicts(trained):
    x_new, _ = make_spiral(50, 3, seed=11)
    predicted = ApplyMyANN(x_new, path=trained.path)
    assert predicted.dtype == np.int64 and predicted.shape == (150,)
    assert np.array_equal(predicted, trained.predict(x_new))
    classes, probabilities = ApplyMyANN(x_new, path=trained.path, return_probabilities=True)
    assert np.array_equal(classes, predicted)
    assert probabilities.shape == (150, 3) and np.allclose(probabilities.sum(axis=1), 1)
    assert np.allclose(probabilities, trained.predict_proba(x_new))
    # the accuracy RunMyANN reports is the saved network's accuracy on its training data
    assert np.mean(ApplyMyANN(trained.x, path=trained.path) == trained.y) == pytest.approx(trained.accuracy)


def test_apply_checks_the_number_of_features(trained):
    with pytest.raises(ValueError, match="expects 2 features per sample, but x_new has 3") as info:
        ApplyMyANN(np.ones((4, 3)), path=trained.path)
    assert "(4, 3)" in str(info.value)
    with pytest.raises(ValueError, match="one point"):
        ApplyMyANN(np.ones(2), path=trained.path)
    with pytest.raises(TypeError, match="numbers"):
        ApplyMyANN(np.array([["a", "b"]]), path=trained.path)
    assert ApplyMyANN([[0.1, 0.2]], path=trained.path).shape == (1,)  # lists are fine


def test_apply_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="RunMyANN"):
        ApplyMyANN(np.zeros((3, 2)), path=tmp_path / "nothing_here.npz")


def test_apply_works_for_any_saved_network(tmp_path):
    """No hand-copied sizes: a hand-built 2-5-4 network without softmax, with dropout, is applied as saved."""
    layers = [Layer_Dense(2, 5, rng=0), Activation_ReLU(), Layer_Dropout(0.5), Layer_Dense(5, 4, rng=1)]
    save_network(tmp_path / "other.npz", layers)
    x = np.random.default_rng(0).normal(size=(20, 2))
    classes, probabilities = ApplyMyANN(x, path=tmp_path / "other.npz", return_probabilities=True)
    scores = forward_pass(layers, x)  # dropout off: training=False is the default
    assert np.array_equal(classes, np.argmax(scores, axis=1))
    assert probabilities.shape == (20, 4) and np.allclose(probabilities.sum(axis=1), 1)


def test_run_refuses_to_overwrite_before_training(trained, monkeypatch):
    before = open(trained.path, "rb").read()
    calls = []
    monkeypatch.setattr("annicas_lib.workflow.make_spiral", lambda *a, **k: calls.append(1))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        RunMyANN(path=trained.path, **QUICK)
    assert calls == []  # refused before any data was made or any epoch trained
    assert open(trained.path, "rb").read() == before


def test_run_overwrite_and_no_file(tmp_path):
    path = tmp_path / "net.npz"
    first = RunMyANN(path=path, seed=1, **QUICK)
    second = RunMyANN(path=path, seed=2, overwrite=True, **QUICK)
    x_new, _ = make_spiral(20, 3, seed=5)
    assert np.array_equal(ApplyMyANN(x_new, path=path), second.predict(x_new))
    assert not np.array_equal(first.layers[0].weights, second.layers[0].weights)
    unsaved = RunMyANN(path=None, **QUICK)
    assert unsaved.path is None
    assert os.listdir(tmp_path) == ["net.npz"]


def test_run_is_reproducible():
    a = RunMyANN(path=None, **QUICK)
    b = RunMyANN(path=None, **QUICK)
    assert np.array_equal(a.layers[0].weights, b.layers[0].weights)
    assert np.array_equal(a.monitor["loss"], b.monitor["loss"])


def test_run_with_adam_and_other_shapes(tmp_path):
    result = RunMyANN(optimizer="adam", classes=4, hidden=16, path=tmp_path / "adam.npz", **QUICK)
    assert result.meta["learning_rate"] == 0.02 and result.meta["momentum"] is None
    assert result.monitor["learning_rate"][0] == pytest.approx(0.02)
    x_new, _ = make_spiral(10, 4, seed=3)
    assert np.array_equal(ApplyMyANN(x_new, path=tmp_path / "adam.npz"), result.predict(x_new))


def test_nan_loss_stops_the_run_and_names_the_learning_rate():
    with pytest.raises(FloatingPointError, match="learning rate 1e\\+200"):
        RunMyANN(learning_rate=1e200, path=None, **QUICK)


def test_dead_relus_are_reported():
    with pytest.warns(RuntimeWarning, match="hidden ReLUs output 0.*learning rate 100"):
        result = RunMyANN(learning_rate=100.0, path=None, **QUICK)
    assert result.accuracy == pytest.approx(1 / 3)


def test_default_settings_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RunMyANN(path=None, **QUICK)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(optimizer="rmsprop"), "'sgd' or 'adam'"),
        (dict(hidden=0), "hidden"),
        (dict(epochs=2.5), "epochs"),
        (dict(classes=1), "classes"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(momentum=1.0), "momentum"),
        (dict(decay=-0.1), "decay"),
    ],
)
def test_run_rejects_bad_settings(kwargs, match):
    settings = {**QUICK, "path": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        RunMyANN(**settings)


def test_run_checks_the_folder_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RunMyANN(path=tmp_path / "missing_folder" / "net.npz", **QUICK)


def test_plotting_run_and_decision_regions(tmp_path):
    """plot=True draws without error (Agg backend); plot_decision_regions accepts classes or scores."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from annicas_lib import plot_decision_regions

    result = RunMyANN(samples=20, epochs=20, path=None, plot=True, verbose=False)
    plt.close("all")
    ax = plot_decision_regions(result.predict, result.x, result.y, resolution=30, title="regions")
    assert ax.get_title() == "regions"
    plot_decision_regions(result.predict_proba, result.x, result.y, resolution=30)
    with pytest.raises(ValueError, match="shape"):
        plot_decision_regions(lambda p: np.zeros(3, dtype=int), result.x, result.y, resolution=30)
    with pytest.raises(TypeError, match="function"):
        plot_decision_regions("not a function", result.x, result.y)
    with pytest.raises(ValueError, match=r"\(n_points, 2\)"):
        plot_decision_regions(result.predict, np.ones((5, 3)), np.zeros(5, dtype=int))
    plt.close("all")
