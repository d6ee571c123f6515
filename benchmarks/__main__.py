"""``python -m benchmarks``: every benchmark on full MNIST, one table."""

from benchmarks import data_bench
from benchmarks.common import print_table


def main() -> None:
    rows = data_bench.run()
    print_table(rows)


if __name__ == "__main__":
    main()
