"""Command line: ``python -m mnist_core COMMAND ...``.

Commands print JSON on stdout. A bad input prints one sentence on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
import sys

from mnist_core.datasets import NAMED_DATASETS, DatasetError, fetch, load_dataset

EXIT_BAD_INPUT = 2


def _cmd_load(args: argparse.Namespace) -> dict:
    dataset = load_dataset(args.dataset, test_size=args.test_size, seed=args.seed)
    return dataset.summary()


def _cmd_fetch(args: argparse.Namespace) -> dict:
    # A stalled connection should fail, not hang the app that waits for this process.
    socket.setdefaulttimeout(60)
    files = fetch(args.name, base_url=args.base_url)
    return {"name": args.name, "files": [str(p) for p in files]}


def _cmd_embed(args: argparse.Namespace) -> dict:
    from mnist_core import embeddings

    start = time.perf_counter()
    dataset = load_dataset(args.dataset)
    if args.method == "pca":
        params = {"n_components": args.n_components, "seed": args.seed}
    else:
        params = {
            "n_neighbors": args.n_neighbors, "min_dist": args.min_dist, "metric": args.metric,
            "pca_dims": None if args.no_pca else 50, "seed": args.seed,
        }  # fmt: skip
    request = embeddings.EmbeddingRequest(
        args.dataset, dataset.fingerprint, args.method, args.split, params
    )
    result, cached = embeddings.compute_cached(
        request, dataset, on_stage=lambda stage: print(stage, file=sys.stderr, flush=True)
    )
    return {
        "method": args.method,
        "split": args.split,
        "n_points": int(len(result.coords)),
        "seconds": round(time.perf_counter() - start, 3),
        "compute_seconds": round(result.seconds, 3),
        "knn_accuracy": result.quality["knn_accuracy"],
        "knn_accuracy_pixels": result.quality["knn_accuracy_pixels"],
        "silhouette": result.quality["silhouette"],
        "cache_path": str(request.directory),
        "cached": cached,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="load a dataset and print its summary as JSON")
    load.add_argument("dataset", help=f"a named dataset ({', '.join(NAMED_DATASETS)}) or a path")
    load.add_argument("--test-size", type=float, default=0.2,
                      help="held-out share for files without a test split (default 0.2)")
    load.add_argument("--seed", type=int, default=0, help="seed of that split (default 0)")
    load.set_defaults(run=_cmd_load)

    fetch_cmd = commands.add_parser("fetch", help="download a named dataset into the cache")
    fetch_cmd.add_argument("name", choices=[n for n, d in NAMED_DATASETS.items() if d.downloadable])
    fetch_cmd.add_argument("--base-url", help="fetch from this URL instead of the Keras bucket")
    fetch_cmd.set_defaults(run=_cmd_fetch)

    embed = commands.add_parser("embed", help="compute (or read the cached) PCA or UMAP embedding")
    embed.add_argument("dataset", help="a named dataset or a path")
    embed.add_argument("--method", choices=["pca", "umap"], required=True)
    embed.add_argument("--split", choices=["train", "test", "all"], default="train")
    embed.add_argument("--seed", type=int, default=0)
    embed.add_argument("--n-components", type=int, default=50, help="PCA: 1..50 (default 50)")
    embed.add_argument("--n-neighbors", type=int, default=15, help="UMAP (default 15)")
    embed.add_argument("--min-dist", type=float, default=0.001, help="UMAP (default 0.001)")
    embed.add_argument("--metric", default="euclidean", help="UMAP (default euclidean)")
    embed.add_argument("--no-pca", action="store_true", help="UMAP on raw pixels, no PCA to 50")
    embed.set_defaults(run=_cmd_embed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except (DatasetError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
