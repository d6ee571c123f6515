"""The layer registry: one entry per layer type, from which validation, the summary, the
Keras build and the builder form all follow. A layer type registered here, in a test, with
no other change anywhere, is validated, summarised, built and drawn as form fields."""

from __future__ import annotations

import pytest

from mnist_core.models import (
    LAYER_TYPES,
    Field,
    LayerSpec,
    LayerType,
    ModelSpec,
    SpecError,
    analyze,
    format_shape,
    register,
    unregister,
)


def _rows(layers, shape=(28, 28)):
    analysis = analyze(ModelSpec(tuple(layers)), input_shape=shape, n_classes=10)
    return [(r.name, format_shape(r.output_shape), r.params) for r in analysis.rows], analysis


@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_every_entry_is_complete_and_its_defaults_are_valid(kind):
    entry = LAYER_TYPES[kind]
    assert entry.name == kind and entry.description.endswith(".")
    assert len(entry.description) < 110  # one line in the form's tooltip
    for field in entry.fields:
        assert field.problem(field.default) is None
        assert field.fits_form(field.default)
    layer = LayerSpec(kind)
    assert LayerSpec.from_json(layer.to_json()) == layer
    assert layer.params == entry.defaults


def test_new_layer_types_shapes_and_counts_without_tensorflow():
    rows, analysis = _rows([
        LayerSpec("RandomRotation"), LayerSpec("RandomTranslation"), LayerSpec("RandomZoom"),
        LayerSpec("Conv2D", {"filters": 8}), LayerSpec("LayerNormalization"),
        LayerSpec("AveragePooling2D", {"pool_size": 3}), LayerSpec("GlobalAveragePooling2D"),
        LayerSpec("LayerNormalization"),
    ])  # fmt: skip
    assert analysis.ok, analysis.errors
    assert rows == [
        ("Input", "28×28×1", 0),
        ("RandomRotation ±18°", "28×28×1", 0),
        ("RandomTranslation ±0.1×0.1", "28×28×1", 0),
        ("RandomZoom ±0.1", "28×28×1", 0),
        ("Conv2D 8@3×3 relu", "26×26×8", 80),
        ("LayerNormalization", "26×26×8", 16),
        ("AveragePooling2D 3", "8×8×8", 0),
        ("GlobalAveragePooling2D", "8", 0),
        ("LayerNormalization", "8", 16),
        ("Dense 10 softmax (output)", "10", 90),
    ]


@pytest.mark.parametrize(
    "layers, message",
    [
        ([LayerSpec("Flatten"), LayerSpec("RandomRotation")],
         "Layer 2 (RandomRotation ±18°) needs an image (height × width × channels) but gets a "
         "flat vector of 784; move it before the Flatten."),
        ([LayerSpec("Flatten"), LayerSpec("GlobalAveragePooling2D")],
         "Layer 2 (GlobalAveragePooling2D) needs an image (height × width × channels) but gets "
         "a flat vector of 784; move it before the Flatten."),
        ([LayerSpec("AveragePooling2D", {"pool_size": 30})],
         "Layer 1 (AveragePooling2D 30): pooling 30×30 over a 28×28 input leaves nothing; use a "
         "smaller pool size or fewer layers before it."),
        ([LayerSpec("RandomRotation", {"factor": 0.6})],
         "Layer 1 (RandomRotation): the factor must be in [0, 0.5]; got 0.6."),
        ([LayerSpec("RandomTranslation", {"width_factor": -0.1})],
         "Layer 1 (RandomTranslation): the width factor must be in [0, 0.5]; got -0.1."),
        ([LayerSpec("RandomZoom", {"fill_mode": "mirror"})],
         "Layer 1 (RandomZoom): fill mode must be one of constant, nearest, reflect, wrap; got "
         "'mirror'."),
    ],
    ids=["rotation-flat", "gap-flat", "avgpool-big", "rotation-factor", "translation-negative",
         "zoom-fill"],
)  # fmt: skip
def test_new_layer_types_are_refused_in_one_sentence(layers, message):
    _, analysis = _rows(layers)
    assert [str(e) for e in analysis.errors] == [message]


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="^Layer type 'Dense' is already registered.$"):
        register(LAYER_TYPES["Dense"])


# --------------------------------------------------------------------------- a new entry

RESCALE = LayerType(
    "Rescaling", "Multiplies every value by a constant factor.",
    fields=(Field("scale", "float", 2.0, low=0.0, high=100.0, low_open=True, step=0.5,
                  subject="the scale"),),
    shape=lambda p, shape: (shape, 0),
    keras=lambda keras, p, name: keras.layers.Rescaling(p["scale"], name=name),
    title=lambda p: f"Rescaling ×{p['scale']:g}",
)  # fmt: skip


@pytest.fixture
def rescaling():
    """The Rescaling entry registered for one test, then removed."""
    register(RESCALE)
    try:
        yield RESCALE
    finally:
        unregister("Rescaling")
    assert "Rescaling" not in LAYER_TYPES


def test_a_new_entry_is_validated_and_summarised(rescaling):
    rows, _ = _rows([LayerSpec("Rescaling", {"scale": 0.5}), LayerSpec("Flatten")], (8, 8))
    assert rows[1] == ("Rescaling ×0.5", "8×8×1", 0)
    _, bad = _rows([LayerSpec("Rescaling", {"scale": 0})], (8, 8))
    assert [str(e) for e in bad.errors] == ["Layer 1 (Rescaling): the scale must be in (0, 100]; got 0."]
    with pytest.raises(SpecError, match=r"^Rescaling has no parameter offset; it takes scale\.$"):
        LayerSpec("Rescaling", {"offset": 1})
    spec = ModelSpec.from_json({"layers": [{"type": "Rescaling", "scale": 3.0}]})
    assert ModelSpec.from_url(spec.to_url()) == spec


def test_a_new_entry_is_built_by_keras(rescaling):
    import numpy as np

    build = pytest.importorskip("mnist_core.models.keras_build")
    spec = ModelSpec((LayerSpec("Rescaling", {"scale": 0.5}), LayerSpec("Flatten")))
    model = build.build_model(spec, input_shape=(8, 8), n_classes=10)
    layer = model.get_layer("l1_rescaling")
    assert type(layer).__name__ == "Rescaling"
    x = np.ones((2, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), 0.5 * x)
    assert model.count_params() == analyze(spec, input_shape=(8, 8), n_classes=10).total_params


def test_a_new_entry_is_drawn_as_form_fields(rescaling, cache_dir):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
    at.query_params["dataset"] = "digits"
    at.run()
    at.switch_page("views/builder.py").run()
    assert "Rescaling" in at.selectbox(key="new_layer_type").options
    at.selectbox(key="new_layer_type").set_value("Rescaling")
    next(b for b in at.button if b.label == "Add").click().run()
    assert not at.exception
    added = at.session_state["builder_layers"][-1]
    assert added["type"] == "Rescaling" and added["scale"] == 2.0
    field = at.number_input(key=f"L{added['id']}_scale")
    assert field.label == "scale" and field.value == 2.0 and field.step == 0.5
    field.set_value(4.0).run()
    assert at.table[0].value["layer"].tolist()[3] == "3 · Rescaling ×4"
