"""``python -m benchmarks [--quick]``: every benchmark on full MNIST, one table.

``--quick`` embeds 5,000 points with UMAP instead of 70,000 and checks the accuracy of one
preset instead of three (a few minutes in all; the full run takes about half an hour).
"""

import argparse
import shutil

from benchmarks import data_bench, embed_bench, train_bench
from benchmarks.common import print_table, seeded_cache


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short version, for CI")
    parser.add_argument("--only", choices=["data", "embed", "train"], help="one group only")
    args = parser.parse_args()
    cache = seeded_cache()
    groups = {"data": lambda: data_bench.run(), "embed": lambda: embed_bench.run(quick=args.quick),
              "train": lambda: train_bench.run(quick=args.quick)}  # fmt: skip
    rows = []
    try:
        for name, run in groups.items():
            if args.only in (None, name):
                rows += run()
    finally:
        shutil.rmtree(cache, ignore_errors=True)  # runs, embeddings and a copy of MNIST
    print_table(rows)


if __name__ == "__main__":
    main()
