"""Tests for annicas_lib.regularization and annicas_lib.dropout (chapter 8)."""
import numpy as np
import pytest

from annicas_lib import Activation_ReLU, Layer_Dense, set_seed
from annicas_lib.dropout import Layer_Dropout
from annicas_lib.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from annicas_lib.regularization import add_regularization_gradients, regularization_loss


def regularized_dense(l1w=0.0, l2w=0.0, l1b=0.0, l2b=0.0, seed=0):
    layer = Layer_Dense(3, 4, rng=seed, weight_regularizer_l1=l1w, weight_regularizer_l2=l2w,
                        bias_regularizer_l1=l1b, bias_regularizer_l2=l2b)
    layer.biases[:] = np.random.default_rng(seed + 10).standard_normal(layer.biases.shape)
    return layer


# --- regularization_loss ---------------------------------------------------------------------

def test_penalty_values_by_hand():
    layer = Layer_Dense(2, 2, rng=0, weight_regularizer_l1=0.1, weight_regularizer_l2=0.2,
                        bias_regularizer_l1=0.3, bias_regularizer_l2=0.4)
    layer.weights[:] = [[1.0, -2.0], [0.5, 0.0]]
    layer.biases[:] = [[-1.0, 3.0]]
    expected = 0.1 * 3.5 + 0.2 * (1 + 4 + 0.25) + 0.3 * 4 + 0.4 * (1 + 9)
    assert regularization_loss(layer) == pytest.approx(expected)
    assert isinstance(regularization_loss(layer), float)


@pytest.mark.parametrize("which, formula", [
    ("l1w", lambda L: 0.01 * np.abs(L.weights).sum()),
    ("l2w", lambda L: 0.01 * (L.weights ** 2).sum()),
    ("l1b", lambda L: 0.01 * np.abs(L.biases).sum()),
    ("l2b", lambda L: 0.01 * (L.biases ** 2).sum()),
])
def test_each_penalty_alone(which, formula):
    layer = regularized_dense(**{which: 0.01})
    assert regularization_loss(layer) == pytest.approx(formula(layer))


def test_no_penalty_and_layers_without_strengths_give_zero():
    assert regularization_loss(Layer_Dense(2, 3, rng=0)) == 0.0
    assert regularization_loss(Activation_ReLU()) == 0.0  # missing attributes count as 0

    class BatchNormLike:
        params = ("gamma", "beta")
        gamma, beta = np.ones(3), np.zeros(3)

    assert regularization_loss(BatchNormLike()) == 0.0
    add_regularization_gradients(BatchNormLike())  # nothing to add, no error


def test_penalty_for_conv_shaped_layer():
    class ConvLike:
        weight_regularizer_l2 = 0.5
        weights = np.full((2, 1, 3, 3), 2.0, dtype=np.float32)
        biases = np.ones(2, dtype=np.float32)

    layer = ConvLike()
    assert regularization_loss(layer) == pytest.approx(0.5 * 18 * 4)
    layer.dweights = np.zeros_like(layer.weights)
    add_regularization_gradients(layer)
    assert layer.dweights.dtype == np.float32
    np.testing.assert_allclose(layer.dweights, 2 * 0.5 * 2.0)


# --- add_regularization_gradients ------------------------------------------------------------

@pytest.mark.parametrize("strengths", [dict(l1w=0.03), dict(l2w=0.05), dict(l1b=0.02), dict(l2b=0.07),
                                       dict(l1w=0.01, l2w=0.02, l1b=0.03, l2b=0.04)])
def test_penalty_gradient_matches_numerical_gradient(strengths):
    layer = regularized_dense(**strengths)
    layer.dweights, layer.dbiases = np.zeros_like(layer.weights), np.zeros_like(layer.biases)
    add_regularization_gradients(layer)
    for name in ("weights", "biases"):
        numeric = numerical_gradient(lambda: regularization_loss(layer), getattr(layer, name))
        assert relative_error(getattr(layer, "d" + name), numeric) < 1e-7


def test_gradients_are_added_in_place_to_the_data_gradient():
    layer = regularized_dense(l1w=0.1, l2w=0.2, l1b=0.3, l2b=0.4)
    layer.forward(np.ones((2, 3)))
    layer.backward(np.ones((2, 4)))
    dweights, data_dw, data_db = layer.dweights, layer.dweights.copy(), layer.dbiases.copy()
    add_regularization_gradients(layer)
    assert layer.dweights is dweights
    np.testing.assert_allclose(layer.dweights, data_dw + 0.1 * np.sign(layer.weights) + 0.4 * layer.weights)
    np.testing.assert_allclose(layer.dbiases, data_db + 0.3 * np.sign(layer.biases) + 0.8 * layer.biases)


def test_total_gradient_of_data_loss_plus_penalty():
    """The full loss L = sum(output * G) + penalty: backward + added penalty gradient = numerical gradient."""
    layer = regularized_dense(l1w=0.02, l2w=0.05, l2b=0.03)
    x = np.random.default_rng(1).standard_normal((5, 3))
    G = np.random.default_rng(2).standard_normal((5, 4))

    def total_loss():
        return float(np.sum(layer.forward(x) * G)) + regularization_loss(layer)

    layer.forward(x)
    layer.backward(G)
    add_regularization_gradients(layer)
    assert relative_error(layer.dweights, numerical_gradient(total_loss, layer.weights)) < 1e-7
    assert relative_error(layer.dbiases, numerical_gradient(total_loss, layer.biases)) < 1e-7


def test_missing_gradient_raises_clear_error():
    layer = regularized_dense(l2w=0.1)
    with pytest.raises(ValueError, match="call backward first"):
        add_regularization_gradients(layer)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.1"])
def test_bad_strength_raises(bad):
    layer = Layer_Dense(2, 2, rng=0, weight_regularizer_l2=bad)
    with pytest.raises(ValueError, match="weight_regularizer_l2"):
        regularization_loss(layer)


# --- Layer_Dropout -----------------------------------------------------------------------------

def test_inference_is_identity():
    x = np.random.default_rng(0).standard_normal((10, 5))
    dropout = Layer_Dropout(0.5, rng=0)
    np.testing.assert_array_equal(dropout.forward(x, training=False), x)
    np.testing.assert_array_equal(dropout.backward(np.ones_like(x)), np.ones_like(x))


def test_rate_zero_is_identity_in_training():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(Layer_Dropout(0.0).forward(x), x)


def test_stores_rate_and_has_no_params():
    dropout = Layer_Dropout(0.25, rng=1)
    assert dropout.rate == 0.25 and tuple(dropout.params) == ()


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_expected_value_preserved_and_rate_dropped(rate):
    dropout = Layer_Dropout(rate, rng=0)
    x = np.full((500, 200), 2.0)
    out = dropout.forward(x)
    assert np.mean(out == 0) == pytest.approx(rate, abs=0.01)
    assert out.mean() == pytest.approx(2.0, rel=0.02)
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 2.0 / (1 - rate))


def test_mean_over_many_draws_equals_input():
    x = np.random.default_rng(3).standard_normal((4, 6))
    dropout = Layer_Dropout(0.4, rng=7)
    mean = np.mean([dropout.forward(x) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, x, atol=0.08)


def test_backward_uses_the_forward_mask():
    x = np.random.default_rng(0).standard_normal((6, 8))
    dropout = Layer_Dropout(0.3, rng=5)
    out = dropout.forward(x)
    dvalues = np.random.default_rng(1).standard_normal(out.shape)
    dinputs = dropout.backward(dvalues)
    kept = out != 0
    np.testing.assert_allclose(dinputs[kept], dvalues[kept] / 0.7)
    assert np.all(dinputs[~kept] == 0)
    np.testing.assert_allclose(dinputs, dvalues * dropout.mask)


def test_backward_matches_numerical_gradient_with_fixed_mask():
    x = np.random.default_rng(0).standard_normal((5, 7))
    G = np.random.default_rng(1).standard_normal((5, 7))
    dropout = Layer_Dropout(0.35)

    def scalar():
        dropout.generator = np.random.default_rng(123)  # the same mask on every forward pass
        return float(np.sum(dropout.forward(x) * G))

    scalar()
    dropout.backward(G)
    assert relative_error(dropout.dinputs, numerical_gradient(scalar, x)) < 1e-8


def test_check_layer_gradients_in_inference_mode():
    errors = check_layer_gradients(Layer_Dropout(0.5, rng=0), np.ones((3, 4)), forward_kwargs={"training": False})
    assert errors["inputs"] < 1e-8


def test_seeded_reproducibility():
    x = np.ones((20, 30))
    a, b = Layer_Dropout(0.5, rng=42), Layer_Dropout(0.5, rng=42)
    for _ in range(3):
        np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert not np.array_equal(a.forward(x), a.forward(x))  # a new mask on every forward pass


def test_default_generator_follows_set_seed():
    x = np.ones((10, 10))
    set_seed(3)
    first = Layer_Dropout(0.5).forward(x)
    set_seed(3)
    second = Layer_Dropout(0.5).forward(x)
    np.testing.assert_array_equal(first, second)


def test_float32_stays_float32():
    x = np.ones((4, 5), dtype=np.float32)
    dropout = Layer_Dropout(0.5, rng=0)
    assert dropout.forward(x).dtype == np.float32
    assert dropout.backward(np.ones_like(x)).dtype == np.float32


def test_image_shaped_inputs():
    x = np.ones((2, 3, 4, 4))
    out = Layer_Dropout(0.5, rng=0).forward(x)
    assert out.shape == x.shape


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_bad_rate_raises_value_error(rate):
    with pytest.raises(ValueError, match=r"rate in \[0, 1\)"):
        Layer_Dropout(rate)


@pytest.mark.parametrize("rate", ["0.5", None, True])
def test_non_number_rate_raises_type_error(rate):
    with pytest.raises(TypeError, match="rate"):
        Layer_Dropout(rate)


def test_backward_shape_mismatch_raises():
    dropout = Layer_Dropout(0.5, rng=0)
    dropout.forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        dropout.backward(np.ones((4, 3)))
