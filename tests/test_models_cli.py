"""Specs through the command line: the six new layer types train end to end on digits, and a
bad spec file is one sentence on stderr with exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mnist_core.models import ModelSpec, analyze
from tests.conftest import ROOT

# Every new layer type in one small model for 8×8 digits (about 1,000 parameters).
NEW_TYPES_SPEC = {
    "name": "Augmented CNN (new layers)",
    "layers": [
        {"type": "RandomRotation", "factor": 0.05},
        {"type": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.1},
        {"type": "RandomZoom", "factor": 0.1},
        {"type": "Conv2D", "filters": 8, "padding": "same"},
        {"type": "LayerNormalization"},
        {"type": "AveragePooling2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 16},
        {"type": "GlobalAveragePooling2D"},
    ],
    "train": {"optimizer": "adam", "batch_size": 64, "epochs": 3, "validation_split": 0.1},
}


def _cli(*args: str, cache_dir) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "MNIST_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)  # fmt: skip


def test_the_six_new_layer_types_train_from_the_cli_on_digits(tmp_path, cache_dir):
    path = tmp_path / "new-types.json"
    path.write_text(json.dumps(NEW_TYPES_SPEC))
    result = _cli("train", "--spec", str(path), "--dataset", "digits", "--epochs", "1",
                  cache_dir=cache_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    expected = analyze(ModelSpec.from_json(NEW_TYPES_SPEC), input_shape=(8, 8), n_classes=10)
    assert out["status"] == "done"
    assert out["params"] == expected.total_params == 80 + 16 + 1168 + 170
    assert out["epochs_run"] == 1
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["test_loss"] > 0
    spec_file = json.loads((cache_dir / "runs" / out["run_id"] / "spec.json").read_text())
    assert spec_file["name"] == "Augmented CNN (new layers)"  # the display name, as typed
    assert [layer["type"] for layer in spec_file["layers"]] == [
        layer["type"] for layer in NEW_TYPES_SPEC["layers"]
    ]


def test_a_cosine_run_logs_the_rate_it_trains_with_each_epoch(tmp_path, cache_dir):
    """Digits: 1,438 training images, validation split 0.1 -> 1,294, batch 64 -> 21 steps an
    epoch, 3 epochs: the rate each epoch event records is the cosine's after 21, 42, 63 steps."""
    import math

    from mnist_core import runs

    spec = {"name": "cosine", "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 16}],
            "train": {"learning_rate": 0.01, "lr_schedule": "cosine", "batch_size": 64,
                      "epochs": 3, "validation_split": 0.1}}  # fmt: skip
    path = tmp_path / "cosine.json"
    path.write_text(json.dumps(spec))
    for backend in ("tensorflow", "jax"):
        result = _cli("train", "--spec", str(path), "--dataset", "digits", "--keras-backend",
                      backend, cache_dir=cache_dir)  # fmt: skip
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["status"] == "done" and out["backend"] == backend
        record = runs.open_run(out["run_id"])
        assert record.spec.train.lr_schedule == "cosine"
        logged = [e["lr"] for e in record.events() if e["type"] == "epoch"]
        expected = [0.01 * 0.5 * (1 + math.cos(math.pi * 21 * k / 63)) for k in (1, 2, 3)]
        assert logged == pytest.approx(expected, abs=1e-6), backend


FLAT = {"type": "Flatten"}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"layers": [FLAT, {"type": "Dense", "l2": "x"}]},
         "Layer 2 (Dense): L2 must be a number in [0, 1]; got 'x'."),
        ({"layers": [FLAT], "train": {"nesterov": "yes"}}, "Nesterov must be true or false; got 'yes'."),
        ({"layers": [FLAT], "train": {"seed": 2**40}},
         "The seed must be a whole number from 0 to 4,294,967,295; got 1099511627776."),
        ({"layers": [FLAT], "train": {"validation_split": 0.99999}},
         "The validation split must be 0 (none) or a number in [0.01, 0.9]; got 0.99999."),
        ({"layers": [FLAT, {"type": "Dense", "units": 20_000}, {"type": "Dense", "units": 20_000}]},
         "The model has 401,520,010 parameters, more than the limit of 50,000,000 "
         "(MNIST_MAX_PARAMS); use fewer or smaller layers."),
        ({"layers": [{"type": ["Dense"]}]},
         "spec.json: Layer 1: Unknown layer type ['Dense']; use one of Flatten, Dense, Dropout, "
         "Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, "
         "LayerNormalization, RandomRotation, RandomTranslation, RandomZoom."),
        ({"layers": [{"type": "Dropout"}] * 5000},
         "spec.json: The spec has 5,000 layers; at most 100 are allowed."),
        ({"name": {"a": 1}, "layers": [FLAT]},
         "The model name must be text of 1 to 100 printable characters; got {'a': 1}."),
    ],
    ids=["l2-text", "nesterov-yes", "seed-2**40", "split", "size", "type-list", "5000-layers",
         "name-object"],
)  # fmt: skip
def test_a_bad_spec_file_is_one_sentence_and_exit_2(tmp_path, cache_dir, spec, message):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    result = _cli("train", "--spec", str(path), "--dataset", "digits", cache_dir=cache_dir)
    assert (result.returncode, result.stderr, result.stdout) == (2, message + "\n", "")
    assert not (cache_dir / "runs").exists() or not any((cache_dir / "runs").iterdir())


def test_epochs_beyond_the_cap_from_the_command_line(cache_dir):
    result = _cli("train", "--preset", "logistic", "--dataset", "digits", "--epochs", "1000000000",
                  cache_dir=cache_dir)  # fmt: skip
    assert (result.returncode, result.stderr) == (
        2, "Epochs must be a whole number from 1 to 1,000; got 1000000000.\n"
    )
