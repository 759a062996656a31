"""Loss, Loss_CategoricalCrossEntropy and accuracy (chapter 5)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annicas_lib import Loss, Loss_CategoricalCrossEntropy, accuracy

# the slides' four-sample example (labels counted from 0)
PROB_PRED = np.array([[0.8, 0.1, 0.1],
                      [0.9, 0.05, 0.05],
                      [0.1, 0.15, 0.75],
                      [0.2, 0.7, 0.1]])
Y_SPARSE = np.array([0, 0, 2, 1])
Y_ONEHOT = np.eye(3, dtype=int)[Y_SPARSE]


def random_problem(n_samples, n_classes, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n_classes), size=n_samples)
    y = rng.integers(0, n_classes, size=n_samples)
    return p, y, np.eye(n_classes)[y]


problems = st.tuples(st.integers(1, 20), st.integers(1, 6), st.integers(0, 2**32 - 1))


@settings(max_examples=30, deadline=None)
@given(problems)
def test_cross_entropy_is_minus_log_of_the_true_class_probability(problem):
    p, y, y_onehot = random_problem(*problem)
    expected = -np.log(np.clip(p[np.arange(len(p)), y], 1e-7, 1 - 1e-7))
    loss = Loss_CategoricalCrossEntropy()
    np.testing.assert_allclose(loss.forward(p, y), expected, rtol=1e-12)
    np.testing.assert_allclose(loss.forward(p, y_onehot), expected, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(problems)
def test_sparse_and_onehot_labels_give_the_same_loss_and_accuracy(problem):
    p, y, y_onehot = random_problem(*problem)
    loss = Loss_CategoricalCrossEntropy()
    assert loss.calculate(p, y) == pytest.approx(loss.calculate(p, y_onehot), rel=1e-12)
    assert accuracy(p, y) == accuracy(p, y_onehot)


def test_the_slides_example():
    loss = Loss_CategoricalCrossEntropy()
    expected = np.mean(-np.log([0.8, 0.9, 0.75, 0.7]))  # 0.2432...
    assert loss.calculate(PROB_PRED, Y_SPARSE) == pytest.approx(expected, rel=1e-12)
    assert loss.calculate(PROB_PRED, Y_ONEHOT) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.2432152708, rel=1e-9)


def test_calculate_is_the_mean_of_forward_and_a_float():
    p, y, _ = random_problem(17, 4, seed=3)
    loss = Loss_CategoricalCrossEntropy()
    value = loss.calculate(p, y)
    assert isinstance(value, float)
    assert value == pytest.approx(float(np.mean(loss.forward(p, y))), rel=1e-15)
    assert isinstance(loss, Loss)


def test_calculate_works_for_any_subclass_forward():
    class Loss_Constant(Loss):
        def forward(self, output, y):
            return np.array([1.0, 2.0, 6.0])

    assert Loss_Constant().calculate(None, None) == 3.0


def test_clipping_keeps_the_loss_finite():
    p = np.array([[0.0, 1.0], [1.0, 0.0]])
    losses = Loss_CategoricalCrossEntropy().forward(p, np.array([0, 0]))
    assert np.isfinite(losses).all()
    assert losses[0] == pytest.approx(-np.log(1e-7), rel=1e-12)      # sure and wrong: about 16.12
    assert losses[1] == pytest.approx(-np.log(1 - 1e-7), rel=1e-9)   # sure and right: about 1e-7, not 0
    assert losses[1] > 0


def test_list_inputs_and_float32_predictions():
    loss = Loss_CategoricalCrossEntropy()
    from_lists = loss.calculate(PROB_PRED.tolist(), Y_SPARSE.tolist())
    assert from_lists == pytest.approx(loss.calculate(PROB_PRED, Y_SPARSE))
    assert loss.calculate(PROB_PRED.astype(np.float32), Y_SPARSE) == pytest.approx(from_lists, rel=1e-6)
    # nnfs' spiral_data returns uint8 labels
    assert loss.calculate(PROB_PRED, Y_SPARSE.astype(np.uint8)) == pytest.approx(from_lists)


def test_accuracy_values():
    assert accuracy(PROB_PRED, Y_SPARSE) == 1.0
    assert accuracy(PROB_PRED, Y_ONEHOT) == 1.0
    assert accuracy(PROB_PRED, [1, 0, 2, 0]) == 0.5
    assert accuracy(PROB_PRED, [1, 1, 0, 0]) == 0.0
    assert isinstance(accuracy(PROB_PRED, Y_SPARSE), float)
    # ties go to the first largest entry, as np.argmax does
    assert accuracy([[0.5, 0.5]], [0]) == 1.0
    # scores work as well as probabilities: only the argmax counts
    assert accuracy([[3.0, -1.0], [0.0, 2.0]], [0, 1]) == 1.0


BAD_LABELS = [
    # (labels, error type, phrases the message must contain: what was expected and what came)
    (Y_SPARSE.astype(float), TypeError, ["integer class labels 0..2", "float64"]),
    (np.array([True, False, True, False]), TypeError, ["integer class labels 0..2", "bool"]),
    (np.array([1, 1, 3, 2]), ValueError, ["label 3", "0..2"]),
    (np.array([0, -1, 2, 1]), ValueError, ["label -1", "0..2"]),
    (Y_SPARSE[:3], ValueError, ["3 labels for 4 samples"]),
    (Y_ONEHOT[:, :2], ValueError, ["(4, 2)", "expected (4, 3)"]),
    (Y_ONEHOT[:3], ValueError, ["(3, 3)", "expected (4, 3)"]),
    (Y_ONEHOT[:, :, None], ValueError, ["(4,) or one-hot (4, 3)", "(4, 3, 1)"]),
]


@pytest.mark.parametrize("labels, error, phrases", BAD_LABELS)
@pytest.mark.parametrize("who", ["Loss_CategoricalCrossEntropy", "accuracy"])
def test_bad_labels_raise_errors_naming_expected_and_got(labels, error, phrases, who):
    call = Loss_CategoricalCrossEntropy().calculate if who == "Loss_CategoricalCrossEntropy" else accuracy
    with pytest.raises(error) as info:
        call(PROB_PRED, labels)
    message = str(info.value)
    assert message.startswith(who)
    for phrase in phrases:
        assert phrase in message, (phrase, message)


@pytest.mark.parametrize("bad_predictions", [np.array([0.2, 0.8]), np.zeros((2, 3, 1))])
def test_bad_prediction_shapes_raise(bad_predictions):
    with pytest.raises(ValueError, match=r"expected predictions of shape \(n_samples, n_classes\), got shape"):
        Loss_CategoricalCrossEntropy().calculate(bad_predictions, [0, 1])
    with pytest.raises(ValueError, match=r"expected predictions of shape"):
        accuracy(bad_predictions, [0, 1])
