"""Model (chapter 14): the Part I training loop packaged - train, evaluate, predict, save, load,
and one clear sentence for every kind of bad input."""
import re
import sys

import numpy as np
import pytest

from annicas_lib import Activation_ReLU, History, Layer_Dense, Model, Monitor, confusion_matrix, make_spiral
from annicas_lib.optimizers import Optimizer_Adam, Optimizer_SGD


def dense_model(seed=0, n_inputs=2, n_classes=3, hidden=32):
    model = Model()
    model.add(Layer_Dense(n_inputs, hidden, rng=seed))
    model.add(Activation_ReLU())
    model.add(Layer_Dense(hidden, n_classes, rng=seed + 1))
    return model


def weights_of(model):
    return [getattr(layer, name).copy() for layer in model.layers for name in getattr(layer, "params", ())]


class Spy:
    """An identity layer that records what passes through it (batch sizes, the training flag)."""

    def __init__(self, with_training=True):
        self.sizes, self.flags = [], []
        if not with_training:
            self.forward = self._forward_plain

    def forward(self, inputs, training=True):
        self.flags.append(training)
        return self._forward_plain(inputs)

    def _forward_plain(self, inputs):
        self.sizes.append(len(inputs))
        self.output = inputs
        return inputs

    def backward(self, dvalues):
        self.dinputs = dvalues
        return dvalues


def one_sentence(message):
    """A clear error is one sentence: no line breaks, ends with a full stop."""
    return "\n" not in message and message.rstrip().endswith(".")


@pytest.fixture(scope="module")
def spiral():
    return make_spiral(100, 3, seed=0)


# ---------------------------------------------------------------- the happy path
def blobs(n=300, seed=0):
    """Three well separated clouds of points: any working training loop learns them quickly."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    return centers[y] + 0.5 * rng.normal(size=(n, 2)), y


def test_train_evaluate_predict_and_history():
    x, y = blobs()
    model = dense_model()
    model.set(optimizer=Optimizer_Adam(learning_rate=0.02))
    history = model.train(x, y, epochs=20, batch_size=64, validation_data=(x, y), verbose=False)
    assert isinstance(history, History) and isinstance(history, Monitor) and len(history) == 20
    assert history.names == ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
    assert history["loss"][-1] < 0.3 * history["loss"][0] and history["accuracy"][-1] > 0.95
    loss, acc = model.evaluate(x, y)
    assert loss == pytest.approx(history["val_loss"][-1]) and acc == pytest.approx(history["val_accuracy"][-1])
    assert history.best_epoch is None and not history.stopped_early
    proba = model.predict_proba(x)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))
    assert acc == pytest.approx(np.mean(model.predict(x) == y))
    assert "20 epochs" in repr(history) and repr(model) == "Model([Layer_Dense, Activation_ReLU, Layer_Dense])"


def test_save_load_predicts_exactly_the_same(spiral, tmp_path):
    x, y = spiral
    model = dense_model()
    model.set(optimizer=Optimizer_Adam(learning_rate=0.02))
    model.train(x, y, epochs=3, verbose=False)
    path = tmp_path / "spiral.npz"
    model.save(path)
    again = Model.load(path)
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    assert again.evaluate(x, y) == model.evaluate(x, y)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)
    model.train(x, y, epochs=1, verbose=False)
    model.save(path, overwrite=True)
    np.testing.assert_array_equal(Model.load(path).predict(x), model.predict(x))
    with pytest.raises(RuntimeError, match=r"call model.set\(optimizer="):
        again.train(x, y, epochs=1, verbose=False)  # a loaded model predicts; training needs an optimizer
    again.set(optimizer=Optimizer_SGD(learning_rate=0.1))
    again.train(x, y, epochs=1, verbose=False)


def test_same_seed_same_weights_other_seed_other_weights(spiral):
    x, y = spiral
    runs = []
    for seed in (7, 7, 8):
        model = dense_model(seed=0)
        model.set(optimizer=Optimizer_SGD(learning_rate=0.5))
        model.train(x, y, epochs=3, batch_size=25, seed=seed, verbose=False)
        runs.append(weights_of(model))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


def test_shuffle_false_keeps_the_order_and_batches_need_not_divide_n(spiral):
    x, y = spiral
    x, y = x[:50], y[:50]
    model = dense_model()
    spy = Spy(with_training=False)
    model.layers.insert(0, spy)
    model._training_flags.insert(0, False)
    model.set(optimizer=Optimizer_SGD(learning_rate=0.1))
    model.train(x, y, epochs=2, batch_size=16, verbose=False)
    assert spy.sizes == [16, 16, 16, 2] * 2
    spy.sizes.clear()
    model.train(x, y, epochs=1, batch_size=500, verbose=False)  # a batch larger than the data set
    assert spy.sizes == [50]
    spy.sizes.clear()
    model.train(x, y, epochs=1, batch_size=7, verbose=False)  # 50 = 7 * 7 + 1: no batch of one sample
    assert spy.sizes == [7] * 6 + [8]


def test_batchnorm_model_trains_when_one_sample_is_left_over(spiral):
    from annicas_lib import Layer_BatchNorm

    x, y = spiral
    model = Model([Layer_Dense(2, 16, rng=0), Layer_BatchNorm(16, dtype=np.float64), Activation_ReLU(), Layer_Dense(16, 3, rng=1)])
    model.set(optimizer=Optimizer_Adam(learning_rate=0.01))
    model.train(x[:33], y[:33], epochs=2, batch_size=8, verbose=False)  # 33 = 4 * 8 + 1


def test_training_flag_reaches_layers_that_take_it(spiral):
    x, y = spiral
    spy = Spy()
    model = Model([spy, Layer_Dense(2, 3, rng=0)])
    model.set(optimizer=Optimizer_SGD())
    model.train(x, y, epochs=1, batch_size=100, validation_data=(x[:10], y[:10]), verbose=False)
    assert spy.flags == [True, True, True, False]  # three training batches, then validation
    spy.flags.clear()
    model.predict(x)
    assert spy.flags == [False]


def test_inference_runs_in_chunks(spiral):
    x, y = spiral
    model = dense_model()
    full = model.predict_proba(x)
    spy = Spy()
    chunked = Model([spy, *model.layers], inference_batch_size=64)
    np.testing.assert_allclose(chunked.predict_proba(x), full, rtol=1e-12)
    assert spy.sizes == [64, 64, 64, 64, 44]
    loss, acc = chunked.evaluate(x, y)
    assert (loss, acc) == pytest.approx(model.evaluate(x, y), rel=1e-12)


def test_early_stopping_stops_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    # random labels: the network can only memorise, so the validation loss soon rises
    x, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    x_val, y_val = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    model = dense_model(n_inputs=5, hidden=64)
    model.set(optimizer=Optimizer_Adam(learning_rate=0.05))
    history = model.train(x, y, epochs=200, batch_size=20, validation_data=(x_val, y_val),
                          early_stopping=3, verbose=False)
    assert history.stopped_early and len(history) == history.best_epoch + 3 < 200
    best = history["val_loss"].min()
    assert history["val_loss"][history.best_epoch - 1] == best
    assert model.evaluate(x_val, y_val)[0] == pytest.approx(best, rel=1e-12)


def test_early_stopping_restores_the_best_epoch_even_without_stopping():
    x, y = blobs(seed=1)
    x_val, y_val = blobs(n=90, seed=2)
    model = dense_model()
    model.set(optimizer=Optimizer_SGD(learning_rate=0.3))
    history = model.train(x, y, epochs=6, validation_data=(x_val, y_val), early_stopping=50, verbose=False)
    assert not history.stopped_early and len(history) == 6
    assert model.evaluate(x_val, y_val)[0] == pytest.approx(history["val_loss"].min(), rel=1e-12)
    assert history["val_loss"][history.best_epoch - 1] == history["val_loss"].min()


def test_regularization_penalty_shrinks_weights(spiral):
    x, y = spiral
    norms = []
    for l2 in (0.0, 0.05):
        model = Model([Layer_Dense(2, 32, rng=0, weight_regularizer_l2=l2), Activation_ReLU(), Layer_Dense(32, 3, rng=1)])
        model.set(optimizer=Optimizer_SGD(learning_rate=0.5))
        model.train(x, y, epochs=20, verbose=False)
        norms.append(np.linalg.norm(model.layers[0].weights))
    assert norms[1] < 0.8 * norms[0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_training_raises_floating_point_error(spiral):
    x, y = spiral
    model = dense_model()
    model.set(optimizer=Optimizer_SGD(learning_rate=1e30))
    with pytest.raises(FloatingPointError):
        model.train(x * 1e10, y, epochs=5, verbose=False)


def test_progress_output(spiral, capsys, monkeypatch):
    x, y = spiral
    model = dense_model()
    model.set(optimizer=Optimizer_SGD())
    model.train(x, y, epochs=2, verbose=False)
    assert capsys.readouterr() == ("", "")
    model.train(x, y, epochs=2, verbose=True)
    assert "epoch 2/2" in capsys.readouterr().err  # tqdm's bar
    model.train(x, y, epochs=2, validation_data=(x, y), verbose=2)  # one line per epoch, no bar
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert err == "" and len(lines) == 2
    assert re.match(r"epoch 1/2: loss=\d\.\d{4}, acc=\d\.\d{3}, val_loss=\d\.\d{4}, val_acc=\d\.\d{3}$", lines[0])
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    model.train(x, y, epochs=3, verbose=True)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_summary_counts_parameters(capsys):
    model = dense_model(n_inputs=4, hidden=10, n_classes=3)
    assert model.summary((4,)) == 4 * 10 + 10 + 10 * 3 + 3
    assert "(10,)" in capsys.readouterr().out


def test_confusion_matrix():
    cm = confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], n_classes=4)
    assert cm.shape == (4, 4) and cm.sum() == 5
    np.testing.assert_array_equal(cm[:3, :3], [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0])


def test_history_plot_draws_loss_and_accuracy(spiral):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = spiral
    model = dense_model()
    model.set(optimizer=Optimizer_SGD())
    history = model.train(x, y, epochs=3, validation_data=(x, y), verbose=False)
    fig = history.plot()
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 for ax in fig.axes)
    assert fig.axes[0].lines[0].get_xdata()[0] == 1  # epochs count from 1, as the progress bar does
    plt.close(fig)


# ---------------------------------------------------------------- bad input: one clear sentence each
def _raises(exc, pattern, function, *args, **kwargs):
    with pytest.raises(exc, match=pattern) as info:
        function(*args, **kwargs)
    assert one_sentence(str(info.value)), str(info.value)


def test_bad_input_dense(spiral):
    x, y = spiral
    model = dense_model()
    _raises(RuntimeError, r"needs an optimizer: call model.set", model.train, x, y)
    model.set(optimizer=Optimizer_SGD())
    train = lambda *a, **k: model.train(*a, **{"verbose": False, **k})
    _raises(ValueError, r"expected samples of shape \(N, 2\).*got shape \(300, 3\)", train, np.ones((300, 3)), y)
    _raises(ValueError, r"got shape \(300, 1, 2\) \(images\? put Layer_Flatten\(\) first", train, x[:, None, :], y)
    _raises(ValueError, r"got 299 labels for 300 samples", train, x, y[:-1])
    _raises(TypeError, r"expected integer class labels, got an array of float64: convert .* y.astype\(int\)", train, x, y.astype(float))
    _raises(ValueError, r"one-hot labels\? pass y.argmax\(axis=1\)", train, x, np.eye(3)[y])
    _raises(ValueError, r"found label 3, but the last layer has 3 outputs", train, x, np.where(y == 2, 3, y))
    _raises(ValueError, r"got an empty dataset", train, x[:0], y[:0])
    _raises(ValueError, r"batch_size to be a whole number of at least 1, got 0", train, x, y, batch_size=0)
    _raises(ValueError, r"batch_size .* got -4", train, x, y, batch_size=-4)
    _raises(ValueError, r"batch_size .* got 2.5", train, x, y, batch_size=2.5)
    _raises(ValueError, r"epochs to be a whole number", train, x, y, epochs=0)
    _raises(ValueError, r"verbose to be True \(progress bars\), 2 \(one line per epoch\) or False, got 'yes'", train, x, y, verbose="yes")
    _raises(ValueError, r"pass validation_data=\(X_val, y_val\) too", train, x, y, early_stopping=2)
    _raises(ValueError, r"as a pair \(X_val, y_val\)", train, x, y, validation_data=x)
    _raises(ValueError, r"\(validation_data\) got 10 labels for 300 samples", train, x, y, validation_data=(x, y[:10]))
    _raises(TypeError, r"expected numbers, got an array of <U", train, np.array([["a", "b"]]), [0])
    _raises(ValueError, r"found NaN or infinite values", train, np.where(x > 0.9, np.nan, x), y)
    _raises(ValueError, r"got 5 labels for 300 samples", model.evaluate, x, y[:5])
    _raises(TypeError, r"expected an optimizer with a step\(layers\) method", model.set, optimizer="adam")
    _raises(TypeError, r"got the class Layer_Dense: call it", model.add, Layer_Dense)
    _raises(TypeError, r"with forward and backward methods, got int", model.add, 3)


def test_bad_input_empty_model(spiral):
    x, y = spiral
    empty = Model()
    _raises(RuntimeError, r"has no layers: add them with model.add", empty.predict, x)
    _raises(RuntimeError, r"has no layers", empty.evaluate, x, y)
    empty.set(optimizer=Optimizer_SGD())
    _raises(RuntimeError, r"has no layers", empty.train, x, y)
    _raises(RuntimeError, r"has no layers", empty.save, "never-written.npz")


# ---------------------------------------------------------------- convolutional networks
def tiny_cnn(seed=0, in_channels=1, batchnorm=True, dropout=0.0):
    from annicas_lib import Layer_BatchNorm, Layer_Conv2D, Layer_Dropout, Layer_Flatten, Layer_MaxPool2D

    layers = [Layer_Conv2D(in_channels, 6, 3, padding=1, rng=seed)]
    layers += [Layer_BatchNorm(6)] if batchnorm else []
    layers += [Activation_ReLU(), Layer_MaxPool2D(2), Layer_Flatten()]
    layers += [Layer_Dropout(dropout, rng=seed)] if dropout else []
    layers += [Layer_Dense(6 * 4 * 4, 10, rng=seed + 1, dtype=np.float32)]
    return Model(layers)


@pytest.fixture(scope="module")
def digits():
    from annicas_lib import load_digits_split

    return load_digits_split(seed=0)


def test_tiny_cnn_overfits_twenty_images(digits):
    # the classic sanity check: a network that cannot memorise 20 images has a bug
    X, y = digits.X_train[:20], digits.y_train[:20]
    model = tiny_cnn()
    model.set(optimizer=Optimizer_Adam(learning_rate=0.02))
    history = model.train(X, y, epochs=40, batch_size=10, verbose=False)
    assert history["accuracy"][-1] == 1.0
    assert model.evaluate(X, y)[1] == 1.0
    assert history["loss"][-1] < 0.05


def test_cnn_save_load_keeps_batchnorm_statistics(digits, tmp_path):
    model = tiny_cnn(dropout=0.2)
    model.set(optimizer=Optimizer_Adam(learning_rate=0.01))
    model.train(digits.X_train[:200], digits.y_train[:200], epochs=2, verbose=False)
    batchnorm = model.layers[1]
    assert not np.allclose(batchnorm.running_mean, 0)  # training moved the running statistics
    model.save(tmp_path / "cnn.npz")
    loaded = Model.load(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(loaded.layers[1].running_var, batchnorm.running_var)
    np.testing.assert_array_equal(loaded.predict_proba(digits.X_test), model.predict_proba(digits.X_test))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    # dropout is off in inference: predicting twice gives the same answer
    np.testing.assert_array_equal(model.predict_proba(digits.X_val), model.predict_proba(digits.X_val))


def test_cnn_bad_images_get_one_clear_sentence(digits):
    model = tiny_cnn()
    model.set(optimizer=Optimizer_SGD())
    X, y = digits.X_train[:30], digits.y_train[:30]
    _raises(ValueError, r"expected images of shape \(N, 1, H, W\).*Layer_Conv2D with 1 input channel\(s\), got shape \(30, 8, 8\) "
            r"\(one channel per image\? add it with X\[:, None\]", model.train, X[:, 0], y, verbose=False)
    _raises(ValueError, r"got images with 3 channel\(s\) \(shape \(30, 3, 8, 8\)\), but the first layer, Layer_Conv2D, has in_channels=1",
            model.train, np.repeat(X, 3, axis=1), y, verbose=False)
    _raises(ValueError, r"channels last\? use X.transpose\(0, 3, 1, 2\)",
            tiny_cnn(in_channels=3).predict, np.ones((2, 8, 8, 3), np.float32))
    _raises(ValueError, r"got shape \(30, 64\) \(flat vectors\? reshape them to \(N, C, H, W\)\)", model.predict, X.reshape(30, -1))
    _raises(ValueError, r"found label 10, but the last layer has 10 outputs", model.train, X, y + 1, verbose=False)


def test_cnn_inference_in_chunks_matches_one_batch(digits):
    model = tiny_cnn()
    model.set(optimizer=Optimizer_Adam(learning_rate=0.01))
    model.train(digits.X_train[:100], digits.y_train[:100], epochs=1, verbose=False)
    whole = model.predict_proba(digits.X_test)
    model.inference_batch_size = 7
    np.testing.assert_allclose(model.predict_proba(digits.X_test), whole, rtol=1e-5, atol=1e-6)
