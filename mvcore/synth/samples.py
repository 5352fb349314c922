"""`python -m mvcore.synth.samples [FOLDER]`: (re)write the bundled sample clips of `samples/`.

Two MP4 clips and two small AML pickles, what the app offers before anything is uploaded and what
its tests run on. Rerun it when the generator changes; the output is deterministic for a seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mvcore.synth.dataset import write_records
from mvcore.synth.records import make_test_record, make_train_record
from mvcore.synth.stress import cut_to_frames

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_SEED = 11


def write_samples(folder: Path = SAMPLES_DIR, seed: int = SAMPLE_SEED) -> list[Path]:
    """Write the samples into `folder`; returns their paths.

    echo_expert.mp4 (high-resolution clip at half size), echo_amateur.mp4 (112 x 112),
    train_small.pkl (3 amateur + 2 expert labelled clips, expert at scale 0.25, each cut to the
    frames around its annotations) and test_small.pkl (2 unlabelled 60-frame clips, for the
    submission CSV). About 4 MB in all.
    """
    from mvcore.video import write_mp4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rngs = iter(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(200))
    written = []
    for name, dataset, scale in (("echo_expert", "expert", 0.5), ("echo_amateur", "amateur", 1.0)):
        record = make_train_record(next(rngs), dataset, scale)
        video = record["video"]
        frames = (np.repeat(video[:, :, t, None], 3, axis=2) for t in range(video.shape[2]))
        written.append(write_mp4(frames, folder / f"{name}.mp4", record["fps"]))
    train = [_short_train_record(rngs, dataset) for dataset in ["amateur"] * 3 + ["expert"] * 2]
    test = []
    for _ in range(2):
        record = make_test_record(next(rngs), 0.25)[0]
        test.append(dict(record, video=np.ascontiguousarray(record["video"][:, :, :60])))
    for name, records in (("train_small.pkl", train), ("test_small.pkl", test)):
        written.append(write_records(records, folder / name, compresslevel=9))
    return written


def _short_train_record(rngs, dataset: str, max_span: int = 60, margin: int = 8) -> dict:
    """A synthetic train record whose annotated frames lie within `max_span` frames, cut to
    those frames plus `margin` on each side (labels and frame indices shifted to match)."""
    while True:
        record = make_train_record(next(rngs), dataset, 0.25)
        frames = record["frames"]
        if max(frames) - min(frames) <= max_span:
            break
    lo = max(0, min(frames) - margin)
    hi = min(record["video"].shape[2], max(frames) + margin + 1)
    return cut_to_frames(record, list(range(lo, hi)))


if __name__ == "__main__":
    for path in write_samples(*map(Path, sys.argv[1:2])):
        print(f"wrote {path}")
