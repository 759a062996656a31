"""Layer_Dense, set_seed and get_rng (chapter 2): shapes, dtypes, initialisation, seeding, clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annicas_lib import Layer_Dense, get_rng, set_seed


def dense_loop(inputs, weights, biases):
    """Reference: out[s, j] = sum_i inputs[s, i] * weights[i, j] + biases[0, j], with plain loops."""
    n_samples, n_inputs = inputs.shape
    n_neurons = weights.shape[1]
    out = np.zeros((n_samples, n_neurons))
    for s in range(n_samples):
        for j in range(n_neurons):
            out[s, j] = sum(inputs[s, i] * weights[i, j] for i in range(n_inputs)) + biases[0, j]
    return out


# ---------------------------------------------------------------- shapes, values, dtypes

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 7), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_forward_shapes_and_values_match_the_loop(n_samples, n_inputs, n_neurons, seed):
    layer = Layer_Dense(n_inputs, n_neurons, rng=seed)
    layer.biases = np.random.default_rng(seed).standard_normal((1, n_neurons))
    x = np.random.default_rng(seed + 1).standard_normal((n_samples, n_inputs))
    out = layer.forward(x)
    assert layer.weights.shape == (n_inputs, n_neurons)
    assert layer.biases.shape == (1, n_neurons)
    assert out.shape == (n_samples, n_neurons)
    assert out is layer.output
    np.testing.assert_allclose(out, dense_loop(x, layer.weights, layer.biases), rtol=1e-12, atol=1e-12)


def test_constructor_arguments_are_stored_and_biases_start_at_zero():
    layer = Layer_Dense(2, 64)
    assert (layer.n_inputs, layer.n_neurons) == (2, 64)
    assert layer.params == ("weights", "biases")
    assert np.all(layer.biases == 0)


def test_forward_keeps_its_input_for_backward():
    layer = Layer_Dense(4, 3, rng=0)
    x = np.arange(8.0).reshape(2, 4)
    layer.forward(x)
    np.testing.assert_array_equal(layer.inputs, x)


def test_float64_by_default():
    layer = Layer_Dense(4, 3, rng=0)
    assert layer.weights.dtype == np.float64 and layer.biases.dtype == np.float64
    assert layer.forward(np.ones((2, 4), dtype=np.float32)).dtype == np.float64


def test_float32_when_asked():
    layer = Layer_Dense(4, 3, rng=0, dtype=np.float32)
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
    assert layer.forward(np.ones((2, 4))).dtype == np.float32         # float64 input is converted
    assert layer.forward([[1, 2, 3, 4]]).dtype == np.float32          # so are lists of ints


def test_lists_and_ints_are_accepted_like_on_the_slides():
    layer = Layer_Dense(4, 3, rng=0)
    I = [[1, 3, 4, 5], [-2, -5, -6, 0]]
    out = layer.forward(I)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.array(I, dtype=float) @ layer.weights + layer.biases)
    np.testing.assert_allclose(layer.forward(np.array(I)), out)        # an int array too


def test_numpy_integer_sizes_are_accepted():
    shape = np.shape([[1, 3, 4, 5]])
    layer = Layer_Dense(np.int64(shape[1]), np.int32(3))
    assert (layer.n_inputs, layer.n_neurons) == (4, 3)
    assert type(layer.n_inputs) is int


def test_layers_chain_like_on_the_slides():
    set_seed(0)
    I = [[1, 3, 4, 5], [-2, -5, -6, 0]]
    dense1 = Layer_Dense(np.shape(I)[1], 3)
    dense2 = Layer_Dense(3, 2)
    dense1.forward(I)
    dense2.forward(dense1.output)
    assert dense2.output.shape == (2, 2)


# ---------------------------------------------------------------- initialisation

def test_he_initialisation_statistics():
    n_inputs = 1000
    w = Layer_Dense(n_inputs, 1000, rng=0).weights
    expected_std = np.sqrt(2.0 / n_inputs)
    assert abs(w.mean()) < 0.01 * expected_std          # the mean of 1e6 draws has std 1e-3 * expected_std
    assert w.std() == pytest.approx(expected_std, rel=0.02)


def test_he_is_the_default():
    a = Layer_Dense(50, 40, rng=3)
    b = Layer_Dense(50, 40, rng=3, init="he")
    np.testing.assert_array_equal(a.weights, b.weights)


def test_slides_initialisation_is_uniform_in_0_1():
    w = Layer_Dense(200, 200, rng=0, init="slides").weights
    assert w.min() >= 0.0 and w.max() < 1.0
    assert w.mean() == pytest.approx(0.5, abs=0.01)


def test_small_initialisation_has_std_0_01():
    w = Layer_Dense(300, 300, rng=0, init="small").weights
    assert w.std() == pytest.approx(0.01, rel=0.02)
    assert abs(w.mean()) < 1e-3


def test_he_keeps_relu_signals_steady_through_depth():
    generator = np.random.default_rng(0)
    a = generator.standard_normal((500, 128))
    for _ in range(10):
        a = np.maximum(0.0, Layer_Dense(128, 128, rng=generator).forward(a))
    assert 0.3 < a.std() < 3.0


# ---------------------------------------------------------------- seeding

def test_set_seed_makes_layers_reproducible():
    set_seed(42)
    a = Layer_Dense(4, 3)
    set_seed(42)
    b = Layer_Dense(4, 3)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_successive_layers_after_one_seed_differ():
    set_seed(42)
    a, b = Layer_Dense(4, 3), Layer_Dense(4, 3)
    assert not np.array_equal(a.weights, b.weights)


def test_rng_int_and_generator():
    np.testing.assert_array_equal(Layer_Dense(4, 3, rng=7).weights, Layer_Dense(4, 3, rng=7).weights)
    assert not np.array_equal(Layer_Dense(4, 3, rng=7).weights, Layer_Dense(4, 3, rng=8).weights)
    generator = np.random.default_rng(7)
    np.testing.assert_array_equal(Layer_Dense(4, 3, rng=generator).weights, Layer_Dense(4, 3, rng=7).weights)


def test_rng_argument_ignores_set_seed():
    set_seed(1)
    a = Layer_Dense(4, 3, rng=5)
    set_seed(2)
    b = Layer_Dense(4, 3, rng=5)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_get_rng():
    generator = np.random.default_rng(0)
    assert get_rng(generator) is generator
    assert isinstance(get_rng(3), np.random.Generator)
    assert get_rng(3).random() == np.random.default_rng(3).random()
    set_seed(11)
    assert get_rng(None) is get_rng()


def test_seeding_and_building_layers_leave_numpy_global_state_alone():
    np.random.seed(2024)
    before = np.random.get_state()
    set_seed(0)
    Layer_Dense(30, 20)
    Layer_Dense(30, 20, rng=1, init="slides")
    Layer_Dense(30, 20, rng=np.random.default_rng(2), init="small").forward(np.ones((5, 30)))
    after = np.random.get_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


# ---------------------------------------------------------------- clear errors

def test_wrong_number_of_features_names_expected_and_received():
    layer = Layer_Dense(4, 3, rng=0)
    with pytest.raises(ValueError) as info:
        layer.forward(np.ones((2, 5)))
    message = str(info.value)
    assert "4 features" in message and "(2, 5)" in message


def test_transposed_data_is_caught():
    layer = Layer_Dense(4, 3, rng=0)
    with pytest.raises(ValueError, match=r"\(4, 10\)"):
        layer.forward(np.ones((4, 10)))


@pytest.mark.parametrize("bad", [[1.0, 3.0, 4.0, 5.0], np.ones(4), np.ones((2, 4, 1)), 3.0])
def test_input_that_is_not_a_2d_batch(bad):
    layer = Layer_Dense(4, 3, rng=0)
    with pytest.raises(ValueError) as info:
        layer.forward(bad)
    message = str(info.value)
    assert "(n_samples, 4)" in message and str(np.shape(bad)) in message


def test_one_sample_hint():
    with pytest.raises(ValueError, match="reshape"):
        Layer_Dense(4, 3, rng=0).forward([1, 3, 4, 5])


@pytest.mark.parametrize("bad", [[["1", "3", "4", "5"]], [["a", "b", "c", "d"]], np.array([[None] * 4])])
def test_non_numeric_input(bad):
    layer = Layer_Dense(4, 3, rng=0)
    with pytest.raises(TypeError) as info:
        layer.forward(bad)
    message = str(info.value)
    assert "expected numbers" in message and str(np.asarray(bad).dtype) in message


@pytest.mark.parametrize("bad", [0, -3, 2.0, 2.5, "4", None, True, (2, 4)])
def test_bad_n_inputs(bad):
    with pytest.raises(ValueError) as info:
        Layer_Dense(bad, 3)
    message = str(info.value)
    assert "n_inputs" in message and "positive whole number" in message and repr(bad) in message


@pytest.mark.parametrize("bad", [0, -1, 3.0])
def test_bad_n_neurons(bad):
    with pytest.raises(ValueError) as info:
        Layer_Dense(4, bad)
    assert "n_neurons" in str(info.value) and repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["xavier", "He", "", None])
def test_bad_init(bad):
    with pytest.raises(ValueError) as info:
        Layer_Dense(4, 3, init=bad)
    message = str(info.value)
    assert "'he'" in message and "'slides'" in message and "'small'" in message and repr(bad) in message
