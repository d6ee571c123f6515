"""Predict a Kaggle digit-recognizer ``test.csv`` (a header ``pixel0,...,pixelN``, one image
a row, no label) into a ``submission.csv`` (``ImageId,Label``, ImageId from 1).

Read with the dataset reader's rules and limits (:mod:`mnist_core.data.kaggle_csv`: the
header read whole up to 1 MiB, rows in chunks, every value a number, the dataset byte
budget), then predicted in batches by onnxruntime.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from mnist_core.data.errors import DatasetError, fail
from mnist_core.data.files import ByteBudget, check_plausible_file
from mnist_core.data.kaggle_csv import _CELLS_PER_CHUNK, _WIDTH_ERROR, _numeric, read_header
from mnist_core.inside.common import InsideError


def read_test_csv(path: str | Path, *, image_shape: tuple[int, int],
                  budget: ByteBudget | None = None) -> np.ndarray:
    """Images (n, h, w) of a Kaggle ``test.csv`` for a model taking ``image_shape`` images,
    as float32 grey levels 0..255. A leading ``label`` column (a ``train.csv``) is ignored.

    Raises InsideError (one sentence naming the file) for a file that is no such CSV, a
    width that does not fit the model, or a value that is no grey level."""
    import pandas as pd

    path = Path(path)
    budget = budget or ByteBudget()
    h, w = image_shape
    try:
        check_plausible_file(path, "a CSV file")
        columns = read_header(path)
        skip = 1 if columns[:1] == ["label"] else 0
        n_pixels = len(columns) - skip
        if columns[skip:] != [f"pixel{i}" for i in range(n_pixels)]:
            shown = ",".join(columns)
            shown = shown if len(shown) <= 40 else shown[:40] + "..."
            raise fail(path, "the first line must be the header 'pixel0,...,pixelN' "
                             f"(Kaggle digit-recognizer test.csv), not '{shown}'")  # fmt: skip
        if n_pixels != h * w:
            side = math.isqrt(n_pixels)
            image = f" ({side}×{side} images)" if side * side == n_pixels else ""
            raise fail(path, f"it has {n_pixels:,} pixel columns{image}, but the model takes "
                             f"{h}×{w} = {h * w:,} pixels")  # fmt: skip
        chunks = []
        reader = pd.read_csv(path, header=0, engine="c",
                             chunksize=max(1, _CELLS_PER_CHUNK // len(columns)))  # fmt: skip
        for frame in reader:
            pixels = _numeric(frame, path)[:, skip:]
            if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
                bad = int(np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))[0])
                raise fail(path, f"line {int(frame.index[bad]) + 2} holds a value outside the "
                                 "grey levels 0..255")  # fmt: skip
            pixels = pixels.astype(np.float32)
            budget.claim(path, "the CSV", pixels.nbytes)
            chunks.append(pixels)
    except pd.errors.ParserError as exc:
        match = _WIDTH_ERROR.search(str(exc))
        if match:
            want, line, saw = match.groups()
            raise InsideError(f"{path.name}: line {line} has {saw} values but the header has "
                              f"{want}.") from None  # fmt: skip
        raise InsideError(f"{path.name}: cannot be parsed as CSV ({exc}).") from None
    except UnicodeDecodeError:
        raise InsideError(f"{path.name}: this is not a text CSV file.") from None
    except DatasetError as exc:
        raise InsideError(str(exc)) from None
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise InsideError(f"{path.name}: the CSV has a header but no rows.")
    return np.concatenate(chunks).reshape(-1, h, w)


def predict_csv(model, path: str | Path):
    """The submission for a Kaggle ``test.csv``: a pandas DataFrame with ``ImageId`` (from 1)
    and ``Label`` (the predicted class), one row per image, by an
    :class:`~mnist_core.inside.runtime.InsideModel`."""
    import pandas as pd

    images = read_test_csv(path, image_shape=model.image_shape)
    labels = model.predict(images).argmax(axis=1)
    return pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels})


def submission_csv(frame) -> bytes:
    """The submission as the bytes of a CSV file (for a download button)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()
