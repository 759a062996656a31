"""A whole small CNN (chapter 13): conv -> ReLU -> pool -> flatten -> dense -> softmax loss.

Gradient-checked end to end in float64 (parameters of every layer and the input image), and
trained until it memorises a tiny batch."""
import numpy as np
import pytest

conv = pytest.importorskip("annicas_lib.conv", reason="the convolution chapter (10) has not exported annicas_lib.conv yet")
pooling = pytest.importorskip("annicas_lib.pooling", reason="the pooling chapter (11) has not exported annicas_lib.pooling yet")

from annicas_lib.activations import Activation_ReLU  # noqa: E402
from annicas_lib.backprop import CalcSoftmaxLossGrad  # noqa: E402
from annicas_lib.batchnorm import Layer_BatchNorm  # noqa: E402
from annicas_lib.dense import Layer_Dense  # noqa: E402
from annicas_lib.flatten import Layer_Flatten  # noqa: E402
from annicas_lib.gradcheck import numerical_gradient, relative_error  # noqa: E402
from annicas_lib.loss import accuracy  # noqa: E402
from annicas_lib.optimizers import Optimizer_SGD  # noqa: E402


def _forward(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def _backward(layers, dvalues):
    for layer in reversed(layers):
        dvalues = layer.backward(dvalues)
    return dvalues


def _stack(C, H, W, filters, kernel, padding, stride, pool, n_classes, rng, *, batchnorm=False, dtype=np.float64):
    layers = [conv.Layer_Conv2D(C, filters, kernel, stride=stride, padding=padding, rng=rng, dtype=dtype)]
    layers[0].biases[:] = 0.1 * rng.normal(size=filters)  # non-zero, so their gradient is checked too
    if batchnorm:
        bn = Layer_BatchNorm(filters, dtype=dtype)
        bn.gamma[:] = rng.uniform(0.5, 1.5, size=filters)
        bn.beta[:] = 0.1 * rng.normal(size=filters)
        layers.append(bn)
    layers += [Activation_ReLU(), pool, Layer_Flatten()]
    n_flat = _forward(layers, np.zeros((2, C, H, W), dtype=dtype) + rng.normal(size=(2, C, H, W))).shape[1]
    layers.append(Layer_Dense(n_flat, n_classes, rng=rng, dtype=dtype))
    return layers


CASES = [  # N, C, H, W, filters, kernel, padding, stride, pool, n_classes, batchnorm
    (3, 1, 6, 6, 2, 3, 1, 1, "max", 4, False),
    (2, 2, 7, 5, 3, 3, 0, 1, "max", 3, False),
    (4, 3, 8, 8, 2, 2, 1, 2, "avg", 5, False),
    (2, 1, 5, 5, 3, 2, 0, 1, "max", 2, False),
    (3, 2, 6, 6, 2, 3, 1, 1, "max", 3, True),
    (2, 2, 6, 4, 3, 3, 1, 1, "avg", 4, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_whole_stack_gradient_check(case):
    N, C, H, W, filters, kernel, padding, stride, pool_kind, n_classes, batchnorm = case
    rng = np.random.default_rng(sum(case[:8]))
    pool = pooling.Layer_MaxPool2D(2) if pool_kind == "max" else pooling.Layer_AvgPool2D(2)
    layers = _stack(C, H, W, filters, kernel, padding, stride, pool, n_classes, rng, batchnorm=batchnorm)
    # continuous random pixels: no ties in the max-pool windows, no value sitting on a ReLU kink
    x = rng.normal(size=(N, C, H, W))
    y = rng.integers(0, n_classes, size=N)
    loss_function = CalcSoftmaxLossGrad()

    def loss():
        return loss_function.forward(_forward(layers, x), y)

    loss()
    dx = np.array(_backward(layers, loss_function.backward(loss_function.output, y)))
    checked = {"input": (x, dx)}
    for i, layer in enumerate(layers):
        for name in getattr(layer, "params", ()):
            checked[f"{type(layer).__name__}[{i}].{name}"] = (getattr(layer, name), np.array(getattr(layer, "d" + name)))
    if batchnorm:
        # batch norm subtracts the per-channel mean, which cancels the convolution's bias exactly:
        # its true gradient is 0, where a relative error means nothing. Check that it is 0 instead.
        conv_bias, conv_dbias = checked.pop("Layer_Conv2D[0].biases")
        assert np.allclose(conv_dbias, 0, atol=1e-12)
        assert np.allclose(numerical_gradient(loss, conv_bias), 0, atol=1e-8)
    errors = {name: relative_error(analytic, numerical_gradient(loss, array)) for name, (array, analytic) in checked.items()}
    assert max(errors.values()) < 1e-7, errors
    assert len(errors) == 5 + (1 if batchnorm else 0)


def test_shapes_through_the_stack():
    rng = np.random.default_rng(0)
    layers = _stack(1, 8, 8, 4, 3, 1, 1, pooling.Layer_MaxPool2D(2), 10, rng, dtype=np.float32)
    out = _forward(layers, rng.normal(size=(5, 1, 8, 8)).astype(np.float32))
    assert [layer.output.shape for layer in layers] == [(5, 4, 8, 8), (5, 4, 8, 8), (5, 4, 4, 4), (5, 64), (5, 10)]
    assert out.shape == (5, 10)
    dx = _backward(layers, np.ones_like(out))
    assert dx.shape == (5, 1, 8, 8)


def test_memorises_ten_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()  # ships with scikit-learn: no download
    images = (digits.images[:10] / 16.0).astype(np.float32)[:, np.newaxis]
    labels = digits.target[:10]
    rng = np.random.default_rng(0)
    layers = _stack(1, 8, 8, 4, 3, 1, 1, pooling.Layer_MaxPool2D(2), 10, rng, dtype=np.float32)
    layers[0].biases[:] = 0
    loss_function = CalcSoftmaxLossGrad()
    optimizer = Optimizer_SGD(learning_rate=0.3)
    losses = []
    for _ in range(150):
        scores = _forward(layers, images)
        losses.append(loss_function.forward(scores, labels))
        _backward(layers, loss_function.backward(loss_function.output, labels))
        optimizer.step(layers)
    assert losses[-1] < 0.05 * losses[0], losses[::10]
    assert accuracy(_forward(layers, images), labels) == 1.0
    assert layers[0].weights.dtype == np.float32 and layers[-1].output.dtype == np.float32
