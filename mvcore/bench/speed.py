"""`mvcore bench speed`: how fast the default model is next to the seed's architecture.

Each model is measured in its own process, so its peak resident memory is that model's with the
framework around it (TensorFlow alone takes several hundred MB). Run one measurement directly with
`python -m mvcore.bench.speed default|seed|long WORK_DIR`.

GFLOP/s counts the convolutions' multiply-adds twice (`conv_flops`) over the measured time: it is
what the model achieves, and can never pass the CPU's peak (2 x 8-wide FMA per core per cycle on
AVX2: 32 FLOP per cycle per core in float32).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLIP_SHAPE = (600, 800)
CLIP_FRAMES = 100
LONG_FRAMES = 1000


def conv_flops(model) -> int:
    """Multiply-adds x 2 of every convolution for one input frame (batch norm and ReLU ignored)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Conv2DTranspose"):
            k = int(np.prod(layer.kernel_size))
            c_in = layer.input.shape[-1]
            h, w, c_out = layer.output.shape[1:]
            per_output = k * c_in if kind == "Conv2D" else k * c_in / np.prod(layer.strides)
            total += int(2 * h * w * c_out * per_output)
    return total


def seconds_per_call(fn, min_seconds: float = 3.0) -> float:
    """Mean wall time of `fn()` after one warm-up call, repeated for at least `min_seconds`."""
    fn()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - started) / calls


def synthetic_clip_file(work: Path, frames: int, seed: int = 7) -> Path:
    """A synthetic 600 x 800 echo clip of `frames` frames as an H.264 MP4 (made once, then reused);
    each `seed` gives another clip."""
    from ..synth import make_test_record
    from ..transforms import resize_stack
    from ..video import write_mp4

    path = work / f"echo-600x800-{frames}-seed{seed}.mp4"
    if not path.is_file():
        work.mkdir(parents=True, exist_ok=True)
        record, _ = make_test_record(np.random.default_rng(seed), scale=1.0)
        video = resize_stack(record["video"], *CLIP_SHAPE)
        video = video[:, :, np.arange(frames) % video.shape[2]]
        write_mp4((np.repeat(video[:, :, t, None], 3, axis=2) for t in range(frames)), path, record["fps"])
    return path


def speed_segmenter(which: str):
    """The bundled default model, or the seed's architecture (untrained weights: speed only)."""
    from ..config import TrainConfig
    from ..model import create_model
    from ..predict import Segmenter

    if which == "seed":
        config = TrainConfig.preset_config("baseline")
        return Segmenter(create_model("seed_unet", size=config.crop_size, channels=1), None, config, 0.9)
    return Segmenter.load()


def fitting_step_seconds(model, config) -> dict:
    """Seconds per training step of the recipe's fit (mvcore.fit: each epoch's augmented batches drawn
    into arrays) and of Keras fitting the same PyDataset directly, on crops of a synthetic amateur
    clip; the second epoch of each is timed (the first builds the graph)."""
    import keras

    from ..batches import SegmentationBatches, collect_examples
    from ..clip import Clip
    from ..fit import EpochReporter, Stage, fit_stage
    from ..losses import LOSSES
    from ..synth import make_train_record

    r = make_train_record(np.random.default_rng(3), "amateur")
    clip = Clip(r["name"], r["video"], label=r["label"], frames=r["frames"], box=r["box"], dataset="amateur")
    examples = collect_examples([clip], config.offsets)
    shape = dict(size=config.crop_size, margin=config.margin, batch_size=16, whole_frame=config.whole_frame)

    def batches():
        return SegmentationBatches(examples, augment=True, samples=8 * 16, scanner_aug=config.scanner_aug, **shape)

    recipe, direct = [], []
    fit_stage(keras.models.clone_model(model), batches(), SegmentationBatches(examples[:1], **shape),
              Stage("speed", 2, 1e-3, config.loss), lambda event: None, recipe)
    copy = keras.models.clone_model(model)
    copy.compile(optimizer="adam", loss=LOSSES[config.loss])
    copy.fit(batches(), epochs=2, verbose=0, callbacks=[EpochReporter("speed", 2, lambda event: None, direct)])
    return {"fit_step_s": recipe[-1]["seconds"] / 8, "pydataset_step_s": direct[-1]["seconds"] / 8}


def measure(which: str, work: Path) -> dict:
    """All figures for one model, in this process: prediction's first, then training's.

    `mvcore predict` never trains, and TensorFlow's training threads left behind slow what runs
    after them in the same process (end to end 44-46 frames/s measured after the training figures,
    51-52 before), so prediction is timed as a predicting process runs it.
    """
    segmenter = speed_segmenter(which)
    figures = {"params": segmenter.model.count_params(), "gflops_per_frame": conv_flops(segmenter.model) / 1e9}
    figures.update(prediction_figures(segmenter, which, work))
    figures["model_gflops_per_s"] = figures["model_fps"] * figures["gflops_per_frame"]
    figures.update(training_figures(segmenter.model, segmenter.config, which))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def model_input(config, batch: int) -> np.ndarray:
    """Random crops float32 (batch, S, S, C) for the segmenter of `config`."""
    size, channels = config.crop_size, len(config.offsets)
    return np.random.default_rng(0).random((batch, size, size, channels), dtype=np.float32)


def prediction_figures(segmenter, which: str, work: Path) -> dict:
    """Frames/s of the network alone (batch 32), and end to end on the 100-frame clip: decoding,
    locating, segmenting, without and with the overlay MP4/GIF/CSV."""
    from ..data import load_inputs
    from ..export import write_clip_outputs

    x = model_input(segmenter.config, 32)
    clip_path = synthetic_clip_file(work, CLIP_FRAMES)

    def end_to_end(with_overlay: bool):
        clip = load_inputs([clip_path])[0]
        result = segmenter.segment(clip)
        if with_overlay:
            write_clip_outputs(clip, result, work / f"overlay-{which}")

    return {"model_fps": 32 / seconds_per_call(lambda: segmenter.run_model(x)),
            "e2e_fps": CLIP_FRAMES / seconds_per_call(lambda: end_to_end(False), min_seconds=4.0),
            "e2e_overlay_fps": CLIP_FRAMES / seconds_per_call(lambda: end_to_end(True), min_seconds=4.0)}


def training_figures(model, config, which: str) -> dict:
    """Seconds per training step of a batch of 16, and (default model) of the recipe's fit."""
    import keras

    x = model_input(config, 16)
    trainable = keras.models.clone_model(model)
    trainable.compile(optimizer="adam", loss="binary_crossentropy")
    y = (x[..., :1] > 0.5).astype(np.float32)
    figures = {"train_step_s": seconds_per_call(lambda: trainable.train_on_batch(x, y), min_seconds=1.0)}
    if which == "default":  # the seed architecture's 124 M parameters would take minutes per epoch
        figures.update(fitting_step_seconds(model, config))
    return figures


def measure_long_clip(work: Path) -> dict:
    """Segment a 1,000-frame 600 x 800 clip with the default model: frames/s and peak memory."""
    from ..data import load_inputs

    segmenter = speed_segmenter("default")
    clip = load_inputs([synthetic_clip_file(work, LONG_FRAMES)])[0]
    started = time.perf_counter()
    segmenter.segment(clip)
    return {"frames": clip.n_frames, "fps": clip.n_frames / (time.perf_counter() - started),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(which: str, work: Path) -> dict:
    """Run one measurement in a fresh Python process and return its figures."""
    run = subprocess.run([sys.executable, "-m", "mvcore.bench.speed", which, str(work)],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


ROWS = [("params", "parameters", "{:,.0f}"), ("gflops_per_frame", "GFLOPs per frame", "{:.2f}"),
        ("train_step_s", "training s per step (batch 16)", "{:.3f}"),
        ("fit_step_s", "training s per step as the recipe fits (augmented crops, arrays per epoch)", "{:.3f}"),
        ("pydataset_step_s", "the same, Keras fitting the PyDataset itself (tf.data generator)", "{:.3f}"),
        ("model_fps", "frames/s model only (batch 32)", "{:.0f}"),
        ("model_gflops_per_s", "GFLOP/s achieved, model only", "{:.0f}"),
        ("e2e_fps", "frames/s end to end, 100 x 600 x 800 MP4", "{:.0f}"),
        ("e2e_overlay_fps", "frames/s end to end + overlay MP4/GIF/CSV", "{:.0f}"),
        ("peak_rss_mb", "peak resident memory (MB)", "{:.0f}")]


def speed(work: Path, quick: bool = False) -> None:
    """Print the speed table (markdown) for the default model and the seed's architecture, then the
    long clip; `quick`: the default model's column alone (to compare thread settings, say)."""
    default = in_subprocess("default", work)
    if quick:
        print("| figure | default |\n|---|---|")
        for key, label, fmt in ROWS:
            print(f"| {label} | {fmt.format(default[key])} |")
        return
    seed = in_subprocess("seed", work)
    print("| figure | default | seed architecture | default / seed |\n|---|---|---|---|")
    for key, label, fmt in ROWS:
        if key in seed:
            print(f"| {label} | {fmt.format(default[key])} | {fmt.format(seed[key])} | {default[key] / seed[key]:.3g} |")
        else:
            print(f"| {label} | {fmt.format(default[key])} | not measured | |")
    long = in_subprocess("long", work)
    print(f"\nlong clip: {long['frames']} frames 600 x 800 at {long['fps']:.0f} frames/s, "
          f"peak resident memory {long['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    which, work = sys.argv[1], Path(sys.argv[2])
    figures = measure_long_clip(work) if which == "long" else measure(which, work)
    print(json.dumps(figures))
