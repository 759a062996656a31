"""Activation_ReLU and Activation_Sigmoid (chapter 3): known values, shapes, dtypes, no overflow."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from annicas_lib import Activation_ReLU, Activation_Sigmoid


def strict(layer, x):
    """Run layer.forward with every warning, overflow, invalid operation and division by zero
    turned into an error. (Underflow - a tiny number rounding to 0 - is harmless and stays allowed,
    as it is by numpy's default.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return layer.forward(x)


any_shape = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)


# ---------------------------------------------------------------- ReLU

def test_relu_known_values():
    out = Activation_ReLU().forward([[1.5, -2.0, 0.0], [-0.1, 3.0, -7.0]])
    np.testing.assert_array_equal(out, [[1.5, 0.0, 0.0], [0.0, 3.0, 0.0]])


def test_relu_stores_input_and_output():
    relu = Activation_ReLU()
    x = np.array([[-1.0, 2.0]])
    out = relu.forward(x)
    assert out is relu.output
    np.testing.assert_array_equal(relu.inputs, x)


def test_relu_accepts_ints_and_returns_floats():
    out = Activation_ReLU().forward([[1, -2, 0], [-1, 3, -7]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 3, 0]])


def test_relu_keeps_float32():
    assert Activation_ReLU().forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, any_shape, elements=st.floats(-1e6, 1e6)))
def test_relu_any_shape_matches_definition(x):
    out = strict(Activation_ReLU(), x)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.0))


def test_relu_rejects_text_clearly():
    with pytest.raises(TypeError, match="Activation_ReLU expected numbers"):
        Activation_ReLU().forward([["1.5", "-2"]])


# ---------------------------------------------------------------- sigmoid

def test_sigmoid_known_values():
    x = np.array([0.0, 1.0, -1.0, np.log(3.0), 10.0])
    expected = [0.5, 1 / (1 + np.exp(-1.0)), 1 / (1 + np.e), 0.75, 0.9999546021312976]
    np.testing.assert_allclose(Activation_Sigmoid().forward(x), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_at_plus_minus_1000_is_finite_without_warnings(dtype):
    x = np.array([[-1000.0, -100.0, 0.0], [100.0, 1000.0, -1e300 if dtype == np.float64 else -3e38]], dtype=dtype)
    out = strict(Activation_Sigmoid(), x)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, 0], 0.0, atol=1e-300)
    np.testing.assert_allclose(out[1, 1], 1.0, rtol=0, atol=0)
    assert np.all((out >= 0) & (out <= 1))


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, any_shape, elements=st.floats(-30, 30)))
def test_sigmoid_matches_the_textbook_formula_where_it_is_safe(x):
    out = strict(Activation_Sigmoid(), x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, 1.0 / (1.0 + np.exp(-x)), rtol=1e-12, atol=1e-300)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, any_shape, elements=st.floats(-1e4, 1e4)))
def test_sigmoid_symmetry_and_range(x):
    out = strict(Activation_Sigmoid(), x)
    assert np.all((out >= 0) & (out <= 1))
    np.testing.assert_allclose(out + strict(Activation_Sigmoid(), -x), 1.0, rtol=0, atol=1e-15)


def test_sigmoid_accepts_ints_and_lists():
    out = Activation_Sigmoid().forward([[0, 1], [-1, 0]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    np.testing.assert_allclose(out[0, 0], 0.5)


def test_sigmoid_stores_input_and_output():
    sigmoid = Activation_Sigmoid()
    out = sigmoid.forward([[0.0, 2.0]])
    assert out is sigmoid.output
    np.testing.assert_array_equal(sigmoid.inputs, [[0.0, 2.0]])


def test_sigmoid_rejects_text_clearly():
    with pytest.raises(TypeError, match="Activation_Sigmoid expected numbers"):
        Activation_Sigmoid().forward(["a", "b"])
