"""Every preset's test accuracy on MNIST over several seeds, against its tutorial's figure
(issue 13, item 5). Too long for CI: not part of ``python -m benchmarks``.

``python -m benchmarks.preset_bench [--presets logistic ff64 ...] [--seeds 3]
[--out FILE.json]``. Each (preset, seed) is a run of the CLI in a fresh process
(``python -m mnist_core train --spec``, the preset's spec with its ``seed`` changed), in a
seeded cache folder of its own. Results are appended to ``--out`` as each run ends, and a
run already there is not trained again, so an interrupted benchmark resumes where it
stopped; a result records its spec's fingerprint (``spec_sha``), so a preset whose spec
changed (best_cnn's learning-rate schedule, say) is trained again rather than mixed with the
old one's (results from before fingerprints count as the current spec). The table gives mean ± sd (sample sd, n - 1) per preset and flags a preset whose
mean is more than 2 sd below its tutorial's figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, seeded_cache

# Test accuracy (%) the tutorial each preset reproduces printed for it (issue 13, item 5).
TUTORIAL_ACCURACY = {
    "logistic": 92.59, "ff64": 97.41, "deep_ff": 97.50, "dense512": 97.46, "tuned_mlp": 98.35,
    "dropout_mlp": 97.68, "small_cnn": 97.99, "two_conv_cnn": 98.29, "keras_cnn": 99.09,
}  # fmt: skip
# Cheap dense presets first, so a benchmark cut short still covers the most presets.
DEFAULT_ORDER = ("logistic", "ff64", "deep_ff", "dense512", "small_cnn", "two_conv_cnn",
                 "dropout_mlp", "tuned_mlp", "keras_cnn", "best_cnn")  # fmt: skip
DEFAULT_OUT = Path(tempfile.gettempdir()) / "preset_bench.json"


def spec_sha(spec) -> str:
    """A short fingerprint of a spec's JSON without its seed (the same preset, any seed)."""
    import hashlib

    data = spec.to_json()
    data["train"] = {k: v for k, v in data["train"].items() if k != "seed"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def train_once(
    preset: str, seed: int, *, epochs: int | None = None, dataset: str = "mnist"
) -> dict:
    """Train ``preset`` with ``seed`` on ``dataset`` through the CLI in a fresh process; the
    CLI's JSON result (run_id, test_accuracy, seconds, epochs_run, ...) plus the preset,
    seed, epochs and dataset."""
    from mnist_core.models import PRESETS, with_train

    spec = with_train(PRESETS[preset].spec, seed=seed, **({"epochs": epochs} if epochs else {}))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec.to_json(), handle)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mnist_core", "train", "--spec", handle.name,
             "--dataset", dataset],
            capture_output=True, text=True, cwd=ROOT, timeout=3 * 3600, check=False,
        )  # fmt: skip
    finally:
        Path(handle.name).unlink(missing_ok=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{preset} seed {seed} failed (exit {done.returncode}): "
                           f"{done.stderr.strip().splitlines()[-1:]}")  # fmt: skip
    return {"preset": preset, "seed": seed, "epochs": spec.train.epochs, "dataset": dataset,
            "spec_sha": spec_sha(spec), **json.loads(lines[-1])}  # fmt: skip


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def save_results(path: Path, results: list[dict]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=1))
    partial.replace(path)


def summarise(results: list[dict], presets=None) -> list[dict]:
    """One row per preset of ``presets`` (default: those in ``results``) with a result: n, mean and sd of the test accuracy (%), the tutorial's figure,
    how many sd the mean lies below it, and ``below`` when that is more than 2."""
    rows = []
    for preset in presets or dict.fromkeys(r["preset"] for r in results):
        accuracies = [100 * r["test_accuracy"] for r in results if r["preset"] == preset]
        if not accuracies:
            continue
        mean = statistics.fmean(accuracies)
        sd = statistics.stdev(accuracies) if len(accuracies) > 1 else float("nan")
        tutorial = TUTORIAL_ACCURACY.get(preset)
        # With one seed, or seeds that agree to the last digit, there is no spread to judge by.
        spread = len(accuracies) > 1 and sd > 0
        gap = (tutorial - mean) / sd if tutorial is not None and spread else None
        seconds = [r["seconds"] for r in results if r["preset"] == preset]
        rows.append({
            "preset": preset, "n": len(accuracies), "mean": mean, "sd": sd, "tutorial": tutorial,
            "sd_below": gap, "below": gap is not None and gap > 2,
            "seconds": statistics.fmean(seconds),
        })  # fmt: skip
    return rows


def print_summary(rows: list[dict]) -> None:
    print("| preset | seeds | test accuracy (mean ± sd) | tutorial | sd below tutorial | "
          "run time (mean) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        tutorial = f"{r['tutorial']:.2f} %" if r["tutorial"] is not None else "–"
        gap = "–" if r["sd_below"] is None else f"{r['sd_below']:+.1f}"
        flag = " **more than 2 sd below**" if r["below"] else ""
        print(f"| {r['preset']} | {r['n']} | {r['mean']:.2f} ± {r['sd']:.2f} % | {tutorial} | "
              f"{gap}{flag} | {r['seconds']:.0f} s |")  # fmt: skip


def main(argv=None) -> None:
    from mnist_core.models import PRESETS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.preset_bench",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument(
        "--presets",
        nargs="+",
        choices=list(PRESETS),
        metavar="NAME",
        default=[p for p in DEFAULT_ORDER if p in PRESETS],
        help="presets to train, in this order (default: all, cheap first)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, help="override every preset's epochs (a smoke run)")
    parser.add_argument(
        "--dataset",
        default="mnist",
        help="a named dataset or a path (default mnist; the tutorials' figures are MNIST's)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"results JSON, appended run by run (default {DEFAULT_OUT})",
    )
    parser.add_argument("--report", action="store_true", help="print the table of --out only")
    args = parser.parse_args(argv)
    results = load_results(args.out)
    if not args.report:
        cache = seeded_cache()
        try:
            for preset in args.presets:
                for seed in range(args.seeds):
                    epochs = args.epochs or PRESETS[preset].spec.train.epochs
                    if any(
                        (r["preset"], r["seed"], r["epochs"], r.get("dataset", "mnist"))
                        == (preset, seed, epochs, args.dataset) and _current(r, args.epochs)
                        for r in results
                    ):
                        continue  # measured in an earlier, interrupted benchmark
                    result = train_once(preset, seed, epochs=args.epochs, dataset=args.dataset)
                    results.append(result)
                    save_results(args.out, results)
                    print(f"{preset} seed {seed}: {100 * result['test_accuracy']:.2f} % in "
                          f"{result['seconds']:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    measured = [r for r in results if r.get("dataset", "mnist") == args.dataset and r["epochs"]
                == (args.epochs or PRESETS[r["preset"]].spec.train.epochs)
                and _current(r, args.epochs)]  # fmt: skip
    print_summary(summarise(measured, args.presets))


def _current(result: dict, epochs: int | None) -> bool:
    """Whether ``result`` trained its preset's current spec (with ``epochs`` if given)."""
    from mnist_core.models import PRESETS, with_train

    if "spec_sha" not in result or result["preset"] not in PRESETS:
        return result["preset"] in PRESETS
    spec = PRESETS[result["preset"]].spec
    return result["spec_sha"] == spec_sha(with_train(spec, epochs=epochs) if epochs else spec)


if __name__ == "__main__":
    main()
