"""Plotly figure builders by subject: plain data (arrays, frames, dicts) in, ``go.Figure``
out, and beside each clickable figure the decoder of its click or selection events, so
pages never name trace numbers. Nothing here computes or imports the engine.

- :mod:`.digits`: mosaic, clickable digit grid (``clicked_digit``), one digit's pixels
- :mod:`.data`: class balance, pixel-wise statistics per class
- :mod:`.embeddings`: embedding scatter (``selected_rows``), scree, components, label counts
- :mod:`.raster`: an embedding's points as one picture (the Embeddings page's scatter); PNG
  encoding shared with the digit grids
- :mod:`.training`: one run's curves
- :mod:`.evaluation`: confusion matrix (``clicked_cell``), mismatches, top probabilities
- :mod:`.runs`: curves overlaid, accuracy against time, importances
- :mod:`.studies`: a study's trials: parallel coordinates, best so far, importance, curves,
  repeats (mean ± sd), a two-parameter grid's heat map
- :mod:`.inside`: inside a model: probabilities, feature maps, units, saliency, weights
- :mod:`.inside_map`: the model's map of the test set, mistakes marked (``selected_rows``)
- :mod:`.style`: colours and type sizes; :mod:`.selection`: reading a selection state
"""

from mnist_core.figures import (
    data,
    digits,
    embeddings,
    evaluation,
    inside,
    inside_map,
    raster,
    runs,
    selection,
    studies,
    style,
    training,
)

__all__ = ["data", "digits", "embeddings", "evaluation", "inside", "inside_map", "raster",
           "runs", "selection", "studies", "style", "training"]  # fmt: skip
