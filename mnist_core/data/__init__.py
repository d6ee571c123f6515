"""Datasets: the Dataset value object, named datasets and their downloads, file readers,
uploads, and pixel statistics."""
