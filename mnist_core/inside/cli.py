"""Commands for ``python -m mnist_core``: ``predict RUN_ID IMAGE...`` and ``predict-csv
RUN_ID test.csv -o submission.csv``. :func:`add_commands` adds them to the CLI's
subparsers; each handler returns what the CLI prints as its last JSON line, and raises
InsideError (a ValueError: one sentence, exit status 2) for a bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mnist_core.inside.common import InsideError


def add_commands(subparsers) -> None:
    predict = subparsers.add_parser(
        "predict", help="predict PNG images or .npy arrays with a run's model: a JSON line each"
    )
    predict.add_argument("run_id")
    predict.add_argument("images", nargs="+", metavar="IMAGE",
                         help="a PNG (any size: another size is framed like MNIST) or a .npy "
                              "array (h, w) or (n, h, w) of grey levels 0..255")  # fmt: skip
    predict.set_defaults(run=cmd_predict)
    csv = subparsers.add_parser(
        "predict-csv", help="predict a Kaggle test.csv into submission.csv (ImageId,Label)"
    )
    csv.add_argument("run_id")
    csv.add_argument("csv", metavar="TEST_CSV")
    csv.add_argument("-o", "--output", default="submission.csv")
    csv.set_defaults(run=cmd_predict_csv)


def _model(run_id: str, *, threads: int = 1):
    """The run's exported model; a run not exported yet is exported here first (the CLI
    may import TensorFlow; the server never does)."""
    from mnist_core.inside.common import NotReady
    from mnist_core.inside.job import unsupported_reason
    from mnist_core.inside.runtime import open_model
    from mnist_core.runs import open_run

    record = open_run(run_id)
    reason = unsupported_reason(record)
    if reason is not None and not record.paths.onnx.is_file():
        raise InsideError(reason)
    try:
        return open_model(record, threads=threads)
    except NotReady:
        from mnist_core.inside.export import export_run

        _note(f"run {run_id}: exporting its model to ONNX (once)")
        export_run(record)
        return open_model(record, threads=threads)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_images(path: Path, image_shape: tuple[int, int]) -> list[tuple[str, np.ndarray]]:
    """``(name, image)`` pairs of a PNG or .npy file as the model takes them; another size
    is framed like MNIST (crop to the ink, scale, centre), with a note on stderr."""
    from mnist_core.inside.preprocess import ink, preprocess_drawing

    h, w = image_shape
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InsideError(f"{path.name}: not a NumPy .npy array ({_reason(exc)}).") from None
        if array.ndim == 4 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or array.dtype.kind not in "uifb":
            raise InsideError(f"{path.name}: a .npy of images must hold numbers of shape (h, w) "
                              f"or (n, h, w); it has {array.dtype} {array.shape}.")  # fmt: skip
        if array.dtype.kind == "f" and array.size and float(np.nanmax(array)) <= 1.0:
            array = array * 255.0  # 0..1 floats: the model's own scale
        images = [array] if array.ndim == 2 else list(array)
        names = [str(path)] if array.ndim == 2 else [f"{path}[{i}]" for i in range(len(array))]
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as opened:
                opened.load()
                picture = np.asarray(opened.convert("RGBA" if "A" in opened.getbands()
                                                    or "transparency" in opened.info else "L"))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InsideError(f"{path.name}: not an image that can be read ({_reason(exc)}).") from None
        images, names = [picture], [str(path)]
    result = []
    for name, image in zip(names, images):
        if image.shape[:2] == (h, w):  # the model's size: as it is (a picture's ink)
            same = image if image.ndim == 2 and path.suffix.lower() == ".npy" else ink(image) * 255
            result.append((name, np.asarray(same, np.float32)))
            continue
        framed = preprocess_drawing(image, size=h)  # datasets' images are square
        if framed is None:
            raise InsideError(f"{Path(name).name}: the image is blank (no ink to predict).")
        _note(f"{name}: {image.shape[1]}×{image.shape[0]}, not {w}×{h}: cropped to its ink and "
              f"scaled into {w}×{h} the way MNIST was made.")  # fmt: skip
        result.append((name, framed.astype(np.float32)))
    return result


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def cmd_predict(args: argparse.Namespace) -> dict:
    """One JSON line per image (``image``, ``label``, ``class``, ``probabilities``): all but
    the last printed here, the last returned for the CLI to print. Every file is read and
    checked before anything is printed."""
    model = _model(args.run_id)
    images = []
    for name in args.images:
        images += load_images(Path(name), model.image_shape)
    probabilities = model.predict(np.stack([image for _, image in images]))
    lines = [{
        "image": name, "label": int(p.argmax()), "class": model.class_names[int(p.argmax())],
        "probabilities": [round(float(v), 6) for v in p],
    } for (name, _), p in zip(images, probabilities)]  # fmt: skip
    for line in lines[:-1]:
        print(json.dumps(line))
    return lines[-1]


def cmd_predict_csv(args: argparse.Namespace) -> dict:
    """Write the submission for a Kaggle ``test.csv``; a summary as JSON."""
    from mnist_core.diskcache import storage_error
    from mnist_core.inside.kaggle import predict_csv, submission_csv

    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        raise InsideError(f"{output}: cannot write the submission there (no such folder).")
    frame = predict_csv(_model(args.run_id, threads=0), args.csv)
    data = submission_csv(frame)
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise storage_error(exc, output) from None
    counts = np.bincount(frame["Label"].to_numpy(), minlength=1)
    return {"run_id": args.run_id, "rows": len(frame), "submission": str(output.resolve()),
            "label_counts": {str(i): int(c) for i, c in enumerate(counts)}}  # fmt: skip
