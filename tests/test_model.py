"""The network factory and the losses, on any Keras backend."""

import numpy as np
import pytest

from mvcore.losses import LOSSES, hard_iou, soft_iou_loss
from mvcore.model import MODELS, create_model, freeze_encoder_levels


@pytest.mark.parametrize("kwargs, params_range", [
    (dict(size=64, channels=3, base=8, depth=3), (100_000, 400_000)),
    (dict(size=128, channels=3, base=16, depth=4), (1_500_000, 2_500_000)),
    (dict(size=96, channels=2, base=8, depth=3), (100_000, 400_000)),
])
def test_unet_maps_frames_to_a_probability_map_of_the_same_size(kwargs, params_range):
    model = create_model("unet", **kwargs)
    x = np.random.default_rng(0).random((2, kwargs["size"], kwargs["size"], kwargs["channels"]), dtype=np.float32)
    y = np.asarray(model.predict_on_batch(x))
    assert y.shape == (2, kwargs["size"], kwargs["size"], 1)
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert params_range[0] <= model.count_params() <= params_range[1]


@pytest.mark.parametrize("name, kwargs, error", [
    ("unet", dict(size=100, depth=4), "divisible"),
    ("resnet", {}, "unknown model"),
])
def test_bad_model_settings_are_refused(name, kwargs, error):
    with pytest.raises(ValueError, match=error):
        create_model(name, **kwargs)


def test_seed_architecture_is_registered_with_its_2048_channel_bottleneck():
    assert {"unet", "seed_unet"} <= set(MODELS)
    model = create_model("seed_unet", size=64)
    assert model.get_layer("bottleneck_conv2").filters == 2048


def test_freezing_stops_only_the_first_encoder_levels():
    model = create_model("unet", size=32, channels=1, base=4, depth=2)
    freeze_encoder_levels(model, 1)
    frozen = {layer.name for layer in model.layers if not layer.trainable}
    assert frozen and all(name.startswith("enc0_") for name in frozen)
    assert model.get_layer("enc1_conv1").trainable


def masks(*rows):
    """(B, H, W, 1) float32 from lists of 0/1 rows, one 1-row image per batch item."""
    return np.array(rows, dtype=np.float32)[:, None, :, None]


@pytest.mark.parametrize("truth, pred, iou", [
    ([[1, 1, 0, 0]], [[1, 1, 0, 0]], 1.0),
    ([[1, 1, 0, 0]], [[0, 0, 1, 1]], 0.0),
    ([[1, 1, 0, 0]], [[1, 1, 1, 1]], 0.5),
    ([[0, 0, 0, 0]], [[0, 0, 0, 0]], 1.0),
])
def test_hard_iou_and_soft_iou_loss_on_hand_made_masks(truth, pred, iou):
    t, p = masks(*truth), masks(*pred)
    assert float(hard_iou(t, p)) == pytest.approx(iou)
    # soft IoU with a smoothing of 1 pixel: (inter + 1) / (union + 1)
    inter, union = (t * p).sum(), np.maximum(t, p).sum()
    assert float(np.asarray(soft_iou_loss(t, p))[0]) == pytest.approx(1 - (inter + 1) / (union + 1))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_lower_for_a_better_prediction(name):
    truth = masks([1, 1, 0, 0])
    good, bad = masks([0.9, 0.8, 0.1, 0.0]), masks([0.2, 0.1, 0.9, 0.8])
    assert float(np.asarray(LOSSES[name](truth, good))[0]) < float(np.asarray(LOSSES[name](truth, bad))[0])
