"""annicas_lib.training (Monitor, check_loss_finite) and plotting.plot_monitor, from chapter 7."""
import math

import numpy as np
import pytest

from annicas_lib.training import Monitor, check_loss_finite


# ---- Monitor ----

def test_monitor_records_named_values_and_returns_arrays():
    monitor = Monitor()
    assert len(monitor) == 0 and monitor.names == ()
    for epoch in range(5):
        monitor.record(accuracy=0.1 * epoch, loss=1.0 / (epoch + 1))
    assert len(monitor) == 5
    assert monitor.names == ("accuracy", "loss")
    loss = monitor["loss"]
    assert isinstance(loss, np.ndarray) and loss.dtype == np.float64 and loss.shape == (5,)
    np.testing.assert_allclose(monitor["accuracy"], [0.0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(loss, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert "loss" in monitor and "val_loss" not in monitor


def test_monitor_returns_copies():
    monitor = Monitor()
    monitor.record(loss=1.0)
    monitor["loss"][0] = 99.0
    assert monitor["loss"][0] == 1.0


def test_monitor_accepts_numpy_scalars():
    monitor = Monitor()
    monitor.record(loss=np.float32(0.5), accuracy=np.mean([True, False]), learning_rate=np.array(0.1))
    assert monitor["loss"][0] == 0.5 and monitor["accuracy"][0] == 0.5 and monitor["learning_rate"][0] == 0.1


def test_monitor_fills_epochs_without_a_value_with_nan():
    """A validation loss measured every other epoch lines up with the epoch numbers."""
    monitor = Monitor()
    for epoch in range(4):
        values = {"loss": float(epoch)}
        if epoch % 2 == 1:
            values["val_loss"] = 10.0 + epoch
        monitor.record(**values)
    assert len(monitor["loss"]) == len(monitor["val_loss"]) == 4
    np.testing.assert_array_equal(monitor["val_loss"], [np.nan, 11.0, np.nan, 13.0])
    assert monitor.names == ("loss", "val_loss")


def test_monitor_as_dict_and_repr():
    monitor = Monitor()
    monitor.record(accuracy=0.5, loss=0.7)
    data = monitor.as_dict()
    assert set(data) == {"accuracy", "loss"} and data["loss"].shape == (1,)
    assert repr(monitor) == "Monitor(1 epochs: accuracy, loss)"


def test_monitor_unknown_name_lists_what_it_holds():
    monitor = Monitor()
    monitor.record(loss=1.0)
    with pytest.raises(KeyError, match="no record named 'accuracy'.*holds: loss"):
        monitor["accuracy"]


@pytest.mark.parametrize("bad, error", [({}, ValueError), ({"loss": [1.0, 2.0]}, TypeError),
                                        ({"loss": "0.5"}, TypeError), ({"loss": None}, TypeError)])
def test_monitor_rejects_bad_records(bad, error):
    with pytest.raises(error, match="Monitor.record"):
        Monitor().record(**bad)


# ---- check_loss_finite ----

@pytest.mark.parametrize("value", [1.0986, 0.0, np.float64(12.5), np.array(3.0), np.array([0.1, 2.0])])
def test_check_loss_finite_passes_finite_values_through(value):
    assert check_loss_finite(value, epoch=3, learning_rate=0.1) is value


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (math.inf, "inf"), (-np.inf, "-inf"),
                                          (np.array([0.5, np.nan]), "nan")])
def test_check_loss_finite_raises_naming_epoch_and_learning_rate(value, shown):
    with pytest.raises(FloatingPointError) as info:
        check_loss_finite(value, epoch=17, learning_rate=1e6)
    message = str(info.value)
    assert f"became {shown} at epoch 17" in message
    assert "learning rate 1e+06" in message
    assert "too high" in message and message.count(". ") == 0  # one sentence


def test_check_loss_finite_without_learning_rate():
    with pytest.raises(FloatingPointError, match="at epoch 0: the learning rate is probably too high"):
        check_loss_finite(np.nan, epoch=0)


# ---- plot_monitor ----

@pytest.fixture
def monitor():
    m = Monitor()
    for epoch in range(20):
        m.record(accuracy=0.3 + 0.02 * epoch, loss=1.1 - 0.03 * epoch, learning_rate=0.1)
    return m


def test_plot_monitor_draws_one_panel_per_key(monitor):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from annicas_lib.plotting import plot_monitor

    axes = plot_monitor(monitor)
    assert len(axes) == 3
    assert "fraction" in axes[0].get_ylabel() and "%" not in axes[0].get_ylabel()
    assert axes[0].get_ylim() == pytest.approx((-0.02, 1.02))  # accuracy is a fraction
    assert axes[1].get_ylabel() == "loss" and axes[-1].get_xlabel() == "epoch"
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), monitor["loss"])
    plt.close("all")


def test_plot_monitor_keys_groups_log_x_and_given_axes(monitor):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from annicas_lib.plotting import plot_monitor

    monitor.record(loss=0.5, val_loss=0.6)
    _, given = plt.subplots(2, 1)
    axes = plot_monitor(monitor, keys=[("loss", "val_loss"), "accuracy"], log_x=True, ax=given, label="run A")
    assert list(axes) == list(given)
    assert len(axes[0].lines) == 2 and axes[0].get_xscale() == "symlog"
    # val_loss was recorded once: only its finite point is drawn
    assert len(axes[0].lines[1].get_xdata()) == 1
    with pytest.raises(ValueError, match="2 panel"):
        plot_monitor(monitor, keys=["loss", "accuracy"], ax=given[0])
    with pytest.raises(KeyError, match="'val_accuracy'"):
        plot_monitor(monitor, keys=["val_accuracy"])
    with pytest.raises(ValueError, match="empty Monitor"):
        plot_monitor(Monitor())
    plt.close("all")
