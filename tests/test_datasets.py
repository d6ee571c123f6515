"""Loaders of every source, and one clear sentence for every malformed input."""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mnist_core.data import (
    Dataset,
    DatasetError,
    list_uploads,
    load_dataset,
    save_upload,
    stratified_split,
)
from tests.conftest import ROOT, tiny_arrays
from tests.helpers import idx_bytes, write_idx_folder, write_kaggle_csv

# --------------------------------------------------------------------------- good sources


def test_npz_loads_arrays_as_given(tiny_npz):
    arrays = tiny_arrays()
    dataset = load_dataset(tiny_npz)
    assert isinstance(dataset, Dataset)
    np.testing.assert_array_equal(dataset.x_train, arrays["x_train"])
    np.testing.assert_array_equal(dataset.y_test, arrays["y_test"])
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64
    assert dataset.class_names == ("0", "1", "2", "3")
    assert dataset.name == "tiny" and dataset.source == str(tiny_npz)
    assert dataset.image_shape == (6, 6)
    assert dataset.class_counts("train").tolist() == [10, 10, 10, 10]


def test_arrays_are_read_only(tiny_npz):
    dataset = load_dataset(tiny_npz)
    with pytest.raises(ValueError, match="read-only"):
        dataset.x_train[0, 0, 0] = 1


def test_fingerprint_depends_on_content_only(tmp_path, tiny_npz):
    other_name = tmp_path / "renamed.npz"
    other_name.write_bytes(tiny_npz.read_bytes())
    changed = tiny_arrays()
    changed["x_train"][0, 0, 0] ^= 1
    np.savez(tmp_path / "changed.npz", **changed)
    a, b = load_dataset(tiny_npz), load_dataset(other_name)
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 32
    assert load_dataset(tmp_path / "changed.npz").fingerprint != a.fingerprint


def test_npz_variants_flat_channel_and_float_images(tmp_path):
    arrays = tiny_arrays()
    flat = {**arrays, "x_train": arrays["x_train"].reshape(40, 36)}
    np.savez(tmp_path / "flat.npz", **flat)
    channel = {**arrays, "x_test": arrays["x_test"][..., None]}
    np.savez(tmp_path / "channel.npz", **channel)
    scaled = {**arrays, "x_train": arrays["x_train"] / 255.0}
    np.savez(tmp_path / "scaled.npz", **scaled)
    for name in ("flat", "channel", "scaled"):
        dataset = load_dataset(tmp_path / f"{name}.npz")
        np.testing.assert_array_equal(dataset.x_train, arrays["x_train"])
        np.testing.assert_array_equal(dataset.x_test, arrays["x_test"])


def test_train_only_npz_gets_stratified_held_out_split(tmp_path):
    arrays = tiny_arrays()
    np.savez(tmp_path / "train_only.npz", x_train=arrays["x_train"], y_train=arrays["y_train"])
    dataset = load_dataset(tmp_path / "train_only.npz", test_size=0.3, seed=1)
    assert len(dataset.x_train) + len(dataset.x_test) == 40
    assert dataset.class_counts("test").tolist() == [3, 3, 3, 3]  # round(0.3 * 10) per class


def test_stratified_split_is_seeded_and_disjoint():
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1)
    labels = np.repeat(np.arange(4), 25)
    first = stratified_split(images, labels, test_size=0.2, seed=7)
    again = stratified_split(images, labels, test_size=0.2, seed=7)
    other = stratified_split(images, labels, test_size=0.2, seed=8)
    np.testing.assert_array_equal(first[2], again[2])
    assert not np.array_equal(first[2], other[2])
    assert np.bincount(first[3]).tolist() == [5, 5, 5, 5]
    assert set(first[0].ravel()).isdisjoint(first[2].ravel())
    assert len(first[0]) + len(first[2]) == 100


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_folder_and_single_idx_file(tmp_path, compress):
    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, compress=compress)
    for source in (folder, next(folder.glob("train-images*"))):
        dataset = load_dataset(source)
        np.testing.assert_array_equal(dataset.x_train, arrays["x_train"])
        np.testing.assert_array_equal(dataset.y_test, arrays["y_test"])


def test_idx_folder_without_test_files_is_split(tmp_path):
    arrays = tiny_arrays()
    folder = write_idx_folder(tmp_path / "idx", {k: arrays[k] for k in ("x_train", "y_train")})
    dataset = load_dataset(folder)
    assert (len(dataset.x_train), len(dataset.x_test)) == (32, 8)


def test_kaggle_csv_loads_with_stratified_split(tmp_path):
    arrays = tiny_arrays()
    path = write_kaggle_csv(tmp_path / "train.csv", arrays["x_train"], arrays["y_train"])
    dataset = load_dataset(path, test_size=0.2, seed=0)
    assert dataset.image_shape == (6, 6)
    assert dataset.class_counts("test").tolist() == [2, 2, 2, 2]
    # Every held-out image is one of the file's rows with its own label.
    rows = {a.tobytes(): int(y) for a, y in zip(arrays["x_train"], arrays["y_train"])}
    assert all(rows[x.tobytes()] == y for x, y in zip(dataset.x_test, dataset.y_test))


def test_digits_is_bundled_and_scaled_to_0_255():
    dataset = load_dataset("digits")
    assert dataset.x_train.shape[1:] == (8, 8)
    assert len(dataset.x_train) + len(dataset.x_test) == 1797
    assert (dataset.x_train.min(), dataset.x_train.max()) == (0, 255)
    assert dataset.class_names == tuple("0123456789")


def test_mnist_is_read_from_the_cache(mnist_cached):
    dataset = load_dataset("mnist", download=False)
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert dataset.class_counts("train").tolist() == counts


def test_fashion_mnist_is_read_from_the_keras_layout(cache_dir):
    arrays = tiny_arrays()
    arrays["y_train"] = np.arange(40) % 10
    write_idx_folder(cache_dir / "datasets" / "fashion-mnist", arrays, compress=True)
    dataset = load_dataset("fashion_mnist", download=False)
    assert dataset.class_names[9] == "Ankle boot"
    assert len(dataset.x_train) == 40


def test_missing_named_dataset_without_download(cache_dir):
    with pytest.raises(DatasetError, match=r"^mnist: not in the cache folder .* downloading is off\.$"):
        load_dataset("mnist", download=False)


def test_unknown_name():
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar")
    assert str(info.value) == (
        "cifar: no such file or folder, and no dataset has this name "
        "(named datasets: mnist, fashion_mnist, digits)."
    )


# --------------------------------------------------------------------------- bad inputs


def _npz(tmp_path, **arrays):
    folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / "bad.npz"
    np.savez(path, **arrays)
    return path


def _zip_with_npy(tmp_path, key: str, npy: bytes, others: dict):
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for other_key, array in others.items():
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(other_key + ".npy", buffer.getvalue())
        archive.writestr(key + ".npy", npy)
    return path


def _npy_header(shape, dtype="|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def bad_npz_cases(tmp_path):
    a = tiny_arrays()
    yield "missing key", _npz(tmp_path, x_train=a["x_train"], y_train=a["y_train"], x_test=a["x_test"]), (
        "bad.npz: missing array 'y_test' (found x_test, x_train, y_train; "
        "expected x_train, y_train, x_test, y_test)."
    )
    yield "object array", _npz(tmp_path, **{**a, "y_train": np.array([{"a": 1}] * 40, dtype=object)}), (
        "bad.npz: array 'y_train' holds Python objects (a pickled array), which are never "
        "loaded; save plain numeric arrays instead."
    )
    yield "lengths differ", _npz(tmp_path, **{**a, "y_train": a["y_train"][:39]}), (
        "bad.npz: x_train has 40 images but y_train has 39 labels."
    )
    yield "non-square", _npz(tmp_path, **{**a, "x_train": np.zeros((40, 6, 5), np.uint8)}), (
        "bad.npz: x_train images are 6x5; only square images are supported."
    )
    yield "NaN", _npz(tmp_path, **{**a, "x_test": np.full((10, 6, 6), np.nan)}), (
        "bad.npz: x_test contains NaN pixel values."
    )
    yield "out of range", _npz(tmp_path, **{**a, "x_train": np.full((40, 6, 6), 300, np.int32)}), (
        "bad.npz: x_train has pixel values from 300 to 300; they must lie in 0..255."
    )
    yield "negative labels", _npz(tmp_path, **{**a, "y_train": np.arange(40) - 1}), (
        "bad.npz: y_train holds labels from -1 to 38; labels must be class numbers from 0 to 255."
    )
    yield "fractional labels", _npz(tmp_path, **{**a, "y_test": np.full(10, 0.5)}), (
        "bad.npz: y_test holds non-integer labels; labels must be class numbers 0, 1, 2, ..."
    )
    yield "text labels", _npz(tmp_path, **{**a, "y_test": np.array(["a"] * 10)}), (
        "bad.npz: y_test has dtype <U1; labels must be integers."
    )


@pytest.mark.parametrize(
    "case", ["missing key", "object array", "lengths differ", "non-square", "NaN",
             "out of range", "negative labels", "fractional labels", "text labels"],
)  # fmt: skip
def test_bad_npz_contents(tmp_path, case):
    cases = {name: (path, message) for name, path, message in bad_npz_cases(tmp_path)}
    path, message = cases[case]
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == message


def test_npz_header_claiming_more_than_the_file_holds(tmp_path):
    a = tiny_arrays()
    # A header that claims 10^12 bytes, followed by 36 bytes of data.
    npy = _npy_header((10**6, 1000, 1000)) + bytes(36)
    path = _zip_with_npy(tmp_path, "x_train", npy, {k: a[k] for k in ("y_train", "x_test", "y_test")})
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == (
        "forged.npz: array 'x_train' claims shape (1000000, 1000, 1000) (931.3 GiB), "
        "more than the 1.0 GiB a dataset may take here (set MNIST_MAX_DATASET_BYTES to allow more)."
    )
    npy = _npy_header((40, 6, 6)) + bytes(100)  # 1,440 bytes claimed, 100 present
    path = _zip_with_npy(tmp_path, "x_train", npy, {k: a[k] for k in ("y_train", "x_test", "y_test")})
    with pytest.raises(DatasetError, match=r"forged.npz: array 'x_train' claims shape \(40, 6, 6\) "
                       r"\(1,440 bytes\) but the file holds at most 100 bytes; it is truncated"):
        load_dataset(path)


def test_truncated_npz_file(tmp_path, tiny_npz):
    cut = tmp_path / "cut.npz"
    cut.write_bytes(tiny_npz.read_bytes()[:700])
    with pytest.raises(DatasetError) as info:
        load_dataset(cut)
    assert str(info.value) == (
        "cut.npz: the .npz archive is truncated or damaged (its zip index is missing)."
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty.npz: the file is empty."),
        (b"<!DOCTYPE html><html><body>Not Found</body></html>",
         "empty.npz: this is an HTML page, not an .npz archive "
         "(often a failed download or a saved web page)."),
        (b"just some text", "empty.npz: this is not an .npz archive (it is not a zip file)."),
    ],
    ids=["empty", "html", "text"],
)  # fmt: skip
def test_npz_that_is_not_an_archive(tmp_path, content, message):
    path = tmp_path / "empty.npz"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == message


def test_pickled_npz_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    np.savez(path, x_train=np.array([Evil()], dtype=object), y_train=np.zeros(1))
    with pytest.raises(DatasetError, match="holds Python objects"):
        load_dataset(path)
    assert not marker.exists()


def _idx_case(tmp_path, name, data: bytes):
    folder = tmp_path / "idx"
    a = tiny_arrays()
    write_idx_folder(folder, {k: a[k] for k in ("y_train", "x_test", "y_test")})
    (folder / name).write_bytes(data)
    return folder


def test_idx_bad_magic(tmp_path):
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte", b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        "train-images-idx3-ubyte: bad IDX magic number 0x12340803 "
        "(expected 0x00000803 for images or 0x00000801 for labels)."
    )


def test_idx_header_claiming_more_than_the_file_holds(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28)
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte", header + bytes(1000))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        "train-images-idx3-ubyte: the IDX header claims shape (60000, 28, 28) (47,040,000 bytes) "
        "but the file holds at most 1,000 bytes; it is truncated or corrupt."
    )
    huge = bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000_000, 4_000, 4_000)
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte.gz", gzip.compress(huge))
    (folder / "train-images-idx3-ubyte").unlink()
    with pytest.raises(DatasetError, match=r"claims shape \(4000000000, 4000, 4000\) .* GiB a dataset may take here"):
        load_dataset(folder)


def test_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(tiny_arrays()["x_train"]))
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte.gz", data[: len(data) // 2])
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        "train-images-idx3-ubyte.gz: the gzip stream is truncated (the file was cut short)."
    )


def test_idx_gzip_with_too_little_data(tmp_path):
    data = idx_bytes(tiny_arrays()["x_train"])
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte.gz", gzip.compress(data[:-10]))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == (
        "train-images-idx3-ubyte.gz: the IDX data is truncated: "
        "expected 1,440 bytes, found 1,430."
    )


def test_idx_images_and_labels_of_different_lengths(tmp_path):
    folder = _idx_case(tmp_path, "train-images-idx3-ubyte", idx_bytes(tiny_arrays()["x_train"][:30]))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert str(info.value) == "idx: x_train has 30 images but y_train has 40 labels."


def test_idx_folder_without_training_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "empty")
    assert str(info.value) == (
        "empty: needs train-images-idx3-ubyte and train-labels-idx1-ubyte (optionally .gz); "
        "found no files."
    )


def _csv(tmp_path, text: str):
    path = tmp_path / "digits.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,0,0\n",
         "digits.csv: line 3 has 4 values but the header has 5."),
        ("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,0,0,0,9\n",
         "digits.csv: line 3 has 6 values but the header has 5."),
        ("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,abc,0,0\n",
         "digits.csv: line 3, column pixel1, holds 'abc', not a number."),
        ("label,pixel0,pixel1,pixel2\n1,0,0,0\n",
         "digits.csv: 3 pixel columns do not make a square image."),
        ("x,y\n1,2\n",
         "digits.csv: the first line must be the header 'label,pixel0,...,pixelN' "
         "(Kaggle digit-recognizer layout), not 'x,y'."),
        ("label,pixel0,pixel1,pixel2,pixel3\n",
         "digits.csv: the CSV has a header but no rows."),
        ("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,0,0,256\n",
         "digits.csv: x_train has pixel values from 0 to 256; they must lie in 0..255."),
        ("label,pixel0,pixel1,pixel2,pixel3\n1.5,0,0,0,0\n2,0,0,0,0\n",
         "digits.csv: y_train holds non-integer labels; labels must be class numbers 0, 1, 2, ..."),
    ],
    ids=["short row", "long row", "text", "non-square", "no header", "no rows", "range", "label"],
)  # fmt: skip
def test_bad_csv(tmp_path, text, message):
    with pytest.raises(DatasetError) as info:
        load_dataset(_csv(tmp_path, text))
    assert str(info.value) == message


def test_unknown_file_type(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(DatasetError, match=r"^notes.txt: unknown file type; use an .npz"):
        load_dataset(path)


# --------------------------------------------------------------------------- uploads


def test_upload_is_kept_and_listed_once(cache_dir, tiny_npz):
    content = tiny_npz.read_bytes()
    first = save_upload([("../../my data.npz", content)])
    again = save_upload([("../../my data.npz", content)])
    assert first == again
    assert first.name == "my_data.npz"
    assert first.is_relative_to(cache_dir / "uploads")
    assert list_uploads() == [first]
    assert load_dataset(first).x_train.shape == (40, 6, 6)


def test_upload_of_several_idx_files_is_one_folder(tmp_path, cache_dir):
    folder = write_idx_folder(tmp_path / "src", tiny_arrays(), compress=True)
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    saved = save_upload(files)
    assert saved.is_dir()
    assert sorted(p.name for p in saved.iterdir()) == sorted([".upload.json", *(n for n, _ in files)])
    assert load_dataset(saved).x_train.shape == (40, 6, 6)


# --------------------------------------------------------------------------- CLI


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip


def test_cli_load_prints_one_json_object(tiny_npz):
    result = _cli("load", str(tiny_npz))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == {
        "name": "tiny",
        "title": "tiny",
        "train_shape": [40, 6, 6],
        "test_shape": [10, 6, 6],
        "train_class_counts": [10, 10, 10, 10],
        "test_class_counts": [3, 3, 2, 2],
        "pixel_min": int(min(tiny_arrays()["x_train"].min(), tiny_arrays()["x_test"].min())),
        "pixel_max": int(max(tiny_arrays()["x_train"].max(), tiny_arrays()["x_test"].max())),
        "class_names": ["0", "1", "2", "3"],
        "source": str(tiny_npz),
    }


def test_cli_load_bad_input_exits_2_with_one_sentence(tmp_path):
    path = tmp_path / "page.npz"
    path.write_text("<html><body>404</body></html>")
    result = _cli("load", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "page.npz: this is an HTML page, not an .npz archive "
        "(often a failed download or a saved web page).\n"
    )
