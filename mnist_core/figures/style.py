"""Colours and type sizes shared by every figure, so pages and the report read alike."""

from __future__ import annotations

SPLIT_COLORS = {"train": "#4C78A8", "test": "#F58518"}
# Dark ink on white paper reads better on a projector than white on black.
INK = "Greys"
# The smallest text a figure writes, in CSS pixels: readable at 1,280 px wide.
MIN_FONT = 12

# Ten well-separated colours (Tableau 10), then plotly's longer qualitative scale.
CLASS_COLORS = [
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
]  # fmt: skip


def class_color(label: int) -> str:
    """The colour of class ``label`` (or of the ``label``-th run) in every figure."""
    import plotly.express as px

    palette = CLASS_COLORS if label < len(CLASS_COLORS) else px.colors.qualitative.Alphabet
    return palette[label % len(palette)]
