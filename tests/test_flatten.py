"""Layer_Flatten (chapter 13): shapes, row-major order, no copies, backward, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annicas_lib.flatten import Layer_Flatten


def _flatten_loops(x):
    """Reference: channels, then rows, then columns, one number at a time."""
    N, C, H, W = x.shape
    out = np.empty((N, C * H * W), dtype=x.dtype)
    for n in range(N):
        k = 0
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    out[n, k] = x[n, c, h, w]
                    k += 1
    return out


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=5), seed=st.integers(0, 2**16))
def test_round_trip_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    layer = Layer_Flatten()
    out = layer.forward(x)
    assert out.shape == (shape[0], int(np.prod(shape[1:])))
    assert np.shares_memory(out, x)  # a view: nothing copied
    dvalues = rng.normal(size=out.shape)
    back = layer.backward(dvalues)
    assert back.shape == x.shape
    assert np.array_equal(back.reshape(out.shape), dvalues)
    assert np.shares_memory(back, dvalues)
    assert np.array_equal(layer.backward(out), x)


def test_row_major_order_matches_loops():
    x = np.random.default_rng(0).normal(size=(3, 2, 4, 5))
    out = Layer_Flatten().forward(x)
    assert np.array_equal(out, _flatten_loops(x))
    c, h, w = 1, 2, 3
    assert out[0, (c * 4 + h) * 5 + w] == x[0, c, h, w]


def test_writes_through_the_view():
    x = np.zeros((2, 3, 2, 2), dtype=np.float32)
    out = Layer_Flatten().forward(x)
    out[1, 5] = 7.0
    assert x[1, 1, 0, 1] == 7.0
    assert out.dtype == np.float32


def test_non_contiguous_input_is_still_correct():
    stored = np.random.default_rng(1).normal(size=(3, 4, 2, 2))
    view = stored.transpose(1, 0, 2, 3)  # (N=4, C=3, 2, 2) view of channel-first memory
    layer = Layer_Flatten()
    assert np.array_equal(layer.forward(view), _flatten_loops(np.ascontiguousarray(view)))
    assert layer.backward(layer.output).shape == view.shape


def test_two_dimensional_and_empty_batches():
    x = np.arange(6.0).reshape(2, 3)
    layer = Layer_Flatten()
    assert np.array_equal(layer.forward(x), x)
    assert layer.forward(np.zeros((0, 3, 2, 2))).shape == (0, 12)
    assert layer.backward(np.zeros((0, 12))).shape == (0, 3, 2, 2)


def test_integer_input_becomes_float_and_no_params():
    out = Layer_Flatten().forward(np.arange(8).reshape(2, 2, 2))
    assert np.issubdtype(out.dtype, np.floating)
    assert Layer_Flatten.params == ()


def test_clear_errors():
    layer = Layer_Flatten()
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, \.\.\.\).*got shape \(12,\)"):
        layer.forward(np.zeros(12))
    with pytest.raises(ValueError, match="got shape"):
        layer.forward(np.float64(3.0))
    with pytest.raises(TypeError, match="expected numbers"):
        layer.forward(np.array([["a"], ["b"]]))
    with pytest.raises(RuntimeError, match="call forward first"):
        Layer_Flatten().backward(np.zeros((2, 4)))
    layer.forward(np.zeros((2, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"expected dvalues of shape \(2, 4\)"):
        layer.backward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"expected dvalues of shape \(2, 4\)"):
        layer.backward(np.zeros((2, 1, 2, 2)))  # the un-flattened shape is not accepted either
