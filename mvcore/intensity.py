"""Intensity matching: a clip's grey levels mapped onto those of the clips its model was trained on.

Scanners and their settings (gain, dynamic range, compression curve) make the same anatomy
brighter or darker: inside the scan sector of the real SonoSite cine the median grey level is 14,
where the synthetic training clips' is 29. A network trained on one brightness reads a darker
scanner's leaflets as faint and marks a sliver of them. So a model folder keeps the grey levels at
101 percentiles (0, 1, ..., 100) of its training clips' sectors (`intensity.json`), and before a
clip is located and segmented, its own percentiles are mapped onto those by a monotone lookup
table: histogram matching, as Nyul and Udupa standardise MR intensities across scanners.

The table is applied to the locator's small frames and the segmenter's crops, not the whole video.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import InputError

LEVELS = np.linspace(0.0, 100.0, 101)  # percentiles kept per model
SECTOR_LEVEL = 2  # a pixel brighter than this on some frame lies inside the scan sector
SAMPLE_FRAMES = 16  # frames whose sector pixels are counted...
SAMPLE_STRIDE = 2  # ...every second pixel of every second row (a quarter of the memory read)


def sector_percentiles(video: np.ndarray) -> np.ndarray | None:
    """Grey levels float64 (101,) at LEVELS of the sector's pixels (every SAMPLE_STRIDE-th of rows
    and columns) in up to SAMPLE_FRAMES evenly spaced frames of `video` uint8 (H, W, T); None when
    nothing there is brighter than SECTOR_LEVEL."""
    frames = np.unique(np.linspace(0, video.shape[2] - 1, min(SAMPLE_FRAMES, video.shape[2])).round().astype(int))
    sample = video[::SAMPLE_STRIDE, ::SAMPLE_STRIDE][:, :, frames]
    sector = sample.max(axis=2) > SECTOR_LEVEL
    if not sector.any():
        return None
    cumulative = np.cumsum(np.bincount(sample[sector].ravel(), minlength=256))
    wanted = np.maximum(np.ceil(LEVELS / 100.0 * cumulative[-1]), 1)  # pixels at or below each percentile
    return np.searchsorted(cumulative, wanted).astype(np.float64)


def reference_percentiles(videos) -> np.ndarray:
    """The median over training clips of their sector percentiles: float64 (101,).

    `videos`: uint8 (H, W, T) arrays, at least one with a lit sector.
    """
    found = [p for p in (sector_percentiles(v) for v in videos) if p is not None]
    if not found:
        raise ValueError("no training clip has a lit scan sector to take grey levels from")
    return np.median(found, axis=0)


def matching_table(video: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """uint8 (256,) lookup table taking `video`'s sector percentiles to `reference`'s; None (leave
    the clip as it is) when `video` has no lit sector. Flat stretches of the clip's percentiles
    (many pixels at one grey level) map to the middle of the reference levels they span."""
    own = sector_percentiles(video)
    if own is None:
        return None
    levels, first = np.unique(own, return_index=True)
    last = np.r_[first[1:] - 1, len(own) - 1]
    targets = (reference[first] + reference[last]) / 2
    table = np.interp(np.arange(256), levels, targets)
    return np.round(table).clip(0, 255).astype(np.uint8)


def save_reference(reference: np.ndarray, path: Path) -> None:
    """Write `intensity.json`: the percentile levels and the grey level at each."""
    data = {"percentiles": LEVELS.tolist(), "grey_levels": [round(float(v), 3) for v in reference]}
    Path(path).write_text(json.dumps(data) + "\n")


def load_reference(path: Path) -> np.ndarray | None:
    """The grey levels float64 (101,) of an `intensity.json`; None where the file is missing."""
    path = Path(path)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("percentiles") != LEVELS.tolist() or len(data.get("grey_levels", [])) != len(LEVELS):
        raise InputError(f"{path}: not an intensity file of {len(LEVELS)} percentiles")
    return np.asarray(data["grey_levels"], dtype=np.float64)


def write_reference(model_dir: Path, training_sets: list[Path]) -> Path:
    """(Re)write `model_dir`/intensity.json from the AML pickles the model was trained on; for model
    folders trained before the file existed. Returns its path."""
    from .data import load_aml

    reference = reference_percentiles(clip.video for path in training_sets for clip in load_aml(path))
    path = Path(model_dir) / "intensity.json"
    save_reference(reference, path)
    return path


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mvcore.intensity",
                                     description="write a model folder's intensity.json from its training set")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("train", type=Path, nargs="+", help="the AML pickles the model was trained on")
    args = parser.parse_args()
    print(f"wrote {write_reference(args.model_dir, args.train)}")
