"""The dataset picker and the Data page through AppTest: real-size uploads, names instead of
hashes, classes named by the user, hostile names shown as plain text, faults of the disk."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data import NAMED_DATASETS
from tests.conftest import ROOT, tiny_arrays
from tests.helpers import as_shown, write_idx_folder, write_kaggle_csv
from tests.test_data_uploads import fashion_like  # noqa: F401  (a fixture)

APP = str(ROOT / "app" / "streamlit_app.py")
HOSTILE = "![t](http://host/x.png)"
MARKDOWN_ELEMENTS = ("markdown", "caption", "toast", "error", "warning", "info", "success",
                     "title", "header", "subheader")  # fmt: skip


def _app(dataset: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if dataset:
        at.query_params["dataset"] = dataset
    return at


def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    uploader = at.sidebar.file_uploader[0]
    return uploader.set_value([(n, c, "application/octet-stream") for n, c in files]).run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _picker_title(at: AppTest) -> str:
    picker = at.selectbox(key="dataset")
    return picker.format_func(picker.value)




def _markdown_texts(at: AppTest) -> list[str]:
    return [str(e.value) for kind in MARKDOWN_ELEMENTS for e in getattr(at, kind)]


def test_a_28x28_kaggle_csv_upload_is_shown_under_its_file_name(tmp_path, cache_dir):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    labels = np.arange(300) % 10
    csv = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    at = _upload(_app("digits").run(), [("train.csv", csv.read_bytes())])
    assert not at.exception and not at.error
    assert _metrics(at)["Image size"] == "28 × 28 px"
    assert int(_metrics(at)["Training images"]) + int(_metrics(at)["Test images"]) == 300
    assert _picker_title(at) == "train.csv"
    assert as_shown(at.caption[0].value) == "train.csv · uploaded train.csv"
    assert not any(re.search(r"[0-9a-f]{16}", text) for text in _markdown_texts(at))  # no hash


def test_each_upload_starts_from_an_empty_uploader(tmp_path, cache_dir, tiny_npz):
    """Files of one upload are not added to the next (the uploader keeps files until cleared)."""
    from mnist_core.data import list_uploads

    at = _upload(_app("digits").run(), [("tiny.npz", tiny_npz.read_bytes())])
    assert _picker_title(at) == "tiny.npz"
    assert not at.sidebar.file_uploader[0].value
    arrays = tiny_arrays(seed=1)
    csv = write_kaggle_csv(tmp_path / "train.csv", arrays["x_train"], arrays["y_train"])
    at = _upload(at, [("train.csv", csv.read_bytes())])
    assert not at.exception and not at.error
    assert _picker_title(at) == "train.csv"
    assert sorted(p.name for p in list_uploads()) == ["tiny.npz", "train.csv"]


def test_uploaded_fashion_mnist_is_named_and_its_classes_too(tmp_path, cache_dir, fashion_like):  # noqa: F811
    folder = write_idx_folder(tmp_path / "idx", fashion_like, compress=True)
    at = _upload(_app("digits").run(), [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())])
    assert not at.exception and not at.error
    assert _picker_title(at) == "Fashion-MNIST (Zalando), uploaded"
    names = NAMED_DATASETS["fashion_mnist"].class_names
    grid_class = at.selectbox(key="grid_class")
    assert grid_class.options[1:] == list(names)
    # A new session (a reload) finds it under the same name without loading it.
    reopened = _app(at.session_state["dataset"]).run()
    assert _picker_title(reopened) == "Fashion-MNIST (Zalando), uploaded"


def test_a_user_names_the_classes_of_an_upload_on_the_data_page(tmp_path, cache_dir):
    path = tmp_path / "mine.npz"
    np.savez(path, **tiny_arrays())
    at = _upload(_app("digits").run(), [("mine.npz", path.read_bytes())])
    at.text_input[0].set_value("Shapes")
    at.text_area[0].set_value("circle\nsquare\ntriangle\nstar")
    at.button[-1].click().run()  # the form's Save
    assert not at.exception and not at.error
    assert _picker_title(at) == "Shapes"
    grid_class = at.selectbox(key="grid_class")
    assert grid_class.options[1:] == [
        "circle", "square", "triangle", "star",
    ]  # fmt: skip
    # Three names for four classes: one sentence, nothing changed.
    at.text_area[0].set_value("a\nb\nc")
    at.button[-1].click().run()
    assert [as_shown(e.value) for e in at.error] == ["Give 4 class names, one per label 0 to 3; got 3."]
    assert _picker_title(at) == "Shapes"


def test_no_naming_form_for_named_datasets():
    at = _app("digits").run()
    assert not at.text_area and not at.expander


def test_a_hostile_link_is_shown_as_plain_text(mnist_cached):
    at = _app(HOSTILE).run()
    assert not at.exception
    texts = _markdown_texts(at)
    assert not any(HOSTILE in text for text in texts), texts
    assert [as_shown(t.value) for t in at.toast] == [
        f"The dataset in the link, {HOSTILE}, is not here; showing MNIST handwritten digits."
    ]


def test_a_hostile_file_name_is_shown_as_plain_text(tiny_npz, cache_dir):
    name = "![t](x.png) $x^2$ :red[red] <img src=x>.npz"  # browsers send no folders
    at = _upload(_app("digits").run(), [(name, tiny_npz.read_bytes())])
    assert not at.exception and not at.error
    assert _picker_title(at) == name  # a widget option: plain text as it is
    texts = _markdown_texts(at)
    unescaped = re.compile(r"(?<!\\)(!\\?\[|<img|\$x|:red\\?\[)")  # not escaped by a backslash
    assert not any(unescaped.search(t) for t in texts), texts
    assert unescaped.search(name) and unescaped.search("**" + name)  # the check can fail
    assert as_shown(at.caption[0].value) == f"{name} · uploaded {name}"


def test_an_unreadable_file_name_in_an_error_is_plain_text(cache_dir):
    at = _upload(_app("digits").run(), [("![t](http:x.png).npz", b"<html>404</html>")])
    assert [e.value for e in at.error] == [
        r"\_t\_http\_x\.png\_\.npz\: this is an HTML page\, not an \.npz archive "
        r"\(often a failed download or a saved web page\)\."
    ]


# --------------------------------------------------------------------------- faults of the disk


def test_data_page_in_a_read_only_cache_shows_statistics_from_memory(tiny_npz, cache_dir, read_only):
    from app import loaders

    at = _upload(_app("digits").run(), [("tiny.npz", tiny_npz.read_bytes())])
    key = at.session_state["dataset"]
    loaders.pixel_stats.clear()
    shutil.rmtree(cache_dir / "stats", ignore_errors=True)  # as if never computed
    read_only(cache_dir)
    at = _app(key).run()
    assert not at.exception and not at.error
    assert _metrics(at)["Training images"] == "40"
    notes = [as_shown(c.value) for c in at.caption if "not kept" in c.value]
    folder = cache_dir / "stats"
    assert len(notes) == 1 and notes[0].startswith(
        f":material/warning: Computed in memory, not kept: The folder {folder} is read-only here: "
    ), notes
    assert at.get("plotly_chart")  # the statistics are drawn all the same


def test_an_upload_into_a_full_cache_is_one_sentence(tiny_npz, small_disk, monkeypatch):
    from tests.conftest import fill_disk

    monkeypatch.setenv("MNIST_CACHE_DIR", str(small_disk))
    at = _app("digits").run()
    fill_disk(small_disk)
    at = _upload(at, [("tiny.npz", tiny_npz.read_bytes())])
    assert not at.exception
    assert [as_shown(e.value) for e in at.sidebar.error] == [
        f"The disk holding {small_disk / 'uploads'} is full: tiny.npz could not be written "
        "(No space left on device)."
    ]
    assert at.session_state["dataset"] == "digits"


@pytest.mark.parametrize("fault", ["read-only"])
def test_offline_and_read_only_the_picker_still_says_what_is_shown(cache_dir, read_only, fault):
    read_only(cache_dir)  # mnist cannot be downloaded into it, nor is it there
    at = _app("mnist").run()
    assert not at.exception
    assert at.selectbox(key="dataset").value == "digits"
    assert _metrics(at)["Image size"] == "8 × 8 px"
    assert len(at.sidebar.warning) == 1
    folder = cache_dir / "datasets"
    assert as_shown(at.sidebar.caption[0].value) == (
        f"To use it, put mnist.npz in {folder} or upload it below. The download said: "
        f"The folder {folder} is read-only here: mnist.npz could not be written "
        "(Read-only file system)."
    )


def test_try_the_download_again_shows_mnist_once_it_is_there(cache_dir, mnist_npz):
    import os

    at = _app("mnist").run()  # offline: the digits, and a button to try again
    assert at.selectbox(key="dataset").value == "digits"
    target = cache_dir / "datasets" / "mnist.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(mnist_npz, target)  # as if the network came back and the file arrived
    next(b for b in at.sidebar.button if b.label == "Try the download again").click().run()
    assert not at.exception
    assert at.selectbox(key="dataset").value == "mnist"
    assert _metrics(at)["Training images"] == "60,000"
    assert not at.sidebar.warning  # the notice went with the fallback
