"""``python -m mnist_core export-code RUN_ID --lang python|r [-o FILE]``.

Prints the standalone script that reproduces a run (see :mod:`.code_export`), or writes it
to FILE (beside it first, then renamed: never a partial file) and prints one JSON line. An
unknown run, a baseline run or a FILE that cannot be written: one sentence, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["add_commands", "export_code", "main", "write_script"]

LANGUAGES = ("python", "r")


def add_commands(subparsers) -> None:
    """Add ``export-code`` to the CLI's subparsers (``argparse`` ``add_subparsers()``)."""
    command = subparsers.add_parser(
        "export-code", help="a standalone Keras script (Python or R) that reproduces a run"
    )
    command.add_argument("run_id")
    command.add_argument("--lang", choices=LANGUAGES, default="python",
                         help="python (Keras 3) or r (the keras3 package)")  # fmt: skip
    command.add_argument("-o", "--output",
                         help="the file to write (default: print the script)")  # fmt: skip
    command.set_defaults(run=export_code)


def export_code(args: argparse.Namespace) -> dict | None:
    """The command: the script on stdout (returns None), or written to ``args.output``
    (returns what was written, for the CLI's JSON line)."""
    from mnist_core.inside.code_export import python_script, r_script
    from mnist_core.runs import open_run

    record = open_run(args.run_id)
    text = python_script(record) if args.lang == "python" else r_script(record)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    path = write_script(text, args.output)
    return {"run_id": record.run_id, "lang": args.lang, "path": str(path.resolve()),
            "bytes": len(text.encode())}  # fmt: skip


def write_script(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` to ``path`` through a temporary file beside it. Raises ValueError in
    one sentence when ``path`` is a folder, its folder is missing or it cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; pass a file name such as "
                         f"{target / 'train.py'}.")  # fmt: skip
    if not target.parent.is_dir():
        raise ValueError(f"The folder {target.parent} does not exist; create it or write the "
                         "script elsewhere.")  # fmt: skip
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".partial")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ValueError(f"The script could not be written to {target} "
                         f"({exc.strerror or exc}).") from None  # fmt: skip
    return target


def main(argv: list[str] | None = None) -> int:
    """``export-code`` on its own, with the CLI's conventions (a result as one JSON line;
    a bad input: one sentence on stderr, exit 2)."""
    parser = argparse.ArgumentParser(prog="python -m mnist_core.inside.code_export_cli")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        result = args.run(args)
    except ValueError as exc:  # RunError, ExportError and SpecError are ValueErrors
        print(str(exc), file=sys.stderr)
        return 2
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
