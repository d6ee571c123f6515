"""``python -m benchmarks [--quick]``: every benchmark on full MNIST, one table.

``--quick`` embeds 5,000 points with UMAP instead of 70,000, checks the accuracy of one
preset instead of three and leaves out the studies (a few minutes in all). The full run
takes about half an hour, and the studies (1 vs 2 training slots, the capacity grid full
vs pruned; ``--only study``) about half an hour more on a quiet 2-core machine.
"""

import argparse
import shutil
import sys

from benchmarks import (
    data_bench, embed_bench, inside_bench, inside_page_bench, study_bench, train_bench,
)
from benchmarks.common import print_table, seeded_cache


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short version, for CI")
    parser.add_argument("--only", choices=["data", "embed", "train", "inside", "study"],
                        help="one group only")  # fmt: skip
    args = parser.parse_args()
    cache = seeded_cache()
    groups = {"data": lambda: data_bench.run(), "embed": lambda: embed_bench.run(quick=args.quick),
              "train": lambda: train_bench.run(quick=args.quick),
              "inside": lambda: inside_bench.run(quick=args.quick)
              + _full_only("inside page", inside_page_bench.run, quick=args.quick),
              "study": lambda: _full_only("study", study_bench.run, quick=args.quick)}  # fmt: skip
    rows = []
    try:
        for name, run in groups.items():
            if args.only in (None, name):
                rows += run()
    finally:
        shutil.rmtree(cache, ignore_errors=True)  # runs, embeddings and a copy of MNIST
    print_table(rows)


def _full_only(name: str, run, *, quick: bool) -> list:
    if quick:
        print(f"(the {name} benchmark runs in full mode only)", file=sys.stderr)
        return []
    return run()


if __name__ == "__main__":
    main()
