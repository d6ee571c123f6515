"""Occlusion saliency, on a constructed model whose answer depends on one known patch of
pixels: the map is highest where blanking changes the prediction most (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import inside
from mnist_core.inside.export import export_model
from mnist_core.inside.saliency import default_patch, occlusion_map
from mnist_core.models import LayerSpec, ModelSpec, TrainSpec
from mnist_core.models.keras_build import build_model

SIDE = 28
HOT = (slice(6, 10), slice(18, 22))  # the only pixels class 1 looks at
WARM = (slice(20, 24), slice(4, 8))  # class 1 looks at these too, five times less


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    """Multinomial regression on 28×28 whose class 1 reads only two squares of pixels
    (one five times as strongly as the other), served through ONNX."""
    spec = ModelSpec((LayerSpec("Flatten"),), TrainSpec(), "constructed")
    model = build_model(spec, input_shape=(SIDE, SIDE), n_classes=2)
    kernel = np.zeros((SIDE, SIDE, 2), np.float32)
    kernel[HOT[0], HOT[1], 1] = 0.25  # 16 pixels: logit 4
    kernel[WARM[0], WARM[1], 1] = 0.05  # logit 0.8; class 0's bias 2.4: p(1) = 92 %
    model.get_layer("output").set_weights([kernel.reshape(-1, 2), np.array([2.4, 0.0], "f")])
    path = tmp_path_factory.mktemp("saliency") / "m.onnx"
    export_model(model, path, spec=spec)
    return inside.InsideModel(path)


def _digit() -> np.ndarray:
    image = np.zeros((SIDE, SIDE), np.float32)
    image[3:25, 3:25] = 80  # ink everywhere the model is blind to, except...
    image[HOT[0], HOT[1]] = 255
    image[WARM[0], WARM[1]] = 255
    return image


def test_saliency_is_highest_where_blanking_changes_the_prediction_most(constructed):
    image = _digit()
    saliency = inside.occlusion_saliency(constructed, image)
    assert saliency.method == "occlusion" and "Occlusion" in saliency.description
    assert (saliency.patch, saliency.stride) == (4, 2) == default_patch(SIDE)
    assert saliency.target == int(constructed.predict(image).argmax()) == 1
    values = saliency.values
    assert values.shape == (SIDE, SIDE) and values.dtype == np.float32
    # The prediction change of every single patch, measured directly.
    drops = {}
    for r in range(0, SIDE - 3, 2):
        for c in range(0, SIDE - 3, 2):
            blanked = image.copy()
            blanked[r:r + 4, c:c + 4] = 0
            drops[r, c] = saliency.probability - constructed.predict(blanked)[0, 1]
    (r, c), _ = max(drops.items(), key=lambda item: item[1])
    assert (r, c) == (6, 18)  # exactly over the hot square
    peak = np.unravel_index(values.argmax(), values.shape)
    assert r <= peak[0] < r + 4 and c <= peak[1] < c + 4
    assert values[HOT].min() > values[WARM].max() > 0.01  # hot > warm > blind
    blind = np.ones((SIDE, SIDE), bool)
    blind[4:12, 16:24] = blind[18:26, 2:10] = False  # patches touching either square
    assert np.abs(values[blind]).max() == 0.0


def test_saliency_batches_every_patch_in_one_call(constructed):
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return constructed.predict(batch)

    saliency = occlusion_map(_digit(), predict, patch=4, stride=2)
    assert calls == [1 + 13 * 13]  # the intact image and 13 × 13 patches, one batch
    np.testing.assert_allclose(saliency.values,
                               inside.occlusion_saliency(constructed, _digit()).values)


def test_a_chosen_target_and_a_patch_reaching_the_edge(constructed):
    saliency = occlusion_map(_digit(), constructed.predict, patch=5, stride=4, target=0)
    assert saliency.target == 0 and saliency.values.shape == (SIDE, SIDE)
    # For class 0, blanking class 1's evidence raises class 0: negative saliency there.
    assert saliency.values[HOT].max() < 0


def test_the_last_patches_reach_the_edges():
    """Patches every 4 pixels from 0 would stop at 20..24: one more, at 23, covers 27."""

    def last_column(batch):  # a "model" reading only the right-most column
        p = np.asarray(batch)[:, :, -1].mean(axis=1) / 255
        return np.stack([1 - p, p], axis=1)

    image = np.full((SIDE, SIDE), 255.0)
    saliency = occlusion_map(image, last_column, patch=5, stride=4, target=1)
    assert saliency.values[:, -1].min() > 0 and saliency.values[-1, -1] > 0
    assert not saliency.values[:, :23].any()


@pytest.mark.parametrize("kwargs,message", [
    ({"patch": 0, "stride": 1}, "patch must be 1..28"),
    ({"patch": 4, "stride": 0}, "stride at least 1"),
    ({"patch": 4, "stride": 2, "target": 5}, "target class must be 0..1"),
])  # fmt: skip
def test_bad_options_are_one_sentence(constructed, kwargs, message):
    with pytest.raises(inside.InsideError, match=message):
        occlusion_map(_digit(), constructed.predict, **kwargs)
