"""Layer_MaxPool2D and Layer_AvgPool2D against plain loops, numerical gradients and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from annicas_lib import Layer_AvgPool2D, Layer_MaxPool2D
from annicas_lib.gradcheck import check_layer_gradients


# ---- reference: the loops of chapter 11 ---------------------------------------------------------

def pool_naive(x, pool, stride, mode):
    (kH, kW), (sH, sW) = pool, stride
    N, C, H, W = x.shape
    oH, oW = (H - kH) // sH + 1, (W - kW) // sW + 1
    out = np.zeros((N, C, oH, oW))
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    window = x[n, c, i * sH:i * sH + kH, j * sW:j * sW + kW]
                    out[n, c, i, j] = window.max() if mode == "max" else window.mean()
    return out


def pool_naive_backward(dout, x, pool, stride, mode):
    (kH, kW), (sH, sW) = pool, stride
    dx = np.zeros_like(x)
    N, C, oH, oW = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    rows, cols = slice(i * sH, i * sH + kH), slice(j * sW, j * sW + kW)
                    if mode == "max":
                        p, q = np.unravel_index(np.argmax(x[n, c, rows, cols]), (kH, kW))  # first max
                        dx[n, c, i * sH + p, j * sW + q] += dout[n, c, i, j]
                    else:
                        dx[n, c, rows, cols] += dout[n, c, i, j] / (kH * kW)
    return dx


@st.composite
def geometries(draw):
    kH, kW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # strides below, equal to and above the pool size: overlapping, tiling and gapped windows
    sH, sW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    H, W = draw(st.integers(kH, 11)), draw(st.integers(kW, 11))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(shape=(N, C, H, W), pool=(kH, kW), stride=(sH, sW), seed=draw(st.integers(0, 2**31)))


def distinct_values(shape, seed):
    """Random values at least 0.01 apart, so no max pool window has a near-tie."""
    values = np.random.default_rng(seed).permutation(np.prod(shape)) * 0.01
    return values.reshape(shape) - values.mean()


@pytest.mark.parametrize("Layer, mode", [(Layer_MaxPool2D, "max"), (Layer_AvgPool2D, "avg")])
@settings(max_examples=30, deadline=None)
@given(g=geometries())
def test_forward_and_backward_match_loops(Layer, mode, g):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal(g["shape"])
    if mode == "max":  # some exact ties, to check that the first maximum gets the gradient
        x = np.round(x, 1)
    layer = Layer(g["pool"], g["stride"])
    out = layer.forward(x)
    expected = pool_naive(x, g["pool"], g["stride"], mode)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
    dout = rng.standard_normal(out.shape)
    layer.backward(dout)
    np.testing.assert_allclose(layer.dinputs, pool_naive_backward(dout, x, g["pool"], g["stride"], mode), rtol=0, atol=1e-10)


@pytest.mark.parametrize("Layer", [Layer_MaxPool2D, Layer_AvgPool2D])
@pytest.mark.parametrize("shape, pool, stride", [
    ((2, 2, 6, 6), 2, None),        # tiling windows
    ((1, 3, 7, 8), 3, 2),           # overlapping windows, AlexNet's 3x3 / 2
    ((2, 1, 5, 9), (2, 3), (1, 2)),  # non-square, overlapping along rows
])
def test_backward_matches_numerical_gradients(Layer, shape, pool, stride):
    layer = Layer(pool, stride)
    errors = check_layer_gradients(layer, distinct_values(shape, seed=sum(shape)))
    assert errors["inputs"] < 1e-7, errors


def test_first_maximum_takes_the_whole_gradient_on_ties():
    layer = Layer_MaxPool2D(2)
    layer.forward(np.ones((1, 1, 2, 2)))
    layer.backward(np.full((1, 1, 1, 1), 3.0))
    np.testing.assert_array_equal(layer.dinputs[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_overlapping_windows_add_their_gradients():
    x = np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 2.0, 0.0]]]])
    layer = Layer_MaxPool2D(2, stride=1)  # the 9 is the maximum of all four windows
    np.testing.assert_array_equal(layer.forward(x), np.full((1, 1, 2, 2), 9.0))
    layer.backward(np.ones((1, 1, 2, 2)))
    assert layer.dinputs[0, 0, 1, 1] == 4.0 and layer.dinputs.sum() == 4.0


@pytest.mark.parametrize("Layer", [Layer_MaxPool2D, Layer_AvgPool2D])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(Layer, dtype):
    layer = Layer(2)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(dtype)
    assert layer.forward(x).dtype == dtype
    assert layer.backward(np.ones(layer.output.shape, dtype=dtype)).dtype == dtype
    assert layer.dinputs.shape == x.shape


@pytest.mark.parametrize("Layer", [Layer_MaxPool2D, Layer_AvgPool2D])
def test_constructor_stores_its_arguments(Layer):
    assert Layer().pool_size == (2, 2) and Layer().stride == (2, 2)
    layer = Layer((3, 2), stride=1)
    assert layer.pool_size == (3, 2) and layer.stride == (1, 1)
    assert not getattr(layer, "params", ())
    assert Layer(3).forward(np.zeros((1, 1, 7, 7))).shape == (1, 1, 2, 2)  # floor((7 - 3) / 3) + 1


@pytest.mark.parametrize("Layer", [Layer_MaxPool2D, Layer_AvgPool2D])
def test_bad_input_gets_a_clear_sentence(Layer):
    name = Layer.__name__
    with pytest.raises(ValueError, match=rf"{name} expected a 4-D batch of images.*\(5, 8, 8\).*x\[:, None\]"):
        Layer(2).forward(np.zeros((5, 8, 8)))
    with pytest.raises(ValueError, match=rf"{name}'s 4x4 pool window does not fit the 3x5 input"):
        Layer(4).forward(np.zeros((1, 1, 3, 5)))
    with pytest.raises(ValueError, match=r"pool_size to be a whole number >= 1 or a pair"):
        Layer(0)
    with pytest.raises(ValueError, match=r"stride to be a whole number >= 1 or a pair"):
        Layer(2, stride=(1, 2, 3))
    layer = Layer(2)
    with pytest.raises(RuntimeError, match="forward pass first"):
        layer.backward(np.zeros((1, 1, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dvalues of shape \(1, 1, 2, 2\).*got \(1, 1, 4, 4\)"):
        layer.backward(np.zeros((1, 1, 4, 4)))
