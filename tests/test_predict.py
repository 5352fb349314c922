"""Prediction with the bundled model, and the locator's geometry."""

import numpy as np
import pytest

from conftest import REPO
from mvcore.clip import Clip
from mvcore.config import PredictConfig, TrainConfig
from mvcore.data import load_aml
from mvcore.metrics import video_iou
from mvcore.model import create_model
from mvcore.predict import Segmenter, mean_inside, predict_padded
from mvcore.synth import make_test_record
from mvcore.transforms import Roi


@pytest.fixture(scope="module")
def bundled():
    return Segmenter.load()


@pytest.fixture(scope="module")
def echo_clip():
    record, labels = make_test_record(np.random.default_rng(21), scale=0.4)
    return Clip(record["name"], record["video"], fps=record["fps"], label=labels["label"], frames=labels["frames"])


def test_bundled_model_segments_every_frame_at_full_size(bundled, echo_clip):
    result = bundled.segment(echo_clip)
    t = echo_clip.n_frames
    assert result.mask.shape == echo_clip.video.shape and result.mask.dtype == bool
    assert result.area.shape == (t,) and result.confidence.shape == (t,)
    assert (result.area == result.mask.sum(axis=(0, 1))).all()
    assert (result.area[echo_clip.frames] > 0).all()   # the valve is found on every labelled frame
    full = bundled.probabilities_at(echo_clip, echo_clip.frames)
    crop = bundled.crop_probabilities(echo_clip.video, result.location.roi, np.asarray(echo_clip.frames))
    for i, t in enumerate(echo_clip.frames):   # the mask is the probabilities over the threshold, pasted back;
        assert np.array_equal(full[:, :, i] > bundled.threshold, result.mask[:, :, t])
        inside = crop[:, :, i] > bundled.threshold   # the confidence their mean inside it, at the network's size
        assert result.confidence[t] == pytest.approx(float(crop[:, :, i][inside].mean()), abs=1e-4)


def benchmarked_sample_score() -> float:
    """The bundled model's AML score on samples/train_small.pkl, as BENCHMARKS.md gives it."""
    row = next(line for line in (REPO / "BENCHMARKS.md").read_text().splitlines()
               if line.startswith("| bundled model on `samples/train_small.pkl`"))
    return float(row.split("|")[2])


def test_the_bundled_model_scores_the_sample_as_benchmarked(bundled, train_pickle):
    clips = load_aml(train_pickle)
    score = float(np.median([video_iou(c.label, bundled.segment(c).mask, c.frames) for c in clips]))
    assert score == pytest.approx(benchmarked_sample_score(), abs=0.05)


def test_a_still_frame_is_segmented_like_a_clip(bundled, echo_clip):
    """One frame (a PNG, a one-frame DICOM): the locator sees no motion, as it did now and then in training."""
    t = echo_clip.frames[0]
    still = Clip("still", np.ascontiguousarray(echo_clip.video[:, :, t:t + 1]))
    result = bundled.segment(still)
    assert result.mask.shape == still.video.shape and result.area.shape == (1,)
    labelled, found = echo_clip.label[:, :, t], result.mask[:, :, 0]
    assert (labelled & found).sum() / (labelled | found).sum() > 0.2


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_masks_do_not_depend_on_how_frames_are_chunked(bundled, echo_clip, batch_size):
    reference = bundled.segment(echo_clip).mask
    chunked = Segmenter(bundled.model, bundled.locator, bundled.config, bundled.threshold, batch_size,
                        intensity=bundled.intensity)
    assert (chunked.segment(echo_clip).mask == reference).mean() > 0.9999


@pytest.mark.parametrize("threshold", [0.77, 0.0, 1.0])   # 0 is a threshold, not "unset"
def test_threshold_override_and_missing_folder(tmp_path, threshold):
    assert Segmenter.load(predict=PredictConfig(threshold=threshold)).threshold == threshold
    with pytest.raises(ValueError, match="not a model folder"):
        Segmenter.load(tmp_path)


def test_mean_inside_is_the_mean_probability_inside_the_mask():
    probs = np.zeros((2, 2, 2), np.float32)
    probs[:, :, 0] = [[0.9, 0.7], [0.2, 0.1]]
    assert mean_inside(probs, 0.5).tolist() == pytest.approx([0.8, 0.0])


def test_annotated_mask_equals_the_full_segmentation_on_annotated_frames(bundled, echo_clip):
    from mvcore.predict import annotated_mask

    sparse, full = annotated_mask(bundled, echo_clip), bundled.segment(echo_clip).mask
    frames = echo_clip.frames
    assert (sparse[:, :, frames] == full[:, :, frames]).mean() > 0.9999
    others = np.setdiff1d(np.arange(echo_clip.n_frames), frames)
    assert not sparse[:, :, others].any()


@pytest.mark.parametrize("flip, mirror_equivariant", [(True, True), (False, False)])
def test_flip_averaging_makes_a_mirrored_clip_give_the_mirrored_map(flip, mirror_equivariant):
    model = create_model("unet", size=32, channels=1, base=4, depth=2)
    segmenter = Segmenter(model, None, TrainConfig(crop_size=32, offsets=(0,), flip=flip), threshold=0.5)
    video = np.random.default_rng(3).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    roi, frames = Roi(0, 0, 32), np.arange(4)
    direct = segmenter.crop_probabilities(video, roi, frames)
    mirrored = segmenter.crop_probabilities(np.ascontiguousarray(video[:, ::-1]), roi, frames)
    assert np.allclose(mirrored[:, ::-1], direct, atol=1e-5) == mirror_equivariant


class ShapeRecorder:
    """A model that remembers the batch lengths it was called with."""

    def __init__(self, model):
        self.model, self.lengths = model, []

    def predict_on_batch(self, x):
        self.lengths.append(len(x))
        return self.model.predict_on_batch(x)


@pytest.mark.parametrize("n, run_as", [(1, 1), (3, 4), (4, 4), (5, 8), (17, 32)])
def test_batches_of_any_length_run_padded_to_a_power_of_two(n, run_as):
    model = create_model("unet", size=32, channels=1, base=4, depth=2)
    x = np.random.default_rng(n).random((n, 32, 32, 1), dtype=np.float32)
    recorder = ShapeRecorder(model)
    out = predict_padded(recorder, x)
    assert recorder.lengths == [run_as]
    assert out.shape == (n, 32, 32, 1)
    assert np.allclose(out, np.asarray(model.predict_on_batch(x)), atol=1e-5)
