"""One run's curves: values in the right places, axes that read as numbers."""

from __future__ import annotations

from mnist_core import figures

EVENTS = [
    {"type": "train_begin", "steps": 4},
    *({"type": "batch", "epoch": 1, "batch": b, "loss": 2.0 - 0.1 * b, "accuracy": 0.5} for b in (1, 2, 3, 4)),
    {"type": "epoch", "epoch": 1, "loss": 1.7, "accuracy": 0.6, "val_loss": 1.8, "val_accuracy": 0.55, "lr": 0.05},
    {"type": "epoch", "epoch": 2, "loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.88, "lr": 0.005},
]  # fmt: skip


def test_curves_put_batches_between_epochs_and_epochs_at_their_numbers():
    fig = figures.training.curves_figure(EVENTS)
    batches = fig.data[0]
    assert list(batches.x) == [0.25, 0.5, 0.75, 1.0]
    validation_loss = next(t for t in fig.data if t.name == "validation" and t.xaxis == "x")
    assert list(validation_loss.y) == [1.8, 0.6]
    lr = next(t for t in fig.data if t.name == "learning rate")
    assert list(lr.y) == [0.05, 0.005]


def test_curve_axes_write_whole_numbers():
    fig = figures.training.curves_figure(EVENTS)
    # Loss ticks read "0.5", not ".5"; the log learning-rate axis reads "0.05", not "5".
    assert fig.layout.yaxis.tickformat == "~g"
    assert (fig.layout.yaxis3.type, fig.layout.yaxis3.tickformat) == ("log", "~g")
    assert fig.layout.yaxis2.tickformat == ".1~%"
