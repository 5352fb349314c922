"""The user's recipe: a U-Net trained with soft IoU + binary cross-entropy (the default
`TrainConfig.loss`; soft IoU alone, the baseline preset's, is `loss="iou"`) on all labelled frames,
then fine-tuned on augmented expert frames with a lower learning rate and the first encoder level
frozen.

Before that, a small locator learns where the box is (the default recipe), so the segmenter can
work on a crop at a resolution where the thin leaflets survive; where it misses the valve on the
validation videos, the segmenter works on whole frames instead. Validation is split by video, and
the finished model is checked against its crops and a fixed box (mvcore.quality). The model
folder is written whole or not at all (mvcore.model_dir).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from .batches import (Example, LocatorBatches, SegmentationBatches, box_roi, clip_bounds, collect_examples,
                      collect_locator_examples, frame_examples, unlabelled_frames)
from .clip import Clip
from .config import PredictConfig, TrainConfig, load_train_config
from .distribute import Placement, check_batch, place
from .errors import InputError
from .fit import SCHEDULES, Event, Stage, fit_stage
from .intensity import matching_table, reference_percentiles
from .locate import box_prior, locate_valve
from .losses import LOSSES
from .metrics import video_iou
from .model import create_model, freeze_encoder_levels
from .model_dir import write_model_dir
from .predict import BUNDLED_MODEL, Segmenter, is_model_dir
from .quality import HIT_SHARE, MIN_HIT_RATE, assess, fixed_box_iou, share_inside
from .synth.samples import SAMPLES_DIR
from .transforms import paste_stack

ARCHITECTURE = ("crop_size", "base_filters", "depth", "offsets", "margin", "whole_frame", "locator_size")
NETWORK_SHAPE = ("crop_size", "base_filters", "depth", "offsets", "locator_size")  # what weights need to fit
STARTS = ("bundled", "scratch")
REHEARSAL_SET = SAMPLES_DIR / "train_small.pkl"  # mixed into every fine-tuning (TrainConfig.rehearsal)
THRESHOLDS = np.round(np.arange(0.2, 0.96, 0.05), 2)


def split_by_video(clips: list[Clip], fraction: float, seed: int) -> tuple[list[Clip], list[Clip]]:
    """(train, validation) clips: `fraction` of each dataset kind held out, at least one where a kind has 3+."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for kind in sorted({c.dataset for c in clips}):
        group = [c for c in clips if c.dataset == kind]
        n_val = int(round(len(group) * fraction)) if len(group) >= 3 else 0
        n_val = max(n_val, 1) if len(group) >= 3 else 0
        order = rng.permutation(len(group))
        val += [group[i] for i in order[:n_val]]
        train += [group[i] for i in order[n_val:]]
    return train, val


def check_recipe(config: TrainConfig) -> None:
    """Refuse an unknown loss or learning-rate schedule before any minute is spent training."""
    if config.loss not in LOSSES:
        raise InputError(f"unknown loss '{config.loss}' (known: {', '.join(LOSSES)})")
    if config.lr_schedule not in SCHEDULES:
        raise InputError(f"unknown learning-rate schedule '{config.lr_schedule}' (known: {', '.join(SCHEDULES)})")
    if config.start not in STARTS:
        raise InputError(f"unknown start '{config.start}' (known: {', '.join(STARTS)})")


def train_locator(config: TrainConfig, train: list[Clip], val: list[Clip], on_event, history,
                  placement: Placement | None = None, start=None):
    """Fit the box locator on every training clip (each frame of a clip shares its box), on the
    devices of `placement` (default: one), from the network `start` where given (else from random
    weights)."""
    placement = placement or place(1)
    x, y = collect_locator_examples(train, config.locator_size, config.locator_frames_per_clip, seed=config.seed)
    held_out = LocatorBatches(*collect_locator_examples(val, config.locator_size, 4), config.batch_size,
                              augment=False) if val else None
    locator = start or locator_network(config, placement)
    fit_stage(locator, LocatorBatches(x, y, config.batch_size, augment=True, seed=config.seed),
              held_out, Stage.of(config, "locator"), on_event, history, placement)
    return locator


def new_network(placement: Placement, **unet):
    """A new U-Net (`mvcore.model.build_unet`'s arguments) built for the devices of `placement`."""
    with placement.scope():
        return create_model("unet", synchronized=placement.sync_batchnorm, **unet)


def locator_network(config: TrainConfig, placement: Placement):
    """A new box locator of the recipe's shape, for the devices of `placement`."""
    return new_network(placement, size=config.locator_size, channels=2, base=8, depth=3, name="locator")


def segmenter_network(config: TrainConfig, placement: Placement):
    """A new segmenter of the recipe's shape, for the devices of `placement`."""
    return new_network(placement, size=config.crop_size, channels=len(config.offsets), base=config.base_filters,
                       depth=config.depth)


def locator_hit_rate(locator, config: TrainConfig, clips: list[Clip], intensity: np.ndarray | None = None,
                     prior: list[float] | None = None) -> float | None:
    """Share of labelled `clips` whose located crop holds the valve (mvcore.quality.HIT_SHARE of its
    labelled pixels), their grey levels matched to `intensity` where given, the box `prior` taken where
    the locator sees nothing (mvcore.locate.locate_valve); None without such clips."""
    labelled = [c for c in clips if c.is_labelled]
    if not labelled:
        return None
    tables = [None if intensity is None else matching_table(c.video, intensity) for c in labelled]
    crops = [locate_valve(locator, c.video, config.locator_size, config.margin, table, prior).roi
             for c, table in zip(labelled, tables)]
    return float(np.mean([share_inside(roi, c) >= HIT_SHARE for roi, c in zip(crops, labelled)]))


def located_or_whole_frame(config: TrainConfig, train: list[Clip], val: list[Clip], on_event, history, metrics,
                           intensity: np.ndarray | None = None, placement: Placement | None = None, start=None):
    """(config, locator): a trained locator (from the network `start` where given), or none and the
    whole frame where it misses the valve on validation videos (hit rate under
    mvcore.quality.MIN_HIT_RATE), so the segmenter then trains on what it will see. The hit rate
    and any fallback go into `metrics['locator']`; `intensity`: the grey levels validation clips
    are matched to, as in prediction; `placement`: the devices it trains on."""
    locator = train_locator(config, [c for c in train if c.box is not None], [c for c in val if c.box is not None],
                            on_event, history, placement, start)
    metrics["locator"] = {"box_prior": box_prior([c for c in train if c.box is not None]), "fallback": None}
    rate = locator_hit_rate(locator, config, val, intensity, metrics["locator"]["box_prior"])
    metrics["locator"]["val_box_hit_rate"] = rate
    if rate is None or rate >= MIN_HIT_RATE:
        return config, locator
    metrics["locator"]["fallback"] = "whole_frame"
    on_event({"kind": "warning", "text": f"the locator's crop held the valve on only {rate:.0%} of the validation "
                                        "videos: segmenting whole frames instead"})
    return dataclasses.replace(config, whole_frame=True, locator_size=0, margin=1.0), None


def pipeline_iou(segmenter: Segmenter, clips: list[Clip]) -> dict[float, list[float]]:
    """Per-video IoU of the whole pipeline (locate, crop, segment, paste back) for each threshold."""
    scores = {float(t): [] for t in THRESHOLDS}
    for clip in clips:
        probs = segmenter.probabilities_at(clip, clip.frames)
        truth = clip.label[:, :, clip.frames]
        for t in scores:
            scores[t].append(video_iou(truth, probs > t, list(range(len(clip.frames)))))
    return scores


def choose_threshold(scores: dict[float, list[float]]) -> tuple[float, float]:
    """(threshold, median IoU) with the best median; ties go to the threshold nearest 0.5."""
    best = max(scores, key=lambda t: (round(float(np.median(scores[t])), 4), -abs(t - 0.5)))
    return best, float(np.median(scores[best]))


def pseudo_label_examples(segmenter: Segmenter, clips: list[Clip], count: int) -> list[Example]:
    """Examples on `count` unlabelled frames of each clip, labelled by `segmenter`'s masks.

    The crop is the clip's own box (known in training), so only the segmenter's errors remain.
    """
    examples = []
    for clip in clips:
        frames = unlabelled_frames(clip, count)
        if not len(frames):
            continue
        roi = box_roi(clip_bounds(clip), segmenter.config.margin, segmenter.config.whole_frame, clip.video.shape[:2])
        probs = segmenter.crop_probabilities(clip.video, roi, frames)
        masks = paste_stack(probs, roi, np.zeros(clip.video.shape[:2] + (len(frames),), bool), segmenter.threshold)
        examples += frame_examples(clip, frames, masks, segmenter.config.offsets)
    return examples


def scored_clips(val: list[Clip]) -> list[Clip]:
    """The validation videos a model is scored and its threshold chosen on: the experts, where there are any."""
    return [c for c in val if c.dataset == "expert"] or val


def check_quality(segmenter: Segmenter, run: Run) -> dict:
    """`mvcore.quality.assess` of the finished model; each warning is also an event.

    The pipeline IoU is the run's validation IoU at the chosen threshold (None when no stage was
    validated); the crop IoU is the last epoch's validation IoU (crops around the true box, threshold 0.5).
    """
    pipeline, train_clips, val, history = run.metrics["val_iou"], run.train_clips, run.val_clips, run.history
    if not val or pipeline is None:
        quality = {"warnings": ["no validation videos (too few clips of each kind to hold any out): "
                                "this model was not checked on clips it did not train on"]}
    else:
        crops = [row["val_iou"] for row in history if row["stage"] != "locator"]
        hits = [share_inside(segmenter.locate(c.video).roi, c) for c in val] if segmenter.locator is not None else []
        quality = assess(pipeline, crops[-1] if crops else None, fixed_box_iou(train_clips, scored_clips(val)), hits)
    for text in quality["warnings"]:
        run.on_event({"kind": "warning", "text": text})
    return quality


def evaluate_stage(run: "Run", model, locator, stage: str) -> dict:
    """Validation figures of the pipeline after a stage; expert clips decide the threshold."""
    config, val, on_event = run.config, run.val_clips, run.on_event
    if not val:
        return {}
    segmenter = run.segmenter(model, locator, config.threshold or 0.5)
    scores = pipeline_iou(segmenter, scored_clips(val))
    if config.threshold is None:
        threshold, best = choose_threshold(scores)
    else:
        threshold = config.threshold
        best = float(np.median(scores[min(scores, key=lambda t: abs(t - threshold))]))
    result = {"val_videos": [c.name for c in scored_clips(val)], "val_iou_at_0.5": float(np.median(scores[0.5])),
              "threshold": threshold, "val_iou": best}
    on_event(dict(result, kind="validation", stage=stage))
    return result


def train(clips: list[Clip], out_dir: Path, config: TrainConfig,
          on_event: Callable[[Event], None] = lambda e: None, init_dir: Path | None = None,
          placement: Placement | None = None) -> dict:
    """Run the whole recipe on labelled `clips` and write the model folder `out_dir`.

    `init_dir`: start from that model folder's weights (fine-tuning) instead of from scratch.
    `placement`: the devices to train on (mvcore.distribute.place; default one), recorded in the
    config and the start event. Returns the metrics written to `metrics.json`.
    """
    out_dir = Path(out_dir)
    placement = placement or place(1)
    labelled = clips_to_train(clips, out_dir, config)
    check_batch(config.batch_size, placement)
    started = time.time()
    run = start_run(labelled, config, on_event, placement)
    model, locator = starting_networks(run, init_dir)  # the locator is trained here, when there is one to train
    examples = collect_examples(run.train_clips, run.config.offsets)
    if init_dir and run.config.rehearsal:
        examples = with_rehearsal(examples, run.config.offsets)
    val_batches = validation_batches(run)
    if run.config.epochs_stage1 and not init_dir:
        fit_segmenter(run, model, locator, "stage1", examples, val_batches)
    fine_tune_on_experts(run, model, locator, examples, val_batches)
    threshold = final_threshold(run)
    run.metrics["quality"] = check_quality(run.segmenter(model, locator, threshold), run)
    run.metrics["train_seconds"] = round(time.time() - started, 1)
    write_model_dir(out_dir, model, locator, run.config, run.metrics, run.history, run.intensity)
    on_event({"kind": "done", "out_dir": str(out_dir), **{k: run.metrics[k] for k in ("threshold", "train_seconds")}})
    return run.metrics


@dataclass
class Run:
    """What one training run carries from step to step.

    config: the recipe, as fine-tuning (the starting model's shape) or the locator's fallback
    (whole frames) changed it; train_clips, val_clips: the split by video; history: one row per
    epoch of every stage; metrics: what `metrics.json` will hold; fallback_threshold: the
    threshold where no validation chooses one (the asked one, else the starting model's, else 0.5);
    intensity: the grey levels clips are matched to (mvcore.intensity), or None; placement: the
    devices the networks are built and fitted for (mvcore.distribute).
    """

    config: TrainConfig
    train_clips: list[Clip]
    val_clips: list[Clip]
    on_event: Callable[[Event], None]
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    fallback_threshold: float = 0.5
    intensity: np.ndarray | None = None
    placement: Placement | None = None

    def segmenter(self, model, locator, threshold: float) -> Segmenter:
        """The pipeline as prediction will run it, on the networks being trained."""
        return Segmenter(model, locator, self.config, threshold, intensity=self.intensity,
                         box_prior=self.metrics.get("locator", {}).get("box_prior"))


def clips_to_train(clips: list[Clip], out_dir: Path, config: TrainConfig) -> list[Clip]:
    """The labelled `clips`, once `out_dir` is free and the recipe known; InputError otherwise."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: already exists and is not empty; choose another --out or delete it")
    check_recipe(config)
    labelled = [c for c in clips if c.is_labelled]
    if not labelled:
        raise InputError("no labelled clips to train on (need AML train records with label and frames)")
    return labelled


def start_run(clips: list[Clip], config: TrainConfig, on_event: Callable[[Event], None], placement: Placement) -> Run:
    """Seed every random generator from `config.seed`, split `clips` by video and announce the run
    and its devices (`placement`, also recorded in the run's config)."""
    config = dataclasses.replace(config, devices=placement.count, strategy=placement.strategy)
    keras.utils.set_random_seed(config.seed)
    train_clips, val_clips = split_by_video(clips, config.val_fraction, config.seed)
    on_event({"kind": "start", "train_videos": len(train_clips), "val_videos": len(val_clips),
              "device": placement.describe(), **placement.record()})
    return Run(config, train_clips, val_clips, on_event,
               metrics={"train_videos": [c.name for c in train_clips], "recipe": dataclasses.asdict(config)},
               intensity=reference_percentiles(c.video for c in train_clips) if config.match_intensity else None,
               placement=placement)


def starting_networks(run: Run, init_dir: Path | None):
    """(segmenter, locator) to train: the model folder `init_dir`'s own when fine-tuning (its shape
    then replaces the one asked for), else a new segmenter after the locator (trained now, or none:
    see `located_or_whole_frame`). Sets the run's config and fallback threshold to match."""
    if init_dir:
        # its Keras networks alone: no ONNX copy is exported into the folder (training leaves it as it was)
        with run.placement.scope():
            start = Segmenter.load(init_dir, PredictConfig(runtime="keras"))
        run.config = dataclasses.replace(run.config, **{k: getattr(start.config, k) for k in ARCHITECTURE})
        run.fallback_threshold = run.config.threshold or start.threshold
        # a fine-tuning learns the user's own scanner as it is: no grey-level matching for the new model
        run.intensity = None
        run.metrics["start"] = str(init_dir)
        if start.box_prior is not None:  # where its training boxes lay, kept for the new model
            run.metrics["locator"] = {"box_prior": start.box_prior, "fallback": None}
        return start.model, start.locator
    run.fallback_threshold = run.config.threshold or 0.5
    model, locator = pretrained_networks(run)
    if run.config.locator_size:
        run.config, locator = located_or_whole_frame(run.config, run.train_clips, run.val_clips, run.on_event,
                                                     run.history, run.metrics, run.intensity, run.placement,
                                                     locator)
    return model or segmenter_network(run.config, run.placement), locator


def pretrained_networks(run: Run):
    """(segmenter, locator) a new training begins from: the bundled model's networks where
    `config.start` is 'bundled' and they have the recipe's shape (NETWORK_SHAPE), else (None, None)
    for random weights. A small or unusual set then starts from what the synthetic set taught
    (where the valve is, what a leaflet looks like) instead of overfitting from nothing. The
    start is recorded in `metrics['start']` and announced."""
    run.metrics["start"] = "scratch"
    if run.config.start != "bundled" or not is_model_dir(BUNDLED_MODEL):
        return None, None
    bundled = load_train_config(BUNDLED_MODEL / "config.json")
    if any(getattr(bundled, k) != getattr(run.config, k) for k in NETWORK_SHAPE):
        run.on_event({"kind": "message", "text": "starting from random weights: the bundled model's networks "
                                                 "have another shape than this recipe's"})
        return None, None
    start = Segmenter.load(BUNDLED_MODEL, PredictConfig(runtime="keras"))
    run.metrics["start"] = "bundled"
    run.on_event({"kind": "message", "text": f"starting from the bundled model's networks ({BUNDLED_MODEL})"})
    # copied into networks built for the run's devices (their batch norms synchronised where several)
    model, locator = segmenter_network(run.config, run.placement), locator_network(run.config, run.placement)
    model.set_weights(start.model.get_weights())
    locator.set_weights(start.locator.get_weights())
    return model, locator


def crop_settings(config: TrainConfig) -> dict:
    """The `SegmentationBatches` arguments that say how an example is cropped and batched."""
    return dict(size=config.crop_size, margin=config.margin, batch_size=config.batch_size,
                whole_frame=config.whole_frame)


def validation_batches(run: Run) -> SegmentationBatches | None:
    """The validation videos' annotated frames, each cropped exactly around its box, in order; None
    where no video is held out (the curves then have no validation figures, rather than a training
    example's)."""
    examples = collect_examples(run.val_clips, run.config.offsets)
    return SegmentationBatches(examples, **crop_settings(run.config)) if examples else None


def fit_segmenter(run: Run, model, locator, stage: str, examples: list[Example], val_batches) -> None:
    """Fit `model` for `stage` ('stage1' or 'stage2') on augmented crops of `examples`, then score the
    pipeline on the validation videos into `run.metrics[stage]`.

    Stage 1 draws expert examples `config.expert_weight` times as often and its batches are seeded
    with `config.seed`; stage 2 (experts only) with `config.seed + 1`.
    """
    config = run.config
    first = stage == "stage1"
    batches = SegmentationBatches(examples, augment=True, samples=config.samples_per_epoch,
                                  expert_weight=config.expert_weight if first else 1.0, flip=config.flip,
                                  scanner_aug=config.scanner_aug, texture_aug=config.texture_aug,
                                  sharpen_aug=config.sharpen_aug,
                                  still_share=config.still_share if len(config.offsets) > 1 else 0.0,
                                  centre=config.segmented_channel,
                                  seed=config.seed if first else config.seed + 1,
                                  **crop_settings(config))
    fit_stage(model, batches, val_batches, Stage.of(config, stage), run.on_event, run.history, run.placement)
    run.metrics[stage] = evaluate_stage(run, model, locator, stage)


def fine_tune_on_experts(run: Run, model, locator, examples: list[Example], val_batches) -> None:
    """Stage 2: the expert examples (with pseudo-labelled frames when `config.pseudo_frames`), the first
    `config.freeze_levels` encoder levels frozen. Skipped, with a message, without expert clips."""
    config = run.config
    experts = [e for e in examples if e.expert]
    if not experts:
        run.on_event({"kind": "message", "text": "no expert clips in the training data: stage 2 skipped"})
        return
    if not config.epochs_stage2:
        return
    if config.pseudo_frames:
        threshold = run.metrics.get("stage1", {}).get("threshold", run.fallback_threshold)
        experts += pseudo_label_examples(run.segmenter(model, locator, threshold),
                                         [c for c in run.train_clips if c.dataset == "expert"], config.pseudo_frames)
    freeze_encoder_levels(model, config.freeze_levels)
    fit_segmenter(run, model, locator, "stage2", experts, val_batches)


def with_rehearsal(examples: list[Example], offsets: tuple[int, ...]) -> list[Example]:
    """The expert `examples` (the user's frames; stage 2 draws no others) repeated to make at least
    half of the list, then the bundled synthetic training set's annotated frames (REHEARSAL_SET),
    counted as expert frames so that stage 2 draws them: fine-tuning on a few corrected frames then
    keeps what the model knew. Without expert examples, `examples` as they are (stage 2 is skipped)."""
    from .data import load_aml

    own = [e for e in examples if e.expert]
    if not own:
        return examples
    rehearsal = [dataclasses.replace(e, expert=True) for e in collect_examples(load_aml(REHEARSAL_SET), offsets)]
    return own * max(1, -(-len(rehearsal) // len(own))) + rehearsal


def final_threshold(run: Run) -> float:
    """The model's threshold and validation IoU, from its last validated stage (or the fallback
    threshold and None), recorded in `run.metrics`; returns the threshold."""
    last = run.metrics.get("stage2") or run.metrics.get("stage1") or {}
    run.metrics["threshold"] = last.get("threshold", run.fallback_threshold)
    run.metrics["val_iou"] = last.get("val_iou")
    return run.metrics["threshold"]
