"""Speed and memory measurements on full MNIST; ``python -m benchmarks`` prints the table."""
