"""Reader of CSV files in the Kaggle digit-recognizer layout: a header ``label,pixel0,...,pixelN``
and one image per row. Read in chunks of rows, each kept as uint8 when its pixels are whole
grey levels, so a 42,000-row ``train.csv`` holds 33 MB of pixels, not 260 MB of floats."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from mnist_core.data.errors import fail
from mnist_core.data.files import ByteBudget, check_plausible_file

# A 28x28 header is ~7 KB and a 256x256 one ~600 KB; a first line longer than this is no header.
MAX_HEADER_BYTES = 1 << 20
_CELLS_PER_CHUNK = 4_000_000  # values parsed at a time (32 MB as float64)
_WIDTH_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_header(path: Path) -> list[str]:
    """The column names on the first line of ``path`` (read whole, however long, up to 1 MiB)."""
    with path.open("rb") as f:
        line = f.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES:
        raise fail(
            path,
            f"the first line is longer than {MAX_HEADER_BYTES:,} bytes, so it cannot be the "
            "header 'label,pixel0,...,pixelN' (Kaggle digit-recognizer layout)",
        )
    text = line.decode("utf-8", "replace").lstrip("\ufeff").strip()
    return [c.strip().strip('"') for c in text.split(",")]


def read_csv(
    path: str | Path, *, budget: ByteBudget | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, side, side)`` and labels ``(n,)`` from a Kaggle digit-recognizer CSV.

    Images are uint8 when every pixel is a whole number in 0..255, else int64 or float64
    (for the caller to scale or refuse); labels are int64 or float64 for the caller to check.

    Args:
        path: the CSV file; its header must be ``label,pixel0,...,pixelN`` with ``N + 1`` a
            square number.
        budget: the bytes the dataset may take (default: a fresh :class:`ByteBudget`).

    Raises:
        DatasetError: one sentence naming the file, the line and the problem.
    """
    import pandas as pd  # lazy: only CSV needs it

    path = Path(path)
    budget = budget or ByteBudget()
    check_plausible_file(path, "a CSV file")
    columns = read_header(path)
    n_pixels = len(columns) - 1
    expected = ["label"] + [f"pixel{i}" for i in range(n_pixels)]
    if n_pixels < 1 or columns != expected:
        shown = ",".join(columns)
        shown = shown if len(shown) <= 40 else shown[:40] + "..."
        raise fail(
            path,
            f"the first line must be the header 'label,pixel0,...,pixelN' "
            f"(Kaggle digit-recognizer layout), not '{shown}'",
        )
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise fail(path, f"{n_pixels} pixel columns do not make a square image")

    image_chunks: list[np.ndarray] = []
    label_chunks: list[np.ndarray] = []
    try:
        reader = pd.read_csv(
            path, header=0, engine="c", chunksize=max(1, _CELLS_PER_CHUNK // len(columns))
        )
        for frame in reader:
            values = _numeric(frame, path)
            # A copy: a view of the labels would keep the whole chunk alive.
            pixels, labels = values[:, 1:], values[:, 0].copy()
            if pixels.size and pixels.min() >= 0 and pixels.max() <= 255 and (
                pixels.dtype.kind in "iu" or (pixels == np.floor(pixels)).all()
            ):
                pixels = pixels.astype(np.uint8)  # else the caller scales or refuses them
            budget.claim(path, "the CSV", pixels.nbytes + labels.nbytes)
            image_chunks.append(pixels)
            label_chunks.append(labels)
    except pd.errors.ParserError as exc:
        match = _WIDTH_ERROR.search(str(exc))
        if match:
            want, line, saw = match.groups()
            raise fail(path, f"line {line} has {saw} values but the header has {want}") from None
        raise fail(path, f"cannot be parsed as CSV ({exc})") from None
    except UnicodeDecodeError:
        raise fail(path, "this is not a text CSV file") from None
    if not label_chunks or sum(len(c) for c in label_chunks) == 0:
        raise fail(path, "the CSV has a header but no rows")
    images = np.concatenate(image_chunks) if len(image_chunks) > 1 else image_chunks[0]
    labels = np.concatenate(label_chunks)
    return images.reshape(-1, side, side), labels


def _numeric(frame, path: Path) -> np.ndarray:
    """One chunk of rows as int64 (all whole numbers, the usual case) or float64, or a
    sentence naming the first cell that is no number or the first row that is short."""
    import pandas as pd

    if all(dtype.kind in "iu" for dtype in frame.dtypes):  # no text, no gaps
        return frame.to_numpy(dtype=np.int64)
    for column in frame.columns:
        if frame[column].dtype.kind not in "iufb":
            numeric = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][numeric.isna() & frame[column].notna()]
            if len(bad):
                row = int(bad.index[0])  # the reader numbers rows across chunks
                raise fail(
                    path,
                    f"line {row + 2}, column {column}, holds {str(bad.iloc[0])!r}, not a number",
                )
            frame[column] = numeric
    values = frame.to_numpy(dtype=np.float64)
    short_rows = np.flatnonzero(np.isnan(values).any(axis=1))
    if len(short_rows):
        row = int(short_rows[0])
        n_values = int((~np.isnan(values[row])).sum())
        raise fail(
            path,
            f"line {int(frame.index[row]) + 2} has {n_values} values but the header has "
            f"{frame.shape[1]}",
        )
    return values
