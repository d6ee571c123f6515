"""``predict RUN_ID IMAGE...`` and ``predict-csv RUN_ID test.csv -o submission.csv``, run
through the CLI's own ``main`` (one JSON line per image; a bad input is one sentence on
stderr and exit status 2) (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_core import __main__ as cli
from mnist_core import inside
from mnist_core.data import load_dataset
from mnist_core.runs import open_run
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fresh_sessions():
    inside.forget_sessions()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _run(capsys, *argv) -> tuple[int, list, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_predict_npy_and_png_one_json_line_each(finished_run, digits, tmp_path, capsys):
    run_id = finished_run.name
    model = inside.open_model(open_run(run_id))
    np.save(tmp_path / "three.npy", digits.x_test[:3])
    Image.fromarray(digits.x_test[5]).save(tmp_path / "five.png")
    code, lines, err = _run(capsys, "predict", run_id, str(tmp_path / "three.npy"),
                            str(tmp_path / "five.png"))  # fmt: skip
    assert code == 0 and err == ""
    expected = model.predict(digits.x_test[[0, 1, 2, 5]])
    assert [line["image"] for line in lines] == [
        f"{tmp_path / 'three.npy'}[{i}]" for i in range(3)] + [str(tmp_path / "five.png")]
    for line, p in zip(lines, expected):
        assert line["label"] == int(p.argmax()) and line["class"] == str(p.argmax())
        np.testing.assert_allclose(line["probabilities"], p, atol=1e-6)


def test_a_png_of_another_size_is_framed_and_said_so(finished_run, tmp_path, capsys):
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 130:150] = 255  # a "1"
    Image.fromarray(255 - canvas).save(tmp_path / "one.png")  # dark on light, like paper
    code, lines, err = _run(capsys, "predict", finished_run.name, str(tmp_path / "one.png"))
    assert code == 0
    assert err.strip() == (f"{tmp_path / 'one.png'}: 280×280, not 8×8: cropped to its ink and "
                           "scaled into 8×8 the way MNIST was made.")  # fmt: skip
    model = inside.open_model(open_run(finished_run.name))
    expected = model.predict(inside.preprocess_drawing(canvas, size=8))[0]
    np.testing.assert_allclose(lines[0]["probabilities"], expected, atol=1e-6)


@pytest.mark.parametrize("name,content,message", [
    ("note.png", b"this is no picture", "note.png: not an image that can be read"),
    ("blank.png", None, "blank.png: the image is blank (no ink to predict)."),
    ("words.npy", b"\x93NUMPY nonsense", "words.npy: not a NumPy .npy array"),
])  # fmt: skip
def test_bad_images_are_one_sentence_and_exit_2(finished_run, tmp_path, capsys, name, content,
                                                message):  # fmt: skip
    path = tmp_path / name
    if content is None:
        Image.fromarray(np.zeros((50, 50), np.uint8)).save(path)
    else:
        path.write_bytes(content)
    code, lines, err = _run(capsys, "predict", finished_run.name, str(path))
    assert code == 2 and lines == []
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_predict_csv_writes_a_kaggle_submission(finished_run, digits, tmp_path, capsys):
    frame = pd.DataFrame(digits.x_test.reshape(len(digits.x_test), -1),
                         columns=[f"pixel{i}" for i in range(64)])  # fmt: skip
    frame.to_csv(tmp_path / "test.csv", index=False)
    output = tmp_path / "submission.csv"
    code, lines, _ = _run(capsys, "predict-csv", finished_run.name, str(tmp_path / "test.csv"),
                          "-o", str(output))  # fmt: skip
    assert code == 0 and lines[0]["rows"] == 359 and lines[0]["submission"] == str(output)
    submission = pd.read_csv(output)
    assert list(submission.columns) == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, 360))
    model = inside.open_model(open_run(finished_run.name))
    assert submission["Label"].tolist() == model.predict(digits.x_test).argmax(axis=1).tolist()
    assert sum(lines[0]["label_counts"].values()) == 359
    # A train.csv (with its label column) is predicted the same way.
    frame.insert(0, "label", digits.y_test)
    frame.to_csv(tmp_path / "train.csv", index=False)
    labels = inside.predict_csv(model, tmp_path / "train.csv")["Label"]
    assert labels.tolist() == submission["Label"].tolist()


@pytest.mark.parametrize("header,rows,message", [
    ([f"pixel{i}" for i in range(784)], [[0] * 784], "test.csv: it has 784 pixel columns "
     "(28×28 images), but the model takes 8×8 = 64 pixels."),
    ([f"pixel{i}" for i in range(64)], [[0] * 63 + ["x"]], "test.csv: line 2, column pixel63, "
     "holds 'x', not a number."),
    ([f"pixel{i}" for i in range(64)], [[0] * 63 + [300]], "test.csv: line 2 holds a value "
     "outside the grey levels 0..255."),
    (["id"] + [f"pixel{i}" for i in range(64)], [[0] * 65], "test.csv: the first line must be "
     "the header 'pixel0,...,pixelN'"),
    ([f"pixel{i}" for i in range(64)], [], "test.csv: the CSV has a header but no rows."),
])  # fmt: skip
def test_a_bad_csv_is_one_sentence_and_exit_2(finished_run, tmp_path, capsys, header, rows,
                                              message):  # fmt: skip
    lines = [",".join(header)] + [",".join(map(str, row)) for row in rows]
    (tmp_path / "test.csv").write_text("\n".join(lines) + "\n")
    code, out, err = _run(capsys, "predict-csv", finished_run.name, str(tmp_path / "test.csv"),
                          "-o", str(tmp_path / "submission.csv"))  # fmt: skip
    assert code == 2 and out == [] and not (tmp_path / "submission.csv").exists()
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_an_unknown_run_or_output_folder_is_one_sentence(finished_run, tmp_path, capsys):
    code, _, err = _run(capsys, "predict", "no-such-run", str(tmp_path / "x.png"))
    assert code == 2 and err.startswith("There is no run no-such-run")
    (tmp_path / "test.csv").write_text("pixel0\n0\n")
    code, _, err = _run(capsys, "predict-csv", finished_run.name, str(tmp_path / "test.csv"),
                        "-o", str(tmp_path / "missing" / "submission.csv"))  # fmt: skip
    assert code == 2 and "cannot write the submission there" in err


def test_a_run_without_its_export_is_exported_by_the_cli(finished_run, digits, tmp_path, capsys):
    record = open_run(finished_run.name)
    record.paths.onnx.unlink()
    np.save(tmp_path / "d.npy", digits.x_test[0])
    code, lines, err = _run(capsys, "predict", record.run_id, str(tmp_path / "d.npy"))
    assert code == 0 and "exporting its model to ONNX (once)" in err
    assert record.paths.onnx.is_file() and len(lines) == 1


def test_the_real_command_line(finished_run, digits, tmp_path, cache_dir):
    """``python -m mnist_core predict``: JSON lines on stdout, exit 0; a file that is not an
    image: one sentence on stderr, exit 2."""
    np.save(tmp_path / "two.npy", digits.x_test[:2])
    (tmp_path / "fake.png").write_text("hello")
    env = {**os.environ, "MNIST_CACHE_DIR": str(cache_dir)}

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "mnist_core", *argv], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=120, check=False)  # fmt: skip

    good = run("predict", finished_run.name, str(tmp_path / "two.npy"))
    assert good.returncode == 0, good.stderr
    lines = [json.loads(line) for line in good.stdout.splitlines()]
    assert [line["image"] for line in lines] == [f"{tmp_path / 'two.npy'}[{i}]" for i in (0, 1)]
    assert all(set(line) == {"image", "label", "class", "probabilities"} for line in lines)
    bad = run("predict", finished_run.name, str(tmp_path / "fake.png"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("fake.png: not an image that can be read")
    assert len(bad.stderr.strip().splitlines()) == 1
