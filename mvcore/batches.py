"""Training examples cut from labelled clips, served as augmented batches (`keras.utils.PyDataset`).

An example keeps only what training needs from its clip: the frame's pixels (with those of any
neighbouring frames the input uses as channels), its label and the clip's box. Labels are the annotations, or the
stage-1 model's masks on unlabelled frames when pseudo-labelling.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import keras
import numpy as np

from .clip import Clip
from .locate import box_target, evenly_spaced, locator_inputs
from .sector import sector_bounds
from .synth.scan import smooth_field
from .transforms import Roi, box_bounds, crop_stack, neighbour_indices


@dataclass
class Example:
    """One annotated frame: pixels uint8 (H, W, C) of it and its neighbours (C = len(offsets)),
    label bool (H, W), the clip's box bounds, whether the clip is an expert one, the clip's name."""

    pixels: np.ndarray
    label: np.ndarray
    bounds: tuple[int, int, int, int]
    expert: bool
    clip: str


def clip_bounds(clip: Clip) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the clip's box, or of all its labels where it has no box."""
    return box_bounds(clip.box if clip.box is not None else clip.label.any(axis=2))


def frame_examples(clip: Clip, frames: np.ndarray, labels: np.ndarray, offsets: tuple[int, ...]) -> list[Example]:
    """One `Example` per frame of `clip` with its label from `labels` bool (H, W, len(frames))."""
    bounds, expert = clip_bounds(clip), clip.dataset == "expert"
    idx = neighbour_indices(np.asarray(frames), offsets, clip.n_frames)
    return [Example(np.ascontiguousarray(clip.video[:, :, neighbours]), labels[:, :, i], bounds, expert, clip.name)
            for i, neighbours in enumerate(idx)]


def collect_examples(clips: list[Clip], offsets: tuple[int, ...]) -> list[Example]:
    """One `Example` per annotated frame of every labelled clip; C = len(offsets) channels."""
    return [e for clip in clips for e in frame_examples(clip, clip.frames, clip.label[:, :, clip.frames], offsets)]


def unlabelled_frames(clip: Clip, count: int) -> np.ndarray:
    """At most `count` frame indices spread over the clip, each 2+ frames away from every annotated one."""
    far = np.flatnonzero(np.min(np.abs(np.arange(clip.n_frames)[:, None] - np.asarray(clip.frames)[None]), axis=1) >= 2)
    return far[evenly_spaced(len(far), count)] if len(far) else far


def box_roi(bounds, margin: float, whole_frame: bool, shape: tuple[int, int]) -> Roi:
    """The crop of an example whose box has `bounds` (top, left, bottom, right): the square `margin`
    times the box's longer side around it, or with `whole_frame` the letterbox square of the whole
    (H, W) = `shape` frame (the baseline recipe)."""
    if whole_frame:
        return Roi.around(0, 0, shape[0], shape[1], margin=1.0)
    return Roi.around(*bounds, margin=margin)


def jittered_roi(bounds, margin: float, rng: np.random.Generator, whole_frame: bool, shape: tuple[int, int]) -> Roi:
    """`box_roi` moved by up to a tenth of the box's longer side and grown 0.9 to 1.2 times, at random
    (the whole frame's square is not moved)."""
    if whole_frame:
        return box_roi(bounds, margin, whole_frame, shape)
    top, left, bottom, right = bounds
    side = max(bottom - top, right - left)
    dy, dx = rng.uniform(-0.1, 0.1, size=2) * side
    grow = rng.uniform(0.9, 1.2)
    return box_roi((top + dy, left + dx, bottom + dy, right + dx), margin * grow, False, shape)


def augment_intensity(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gain, gamma and noise on float32 frames in [0, 1] (any shape); returns a new array."""
    x = np.clip(x * rng.uniform(0.75, 1.3), 0.0, 1.0) ** rng.uniform(0.7, 1.4)
    x += rng.normal(0.0, rng.uniform(0.0, 0.03), size=x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


class SegmentationBatches(keras.utils.PyDataset):
    """Batches (x float32 (B, S, S, C), y float32 (B, S, S, 1)) of cropped examples.

    `augment`: random crops and intensity changes (with `scanner_aug` also small rotations, blur,
    lower resolution and contrast, with `sharpen_aug` sharpening, and with `texture_aug`
    `augment_texture`; with `flip` left-right mirroring; `still_share` of the crops with every
    channel the segmented frame's, channel `centre`, as a clip of stills gives), examples drawn with
    replacement (`samples` per epoch, expert examples `expert_weight` times as likely); otherwise
    each example once, in order, cropped exactly around its box (validation).
    """

    def __init__(self, examples: list[Example], size: int, margin: float, batch_size: int,
                 whole_frame: bool = False, augment: bool = False, samples: int = 0,
                 expert_weight: float = 1.0, flip: bool = False, scanner_aug: bool = False,
                 texture_aug: bool = False, sharpen_aug: bool = False, still_share: float = 0.0, centre: int = 0,
                 seed: int = 0):
        super().__init__()
        self.examples, self.size, self.margin, self.batch_size = examples, size, margin, batch_size
        self.whole_frame, self.augment, self.flip, self.scanner_aug = whole_frame, augment, flip, scanner_aug
        self.texture_aug, self.sharpen_aug = texture_aug, sharpen_aug
        self.still_share, self.centre = still_share, centre
        self.samples = samples if augment else len(examples)
        weights = np.array([expert_weight if e.expert else 1.0 for e in examples])
        self.p = weights / weights.sum()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-self.samples // self.batch_size)

    def __getitem__(self, index: int):
        if self.augment:
            picks = self.rng.choice(len(self.examples), size=self.batch_size, p=self.p)
        else:
            picks = range(index * self.batch_size, min((index + 1) * self.batch_size, len(self.examples)))
        pairs = [self.crop(self.examples[i]) for i in picks]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def crop(self, ex: Example) -> tuple[np.ndarray, np.ndarray]:
        """(x (S, S, C), y (S, S, 1)) for one example."""
        roi = (jittered_roi(ex.bounds, self.margin, self.rng, self.whole_frame, ex.label.shape) if self.augment
               else box_roi(ex.bounds, self.margin, self.whole_frame, ex.label.shape))
        pixels = ex.pixels
        if self.augment and self.still_share and self.rng.random() < self.still_share:
            pixels = np.repeat(pixels[:, :, self.centre:self.centre + 1], pixels.shape[2], axis=2)
        x = crop_stack(pixels, roi, self.size).astype(np.float32) / 255.0
        y = crop_stack(ex.label[:, :, None].astype(np.float32), roi, self.size)
        y = y.reshape(self.size, self.size, 1)
        return self.augmented(x, y) if self.augment else (x, y)

    def augmented(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A crop's random changes: intensity, or with `scanner_aug` a small rotation half the time and
        `augment_appearance`; then the mirror half the time with `flip`."""
        if self.scanner_aug:
            if self.rng.random() < 0.5:
                x, y = random_affine(x, y, self.rng, degrees=15.0, scale=(0.9, 1.1), shift=0.05)
            x = augment_appearance(x, self.rng, self.sharpen_aug)
            if self.texture_aug:
                x = augment_texture(x, self.rng)
        else:
            x = augment_intensity(x, self.rng)
        if self.flip and self.rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        return x, y


STILLS_SHARE = 0.25  # share of a clip's locator examples whose motion map is taken over 3 of its frames


def collect_locator_examples(clips: list[Clip], size: int, per_clip: int,
                             seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Locator inputs float32 (N, size, size, 2) and box targets (N, size, size, 1) from clips with a
    box, each cut to its scan sector (mvcore.sector) as prediction does.

    With a `seed`, STILLS_SHARE of each clip's examples see the motion map of the frame and two others
    drawn at random, as a clip of 3 stills gives (its frames far apart in the cycle); without, every
    example sees its whole clip's (validation).
    """
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for clip in clips:
        top, left, bottom, right = sector_bounds(clip.video)
        video = clip.video[top:bottom, left:right]
        frames = evenly_spaced(clip.n_frames, per_clip)
        stills = int(len(frames) * STILLS_SHARE) if seed is not None and clip.n_frames > 3 else 0
        x, _ = locator_inputs(video, size, frames[stills:])
        xs += [x] + [locator_inputs(np.take(video, three_stills(t, clip.n_frames, rng), axis=2), size,
                                    np.array([0]))[0] for t in frames[:stills]]
        target = box_target(clip.box[top:bottom, left:right], size)
        ys.append(np.repeat(target[None, :, :, None], len(frames), axis=0))
    return np.concatenate(xs), np.concatenate(ys)


def three_stills(frame: int, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """`frame` and two other frames of a clip of `n_frames` (> 3), drawn at random: int (3,)."""
    others = rng.choice(np.delete(np.arange(n_frames), frame), size=2, replace=False)
    return np.r_[frame, others]


MOTION_DROPOUT = 0.5  # share of augmented locator examples that see no motion map (a still frame's input):
# half, as prediction reads each clip with and without it (mvcore.locate.read_heatmap)


def random_affine(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, degrees: float = 15.0,
                  scale: tuple[float, float] = (0.8, 1.25), shift: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """The same random rotation (+-`degrees`), scale (within `scale`) and shift (+-`shift` of the side)
    applied to input x float32 (S, S, C) and target y float32 (S, S, 1); 0 outside. Returns new arrays."""
    size = x.shape[0]
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-degrees, degrees), rng.uniform(*scale))
    turn[:, 2] += rng.uniform(-shift, shift, size=2) * size
    warp = dict(dsize=(size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.warpAffine(x, turn, **warp).reshape(x.shape), cv2.warpAffine(y, turn, **warp).reshape(y.shape)


def augment_appearance(x: np.ndarray, rng: np.random.Generator, sharpen: bool = False) -> np.ndarray:
    """What differs between scanners, on float32 crops (S, S, C) in [0, 1]: blur (half the time) or,
    with `sharpen`, sharpening (a quarter of the time), a lower resolution (down then up, a third of
    the time), contrast, then gain, gamma and noise."""
    size = x.shape[0]
    focus = rng.random()
    if focus < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.5)).reshape(x.shape)
    elif sharpen and focus < 0.75:
        x = sharpened(x, rng.uniform(0.7, 2.0), rng.uniform(0.3, 1.2))
    if rng.random() < 1 / 3:
        small = max(8, int(size * rng.uniform(0.4, 0.8)))
        x = cv2.resize(cv2.resize(x, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                       interpolation=cv2.INTER_LINEAR).reshape(x.shape)
    mean = float(x.mean())
    x = np.clip(mean + (x - mean) * rng.uniform(0.7, 1.3), 0.0, 1.0).astype(np.float32)
    return augment_intensity(x, rng)


def sharpened(x: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Unsharp masking of a float32 crop (S, S, C) in [0, 1]: `amount` times its detail finer than a
    Gaussian of `sigma` px added back, clipped to [0, 1]. A scanner with a finer point-spread function
    shows thinner, crisper leaflets than the synthetic clips' (docs/REALISM.md)."""
    detail = x - cv2.GaussianBlur(x, (0, 0), sigma).reshape(x.shape)
    return np.clip(x + amount * detail, 0.0, 1.0).astype(np.float32)


def augment_texture(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Textures that differ between scanners, on float32 crops (S, S, C) in [0, 1], each half the time:
    multiplicative speckle of another grain (sigma 0.5-2 px, 10-40 %), a random monotone tone curve
    (three inner knots), and haze (a smooth field up to 0.15 added where the crop is dark)."""
    size = x.shape[:2]
    if rng.random() < 0.5:
        grain = smooth_field(rng, size, (rng.uniform(0.5, 2.0),) * 2) * rng.uniform(0.1, 0.4)
        x = x * np.clip(1.0 + grain, 0.0, None)[..., None]
    if rng.random() < 0.5:
        knots = np.sort(rng.uniform(0.0, 1.0, 3))
        x = np.interp(x, [0.0, 0.25, 0.5, 0.75, 1.0], np.r_[0.0, knots, 1.0])
    if rng.random() < 0.5:
        haze = rng.uniform(0.0, 0.15) * (1.0 + smooth_field(rng, size, (size[0] / 8,) * 2).clip(-1, 1)) / 2
        x = x + (haze * (1.0 - np.clip(x * 4, 0.0, 1.0).mean(axis=-1)))[..., None]
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def augment_locator_example(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One locator example (x (S, S, 2): frame and motion map; y (S, S, 1): the box) augmented: a random
    affine move, intensity changes of the frame, and the motion map dropped at random."""
    x, y = random_affine(x, y, rng)
    x[..., :1] = augment_intensity(x[..., :1], rng)
    if rng.random() < MOTION_DROPOUT:
        x[..., 1] = 0.0
    return x, y


class LocatorBatches(keras.utils.PyDataset):
    """Batches of locator examples; with `augment`, each example moved, rescaled and rotated at random,
    its intensity changed and its motion map dropped now and then (`augment_locator_example`)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, augment: bool, seed: int = 0):
        super().__init__()
        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if augment else np.arange(len(x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int):
        picks = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.x[picks], self.y[picks]
        if self.augment:
            pairs = [augment_locator_example(xi, yi, self.rng) for xi, yi in zip(x, y)]
            x, y = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        return x, y

    def on_epoch_end(self):
        if self.augment:
            self.order = self.rng.permutation(len(self.x))
