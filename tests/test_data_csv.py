"""Kaggle digit-recognizer CSVs at their real size: a 785-column header (~7 KB), hundreds
of rows read in chunks, and the edge cases around the header."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnist_core.data import DatasetError, load_dataset
from mnist_core.data import kaggle_csv
from mnist_core.data.kaggle_csv import read_csv
from tests.helpers import write_kaggle_csv

HEADER_28 = "label," + ",".join(f"pixel{i}" for i in range(784))


def _mnist_like(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    return images, labels


def test_header_of_a_real_train_csv_is_longer_than_the_first_512_bytes():
    assert len(HEADER_28) == 6951  # ~7 KB: why a 512-byte peek at the file never worked


def test_28x28_csv_of_a_few_hundred_rows_loads_every_value(tmp_path, monkeypatch):
    images, labels = _mnist_like(300)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    # Chunks of 50 rows: the rows are read in several pieces and put back in order.
    monkeypatch.setattr(kaggle_csv, "_CELLS_PER_CHUNK", 50 * 785)
    pixels, values = read_csv(path)
    assert pixels.dtype == np.uint8 and pixels.shape == (300, 28, 28)
    np.testing.assert_array_equal(pixels, images)
    np.testing.assert_array_equal(values, labels)
    dataset = load_dataset(path, test_size=0.2, seed=0)
    assert dataset.image_shape == (28, 28)
    assert (len(dataset.x_train), len(dataset.x_test)) == (240, 60)
    assert dataset.class_counts("test").tolist() == [6] * 10
    rows = {image.tobytes(): int(label) for image, label in zip(images, labels)}
    assert all(rows[x.tobytes()] == y for x, y in zip(dataset.x_test, dataset.y_test))


def test_windows_line_endings_and_a_byte_order_mark(tmp_path):
    images, labels = _mnist_like(20)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    text = path.read_text().replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    pixels, _ = read_csv(path)
    np.testing.assert_array_equal(pixels, images)


@pytest.mark.parametrize("ending", ["\n", ""], ids=["newline", "no-newline"])
def test_a_28x28_header_without_rows(tmp_path, ending):
    path = tmp_path / "train.csv"
    path.write_text(HEADER_28 + ending)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == "train.csv: the CSV has a header but no rows."


def test_a_first_line_longer_than_any_header_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "blob.csv"
    path.write_text("label," + "x" * (2 << 20) + "\n1\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == (
        "blob.csv: the first line is longer than 1,048,576 bytes, so it cannot be the header "
        "'label,pixel0,...,pixelN' (Kaggle digit-recognizer layout)."
    )


def test_errors_in_a_later_chunk_name_the_line_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(kaggle_csv, "_CELLS_PER_CHUNK", 10 * 785)
    images, labels = _mnist_like(40)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    bad = list(lines)
    bad[33] = bad[33].replace(",", ",abc,", 1).rsplit(",", 1)[0]  # line 34: a word, same width
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == "train.csv: line 34, column pixel0, holds 'abc', not a number."
    short = list(lines)
    short[25] = short[25].rsplit(",", 1)[0]
    path.write_text("\n".join(short) + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == "train.csv: line 26 has 784 values but the header has 785."


def test_out_of_range_pixel_in_a_later_chunk_reports_the_range_of_the_whole_file(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(kaggle_csv, "_CELLS_PER_CHUNK", 10 * 785)
    images, labels = _mnist_like(40)
    images[0] = 0
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    lines[30] = lines[30].rsplit(",", 1)[0] + ",300"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value) == (
        "train.csv: x_train has pixel values from 0 to 300; they must lie in 0..255."
    )


def test_pixels_scaled_to_0_1_are_scaled_back(tmp_path):
    images, labels = _mnist_like(20)
    path = tmp_path / "scaled.csv"
    rows = [HEADER_28] + [
        ",".join([str(label), *(f"{v / 255:.6f}" for v in image.ravel())])
        for image, label in zip(images, labels)
    ]
    path.write_text("\n".join(rows) + "\n")
    dataset = load_dataset(path)
    assert dataset.x_train.dtype == np.uint8
    originals = {image.tobytes() for image in images}
    assert all(x.tobytes() in originals for x in dataset.x_train)


def test_a_kaggle_sized_train_csv_loads_in_seconds(tmp_path):
    """42,000 rows, as Kaggle's digit-recognizer train.csv (76 MB)."""
    images, labels = _mnist_like(42_000, seed=3)
    images[images < 128] = 0  # mostly background, like real digits
    path = tmp_path / "train.csv"
    header = HEADER_28.encode() + b"\n"
    table = np.column_stack([labels, images.reshape(len(images), -1)])
    with path.open("wb") as f:
        f.write(header)
        np.savetxt(f, table, fmt="%d", delimiter=",")
    start = time.perf_counter()
    dataset = load_dataset(path)
    seconds = time.perf_counter() - start
    assert len(dataset.x_train) + len(dataset.x_test) == 42_000
    assert dataset.x_train.dtype == np.uint8
    assert seconds < 30, f"{seconds:.1f} s"
