"""Models: the spec schema, the layer registry, presets, and the Keras builder."""
