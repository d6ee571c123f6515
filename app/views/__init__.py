"""One module per page; each has ``render(dataset)`` that draws the page top to bottom."""
