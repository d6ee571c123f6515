"""``python -m benchmarks [--quick]``: every benchmark on full MNIST, one table.

``--quick`` embeds 5,000 points with UMAP instead of 70,000 (a few minutes in all).
"""

import argparse

from benchmarks import data_bench, embed_bench
from benchmarks.common import print_table, seeded_cache


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="UMAP on 5,000 points only")
    args = parser.parse_args()
    seeded_cache()
    rows = data_bench.run()
    rows += embed_bench.run(quick=args.quick)
    print_table(rows)


if __name__ == "__main__":
    main()
