"""Property tests: every Part I backward agrees with the numerical gradient (chapter 6).

Random shapes (batch 1-8, features 1-6, classes 2-6) and random float64 values; each analytic
gradient must match central differences to a relative error below 1e-7."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from annicas_lib import (Activation_ReLU, Activation_Sigmoid, Activation_Softmax, CalcSoftmaxLossGrad,
                         Layer_Dense, Loss_CategoricalCrossEntropy)
from annicas_lib.gradcheck import check_layer_gradients, check_loss_gradients

TOL = 1e-7
# Softmax saturates: with scores far apart, a probability near 1 dominates the checked scalar while its
# derivative is tiny, and the numerical gradient's rounding noise (about 1e-16 * |f| / eps) wins.
# Scores within [-3, 3] and a step of 1e-5 (still near the float64 optimum) keep the check well
# conditioned: 3,000 random cases stayed below 5e-9.
SCORE_RANGE = (-3.0, 3.0)
SOFTMAX_EPS = 1e-5
batch_sizes = st.integers(1, 8)
feature_counts = st.integers(1, 6)
class_counts = st.integers(2, 6)
seeds = st.integers(0, 2**32 - 1)


def values(shape, low=-3.0, high=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


@st.composite
def signed_values(draw, shape, low=0.1, high=3.0):
    """Values with magnitudes in [low, high] and random signs. A gradient made of numbers near 1e-15
    drowns in the rounding noise of the numerical gradient, so no check could confirm it."""
    magnitudes = draw(values(shape, low, high))
    signs = draw(hnp.arrays(np.bool_, shape))
    return np.where(signs, magnitudes, -magnitudes)


def labels(n_samples, n_classes):
    return hnp.arrays(np.int64, (n_samples,), elements=st.integers(0, n_classes - 1))


@st.composite
def dense_case(draw):
    n, n_in, n_out = draw(batch_sizes), draw(feature_counts), draw(feature_counts)
    return draw(signed_values((n, n_in))), draw(signed_values((n_in, n_out))), draw(values((1, n_out))), draw(seeds)


@settings(max_examples=25, deadline=None)
@given(dense_case())
def test_dense_backward_matches_numerical_gradient(case):
    inputs, weights, biases, seed = case
    layer = Layer_Dense(*weights.shape, rng=0)
    layer.weights, layer.biases = weights.copy(), biases.copy()
    errors = check_layer_gradients(layer, inputs, seed=seed % 1000)
    assert set(errors) == {"inputs", "weights", "biases"}
    assert max(errors.values()) < TOL, errors


@st.composite
def away_from_zero(draw):
    """Inputs at least 1e-3 away from ReLU's kink, where the numerical derivative straddles the corner."""
    return draw(signed_values((draw(batch_sizes), draw(feature_counts)), 1e-3, 3.0))


@settings(max_examples=25, deadline=None)
@given(away_from_zero(), seeds)
def test_relu_backward_matches_numerical_gradient(inputs, seed):
    errors = check_layer_gradients(Activation_ReLU(), inputs, seed=seed % 1000)
    assert errors["inputs"] < TOL, errors


@settings(max_examples=25, deadline=None)
@given(st.tuples(batch_sizes, feature_counts).flatmap(values), seeds)
def test_sigmoid_backward_matches_numerical_gradient(inputs, seed):
    errors = check_layer_gradients(Activation_Sigmoid(), inputs, seed=seed % 1000)
    assert errors["inputs"] < TOL, errors


def softmax_backward_per_sample(probabilities, dvalues):
    """The slides' reference: one Jacobian diag(p) - p p^T per sample, times that sample's dvalues."""
    dinputs = np.empty_like(dvalues)
    for i, (p, d) in enumerate(zip(probabilities, dvalues)):
        p = p.reshape(-1, 1)
        dinputs[i] = (np.diagflat(p) - p @ p.T) @ d
    return dinputs


@settings(max_examples=25, deadline=None)
@given(st.tuples(batch_sizes, class_counts).flatmap(lambda shape: values(shape, *SCORE_RANGE)), seeds)
def test_softmax_backward_matches_numerical_gradient_and_jacobian_loop(scores, seed):
    softmax = Activation_Softmax()
    errors = check_layer_gradients(softmax, scores, seed=seed % 1000, eps=SOFTMAX_EPS)
    assert errors["inputs"] < TOL, errors

    dvalues = np.random.default_rng(seed).standard_normal(scores.shape)
    softmax.forward(scores)
    vectorized = softmax.backward(dvalues)
    np.testing.assert_allclose(vectorized, softmax_backward_per_sample(softmax.output, dvalues), rtol=0, atol=1e-12)


@st.composite
def probabilities_and_labels(draw, one_hot):
    n, n_classes = draw(batch_sizes), draw(class_counts)
    # well inside the loss's clip bounds [1e-7, 1 - 1e-7], where the clipped loss is smooth
    probabilities = draw(values((n, n_classes), 0.05, 0.95))
    y = draw(labels(n, n_classes))
    return probabilities, (np.eye(n_classes)[y] if one_hot else y)


@settings(max_examples=25, deadline=None)
@given(probabilities_and_labels(one_hot=False))
def test_cross_entropy_backward_sparse_labels(case):
    error = check_loss_gradients(Loss_CategoricalCrossEntropy(), *case)
    assert error < TOL, error


@settings(max_examples=25, deadline=None)
@given(probabilities_and_labels(one_hot=True))
def test_cross_entropy_backward_one_hot_labels(case):
    error = check_loss_gradients(Loss_CategoricalCrossEntropy(), *case)
    assert error < TOL, error


@st.composite
def scores_and_labels(draw, one_hot):
    n, n_classes = draw(batch_sizes), draw(class_counts)
    # moderate scores: every probability stays far above the loss's clip bound 1e-7 (see SCORE_RANGE)
    scores = draw(values((n, n_classes), *SCORE_RANGE))
    y = draw(labels(n, n_classes))
    return scores, (np.eye(n_classes)[y] if one_hot else y)


@settings(max_examples=25, deadline=None)
@given(scores_and_labels(one_hot=False))
def test_combined_softmax_loss_backward_sparse_labels(case):
    error = check_loss_gradients(CalcSoftmaxLossGrad(), *case, eps=SOFTMAX_EPS)
    assert error < TOL, error


@settings(max_examples=25, deadline=None)
@given(scores_and_labels(one_hot=True))
def test_combined_softmax_loss_backward_one_hot_labels(case):
    error = check_loss_gradients(CalcSoftmaxLossGrad(), *case, eps=SOFTMAX_EPS)
    assert error < TOL, error


@settings(max_examples=25, deadline=None)
@given(st.booleans().flatmap(scores_and_labels))
def test_combined_gradient_is_p_minus_y_over_n_and_equals_the_chain(case):
    scores, y = case
    combined = CalcSoftmaxLossGrad()
    combined.forward(scores, y)
    dinputs = combined.backward(combined.output, y)
    y_onehot = y if y.ndim == 2 else np.eye(scores.shape[1])[y]
    np.testing.assert_allclose(dinputs, (combined.output - y_onehot) / len(scores), rtol=0, atol=1e-15)

    softmax, loss = Activation_Softmax(), Loss_CategoricalCrossEntropy()
    softmax.forward(scores)
    chained = softmax.backward(loss.backward(softmax.output, y))
    np.testing.assert_allclose(dinputs, chained, rtol=0, atol=1e-12)


def test_combined_backward_sets_dinputs_for_sparse_labels():
    """The slides indent the gradient lines under `if len(y_true.shape) == 2`; sparse labels must work too."""
    combined = CalcSoftmaxLossGrad()
    combined.forward(np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 0.1]]), np.array([1, 0]))
    first = combined.backward(combined.output, np.array([1, 0])).copy()
    combined.forward(np.array([[0.0, 0.0, 5.0], [0.0, 5.0, 0.0]]), np.array([1, 0]))
    second = combined.backward(combined.output, np.array([1, 0]))
    assert not np.allclose(first, second)  # a fresh gradient, not the previous batch's


def test_dense_backward_rejects_dvalues_of_the_wrong_shape():
    layer = Layer_Dense(3, 4, rng=0)
    layer.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"dvalues of shape \(5, 4\)"):
        layer.backward(np.ones((4, 5)))
