"""Tests for annicas_lib.optimizers (chapter 8): SGD with decay and momentum, Adagrad, RMSprop, Adam."""
import numpy as np
import pytest

from annicas_lib import Activation_ReLU, CalcSoftmaxLossGrad, Layer_Dense, make_spiral, set_seed
from annicas_lib.optimizers import (Optimizer, Optimizer_Adagrad, Optimizer_Adam, Optimizer_RMSprop,
                                    Optimizer_SGD)

ALL_OPTIMIZERS = (Optimizer_SGD, Optimizer_Adagrad, Optimizer_RMSprop, Optimizer_Adam)


class Params:
    """A minimal layer following the parameter protocol: arrays named in `params`, gradients d<name>."""

    def __init__(self, **arrays):
        self.params = tuple(arrays)
        for name, value in arrays.items():
            setattr(self, name, np.array(value))

    def set_grads(self, **grads):
        for name, value in grads.items():
            setattr(self, "d" + name, np.array(value))


class Quadratic:
    """L(w) = 0.5 * sum(c * (w - target)**2) for a layer with one parameter array `w`."""
    params = ("w",)

    def __init__(self, dtype=np.float64):
        rng = np.random.default_rng(0)
        self.c = np.array([0.5, 1.0, 3.0, 8.0], dtype=dtype)
        self.target = rng.standard_normal(4).astype(dtype)
        self.w = np.zeros(4, dtype=dtype)

    def loss(self):
        return float(0.5 * np.sum(self.c * (self.w - self.target) ** 2))

    def backward(self):
        self.dw = self.c * (self.w - self.target)

    def forward(self, inputs=None):  # makes it look like a layer to step()
        return self.w


def dense_with_grads(seed=0, dtype=np.float64):
    layer = Layer_Dense(3, 2, rng=seed, dtype=dtype)
    x = np.random.default_rng(seed + 1).standard_normal((5, 3)).astype(dtype)
    layer.forward(x)
    layer.backward(np.random.default_rng(seed + 2).standard_normal((5, 2)).astype(dtype))
    return layer


# --- SGD -------------------------------------------------------------------------------------

def test_one_sgd_step_equals_hand_computed_update():
    layer = dense_with_grads()
    w0, b0 = layer.weights.copy(), layer.biases.copy()
    opt = Optimizer_SGD(learning_rate=0.3)
    opt.step([layer])
    np.testing.assert_allclose(layer.weights, w0 - 0.3 * layer.dweights)
    np.testing.assert_allclose(layer.biases, b0 - 0.3 * layer.dbiases)
    assert opt.iterations == 1


def test_step_equals_pre_update_post():
    a, b = dense_with_grads(), dense_with_grads()
    opt_a, opt_b = Optimizer_SGD(0.5, decay=0.1, momentum=0.5), Optimizer_SGD(0.5, decay=0.1, momentum=0.5)
    for _ in range(3):
        opt_a.step([a, Activation_ReLU()])  # layers without params are skipped
        opt_b.pre_update_params()
        opt_b.update_params(b)
        opt_b.post_update_params()
    np.testing.assert_allclose(a.weights, b.weights)
    np.testing.assert_allclose(a.biases_momentums, b.biases_momentums)


def test_decay_schedule_values():
    opt = Optimizer_SGD(learning_rate=0.1, decay=0.01)
    seen = []
    for _ in range(201):
        opt.pre_update_params()
        seen.append(opt.current_learning_rate)
        opt.post_update_params()
    assert seen[0] == pytest.approx(0.1)
    assert seen[1] == pytest.approx(0.1 / 1.01)
    assert seen[100] == pytest.approx(0.05)  # halved after 1 / decay steps
    assert seen[200] == pytest.approx(0.1 / 3)
    assert opt.iterations == 201


def test_no_decay_keeps_learning_rate():
    opt = Optimizer_Adam(learning_rate=0.02)
    for _ in range(5):
        opt.pre_update_params()
        opt.post_update_params()
    assert opt.current_learning_rate == pytest.approx(0.02)


def test_momentum_accumulates_as_derived():
    """mu_{i+1} = mu * mu_i - alpha * g_i, unrolled: mu_n = -alpha * sum_k mu**(n-1-k) g_k."""
    mu, alpha = 0.9, 0.1
    grads = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0]), np.array([2.0, 0.0])]
    layer = Params(w=[0.0, 0.0])
    opt = Optimizer_SGD(learning_rate=alpha, momentum=mu)
    for n, g in enumerate(grads, start=1):
        layer.set_grads(w=g)
        opt.step([layer])
        expected = -alpha * sum(mu ** (n - 1 - k) * grads[k] for k in range(n))
        np.testing.assert_allclose(layer.w_momentums, expected)
    # the position is the sum of all momentums
    expected_w = sum(-alpha * sum(mu ** (n - 1 - k) * grads[k] for k in range(n)) for n in range(1, 5))
    np.testing.assert_allclose(layer.w, expected_w)


def test_momentum_on_constant_gradient_approaches_one_over_one_minus_mu():
    layer = Params(w=[0.0])
    opt = Optimizer_SGD(learning_rate=0.01, momentum=0.9)
    for _ in range(200):
        layer.set_grads(w=[1.0])
        opt.step([layer])
    assert layer.w_momentums[0] == pytest.approx(-0.01 / (1 - 0.9), rel=1e-6)


def test_sgd_matches_slides_momentum_class_state_names():
    layer = dense_with_grads()
    Optimizer_SGD(momentum=0.5).step([layer])
    assert layer.weights_momentums.shape == layer.weights.shape
    assert layer.biases_momentums.shape == (1, 2)


# --- Adaptive optimizers -----------------------------------------------------------------------

def test_adagrad_update_by_hand():
    layer = Params(w=[1.0, 2.0])
    opt = Optimizer_Adagrad(learning_rate=0.5, epsilon=1e-7)
    g1, g2 = np.array([2.0, -1.0]), np.array([1.0, 1.0])
    layer.set_grads(w=g1)
    opt.step([layer])
    layer.set_grads(w=g2)
    opt.step([layer])
    cache = g1 ** 2 + g2 ** 2
    w = np.array([1.0, 2.0]) - 0.5 * g1 / (np.abs(g1) + 1e-7) - 0.5 * g2 / (np.sqrt(cache) + 1e-7)
    np.testing.assert_allclose(layer.w_cache, cache)
    np.testing.assert_allclose(layer.w, w)


def test_rmsprop_update_by_hand():
    layer = Params(w=[1.0, 2.0])
    opt = Optimizer_RMSprop(learning_rate=0.01, rho=0.8)
    g1, g2 = np.array([2.0, -1.0]), np.array([1.0, 1.0])
    layer.set_grads(w=g1)
    opt.step([layer])
    layer.set_grads(w=g2)
    opt.step([layer])
    c1 = 0.2 * g1 ** 2
    c2 = 0.8 * c1 + 0.2 * g2 ** 2
    w = np.array([1.0, 2.0]) - 0.01 * g1 / (np.sqrt(c1) + 1e-7) - 0.01 * g2 / (np.sqrt(c2) + 1e-7)
    np.testing.assert_allclose(layer.w_cache, c2)
    np.testing.assert_allclose(layer.w, w)


def test_adam_first_step_has_size_learning_rate():
    """Bias correction: m_hat = g, v_hat = g**2 on step 1, so every parameter moves by alpha."""
    grads = np.array([1e-4, -0.3, 5.0, -2e3])
    layer = Params(w=np.zeros(4))
    layer.set_grads(w=grads)
    Optimizer_Adam(learning_rate=0.01).step([layer])
    np.testing.assert_allclose(layer.w, -0.01 * np.sign(grads), rtol=1e-3)


def test_adam_two_steps_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-7
    g1, g2 = np.array([0.5, -1.0]), np.array([1.5, 0.25])
    layer = Params(w=[0.0, 0.0])
    opt = Optimizer_Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    w = np.zeros(2)
    m = v = np.zeros(2)
    for t, g in enumerate((g1, g2), start=1):
        layer.set_grads(w=g)
        opt.step([layer])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(layer.w, w)
    np.testing.assert_allclose(layer.w_momentums, m)
    np.testing.assert_allclose(layer.w_cache, v)


# --- Protocol: in place, dtype, generic layers -------------------------------------------------

@pytest.mark.parametrize("make", [lambda: Optimizer_SGD(0.1), lambda: Optimizer_SGD(0.1, momentum=0.9),
                                  lambda: Optimizer_Adagrad(0.1), lambda: Optimizer_RMSprop(0.01),
                                  lambda: Optimizer_Adam(0.01)])
def test_updates_in_place_and_keep_float32(make):
    layer = dense_with_grads(dtype=np.float32)
    weights, biases = layer.weights, layer.biases
    before = weights.copy()
    # a float64 gradient must not turn the float32 parameters into float64
    layer.dbiases = layer.dbiases.astype(np.float64)
    opt = make()
    opt.step([layer])
    opt.step([layer])
    assert layer.weights is weights and layer.biases is biases
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
    assert not np.array_equal(layer.weights, before)
    for name in ("weights_momentums", "weights_cache", "biases_momentums", "biases_cache"):
        if hasattr(layer, name):
            assert getattr(layer, name).dtype == np.float32


@pytest.mark.parametrize("cls", ALL_OPTIMIZERS)
def test_generic_layer_with_gamma_is_updated(cls):
    layer = Params(gamma=np.ones((1, 3)))
    layer.set_grads(gamma=[[1.0, -1.0, 0.5]])
    cls(learning_rate=0.1).step([layer])
    assert layer.gamma[0, 0] < 1.0 and layer.gamma[0, 1] > 1.0 and layer.gamma[0, 2] < 1.0


def test_conv_shaped_parameters():
    """Part II layers: weights (F, C, kH, kW), biases (F,), float32."""
    rng = np.random.default_rng(0)
    layer = Params(weights=rng.standard_normal((4, 3, 2, 2)).astype(np.float32), biases=np.zeros(4, np.float32))
    layer.set_grads(weights=rng.standard_normal((4, 3, 2, 2)).astype(np.float32), biases=np.ones(4, np.float32))
    opt = Optimizer_Adam(0.01)
    opt.step([layer])
    assert layer.weights_cache.shape == (4, 3, 2, 2) and layer.biases_momentums.shape == (4,)
    np.testing.assert_allclose(layer.biases, -0.01, rtol=1e-3)


@pytest.mark.parametrize("make", [lambda: Optimizer_SGD(0.1), lambda: Optimizer_SGD(0.05, decay=1e-3, momentum=0.9),
                                  lambda: Optimizer_Adagrad(0.5), lambda: Optimizer_RMSprop(0.02),
                                  lambda: Optimizer_Adam(0.05)])
def test_each_optimizer_lowers_a_quadratic(make):
    q = Quadratic()
    opt = make()
    start = q.loss()
    for _ in range(300):
        q.backward()
        opt.step(q)  # a single layer is accepted too
    assert q.loss() < 0.05 * start


@pytest.mark.parametrize("make", [lambda: Optimizer_SGD(1.0, decay=1e-3, momentum=0.9),
                                  lambda: Optimizer_Adagrad(0.2), lambda: Optimizer_RMSprop(0.01),
                                  lambda: Optimizer_Adam(0.05)])
def test_each_optimizer_trains_a_tiny_spiral_net(make):
    x, y = make_spiral(samples=30, classes=3, seed=0)
    set_seed(0)
    dense1, relu, dense2, loss_fn = Layer_Dense(2, 16), Activation_ReLU(), Layer_Dense(16, 3), CalcSoftmaxLossGrad()
    opt = make()
    losses = []
    for _ in range(150):
        dense1.forward(x)
        relu.forward(dense1.output)
        dense2.forward(relu.output)
        losses.append(loss_fn.forward(dense2.output, y))
        loss_fn.backward(loss_fn.output, y)
        dense2.backward(loss_fn.dinputs)
        relu.backward(dense2.dinputs)
        dense1.backward(relu.dinputs)
        opt.step([dense1, relu, dense2])
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.8 * losses[0]


def test_repr_and_stored_arguments():
    opt = Optimizer_SGD(learning_rate=1, decay=1e-3, momentum=0.9)
    assert (opt.learning_rate, opt.decay, opt.momentum) == (1.0, 1e-3, 0.9)
    assert opt.current_learning_rate == 1.0 and opt.iterations == 0
    assert repr(opt) == "Optimizer_SGD(learning_rate=1.0, decay=0.001, momentum=0.9)"
    adam = Optimizer_Adam()
    assert (adam.learning_rate, adam.epsilon, adam.beta_1, adam.beta_2) == (0.001, 1e-7, 0.9, 0.999)
    assert (Optimizer_Adagrad().learning_rate, Optimizer_RMSprop().rho) == (1.0, 0.9)
    assert all(issubclass(cls, Optimizer) for cls in ALL_OPTIMIZERS)


# --- Clear errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, word", [
    (lambda: Optimizer_SGD(learning_rate=-0.1), "learning_rate"),
    (lambda: Optimizer_SGD(learning_rate=0), "learning_rate"),
    (lambda: Optimizer_SGD(learning_rate=float("nan")), "learning_rate"),
    (lambda: Optimizer_SGD(decay=-1e-3), "decay"),
    (lambda: Optimizer_SGD(momentum=1.0), "momentum"),
    (lambda: Optimizer_SGD(momentum=-0.1), "momentum"),
    (lambda: Optimizer_Adagrad(epsilon=0), "epsilon"),
    (lambda: Optimizer_RMSprop(rho=1.5), "rho"),
    (lambda: Optimizer_Adam(beta_1=1.0), "beta_1"),
    (lambda: Optimizer_Adam(beta_2=-0.5), "beta_2"),
])
def test_bad_hyperparameters_raise_value_error(make, word):
    with pytest.raises(ValueError, match=word):
        make()


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_non_number_hyperparameter_raises_type_error(value):
    with pytest.raises(TypeError, match="learning_rate"):
        Optimizer_SGD(learning_rate=value)


@pytest.mark.parametrize("cls", ALL_OPTIMIZERS)
def test_missing_gradient_raises_clear_error(cls):
    layer = Layer_Dense(2, 3, rng=0)  # backward never ran
    with pytest.raises(ValueError, match=r"no gradient dweights .*backward"):
        cls().update_params(layer)


def test_layer_without_params_raises_clear_error():
    with pytest.raises(ValueError, match="no learnable parameters"):
        Optimizer_SGD().update_params(Activation_ReLU())
    with pytest.raises(ValueError, match="none has learnable parameters"):
        Optimizer_SGD().step([Activation_ReLU()])


def test_gradient_of_wrong_shape_raises():
    layer = dense_with_grads()
    layer.dweights = layer.dweights.T
    with pytest.raises(ValueError, match="shape"):
        Optimizer_Adam().update_params(layer)
