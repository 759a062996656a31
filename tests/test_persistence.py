"""save_network / load_network (chapter 9): one .npz file holding the architecture and the weights."""
import json
import os

import numpy as np
import pytest

import annicas_lib
from annicas_lib import (
    Activation_ReLU,
    Activation_Softmax,
    Layer_Dense,
    Layer_Dropout,
    NetworkFileError,
    load_network,
    save_network,
)


def forward(layers, x):
    """Inference pass: layers that behave differently in training (dropout) are told it is not."""
    for layer in layers:
        if isinstance(layer, Layer_Dropout):
            x = layer.forward(x, training=False)
        else:
            x = layer.forward(x)
    return x


def small_net(seed=0, hidden=8, dtype=np.float64):
    return [Layer_Dense(2, hidden, rng=seed, dtype=dtype), Activation_ReLU(), Layer_Dense(hidden, 3, rng=seed + 1, dtype=dtype)]


@pytest.fixture
def x():
    return np.random.default_rng(42).normal(size=(50, 2))


def test_round_trip_gives_identical_predictions(tmp_path, x):
    net = small_net()
    net[0].biases += 0.25  # non-zero biases, so they are checked too
    path = tmp_path / "net.npz"
    assert save_network(path, net, meta={"classes": 3, "note": "spiral"}) == str(path)
    loaded, meta = load_network(path)
    assert [type(layer) for layer in loaded] == [type(layer) for layer in net]
    assert np.array_equal(forward(loaded, x), forward(net, x))
    assert (loaded[0].n_inputs, loaded[0].n_neurons, loaded[2].n_neurons) == (2, 8, 3)
    assert meta == {"classes": 3, "note": "spiral"}


def test_round_trip_keeps_dtype_and_settings(tmp_path, x):
    net = [Layer_Dense(2, 4, rng=0, dtype=np.float32, init="small", weight_regularizer_l2=5e-4), Activation_Softmax()]
    save_network(tmp_path / "f32.npz", net)
    (dense, softmax), meta = load_network(tmp_path / "f32.npz")
    assert dense.weights.dtype == np.float32 and dense.dtype == np.float32
    assert dense.init == "small" and dense.weight_regularizer_l2 == 5e-4
    assert meta == {}
    assert np.array_equal(forward([dense, softmax], x), forward(net, x))


def test_round_trip_with_dropout(tmp_path, x):
    net = [Layer_Dense(2, 16, rng=0), Activation_ReLU(), Layer_Dropout(0.3), Layer_Dense(16, 3, rng=1)]
    save_network(tmp_path / "drop.npz", net)
    loaded, _ = load_network(tmp_path / "drop.npz")
    assert isinstance(loaded[2], Layer_Dropout)
    assert loaded[2].rate == pytest.approx(net[2].rate)
    assert np.array_equal(forward(loaded, x), forward(net, x))


def test_header_is_plain_json_and_arrays_are_named_by_layer(tmp_path):
    save_network(tmp_path / "net.npz", small_net(), meta={"epochs": np.int64(10), "lr": np.float32(0.5), "shape": (2, 3)})
    with np.load(tmp_path / "net.npz", allow_pickle=False) as data:
        assert sorted(data.files) == sorted(
            ["annicas_header", "layer0.weights", "layer0.biases", "layer2.weights", "layer2.biases"]
        )
        header = json.loads(str(data["annicas_header"][()]))
    assert header["format"] == "annicas-network" and header["version"] == 1
    assert [entry["class"] for entry in header["layers"]] == ["Layer_Dense", "Activation_ReLU", "Layer_Dense"]
    assert header["layers"][0]["config"]["dtype"] == "float64"
    assert "rng" not in header["layers"][0]["config"]
    assert header["meta"] == {"epochs": 10, "lr": 0.5, "shape": [2, 3]}


def test_writes_exactly_the_name_given_and_no_temporary_file(tmp_path):
    save_network(tmp_path / "net.npz", small_net())
    save_network(tmp_path / "no_suffix", small_net())
    assert sorted(os.listdir(tmp_path)) == ["net.npz", "no_suffix"]  # no "net.npz.npz", no leftovers
    load_network(tmp_path / "no_suffix")


def test_failed_write_leaves_old_file_intact_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    save_network(path, small_net(seed=0))
    before = path.read_bytes()

    def crash_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_network(path, small_net(seed=5), overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.npz"]


def test_refuses_to_overwrite_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "net.npz"
    save_network(path, small_net(seed=0))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        save_network(path, small_net(seed=1))
    assert "another file name" in str(info.value)
    assert path.read_bytes() == before


def test_overwrite_true_replaces_the_file(tmp_path, x):
    path = tmp_path / "net.npz"
    save_network(path, small_net(seed=0))
    new = small_net(seed=7, hidden=5)
    save_network(path, new, overwrite=True)
    loaded, _ = load_network(path)
    assert loaded[0].n_neurons == 5
    assert np.array_equal(forward(loaded, x), forward(new, x))
    assert os.listdir(tmp_path) == ["net.npz"]


def test_missing_file_says_how_to_create_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="RunMyANN") as info:
        load_network(tmp_path / "nowhere.npz")
    assert "nowhere.npz" in str(info.value)


def test_missing_folder_when_saving(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_network(tmp_path / "no" / "such" / "net.npz", small_net())


def test_truncated_file(tmp_path):
    path = tmp_path / "net.npz"
    save_network(path, small_net())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NetworkFileError, match="truncated or damaged"):
        load_network(path)


def test_random_bytes_and_empty_file(tmp_path):
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(NetworkFileError, match="is not an .npz file"):
        load_network(tmp_path / "noise.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(NetworkFileError, match="is empty"):
        load_network(tmp_path / "empty.npz")


def test_single_npy_file_like_the_slides(tmp_path):
    np.save(tmp_path / "weights1.npy", np.ones((2, 64)))
    with pytest.raises(NetworkFileError, match="single numpy array"):
        load_network(tmp_path / "weights1.npy")


def test_npz_without_header(tmp_path):
    np.savez(tmp_path / "plain.npz", weights=np.ones((2, 3)))
    with pytest.raises(NetworkFileError, match="not an ANNICAS network"):
        load_network(tmp_path / "plain.npz")


def test_npz_with_a_foreign_header(tmp_path):
    np.savez(tmp_path / "other.npz", annicas_header=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(NetworkFileError, match="not an ANNICAS network description"):
        load_network(tmp_path / "other.npz")
    np.savez(tmp_path / "garbled.npz", annicas_header=np.array("{not json"))
    with pytest.raises(NetworkFileError, match="not an ANNICAS network description"):
        load_network(tmp_path / "garbled.npz")


def test_newer_format_version(tmp_path):
    header = {"format": "annicas-network", "version": 99, "layers": [], "meta": {}}
    np.savez(tmp_path / "future.npz", annicas_header=np.array(json.dumps(header)))
    with pytest.raises(NetworkFileError, match="update annicas_lib"):
        load_network(tmp_path / "future.npz")


class Layer_Scale:
    """A layer of the test's own: output = inputs * factor."""

    params = ("factor",)

    def __init__(self, n):
        self.n = n
        self.factor = np.ones((1, n))

    def forward(self, inputs):
        self.output = inputs * self.factor
        return self.output


def test_unknown_layer_class_and_custom_classes(tmp_path, x):
    layer = Layer_Scale(2)
    layer.factor = np.array([[2.0, -1.0]])
    save_network(tmp_path / "custom.npz", [layer])
    with pytest.raises(NetworkFileError, match="Layer_Scale.*does not define") as info:
        load_network(tmp_path / "custom.npz")
    assert "classes=" in str(info.value)
    (loaded,), _ = load_network(tmp_path / "custom.npz", classes={"Layer_Scale": Layer_Scale})
    assert np.array_equal(loaded.forward(x), x * [2.0, -1.0])


def test_architecture_mismatch(tmp_path):
    dense = Layer_Dense(2, 8, rng=0)
    dense.weights = np.zeros((2, 4))  # the arrays no longer fit the recorded n_neurons = 8
    save_network(tmp_path / "odd.npz", [dense])
    with pytest.raises(NetworkFileError, match="different architecture") as info:
        load_network(tmp_path / "odd.npz")
    assert "(2, 4)" in str(info.value) and "(2, 8)" in str(info.value)


def test_missing_array(tmp_path):
    header = {"format": "annicas-network", "version": 1, "meta": {},
              "layers": [{"class": "Layer_Dense", "config": {"n_inputs": 2, "n_neurons": 3}}]}
    np.savez(tmp_path / "partial.npz", annicas_header=np.array(json.dumps(header)), **{"layer0.weights": np.ones((2, 3))})
    with pytest.raises(NetworkFileError, match="no array 'layer0.biases'"):
        load_network(tmp_path / "partial.npz")


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return "unpickled!"


class Sneaky:
    """Unpickling this object runs _record_unpickling: the load must never get that far."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "sneaky.npz"
    save_network(path, small_net())
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["layer0.weights"] = np.array([Sneaky()], dtype=object)
    np.savez(path, **arrays)  # np.savez pickles object arrays
    with pytest.raises(NetworkFileError, match="pickle"):
        load_network(path)
    assert UNPICKLED == []


def test_save_refuses_object_arrays_and_bad_meta(tmp_path):
    dense = Layer_Dense(2, 3, rng=0)
    dense.weights = np.array([object()] * 6, dtype=object).reshape(2, 3)
    with pytest.raises(TypeError, match="numeric arrays"):
        save_network(tmp_path / "a.npz", [dense])
    with pytest.raises(TypeError, match="JSON"):
        save_network(tmp_path / "b.npz", small_net(), meta={"when": object()})
    with pytest.raises(TypeError, match="meta to be a dict"):
        save_network(tmp_path / "c.npz", small_net(), meta=[1, 2])
    assert os.listdir(tmp_path) == []


def test_save_rejects_bad_layer_lists(tmp_path):
    with pytest.raises(TypeError, match="list of layers"):
        save_network(tmp_path / "a.npz", Layer_Dense(2, 3))
    with pytest.raises(ValueError, match="empty"):
        save_network(tmp_path / "a.npz", [])


class Layer_Forgetful:
    """Breaks the library convention: the constructor argument is not stored under its name."""

    def __init__(self, size):
        self.n = size


def test_save_explains_the_constructor_convention(tmp_path):
    with pytest.raises(TypeError, match=r"self\.size"):
        save_network(tmp_path / "a.npz", [Layer_Forgetful(3)])


def test_loading_leaves_the_library_generator_alone(tmp_path):
    save_network(tmp_path / "net.npz", small_net())
    annicas_lib.set_seed(123)
    expected = Layer_Dense(2, 4).weights
    annicas_lib.set_seed(123)
    load_network(tmp_path / "net.npz")
    assert np.array_equal(Layer_Dense(2, 4).weights, expected)


def test_network_file_error_is_a_value_error():
    assert issubclass(NetworkFileError, ValueError)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_saved_file_gets_ordinary_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    save_network(tmp_path / "net.npz", small_net())
    assert (tmp_path / "net.npz").stat().st_mode & 0o777 == 0o666 & ~umask
