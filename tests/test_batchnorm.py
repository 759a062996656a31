"""Layer_BatchNorm (chapter 12): gradients, statistics, running averages, use mode, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annicas_lib.batchnorm import Layer_BatchNorm
from annicas_lib.gradcheck import check_layer_gradients


def _random_layer(n_features, rng, dtype=np.float64):
    """A layer with non-trivial gamma, beta and running statistics."""
    layer = Layer_BatchNorm(n_features, dtype=dtype)
    layer.gamma[:] = rng.normal(size=n_features)
    layer.beta[:] = rng.normal(size=n_features)
    layer.running_mean[:] = rng.normal(size=n_features)
    layer.running_var[:] = rng.uniform(0.5, 2.0, size=n_features)
    return layer


def _reference_forward(x, gamma, beta, epsilon):
    """Loop over features (and for images over channels): the textbook formulas."""
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        values = x[:, j]
        mu = values.mean()
        var = ((values - mu) ** 2).mean()
        out[:, j] = gamma[j] * (values - mu) / np.sqrt(var + epsilon) + beta[j]
    return out


# At least 3 values per feature: with 2, x_hat is +-1 whatever the inputs, so the true input gradient
# is ~epsilon-sized and a relative error against finite differences measures only rounding noise.
shapes = st.one_of(
    st.tuples(st.integers(3, 6), st.integers(1, 5)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(3, 4)),
)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans())
def test_gradients_match_numerical(shape, seed, training):
    rng = np.random.default_rng(seed)
    layer = _random_layer(shape[1], rng)
    x = rng.normal(1.0, 2.0, size=shape)
    errors = check_layer_gradients(layer, x, forward_kwargs={"training": training})
    assert set(errors) == {"inputs", "gamma", "beta"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("shape", [(7, 3), (4, 3, 5, 6)])
def test_forward_matches_reference_and_normalises(shape):
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=shape)
    layer = _random_layer(3, rng)
    out = layer.forward(x)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    # x_hat: mean 0 and variance 1 per feature (up to epsilon) before gamma and beta
    assert np.allclose(layer.x_hat.mean(axis=axes), 0, atol=1e-12)
    assert np.allclose(layer.x_hat.var(axis=axes), 1, atol=1e-5)
    # after gamma and beta: mean beta, standard deviation |gamma|
    assert np.allclose(out.mean(axis=axes), layer.beta, atol=1e-12)
    assert np.allclose(out.std(axis=axes), np.abs(layer.gamma), rtol=1e-5)
    if x.ndim == 2:
        assert np.allclose(out, _reference_forward(x, layer.gamma, layer.beta, layer.epsilon))


def test_images_equal_pixels_as_a_batch_of_channel_features():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5, 2))
    dout = rng.normal(size=x.shape)
    rows = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, 4)
    images_layer, rows_layer = _random_layer(4, np.random.default_rng(3)), _random_layer(4, np.random.default_rng(3))
    out = images_layer.forward(x)
    assert np.allclose(rows(out), rows_layer.forward(rows(x)))
    assert np.allclose(rows(images_layer.backward(dout)), rows_layer.backward(rows(dout)))
    assert np.allclose(images_layer.dgamma, rows_layer.dgamma)
    assert np.allclose(images_layer.dbeta, rows_layer.dbeta)
    assert np.allclose(images_layer.running_var, rows_layer.running_var)


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 4, 4)])
def test_running_statistics_update(shape):
    rng = np.random.default_rng(4)
    x = rng.normal(2.0, 3.0, size=shape)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    n = x.size // 3
    layer = Layer_BatchNorm(3, momentum=0.8, dtype=np.float64)
    assert np.array_equal(layer.running_mean, np.zeros(3)) and np.array_equal(layer.running_var, np.ones(3))
    layer.forward(x)
    # running = momentum * running + (1 - momentum) * batch value, with the unbiased variance
    assert np.allclose(layer.running_mean, 0.8 * 0 + 0.2 * x.mean(axis=axes))
    assert np.allclose(layer.running_var, 0.8 * 1 + 0.2 * x.var(axis=axes) * n / (n - 1))
    assert np.allclose(layer.running_var, 0.8 + 0.2 * x.var(axis=axes, ddof=1))
    for _ in range(200):
        layer.forward(x)
    assert np.allclose(layer.running_mean, x.mean(axis=axes))
    assert np.allclose(layer.running_var, x.var(axis=axes, ddof=1))


def test_use_mode_uses_running_statistics_sample_by_sample():
    rng = np.random.default_rng(5)
    layer = _random_layer(4, rng)
    before = layer.running_mean.copy(), layer.running_var.copy()
    x = rng.normal(size=(6, 4))
    out = layer.forward(x, training=False)
    expected = layer.gamma * (x - layer.running_mean) / np.sqrt(layer.running_var + layer.epsilon) + layer.beta
    assert np.allclose(out, expected)
    # each sample alone gives what it gave inside the batch, and a batch of 1 is fine
    for i in range(len(x)):
        assert np.allclose(layer.forward(x[i:i + 1], training=False), out[i:i + 1])
    # use mode does not touch the running statistics
    assert np.array_equal(layer.running_mean, before[0]) and np.array_equal(layer.running_var, before[1])
    # images too
    images = rng.normal(size=(3, 4, 2, 2))
    out_images = layer.forward(images, training=False)
    assert np.allclose(layer.forward(images[1:2], training=False), out_images[1:2])


def test_training_mode_depends_on_the_batch():
    rng = np.random.default_rng(6)
    layer = Layer_BatchNorm(2, dtype=np.float64)
    x = rng.normal(size=(5, 2))
    a = layer.forward(np.vstack([x[:1], rng.normal(size=(4, 2))]))[0]
    b = layer.forward(np.vstack([x[:1], rng.normal(size=(4, 2))]))[0]
    assert not np.allclose(a, b)


def test_dtypes():
    rng = np.random.default_rng(7)
    layer = Layer_BatchNorm(3)
    assert layer.dtype == np.float32
    for name in ("gamma", "beta", "running_mean", "running_var"):
        assert getattr(layer, name).dtype == np.float32 and getattr(layer, name).shape == (3,)
    x32 = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    out = layer.forward(x32)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert layer.dgamma.dtype == np.float32 and layer.dbeta.dtype == np.float32
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32
    assert layer.forward(x32, training=False).dtype == np.float32
    # float64 input keeps float64; integer input becomes float
    assert layer.forward(rng.normal(size=(4, 3))).dtype == np.float64
    assert np.issubdtype(layer.forward(np.arange(12).reshape(4, 3)).dtype, np.floating)


def test_protocol_attributes():
    layer = Layer_BatchNorm(5, momentum=0.95, epsilon=1e-3, dtype=np.float64)
    assert Layer_BatchNorm.params == ("gamma", "beta")
    assert Layer_BatchNorm.buffers == ("running_mean", "running_var")
    assert (layer.n_features, layer.momentum, layer.epsilon, layer.dtype) == (5, 0.95, 1e-3, np.float64)
    assert np.array_equal(layer.gamma, np.ones(5)) and np.array_equal(layer.beta, np.zeros(5))
    rng = np.random.default_rng(8)
    layer.forward(rng.normal(size=(4, 5)))
    layer.backward(rng.normal(size=(4, 5)))
    for name in layer.params:
        assert getattr(layer, "d" + name).shape == getattr(layer, name).shape


def test_an_optimizer_updates_gamma_and_beta_in_place():
    optimizers = pytest.importorskip("annicas_lib.optimizers")
    rng = np.random.default_rng(9)
    layer = Layer_BatchNorm(3)
    gamma, beta = layer.gamma, layer.beta
    layer.forward(rng.normal(size=(6, 3)).astype(np.float32))
    layer.backward(rng.normal(size=(6, 3)).astype(np.float32))
    expected = gamma - 0.1 * layer.dgamma, beta - 0.1 * layer.dbeta
    optimizers.Optimizer_SGD(learning_rate=0.1).step([layer])
    assert layer.gamma is gamma and layer.beta is beta
    assert np.allclose(layer.gamma, expected[0]) and np.allclose(layer.beta, expected[1])


def test_bias_before_batchnorm_gets_no_gradient():
    """The mean subtraction cancels a preceding bias, so dx sums to 0 per feature."""
    rng = np.random.default_rng(10)
    layer = _random_layer(4, rng)
    layer.forward(rng.normal(size=(9, 4)))
    dx = layer.backward(rng.normal(size=(9, 4)))
    assert np.allclose(dx.sum(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("inputs, message", [
    (np.zeros((4, 5)), "expected 3 features on axis 1, got 5"),
    (np.zeros((4, 5, 2, 2)), "expected 3 channels"),
    (np.zeros((4, 3, 2)), "got a 3-D array"),
    (np.zeros(3), "got a 1-D array"),
    (np.zeros((1, 3)), "batch of 1 sample in training mode"),
    (np.zeros((1, 3, 1, 1)), "1 value per channel"),
    (np.zeros((0, 3)), "empty batch"),
])
def test_clear_errors(inputs, message):
    with pytest.raises(ValueError, match=message):
        Layer_BatchNorm(3).forward(inputs)


def test_more_clear_errors():
    with pytest.raises(TypeError, match="expected numbers"):
        Layer_BatchNorm(2).forward(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="training=False"):
        Layer_BatchNorm(2).forward(np.zeros((1, 2)))
    Layer_BatchNorm(2).forward(np.zeros((1, 2)), training=False)  # one sample is fine in use mode
    Layer_BatchNorm(2).forward(np.zeros((1, 2, 3, 3)))  # one image has 9 values per channel: fine
    with pytest.raises(RuntimeError, match="call forward first"):
        Layer_BatchNorm(2).backward(np.zeros((3, 2)))
    layer = Layer_BatchNorm(2)
    layer.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"expected dvalues of shape \(3, 2\)"):
        layer.backward(np.zeros((2, 3)))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_features"):
            Layer_BatchNorm(bad)
    with pytest.raises(ValueError, match="momentum"):
        Layer_BatchNorm(2, momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        Layer_BatchNorm(2, epsilon=0)
