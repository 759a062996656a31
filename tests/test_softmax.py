"""Activation_Softmax (chapter 4): probabilities per row, shift invariance, no overflow, clear errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from annicas_lib import Activation_Softmax


def softmax_direct(x):
    """The textbook formula, without any shift: correct only while exp does not overflow."""
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / e.sum(axis=1, keepdims=True)


def forward_strict(x):
    """Run the layer with every overflow / invalid / divide-by-zero turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return Activation_Softmax().forward(x)


batch_shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))
wide_scores = arrays(np.float64, batch_shapes, elements=st.floats(-1000, 1000))


@settings(max_examples=30, deadline=None)
@given(wide_scores)
def test_rows_are_probability_distributions(x):
    p = forward_strict(x)
    assert p.shape == x.shape
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(wide_scores, st.data())
def test_adding_a_constant_to_a_row_changes_nothing(x, data):
    shifts = data.draw(arrays(np.float64, (x.shape[0], 1), elements=st.floats(-500, 500)))
    np.testing.assert_allclose(forward_strict(x + shifts), forward_strict(x), rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, batch_shapes, elements=st.floats(-20, 20)))
def test_matches_the_direct_formula_on_moderate_scores(x):
    np.testing.assert_allclose(forward_strict(x), softmax_direct(x), rtol=1e-12, atol=1e-15)


def test_no_overflow_or_nan_at_plus_minus_1000():
    x = np.array([[1000.0, 0.0, -1000.0],
                  [-1000.0, -1000.0, -1000.0],
                  [1000.0, 1000.0, 1000.0]])
    p = forward_strict(x)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)


def test_rows_at_different_scales_are_each_correct():
    # a batch-wide shift (the slides' first version) turns the second row into 0/0
    x = np.array([[1000.0, 999.0, 998.0], [0.0, -1.0, -2.0]])
    p = forward_strict(x)
    expected = softmax_direct([[0.0, -1.0, -2.0]])[0]
    np.testing.assert_allclose(p, [expected, expected], rtol=1e-12)


def test_forward_sets_inputs_and_output_and_returns_output():
    layer = Activation_Softmax()
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    out = layer.forward(x)
    assert out is layer.output
    np.testing.assert_array_equal(layer.inputs, x)


def test_list_and_integer_inputs():
    layer = Activation_Softmax()
    from_list = layer.forward([[1, 2, 3], [0, 0, 0]])
    assert from_list.dtype == np.float64
    np.testing.assert_allclose(from_list, softmax_direct([[1, 2, 3], [0, 0, 0]]), rtol=1e-12)


def test_float32_stays_float32():
    out = Activation_Softmax().forward(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    assert out.dtype == np.float32
    assert abs(float(out.sum()) - 1.0) < 1e-6


def test_single_column_gives_probability_one():
    np.testing.assert_array_equal(forward_strict([[5.0], [-3.0]]), [[1.0], [1.0]])


@pytest.mark.parametrize("bad_shape", [(3,), (2, 3, 4), (), (2, 0)])
def test_bad_shape_raises_a_clear_error(bad_shape):
    with pytest.raises(ValueError, match=r"expected scores of shape \(n_samples, n_classes\), got shape") as info:
        Activation_Softmax().forward(np.zeros(bad_shape))
    assert str(bad_shape) in str(info.value)


def test_one_dimensional_input_gets_a_hint():
    with pytest.raises(ValueError, match=r"wrap it as \[scores\]"):
        Activation_Softmax().forward([2.0, 1.0, 0.5])
