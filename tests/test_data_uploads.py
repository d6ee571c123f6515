"""Uploads are called after their files, a published dataset is recognised by its images
(whatever file it came in), and users name their uploads' classes."""

from __future__ import annotations

import dataclasses
import gzip
import json

import numpy as np
import pytest

from mnist_core.data import (
    NAMED_DATASETS,
    DatasetError,
    list_uploads,
    load_dataset,
    name_upload,
    recognise,
    save_upload,
    upload_info,
)
from mnist_core.data import named
from mnist_core.data.idx import idx_sha256
from mnist_core.data.uploads import parse_class_names
from tests.conftest import tiny_arrays
from tests.helpers import idx_bytes, write_idx_folder, write_kaggle_csv

FASHION = NAMED_DATASETS["fashion_mnist"]


def _idx_files(tmp_path, arrays, *, compress=True):
    folder = write_idx_folder(tmp_path / "src", arrays, compress=compress)
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]


def test_a_single_upload_is_called_after_its_file(cache_dir, tiny_npz):
    path = save_upload([("../My data (v2).npz", tiny_npz.read_bytes())])
    assert path.name == "My_data_v2_.npz"  # on disk: a safe name
    info = upload_info(path)
    assert (info.title, info.files, info.class_names, info.named_by) == (
        "My data (v2).npz", ("My data (v2).npz",), None, "files",
    )  # fmt: skip
    assert list_uploads() == [path]  # the info file is not a second file of the upload
    dataset = load_dataset(path)
    assert dataset.title == "My data (v2).npz"


def test_several_idx_files_are_called_after_the_first(tmp_path, cache_dir):
    folder = save_upload(_idx_files(tmp_path, tiny_arrays()))
    assert upload_info(folder).title == "t10k-images-idx3-ubyte.gz and 3 more files"
    assert load_dataset(folder).title == "t10k-images-idx3-ubyte.gz and 3 more files"


def test_an_upload_saved_before_info_files_existed_is_still_named(tmp_path, cache_dir):
    folder = save_upload(_idx_files(tmp_path, tiny_arrays()))
    (folder / ".upload.json").unlink()
    assert upload_info(folder).title == "t10k-images-idx3-ubyte.gz and 3 more files"
    (folder / ".upload.json").write_text("{broken")
    assert upload_info(folder).title == "t10k-images-idx3-ubyte.gz and 3 more files"


def test_a_path_outside_the_uploads_has_no_upload_info(tiny_npz):
    assert upload_info(tiny_npz) is None
    with pytest.raises(DatasetError, match=r"^tiny.npz: not an upload, so it cannot be renamed here\.$"):
        name_upload(tiny_npz, title="x", class_names=["a"] * 4, n_classes=4)


# --------------------------------------------------------------------------- recognition


def test_the_registry_holds_the_published_checksums_of_mnist(mnist_npz):
    """The MNIST checksums are those of the uncompressed IDX files its publisher gives;
    the real arrays (../shared/data/mnist.npz) hash to them."""
    with np.load(mnist_npz) as arrays:
        digests = {idx_sha256(arrays["x_train"]), idx_sha256(arrays["x_test"])}
    assert digests == {p.idx_sha256 for p in NAMED_DATASETS["mnist"].published_images}
    # Fashion-MNIST's, as Zalando publishes them (train, then t10k images).
    assert [p.idx_sha256 for p in FASHION.published_images] == [
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ]


def test_idx_sha256_is_the_checksum_of_the_idx_file(tmp_path):
    images = tiny_arrays()["x_train"]
    import hashlib

    assert idx_sha256(images) == hashlib.sha256(idx_bytes(images)).hexdigest()
    assert idx_sha256(images.astype(np.float32)) is None


def test_real_mnist_in_any_file_is_recognised(mnist_npz):
    dataset = load_dataset(mnist_npz)
    assert dataset.title == "MNIST handwritten digits, from mnist.npz"


@pytest.fixture
def fashion_like(monkeypatch):
    """The tiny arrays registered as Fashion-MNIST's published images (the real files are
    not here): what recognition sees is only a shape and a checksum."""
    arrays = tiny_arrays()
    arrays["y_train"] = np.arange(40) % 10
    arrays["y_test"] = np.arange(10) % 10
    published = (
        named.PublishedImages(arrays["x_train"].shape, idx_sha256(arrays["x_train"])),
        named.PublishedImages(arrays["x_test"].shape, idx_sha256(arrays["x_test"])),
    )
    monkeypatch.setitem(
        NAMED_DATASETS, "fashion_mnist", dataclasses.replace(FASHION, published_images=published)
    )
    return arrays


@pytest.mark.parametrize("container", ["gzip", "raw", "npz", "test files only"])
def test_fashion_mnist_is_recognised_by_content_in_any_container(
    tmp_path, cache_dir, fashion_like, container
):
    arrays = fashion_like
    if container == "npz":
        (tmp_path / "fashion.npz").write_bytes(b"")
        np.savez(tmp_path / "fashion.npz", **arrays)
        files = [("fashion.npz", (tmp_path / "fashion.npz").read_bytes())]
    elif container == "test files only":  # t10k images as the training split: still it
        files = [
            ("train-images-idx3-ubyte", idx_bytes(arrays["x_test"])),
            ("train-labels-idx1-ubyte", idx_bytes(arrays["y_test"].astype(np.uint8))),
        ]
    else:
        files = _idx_files(tmp_path, arrays, compress=container == "gzip")
    path = save_upload(files)
    dataset = load_dataset(path)
    assert dataset.class_names == FASHION.class_names
    assert dataset.title == "Fashion-MNIST (Zalando), uploaded"


def test_recognition_needs_the_exact_images(fashion_like):
    arrays = dict(fashion_like)
    assert recognise(arrays) is NAMED_DATASETS["fashion_mnist"]
    changed = arrays["x_train"].copy()
    changed[0, 0, 0] ^= 1
    assert recognise({**arrays, "x_train": changed, "x_test": changed[:10]}) is None


def test_a_recognised_file_outside_the_uploads_says_where_it_came_from(tmp_path, fashion_like):
    folder = write_idx_folder(tmp_path / "downloads", fashion_like, compress=True)
    dataset = load_dataset(folder)
    assert dataset.title == "Fashion-MNIST (Zalando), from downloads"
    assert dataset.class_names[9] == "Ankle boot"


# --------------------------------------------------------------------------- naming by the user


def test_a_user_names_an_upload_and_its_classes(tmp_path, cache_dir):
    arrays = tiny_arrays()
    path = save_upload([("shapes.csv", write_kaggle_csv(tmp_path / "s.csv", arrays["x_train"], arrays["y_train"]).read_bytes())])
    assert load_dataset(path).class_names == ("0", "1", "2", "3")
    info = name_upload(path, title="  Shapes  ", class_names=["circle", "square", "triangle", "star"], n_classes=4)
    assert (info.title, info.class_names, info.named_by) == (
        "Shapes", ("circle", "square", "triangle", "star"), "user",
    )  # fmt: skip
    stored = json.loads((path.parent / ".upload.json").read_text())
    assert stored["class_names"] == ["circle", "square", "triangle", "star"]
    dataset = load_dataset(path)
    assert dataset.class_names == ("circle", "square", "triangle", "star")
    assert dataset.title == "Shapes"
    # Uploading the same file again keeps what the user called it.
    again = save_upload([("shapes.csv", path.read_bytes())])
    assert again == path and upload_info(again).title == "Shapes"


def test_a_user_name_wins_over_recognition(tmp_path, cache_dir, fashion_like):
    path = save_upload(_idx_files(tmp_path, fashion_like))
    names = [f"kind {i}" for i in range(10)]
    name_upload(path, title="My clothes", class_names=names, n_classes=10)
    dataset = load_dataset(path)
    assert dataset.class_names == tuple(names) and dataset.title == "My clothes"


@pytest.mark.parametrize(
    "title, names, message",
    [
        ("x", ["a", "b", "c"], "Give 4 class names, one per label 0 to 3; got 3."),
        ("x", ["a", "b", "a", "c"], "Class names must differ; 'a' is given twice."),
        ("x", ["a", "b", " ", "c"], "Class name '' is empty; type at least one letter."),
        ("x", ["a", "b", "c", "d" * 41], f"Class name {'d' * 41!r} has 41 characters; at most 40 fit."),
        ("x", ["a", "b", "c", "<b>d</b>"], "Class name '<b>d</b>' holds < or >, which charts would read as markup."),
        ("x", ["a", "b", "c", "d\x07"], "Class name 'd\\x07' holds control characters; use plain text."),
        ("", ["a", "b", "c", "d"], "The name is empty; type at least one letter."),
        ("n" * 81, ["a", "b", "c", "d"], "The name has 81 characters; at most 80 fit."),
    ],
    ids=["count", "repeated", "empty", "long", "markup", "control", "no title", "long title"],
)  # fmt: skip
def test_bad_names_are_one_sentence_and_change_nothing(tiny_npz, cache_dir, title, names, message):
    path = save_upload([("tiny.npz", tiny_npz.read_bytes())])
    with pytest.raises(DatasetError) as info:
        name_upload(path, title=title, class_names=names, n_classes=4)
    assert str(info.value) == message
    assert upload_info(path).named_by == "files"


@pytest.mark.parametrize(
    "text, names",
    [
        ("cat\ndog\n\n bird \n", ["cat", "dog", "bird"]),
        ("cat, dog,bird", ["cat", "dog", "bird"]),
        ("T-shirt/top\nTrouser", ["T-shirt/top", "Trouser"]),
        ("", []),
    ],
)
def test_class_names_are_typed_one_per_line_or_with_commas(text, names):
    assert parse_class_names(text) == names


def test_naming_an_upload_in_a_read_only_cache_says_so(tiny_npz, cache_dir, read_only):
    path = save_upload([("tiny.npz", tiny_npz.read_bytes())])
    read_only(cache_dir)
    with pytest.raises(OSError) as info:
        name_upload(path, title="T", class_names=list("abcd"), n_classes=4)
    assert str(info.value) == (
        f"The folder {path.parent} is read-only here: .upload.json could not be written "
        "(Read-only file system)."
    )


def test_saving_an_upload_on_a_full_or_read_only_disk_is_one_sentence(
    tiny_npz, small_disk, read_only, monkeypatch
):
    from tests.conftest import fill_disk

    monkeypatch.setenv("MNIST_CACHE_DIR", str(small_disk))
    fill_disk(small_disk)
    with pytest.raises(OSError) as info:
        save_upload([("tiny.npz", tiny_npz.read_bytes())])
    assert str(info.value) == (
        f"The disk holding {small_disk / 'uploads'} is full: tiny.npz could not be written "
        "(No space left on device)."
    )
    assert [p.name for p in (small_disk / "uploads").iterdir()] == []  # nothing half-written
    for filler in small_disk.glob(".filler*"):
        filler.unlink()
    read_only(small_disk)
    with pytest.raises(OSError) as info:
        save_upload([("tiny.npz", gzip.compress(tiny_npz.read_bytes()))])
    assert str(info.value) == (
        f"The folder {small_disk / 'uploads'} is read-only here: tiny.npz could not be written "
        "(Read-only file system)."
    )
