"""Layer_Conv2D, im2col and col2im against plain loops, numerical gradients and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from annicas_lib import Layer_Conv2D, col2im, conv_output_size, im2col
from annicas_lib.gradcheck import check_layer_gradients


# ---- reference: the loops of chapter 10, one output number at a time ------------------------

def conv_naive(x, weights, biases, stride, padding):
    (sH, sW), (pH, pW) = stride, padding
    N, C, H, W = x.shape
    F, _, kH, kW = weights.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))
    oH, oW = (H + 2 * pH - kH) // sH + 1, (W + 2 * pW - kW) // sW + 1
    out = np.zeros((N, F, oH, oW))
    for n in range(N):
        for f in range(F):
            for i in range(oH):
                for j in range(oW):
                    window = xp[n, :, i * sH:i * sH + kH, j * sW:j * sW + kW]
                    out[n, f, i, j] = np.sum(window * weights[f]) + biases[f]
    return out


def conv_naive_backward(dout, x, weights, stride, padding):
    (sH, sW), (pH, pW) = stride, padding
    N, C, H, W = x.shape
    F, _, kH, kW = weights.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(weights)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * sH, i * sH + kH), slice(j * sW, j * sW + kW)
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * weights[f]
    return dxp[:, :, pH:pH + H, pW:pW + W], dw, dout.sum(axis=(0, 2, 3))


def im2col_naive(x, kernel, stride, padding):
    (kH, kW), (sH, sW), (pH, pW) = kernel, stride, padding
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW)))
    oH, oW = (H + 2 * pH - kH) // sH + 1, (W + 2 * pW - kW) // sW + 1
    columns = np.zeros((C * kH * kW, N * oH * oW))
    for n in range(N):
        for i in range(oH):
            for j in range(oW):
                columns[:, n * oH * oW + i * oW + j] = xp[n, :, i * sH:i * sH + kH, j * sW:j * sW + kW].ravel()
    return columns


# ---- random geometries: non-square kernels and images, stride > 1, padding > 0 ---------------

@st.composite
def geometries(draw):
    kH, kW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sH, sW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pH, pW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kH - 2 * pH), 9))
    W = draw(st.integers(max(1, kW - 2 * pW), 9))
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    return dict(N=N, C=C, F=F, H=H, W=W, kernel=(kH, kW), stride=(sH, sW), padding=(pH, pW), seed=seed)


def make_layer(g, dtype=np.float64):
    layer = Layer_Conv2D(g["C"], g["F"], g["kernel"], g["stride"], g["padding"], rng=g["seed"], dtype=dtype)
    rng = np.random.default_rng(g["seed"] + 1)
    layer.biases[:] = rng.standard_normal(g["F"])
    x = rng.standard_normal((g["N"], g["C"], g["H"], g["W"])).astype(dtype)
    return layer, x


@settings(max_examples=40, deadline=None)
@given(geometries())
def test_forward_and_backward_match_loops(g):
    layer, x = make_layer(g)
    out = layer.forward(x)
    expected = conv_naive(x, layer.weights, layer.biases, g["stride"], g["padding"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10)
    dout = np.random.default_rng(g["seed"] + 2).standard_normal(out.shape)
    layer.backward(dout)
    dx, dw, db = conv_naive_backward(dout, x, layer.weights, g["stride"], g["padding"])
    np.testing.assert_allclose(layer.dinputs, dx, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.dweights, dw, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.dbiases, db, rtol=0, atol=1e-10)
    assert layer.dweights.shape == layer.weights.shape and layer.dbiases.shape == layer.biases.shape


@settings(max_examples=30, deadline=None)
@given(geometries())
def test_im2col_matches_loops_and_col2im_is_its_transpose(g):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((g["N"], g["C"], g["H"], g["W"]))
    columns = im2col(x, g["kernel"], g["stride"], g["padding"])
    np.testing.assert_array_equal(columns, im2col_naive(x, g["kernel"], g["stride"], g["padding"]))
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im is the transpose (adjoint) of im2col
    c = rng.standard_normal(columns.shape)
    back = col2im(c, x.shape, g["kernel"], g["stride"], g["padding"])
    assert back.shape == x.shape
    assert np.isclose(np.sum(columns * c), np.sum(x * back), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", [
    dict(N=2, C=2, F=3, H=6, W=5, kernel=(3, 3), stride=(1, 1), padding=(1, 1), seed=1),
    dict(N=2, C=3, F=2, H=7, W=6, kernel=(2, 3), stride=(2, 1), padding=(0, 2), seed=2),
    dict(N=1, C=1, F=2, H=8, W=8, kernel=(3, 3), stride=(2, 2), padding=(1, 1), seed=3),
])
def test_backward_matches_numerical_gradients(geometry):
    layer, x = make_layer(geometry)
    errors = check_layer_gradients(layer, x)
    assert set(errors) == {"inputs", "weights", "biases"}
    assert all(err < 1e-7 for err in errors.values()), errors


def test_chunked_im2col_gives_the_same_numbers():
    g = dict(N=5, C=2, F=3, H=7, W=6, kernel=(3, 2), stride=(2, 1), padding=(1, 0), seed=4)
    whole, x = make_layer(g)
    chunked, _ = make_layer(g)
    chunked.max_columns_bytes = 1  # one sample per chunk
    np.testing.assert_allclose(chunked.forward(x), whole.forward(x), rtol=0, atol=1e-12)
    dout = np.random.default_rng(0).standard_normal(whole.output.shape)
    whole.backward(dout)
    chunked.backward(dout)
    for name in ("dinputs", "dweights", "dbiases"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=0, atol=1e-12)


def test_float32_keeps_its_dtype_and_agrees_with_float64():
    g = dict(N=3, C=2, F=4, H=9, W=7, kernel=3, stride=2, padding=1, seed=5)
    layer64 = Layer_Conv2D(2, 4, 3, 2, 1, rng=5, dtype=np.float64)
    layer32 = Layer_Conv2D(2, 4, 3, 2, 1, rng=5)
    assert layer32.weights.dtype == np.float32 and layer32.biases.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((g["N"], 2, 9, 7))
    out32 = layer32.forward(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, layer64.forward(x), rtol=1e-4, atol=1e-5)
    dout = np.ones(out32.shape, dtype=np.float32)
    layer32.backward(dout)
    for name in ("dinputs", "dweights", "dbiases"):
        assert getattr(layer32, name).dtype == np.float32, name
    # a float64 input into a float32 layer: the output follows the input, the gradients the parameters
    assert layer32.forward(x).dtype == np.float64
    layer32.backward(np.ones(layer32.output.shape))
    assert layer32.dweights.dtype == np.float32 and layer32.dinputs.dtype == np.float64
    # uint8 pixels become the layer's dtype
    assert layer32.forward((x * 50 + 100).clip(0, 255).astype(np.uint8)).dtype == np.float32


def test_constructor_stores_its_arguments_and_he_init():
    layer = Layer_Conv2D(3, 8, (3, 5), stride=2, padding=(1, 2), rng=0)
    assert (layer.in_channels, layer.out_channels) == (3, 8)
    assert layer.kernel_size == (3, 5) and layer.stride == (2, 2) and layer.padding == (1, 2)
    assert layer.init == "he" and layer.dtype == np.float32
    assert layer.params == ("weights", "biases")
    assert layer.weights.shape == (8, 3, 3, 5) and layer.biases.shape == (8,)
    big = Layer_Conv2D(16, 64, 3, rng=1, dtype=np.float64)
    assert abs(big.weights.std() - np.sqrt(2 / (16 * 9))) < 0.01
    np.testing.assert_array_equal(Layer_Conv2D(3, 8, 3, rng=7).weights, Layer_Conv2D(3, 8, 3, rng=7).weights)


def test_output_size_formula():
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(31, 3, 2, 1) == 16
    assert conv_output_size(7, 3, 2, 0) == 3
    assert Layer_Conv2D(3, 25, 3, 2, 1, rng=0).forward(np.zeros((2, 3, 31, 31))).shape == (2, 25, 16, 16)


def test_output_memory_order_is_invisible_to_reshape_and_the_next_layer():
    # the layout trick (output as a transposed view) must not change what a reshape sees
    layer = Layer_Conv2D(1, 16, 3, padding=1, rng=0)
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    out = layer.forward(x)
    flat = out.reshape(4, -1)
    assert flat[2, 16 * 28 * 28 - 1] == out[2, 15, 27, 27]
    second = Layer_Conv2D(16, 8, 3, rng=1)
    assert second.forward(out).shape == (4, 8, 26, 26)


# ---- bad input: one clear sentence naming the shapes -------------------------------------------

def test_three_d_input_suggests_adding_an_axis():
    layer = Layer_Conv2D(1, 4, 3)
    with pytest.raises(ValueError, match=r"4-D batch of images.*\(N, 1, H, W\).*\(10, 28, 28\).*x\[:, None\]"):
        layer.forward(np.zeros((10, 28, 28)))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        Layer_Conv2D(3, 4, 3).forward(np.zeros((3, 28, 28)))


def test_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"expected 3 input channel.*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        Layer_Conv2D(3, 4, 3).forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"channels last\? use x\.transpose\(0, 3, 1, 2\)"):
        Layer_Conv2D(3, 4, 3).forward(np.zeros((2, 8, 8, 3)))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"5x5 kernel does not fit the 2x3 input, so there is no position"):
        Layer_Conv2D(1, 1, 5, padding=0).forward(np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match=r"7x7 kernel does not fit the 3x3 input, padded by 1 on each side to 5x5,"):
        Layer_Conv2D(1, 1, 7, padding=1).forward(np.zeros((1, 1, 3, 3)))


def test_bad_constructor_arguments_and_dvalues():
    with pytest.raises(ValueError, match="in_channels to be a positive whole number"):
        Layer_Conv2D(0, 4, 3)
    with pytest.raises(ValueError, match=r"kernel_size to be a whole number >= 1 or a pair"):
        Layer_Conv2D(1, 4, 2.5)
    with pytest.raises(ValueError, match=r"padding to be a whole number >= 0"):
        Layer_Conv2D(1, 4, 3, padding=-1)
    with pytest.raises(ValueError, match="init must be 'he' or 'small'"):
        Layer_Conv2D(1, 4, 3, init="slides")
    with pytest.raises(TypeError, match="expected numbers"):
        Layer_Conv2D(1, 4, 3).forward(np.array([["a"]]))
    layer = Layer_Conv2D(1, 2, 3)
    with pytest.raises(RuntimeError, match="forward pass first"):
        layer.backward(np.zeros((1, 2, 1, 1)))
    layer.forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"dvalues of shape \(1, 2, 3, 3\).*got \(1, 2, 5, 5\)"):
        layer.backward(np.zeros((1, 2, 5, 5)))
