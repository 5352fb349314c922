"""Segment every frame of a clip at its own resolution with a trained model folder.

The locator finds the valve's square once per clip; the segmenter then runs on crops of it in
chunks of frames, and each chunk's masks are written straight into the full-size mask, so long
clips need memory only for the video, its mask and two chunks (one in the network, one being cut).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .clip import Clip
from .config import PredictConfig, TrainConfig, load_train_config
from .errors import InputError
from .intensity import load_reference, matching_table
from .locate import Location, locate_valve
from .runtime import runner
from .transforms import Roi, crop_stack, neighbour_indices, paste_stack

BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


def is_model_dir(path: Path) -> bool:
    """Whether `path` holds a trained model (model.keras and config.json)."""
    return (Path(path) / "model.keras").is_file() and (Path(path) / "config.json").is_file()


@dataclass
class Segmentation:
    """The result for one clip: mask bool (H, W, T), the crop used and how it was found, per-frame
    area and confidence (T,)."""

    mask: np.ndarray
    location: Location
    area: np.ndarray
    confidence: np.ndarray


class Segmenter:
    """A trained model folder, ready to segment clips.

    `model` and `locator` are the Keras networks (what training and fine-tuning use); `net` and
    `locator_net` run them for prediction (their ONNX Runtime copies, or the networks themselves).
    `intensity`: the training clips' grey levels float64 (101,) that each clip's are matched to
    (mvcore.intensity), or None to leave clips as they are. `box_prior`: where the training boxes
    lay in their scan sectors (mvcore.locate.box_prior), the square where the locator sees nothing;
    None to trust the locator always.
    """

    def __init__(self, model, locator, config: TrainConfig, threshold: float, batch_size: int = 32,
                 net=None, locator_net=None, intensity: np.ndarray | None = None,
                 box_prior: list[float] | None = None):
        self.model, self.locator, self.config = model, locator, config
        self.threshold, self.batch_size = threshold, batch_size
        self.net, self.locator_net = net or model, locator_net or locator
        self.intensity, self.box_prior = intensity, box_prior

    @classmethod
    def load(cls, model_dir: Path | str | None = None, predict: PredictConfig | None = None) -> "Segmenter":
        """Load `model.keras` (+ `locator.keras`), `config.json` and `metrics.json` from a model folder."""
        import keras

        folder = Path(model_dir) if model_dir else BUNDLED_MODEL
        predict = predict or PredictConfig()
        if not is_model_dir(folder):
            raise InputError(f"{folder}: not a model folder (model.keras and config.json are missing)")
        config = load_train_config(folder / "config.json")
        # safe_mode (Keras' default, kept explicit): a model file cannot run code of its own when loaded
        model = keras.saving.load_model(folder / "model.keras", compile=False, safe_mode=True)
        locator = (keras.saving.load_model(folder / "locator.keras", compile=False, safe_mode=True)
                   if config.locator_size else None)
        metrics_path = folder / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        threshold = next(t for t in (predict.threshold, metrics.get("threshold"), config.threshold, 0.5)
                         if t is not None)
        net = runner(model, folder / "model.keras", predict.runtime, predict.onnx_threads)
        locator_net = (runner(locator, folder / "locator.keras", predict.runtime, predict.onnx_threads)
                       if locator is not None else None)
        return cls(model, locator, config, float(threshold), predict.batch_size, net, locator_net,
                   load_reference(folder / "intensity.json"), valid_box_prior(metrics))

    def warm_up(self) -> "Segmenter":
        """Trace the networks now (a full chunk and a shorter last one), not on a user's first clip."""
        self.segment(Clip("warm-up", np.zeros((64, 64, self.batch_size + 3), np.uint8)))
        return self

    def intensity_table(self, video: np.ndarray) -> np.ndarray | None:
        """The grey-level lookup uint8 (256,) matching `video` uint8 (H, W, T) to the training clips,
        or None where the model keeps no reference or the clip is dark."""
        return None if self.intensity is None else matching_table(video, self.intensity)

    def locate(self, video: np.ndarray) -> Location:
        """The square the segmenter looks at in `video` uint8 (H, W, T), and how it was found."""
        return self._locate(video, self.intensity_table(video))

    def _locate(self, video: np.ndarray, table: np.ndarray | None) -> Location:
        h, w = video.shape[:2]
        if self.config.whole_frame or self.locator is None:
            return Location(Roi.around(0, 0, h, w, margin=1.0), "whole frame")
        return locate_valve(self.locator_net, video, self.config.locator_size, self.config.margin, table,
                            self.box_prior)

    def run_model(self, x: np.ndarray) -> np.ndarray:
        """The segmenter network on crops float32 (N, S, S, C) in [0, 1]: probabilities (N, S, S, 1)."""
        return predict_padded(self.net, x)

    def crop_inputs(self, video: np.ndarray, roi: Roi, frames: np.ndarray, table: np.ndarray | None) -> np.ndarray:
        """The network's inputs float32 (len(frames), S, S, C) in [0, 1]: the crops of `frames` of
        `video` uint8 (H, W, T) with their neighbours (`config.offsets`) as channels, through the
        grey-level lookup `table` uint8 (256,) where there is one."""
        idx = neighbour_indices(frames, self.config.offsets, video.shape[2])
        lo, hi = int(idx.min()), int(idx.max()) + 1
        crops = crop_stack(video[:, :, lo:hi], roi, self.config.crop_size)
        if table is not None:
            crops = table[crops]
        return crops[:, :, idx - lo].transpose(2, 0, 1, 3).astype(np.float32) / 255.0

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Probabilities float32 (S, S, N) for crops x float32 (N, S, S, C); with `config.flip`, the
        mean with the mirrored crops' probabilities, mirrored back."""
        if not self.config.flip:
            return self.run_model(x)[..., 0].transpose(1, 2, 0)
        both = self.run_model(np.concatenate([x, x[:, :, ::-1]]))[..., 0]
        return ((both[:len(x)] + both[len(x):, :, ::-1]) / 2).transpose(1, 2, 0)

    def crop_probabilities(self, video: np.ndarray, roi: Roi, frames: np.ndarray) -> np.ndarray:
        """Probabilities float32 (S, S, len(frames)) for `frames` of `video` uint8 (H, W, T), in the crop."""
        return self.probabilities(self.crop_inputs(video, roi, frames, self.intensity_table(video)))

    def segment(self, clip: Clip, progress: Callable[[float], None] | None = None) -> Segmentation:
        """Masks for every frame of `clip`; `progress(fraction)` is called after each chunk.

        The network runs on one chunk of frames in a worker thread while this thread cuts the next
        chunk's crops and pastes the previous chunk's masks (ONNX Runtime, TensorFlow and NumPy's
        large copies release the GIL), so the cores stay busy between network calls.
        """
        video = clip.video
        h, w, t = video.shape
        table = self.intensity_table(video)
        location = self._locate(video, table)
        roi = location.roi
        mask = np.zeros((h, w, t), dtype=bool)
        confidence = np.zeros(t, dtype=np.float32)

        def paste(frames: np.ndarray, probs: np.ndarray):
            paste_stack(probs, roi, mask[:, :, frames[0]:frames[-1] + 1], self.threshold)
            confidence[frames] = mean_inside(probs, self.threshold)
            if progress:
                progress(min(1.0, (frames[-1] + 1) / t))

        with ThreadPoolExecutor(max_workers=1) as network:
            running = None
            for t0 in range(0, t, self.batch_size):
                frames = np.arange(t0, min(t0 + self.batch_size, t))
                submitted = (frames, network.submit(self.probabilities, self.crop_inputs(video, roi, frames, table)))
                if running:
                    paste(running[0], running[1].result())
                running = submitted
            paste(running[0], running[1].result())
        return Segmentation(mask, location, mask.sum(axis=(0, 1)), confidence)

    def probabilities_at(self, clip: Clip, frames: list[int]) -> np.ndarray:
        """Full-resolution probabilities float32 (H, W, len(frames)) at the given frames."""
        table = self.intensity_table(clip.video)
        roi = self._locate(clip.video, table).roi
        probs = self.probabilities(self.crop_inputs(clip.video, roi, np.asarray(frames), table))
        out = np.zeros(clip.video.shape[:2] + (len(frames),), dtype=np.float32)
        return paste_stack(probs, roi, out)


def valid_box_prior(metrics: dict) -> list[float] | None:
    """metrics.json's `locator.box_prior` where it is 4 fractions [top, left, bottom, right] of a box
    inside its sector, else None (older folders have none; a damaged one is not trusted)."""
    prior = (metrics.get("locator") or {}).get("box_prior") if isinstance(metrics, dict) else None
    if (not isinstance(prior, list) or len(prior) != 4 or not all(isinstance(v, (int, float)) for v in prior)
            or not (0 <= prior[0] < prior[2] <= 1 and 0 <= prior[1] < prior[3] <= 1)):
        return None
    return [float(v) for v in prior]


def predict_padded(model, x: np.ndarray) -> np.ndarray:
    """`model` on a batch x (N, ...) of any length N, run zero-padded to the next power of two.

    JAX compiles one program per batch shape: clips of every length would otherwise each add one
    for their last chunk. Returns float32 (N, ...).
    """
    n = len(x)
    padded = 1 << max(n - 1, 0).bit_length()
    if padded > n:
        x = np.concatenate([x, np.zeros((padded - n, *x.shape[1:]), dtype=x.dtype)])
    return np.asarray(model.predict_on_batch(x))[:n]


def segment_clips(segmenter: Segmenter, clips: list[Clip], progress: Callable[[float], None] | None = None):
    """Yield (clip, Segmentation, seconds) for each clip in turn; `progress(fraction)` over all frames."""
    total, done = sum(c.n_frames for c in clips), 0
    for clip in clips:
        def report(fraction, before=done, n=clip.n_frames):
            if progress:
                progress(min(1.0, (before + fraction * n) / total))

        started = time.perf_counter()
        result = segmenter.segment(clip, progress=report)
        yield clip, result, time.perf_counter() - started
        done += clip.n_frames


def annotated_mask(segmenter: Segmenter, clip: Clip) -> np.ndarray:
    """bool (H, W, T): the mask on `clip`'s annotated frames, False elsewhere; enough for scoring.

    Equal to `segment(clip).mask` on those frames, for a fraction of the work.
    """
    mask = np.zeros(clip.video.shape, dtype=bool)
    mask[:, :, clip.frames] = segmenter.probabilities_at(clip, clip.frames) > segmenter.threshold
    return mask


def mean_inside(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Mean probability inside each frame's mask, 0 where it is empty: float32 (T,) from (S, S, T)."""
    inside = probs > threshold
    count = inside.sum(axis=(0, 1))
    return np.where(count > 0, (probs * inside).sum(axis=(0, 1)) / np.maximum(count, 1), 0.0).astype(np.float32)
