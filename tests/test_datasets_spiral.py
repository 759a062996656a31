"""make_spiral (chapter 4) and the class plot that draws it."""
import numpy as np
import pytest

from annicas_lib import class_colors, make_spiral, plot_classes


def _global_state_equal(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("samples, classes", [(100, 3), (7, 2), (1, 1), (50, 5)])
def test_shapes_dtypes_and_classes(samples, classes):
    x, y = make_spiral(samples=samples, classes=classes, seed=0)
    assert x.shape == (samples * classes, 2) and x.dtype == np.float64
    assert y.shape == (samples * classes,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.repeat(np.arange(classes), samples))  # class by class, balanced
    assert np.all(np.linalg.norm(x, axis=1) <= 1 + 1e-12)  # radii run from 0 to 1


def test_defaults_are_the_slides_sizes_halved():
    x, y = make_spiral()
    assert x.shape == (300, 2) and set(np.unique(y)) == {0, 1, 2}


def test_same_seed_same_data_and_different_seeds_differ():
    x1, y1 = make_spiral(samples=200, classes=3, seed=7)
    x2, y2 = make_spiral(samples=200, classes=3, seed=7)
    x3, y3 = make_spiral(samples=200, classes=3, seed=8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y3)  # the labels never depend on the seed
    assert not np.array_equal(x1, x3)


def test_matches_nnfs_spiral_data_with_the_global_generator_seeded():
    spiral_data = pytest.importorskip("nnfs.datasets").spiral_data
    state = np.random.get_state()
    try:
        np.random.seed(5)
        x_ref, y_ref = spiral_data(samples=30, classes=4)
    finally:
        np.random.set_state(state)
    x, y = make_spiral(samples=30, classes=4, seed=5)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_numpy_global_generator_is_restored_and_numpy_is_not_patched():
    np.random.seed(1234)
    before = np.random.get_state()
    dot, zeros = np.dot, np.zeros
    make_spiral(samples=20, classes=3, seed=0)
    assert _global_state_equal(np.random.get_state(), before)
    assert np.dot is dot and np.zeros is zeros and np.zeros(2).dtype == np.float64
    # the next global draw is what it would have been without make_spiral
    after_draw = np.random.random()
    np.random.set_state(before)
    assert np.random.random() == after_draw


@pytest.mark.parametrize("kwargs, name", [
    ({"samples": 0}, "samples"), ({"samples": 2.5}, "samples"), ({"classes": -1}, "classes"), ({"classes": True}, "classes"),
])
def test_bad_sizes_raise_a_clear_error(kwargs, name):
    before = np.random.get_state()
    with pytest.raises(ValueError, match=rf"make_spiral needs {name} to be a positive whole number, got"):
        make_spiral(**kwargs)
    assert _global_state_equal(np.random.get_state(), before)


def test_class_colors_follow_the_slides_and_stay_distinct():
    assert class_colors(3) == [(0.0, 0.0, 0.0), (0.0, 0.0, 0.5), (0.7, 0.13, 0.13)]
    many = class_colors(30)
    assert len(many) == 30 and len(set(many)) == 30
    assert all(0 <= c <= 1 for rgb in many for c in rgb)
    assert class_colors(0) == []
    with pytest.raises(ValueError, match="whole number of classes"):
        class_colors(-2)


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    yield pyplot
    pyplot.close("all")


def test_plot_classes_draws_each_class_and_the_prediction_rings(plt):
    x, y = make_spiral(samples=20, classes=3, seed=0)
    ax = plot_classes(x, y, title="spiral")
    assert len(ax.collections) == 3 and ax.get_title() == "spiral"
    np.testing.assert_allclose(ax.collections[1].get_facecolor()[0][:3], (0, 0, 0.5))

    _, ax2 = plt.subplots()
    predictions = np.roll(y, 5)
    assert plot_classes(x, np.eye(3)[y], predictions=predictions, ax=ax2) is ax2  # one-hot labels work too
    rings = ax2.collections[3:]
    assert len(rings) == 3
    assert sum(len(r.get_offsets()) for r in rings) == len(x)
    assert all(len(r.get_facecolor()) == 0 for r in rings)  # open circles
    assert "ring: predicted class" in [t.get_text() for t in ax2.get_legend().get_texts()]


def test_plot_classes_rejects_bad_input(plt):
    x, y = make_spiral(samples=5, classes=2, seed=0)
    with pytest.raises(ValueError, match=r"points of shape \(n_points, 2\), got shape \(10, 3\)"):
        plot_classes(np.zeros((10, 3)), y)
    with pytest.raises(ValueError, match=r"expected y of shape \(10,\)"):
        plot_classes(x, y[:4])
    with pytest.raises(TypeError, match="integer class labels"):
        plot_classes(x, y.astype(float))
    with pytest.raises(ValueError, match=r"expected predictions of shape \(10,\)"):
        plot_classes(x, y, predictions=y[:3])
