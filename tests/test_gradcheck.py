"""The gradient checker itself (annicas_lib.gradcheck): it must be right, and it must be able to fail."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from annicas_lib import Activation_Sigmoid, CalcSoftmaxLossGrad, Layer_Dense
from annicas_lib.gradcheck import (check_layer_gradients, check_loss_gradients, gradient_table,
                                   numerical_gradient, relative_error)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
arrays = st.integers(1, 6).flatmap(lambda n: hnp.arrays(np.float64, (n,), elements=finite))


# ---- numerical_gradient on functions whose derivative we know ----

def test_numerical_gradient_of_sum_of_squares_is_2x():
    x = np.array([[-1.5, 0.0, 2.0], [3.0, -0.25, 7.0]])
    grad = numerical_gradient(lambda: np.sum(x ** 2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-9, atol=1e-9)


def test_numerical_gradient_of_sum_of_sines_is_cos():
    x = np.linspace(-3, 3, 13)
    grad = numerical_gradient(lambda: np.sum(np.sin(x)), x)
    np.testing.assert_allclose(grad, np.cos(x), rtol=0, atol=1e-9)


def test_numerical_gradient_is_second_order_accurate():
    """Central differences: the error of f = x**3 at x = 1 is exactly eps**2 (f''' / 6 = 1)."""
    x = np.array([1.0])
    for eps in (1e-2, 1e-3):
        grad = numerical_gradient(lambda: float(x[0] ** 3), x, eps=eps)
        assert abs(grad[0] - 3.0 - eps ** 2) < 1e-9


def test_numerical_gradient_restores_x():
    x = np.array([0.1, -0.2, 0.3])
    before = x.copy()
    numerical_gradient(lambda: np.sum(np.exp(x)), x)
    assert np.array_equal(x, before)


def test_numerical_gradient_refuses_float32_with_a_clear_message():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=r"float64.*got float32.*astype\(np.float64\)"):
        numerical_gradient(lambda: float(np.sum(x ** 2)), x)


def test_numerical_gradient_refuses_a_list():
    with pytest.raises(TypeError, match="numpy array, got list"):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])


def test_numerical_gradient_refuses_a_function_that_returns_an_array():
    x = np.ones(3)
    with pytest.raises(ValueError, match="return one number"):
        numerical_gradient(lambda: x ** 2, x)


# ---- relative_error ----

@settings(max_examples=30, deadline=None)
@given(arrays)
def test_relative_error_of_an_array_with_itself_is_zero(a):
    assert relative_error(a, a) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(hnp.arrays(np.float64, (n,), elements=finite),
                                                      hnp.arrays(np.float64, (n,), elements=finite))))
def test_relative_error_is_symmetric_and_between_0_and_1(pair):
    a, b = pair
    error = relative_error(a, b)
    assert error == pytest.approx(relative_error(b, a))
    assert 0.0 <= error <= 1.0 + 1e-12


@settings(max_examples=30, deadline=None)
@given(arrays, st.floats(1e-6, 1e6))
def test_relative_error_does_not_depend_on_the_scale(a, scale):
    b = a + 0.5
    assert relative_error(scale * a, scale * b) == pytest.approx(relative_error(a, b), rel=1e-9, abs=1e-12)


def test_relative_error_special_values():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, -a) == pytest.approx(1.0)           # opposite gradients: the worst
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0        # both zero: equal, not nan
    assert relative_error(a, np.zeros(3)) == pytest.approx(1.0)
    assert relative_error(a, 2 * a) == pytest.approx(1 / 3)       # off by a factor 2: |a| / 3|a|


def test_relative_error_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"one shape.*\(3,\).*\(1, 3\)"):
        relative_error(np.ones(3), np.ones((1, 3)))


# ---- the check can fail ----

class DenseWithMeanBias(Layer_Dense):
    """A classic slip: the bias gradient averaged over the batch instead of summed."""

    def backward(self, dvalues):
        super().backward(dvalues)
        self.dbiases = np.mean(dvalues, axis=0, keepdims=True)
        return self.dinputs


class SigmoidWithoutChainRule(Activation_Sigmoid):
    """Another: the local derivative returned without multiplying by dvalues."""

    def backward(self, dvalues):
        self.dinputs = self.output * (1 - self.output)
        return self.dinputs


class LossWithoutOneOverN(CalcSoftmaxLossGrad):
    """And another: the gradient of the summed loss, p - y, instead of the mean's (p - y) / N."""

    def backward(self, dvalues, y_true):
        self.dinputs = super().backward(dvalues, y_true) * len(dvalues)
        return self.dinputs


def test_check_layer_gradients_catches_a_wrong_bias_gradient_and_names_it():
    x = np.random.default_rng(0).standard_normal((5, 3))
    errors = check_layer_gradients(DenseWithMeanBias(3, 2, rng=0), x)
    assert errors["biases"] > 0.5                      # (N - 1) / (N + 1) = 2/3 for N = 5
    assert errors["biases"] == pytest.approx(4 / 6, rel=1e-6)
    assert errors["inputs"] < 1e-7 and errors["weights"] < 1e-7


def test_check_layer_gradients_catches_a_forgotten_chain_rule():
    x = np.random.default_rng(1).standard_normal((4, 3))
    assert check_layer_gradients(SigmoidWithoutChainRule(), x)["inputs"] > 1e-2


def test_check_loss_gradients_catches_a_forgotten_one_over_n():
    rng = np.random.default_rng(2)
    scores, y = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    assert check_loss_gradients(CalcSoftmaxLossGrad(), scores, y) < 1e-7
    assert check_loss_gradients(LossWithoutOneOverN(), scores, y) > 0.5   # (6 - 1) / (6 + 1)


def test_check_layer_gradients_reports_every_parameter_of_a_correct_layer():
    x = np.random.default_rng(3).standard_normal((7, 4))
    errors = check_layer_gradients(Layer_Dense(4, 5, rng=1), x)
    assert set(errors) == {"inputs", "weights", "biases"}
    assert max(errors.values()) < 1e-7


def test_check_layer_gradients_refuses_float32_parameters():
    layer = Layer_Dense(3, 2, rng=0, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        check_layer_gradients(layer, np.ones((2, 3)))


# ---- gradient_table ----

def test_gradient_table_marks_passes_and_failures():
    table = gradient_table({"Layer_Dense": {"inputs": 1e-10, "biases": 0.5}, "CalcSoftmaxLossGrad": 2e-11})
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("check")
    assert "inputs" in lines[1] and lines[1].endswith("ok")
    assert "biases" in lines[2] and "FAIL" in lines[2]
    assert "CalcSoftmaxLossGrad" in lines[3] and lines[3].endswith("ok")


def test_gradient_table_uses_the_given_tolerance():
    assert "FAIL" in gradient_table({"a": 1e-6}, tol=1e-7)
    assert "FAIL" not in gradient_table({"a": 1e-6}, tol=1e-5)
