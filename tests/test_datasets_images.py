"""Image data (chapter 14): the digits split, the IDX and CIFAR-10 binary parsers, and the
download cache. Every file here is made by the tests themselves in the real formats; nothing
touches the network (the one function that would, `_download_url`, is replaced)."""
import gzip
import hashlib
import io
import shutil
import tarfile

import numpy as np
import pytest

import annicas_lib.datasets as ds
from annicas_lib import (
    ChecksumError,
    DataNotAvailableError,
    ImageSplits,
    load_cats_vs_dogs,
    load_cifar10_binary,
    load_digits_split,
    load_mnist,
    parse_cifar_binary,
    parse_idx,
)


# ---------------------------------------------------------------- files in the real formats
def idx_bytes(array, type_code=0x08):
    """An IDX file: 0x00 0x00, type byte, ndim byte, big-endian uint32 sizes, big-endian data."""
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(big_endian).tobytes()


def cifar_bytes(images, labels):
    """CIFAR-10 binary records: one label byte, then 3072 pixel bytes (R plane, G plane, B plane)."""
    records = np.concatenate([np.asarray(labels, np.uint8)[:, None], np.asarray(images, np.uint8).reshape(len(labels), -1)], axis=1)
    return records.tobytes()


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- digits
def test_digits_split_shapes_dtypes_and_sizes():
    data = load_digits_split()
    assert isinstance(data, ImageSplits)
    X_train, y_train, X_val, y_val, X_test, y_test, names = data
    assert len(X_train) + len(X_val) + len(X_test) == 1797
    assert len(X_test) == round(1797 * 0.2) and len(X_val) == round(1797 * 0.15)
    for X, y in ((X_train, y_train), (X_val, y_val), (X_test, y_test)):
        assert X.dtype == np.float32 and X.shape[1:] == (1, 8, 8) and len(X) == len(y)
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
        assert 0.0 <= X.min() and X.max() <= 1.0
    assert names == tuple("0123456789")
    # stratified: each class within one sample of its proportional share of the test set
    share = np.bincount(load_digits_split().y_test) / len(y_test)
    overall = np.bincount(np.concatenate([y_train, y_val, y_test])) / 1797
    assert np.all(np.abs(share - overall) * len(y_test) <= 1.0)


def test_digits_split_is_a_partition_and_reproducible():
    a, b, c = load_digits_split(seed=0), load_digits_split(seed=0), load_digits_split(seed=1)
    for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y_test, c.y_test)
    # no image is in two parts: every image of the data set appears exactly once
    allx = np.concatenate([a.X_train, a.X_val, a.X_test]).reshape(1797, -1)
    from sklearn.datasets import load_digits

    original = (load_digits().images.reshape(1797, -1) / 16.0).astype(np.float32)
    key = lambda m: np.lexsort(m.T[::-1])
    np.testing.assert_array_equal(allx[key(allx)], original[key(original)])


def test_digits_split_custom_fractions_and_bad_ones():
    data = load_digits_split(val_fraction=0.0, test_fraction=0.5)
    assert len(data.X_val) == 0 and len(data.X_test) == round(1797 * 0.5)
    with pytest.raises(ValueError, match="keep their sum below 1"):
        load_digits_split(val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"test_fraction to be a number in \[0, 1\)"):
        load_digits_split(test_fraction=-0.1)


def test_stratified_split_exact_sizes():
    y = np.repeat(np.arange(3), [50, 30, 20])
    test, val, train = ds.stratified_split(y, [0.2, 0.1], seed=3)
    assert (len(test), len(val), len(train)) == (20, 10, 70)
    np.testing.assert_array_equal(np.bincount(y[test]), [10, 6, 4])
    assert len(np.unique(np.concatenate([test, val, train]))) == 100


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("type_code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_parse_idx_round_trips_every_type(type_code):
    rng = np.random.default_rng(type_code)
    array = rng.integers(0, 100, size=(3, 4, 5))
    parsed = parse_idx(idx_bytes(array, type_code))
    assert parsed.shape == (3, 4, 5) and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, array)


def test_parse_idx_reads_gzip_files_like_mnist(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28)).astype(np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    assert idx_bytes(images)[:4] == b"\x00\x00\x08\x03" and idx_bytes(labels)[:4] == b"\x00\x00\x08\x01"  # MNIST's magic numbers
    np.testing.assert_array_equal(parse_idx(tmp_path / "img.gz"), images)
    np.testing.assert_array_equal(parse_idx(str(tmp_path / "lab.gz")), labels)
    assert parse_idx(tmp_path / "img.gz").dtype == np.uint8


def test_parse_idx_rejects_damaged_files():
    good = idx_bytes(np.zeros((4, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="expected an IDX file"):
        parse_idx(b"\x12\x34" + good[2:])
    with pytest.raises(ValueError, match="expected an IDX file"):
        parse_idx(b"\x00\x00\x07\x03" + good[4:])  # unknown type code
    with pytest.raises(ValueError, match="cut short: 41 bytes instead of 52"):
        parse_idx(good[:-11])
    with pytest.raises(ValueError, match="has extra bytes"):
        parse_idx(good + b"\x00")
    with pytest.raises(ValueError, match="cut short inside its header"):
        parse_idx(good[:9])
    with pytest.raises(ValueError, match="damaged gzip"):
        parse_idx(gzip.compress(good)[:-6])
    with pytest.raises(TypeError, match="bytes or a path"):
        parse_idx(123)


# ---------------------------------------------------------------- CIFAR-10 binary
def test_parse_cifar_binary_reads_records_in_channel_planes(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 3, 32, 32)).astype(np.uint8)
    labels = np.array([3, 5, 0, 9, 3])
    (tmp_path / "data_batch_1.bin").write_bytes(cifar_bytes(images, labels))
    got_images, got_labels = parse_cifar_binary(tmp_path / "data_batch_1.bin")
    assert got_images.shape == (5, 3, 32, 32) and got_images.dtype == np.uint8 and got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    # the byte right after the label is the top-left red pixel, the 1025th the top-left green one
    raw = cifar_bytes(images, labels)
    assert raw[1] == images[0, 0, 0, 0] and raw[1 + 1024] == images[0, 1, 0, 0]


def test_parse_cifar_binary_rejects_damaged_files():
    good = cifar_bytes(np.zeros((2, 3, 32, 32)), [1, 2])
    with pytest.raises(ValueError, match="whole records of 3073 bytes"):
        parse_cifar_binary(good[:-100])
    with pytest.raises(ValueError, match="whole records of 3073 bytes"):
        parse_cifar_binary(b"")
    with pytest.raises(ValueError, match="found label 12"):
        parse_cifar_binary(cifar_bytes(np.zeros((1, 3, 32, 32)), [12]))


# ---------------------------------------------------------------- cache, checksums, downloads
@pytest.fixture
def fake_dataset(monkeypatch, tmp_path):
    """A one-file data set 'toy' whose 'server' is a local folder, and a clean ANNICAS_DATA."""
    server = tmp_path / "server"
    server.mkdir()
    payload = b"pretend this is a data set" * 100
    (server / "toy.bin").write_bytes(payload)
    monkeypatch.setitem(ds.DATASET_FILES, "toy", {"url": "https://example.invalid/data/",
                                                   "files": {"toy.bin": (len(payload), sha(payload))}})
    calls = []

    def fake_download(url, destination, progress=True):
        calls.append(url)
        destination.write((server / url.rsplit("/", 1)[-1]).read_bytes())

    monkeypatch.setattr(ds, "_download_url", fake_download)
    cache = tmp_path / "cache"
    monkeypatch.setenv("ANNICAS_DATA", str(cache))
    return server, cache, calls


def test_missing_data_without_download_says_what_to_fetch_and_where(fake_dataset):
    server, cache, calls = fake_dataset
    with pytest.raises(DataNotAvailableError) as err:
        ds.fetch_files("toy")
    message = str(err.value)
    assert "the file toy.bin" in message and "from https://example.invalid/data/" in message
    assert str(cache / "toy") in message and "download=True" in message and not calls
    assert "\n" not in message
    assert isinstance(err.value, FileNotFoundError)


def test_download_is_verified_cached_and_done_once(fake_dataset):
    server, cache, calls = fake_dataset
    path = ds.fetch_files("toy", download=True)["toy.bin"]
    assert path == cache / "toy" / "toy.bin" and path.read_bytes() == (server / "toy.bin").read_bytes()
    assert ds.fetch_files("toy", download=True)["toy.bin"] == path
    assert len(calls) == 1  # the second call found the verified file
    assert sorted(p.name for p in (cache / "toy").iterdir()) == ["toy.bin"]  # no temporary file left


def test_checksum_mismatch_keeps_nothing(fake_dataset):
    server, cache, calls = fake_dataset
    (server / "toy.bin").write_bytes(b"a different file")
    with pytest.raises(ChecksumError, match="nothing was kept"):
        ds.fetch_files("toy", download=True)["toy.bin"]
    assert list((cache / "toy").iterdir()) == []


def test_interrupted_download_keeps_nothing(fake_dataset, monkeypatch):
    server, cache, calls = fake_dataset

    def broken(url, destination, progress=True):
        destination.write(b"half of it")
        raise ConnectionError("the network went away")

    monkeypatch.setattr(ds, "_download_url", broken)
    with pytest.raises(ConnectionError):
        ds.fetch_files("toy", download=True)["toy.bin"]
    assert list((cache / "toy").iterdir()) == []


def test_damaged_file_in_the_cache_is_reported_not_used(fake_dataset):
    server, cache, calls = fake_dataset
    (cache / "toy").mkdir(parents=True)
    (cache / "toy" / "toy.bin").write_bytes(b"bit rot")
    with pytest.raises(ChecksumError, match="delete it and download it again"):
        ds.fetch_files("toy", download=True)["toy.bin"]
    assert not calls


def test_data_dir_order(monkeypatch, tmp_path):
    monkeypatch.delenv("ANNICAS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ds.data_dir() == tmp_path / "xdg" / "annicas"
    monkeypatch.setenv("ANNICAS_DATA", str(tmp_path / "env"))
    assert ds.data_dir() == tmp_path / "env"
    assert ds.data_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_published_checksum_table_is_well_formed():
    for name, entry in ds.DATASET_FILES.items():
        assert entry["url"].startswith(("https://", "http://")) and entry["url"].endswith("/")
        for filename, (size, digest) in entry["files"].items():
            assert size > 0 and len(digest) == 64 and int(digest, 16) >= 0, (name, filename)


# ---------------------------------------------------------------- the loaders on tiny fake copies
def _install(monkeypatch, cache, dataset, files):
    """Put `files` {name: bytes} into the cache as if downloaded, and make the table trust them."""
    (cache / dataset).mkdir(parents=True, exist_ok=True)
    table = {}
    for name, data in files.items():
        (cache / dataset / name).write_bytes(data)
        table[name] = (len(data), sha(data))
    monkeypatch.setitem(ds.DATASET_FILES, dataset, {"url": "https://example.invalid/", "files": table})


def test_load_mnist_from_tiny_idx_files(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, size=(24, 28, 28)).astype(np.uint8)
    train_y = np.tile(np.arange(3), 8).astype(np.uint8)
    test_x = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    test_y = np.arange(6).astype(np.uint8) % 3
    files = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(train_x)),
             "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(train_y)),
             "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(test_x)),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(test_y))}
    _install(monkeypatch, tmp_path, "fashion", files)
    data = load_mnist("fashion", folder=tmp_path, val_fraction=0.25)
    assert data.X_train.shape == (18, 1, 28, 28) and data.X_val.shape == (6, 1, 28, 28)
    assert data.X_test.dtype == np.float32 and data.y_test.dtype == np.int64
    np.testing.assert_allclose(data.X_test[:, 0], test_x / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(np.bincount(data.y_val), [2, 2, 2])
    assert data.class_names[0] == "T-shirt/top"
    with pytest.raises(ValueError, match="'mnist' or 'fashion'"):
        load_mnist("kmnist", folder=tmp_path)


def test_load_mnist_missing_files_names_all_of_them(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not checked: other files are missing")
    with pytest.raises(DataNotAvailableError) as err:
        load_mnist(folder=tmp_path)
    message = str(err.value)
    assert "3 files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz" in message
    assert f"not found in {tmp_path / 'mnist'}" in message and "storage.googleapis.com/cvdf-datasets/mnist/" in message


def test_fetch_files_unknown_data_set():
    with pytest.raises(ValueError, match="knows the data sets mnist, fashion, cifar10, got 'kmnist'"):
        ds.fetch_files("kmnist")


def _cifar_archive(batches):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_cifar_loaders_from_a_tiny_archive(monkeypatch, tmp_path):
    rng = np.random.default_rng(2)
    batches, expected_test = {}, None
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = np.arange(10)  # one image of each class per batch
        images = rng.integers(0, 256, size=(10, 3, 32, 32)).astype(np.uint8)
        batches[name] = cifar_bytes(images, labels)
        if name == "test_batch.bin":
            expected_test = images
    _install(monkeypatch, tmp_path, "cifar10", {"cifar-10-binary.tar.gz": _cifar_archive(batches)})
    full = load_cifar10_binary(folder=tmp_path, val_fraction=0.2)
    assert full.X_train.shape == (40, 3, 32, 32) and full.X_val.shape == (10, 3, 32, 32)
    np.testing.assert_allclose(full.X_test, expected_test / 255.0, rtol=1e-6)
    assert full.class_names[3] == "cat"
    pets = load_cats_vs_dogs(folder=tmp_path, val_fraction=0.2)
    assert pets.class_names == ("cat", "dog") and set(pets.y_train) | set(pets.y_val) == {0, 1}
    assert len(pets.X_train) + len(pets.X_val) == 10 and len(pets.X_test) == 2
    np.testing.assert_allclose(pets.X_test, expected_test[[3, 5]] / 255.0, rtol=1e-6)
    # an unpacked folder is used when present, and checked the same way
    unpacked = tmp_path / "cifar10" / "cifar-10-batches-bin"
    unpacked.mkdir()
    for name, data in batches.items():
        (unpacked / name).write_bytes(data)
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").unlink()
    assert load_cats_vs_dogs(folder=tmp_path).X_test.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="distinct class numbers 0..9"):
        load_cifar10_binary(classes=[3, 3], folder=tmp_path)


def test_cifar_missing_names_the_binary_archive(monkeypatch, tmp_path):
    with pytest.raises(DataNotAvailableError, match=r"the file cifar-10-binary.tar.gz.*www.cs.toronto.edu/~kriz/.*"
                       r"cifar-10-batches-bin"):
        load_cats_vs_dogs(folder=tmp_path)
