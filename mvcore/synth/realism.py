"""`python -m mvcore.synth.realism`: image statistics of the one real echo beside synthetic clips.

The real cine is pydicom-data's SonoSite apical four-chamber loop (`color3d_jpeg_baseline.dcm`,
480 x 640 px, 120 frames, 0.51 mm/px) with the mitral valve marked on 16 frames
(tests/data/real/marks.json). Synthetic expert clips (the generator behind `make_train_record`,
at scale 1) are resized to the same 0.51 mm/px before measuring, so every figure in px compares
like with like. The real frames are only measured here, never trained on.

Regions, found the same way on both: the fan (pixels whose grey level changes over time, convex
hull), its core (20-80 % of the depth, the middle 70 % of the angle), and in the core the blood
pool (the darkest 25 % after a 3 mm blur) and the bright tissue (the brightest 20 %), which stands
for the myocardium. Speckle is what is left after subtracting a 3 mm blur; its grain is measured
inside the bright tissue, 3 px from its edges, so that walls do not count as grain.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..sector import fan_mask

REAL_MM_PER_PX = 0.5105  # the cine's PhysicalDeltaX, cm -> mm
MARKS = Path(__file__).resolve().parents[2] / "tests" / "data" / "real" / "marks.json"
SMOOTH_MM = 3.0          # blur that separates anatomy from speckle
SAMPLE_FRAMES = 16       # frames measured per clip (and consecutive pairs for decorrelation)


@dataclass
class Cine:
    """What is measured: video uint8 (H, W, T) at REAL_MM_PER_PX, and the mitral leaflets' centre
    lines, {frame: [(n, 2) float px (x, y), ...]}."""

    video: np.ndarray
    leaflets: dict


def real_cine() -> Cine:
    """The SonoSite cine and its hand-marked leaflets."""
    from pydicom.data import get_testdata_file

    from mvcore.data import load_inputs

    video = load_inputs([get_testdata_file("color3d_jpeg_baseline.dcm")])[0].video
    marks = json.loads(MARKS.read_text())["frames"]
    leaflets = {int(t): [np.asarray(line, np.float32) for line in m["leaflets"]] for t, m in marks.items()}
    return Cine(video, leaflets)


def synthetic_cine(seed: int, scale: float = 1.0) -> Cine:
    """The expert clip `make_train_record(default_rng(seed), 'expert', scale)` would give, resized
    (area average) to REAL_MM_PER_PX, with its true leaflet centre lines on the annotated frames."""
    from mvcore.synth.records import _make_clip

    clip = _make_clip(np.random.default_rng(seed), False, scale, observed=True)
    factor = 1 / (clip["px_per_mm"] * REAL_MM_PER_PX)
    rows, cols, n = clip["video"].shape
    size = (round(cols * factor), round(rows * factor))
    video = np.stack([cv2.resize(clip["video"][:, :, t], size, interpolation=cv2.INTER_AREA) for t in range(n)], 2)
    leaflets = {f: list(lines * factor) for f, lines in zip(clip["frames"], clip["centre_lines"])}
    return Cine(video, leaflets)


def _smooth(frame: np.ndarray, sigma_px: float) -> np.ndarray:
    """float32 Gaussian blur of a (H, W) frame."""
    return cv2.GaussianBlur(frame.astype(np.float32), (0, 0), sigma_px)


def _speckle(frame: np.ndarray) -> np.ndarray:
    """float32 (H, W): the frame less its SMOOTH_MM blur."""
    return frame.astype(np.float32) - _smooth(frame, SMOOTH_MM / REAL_MM_PER_PX)


def fan_geometry(fan: np.ndarray) -> dict:
    """Sector geometry from a fan mask bool (H, W): apex (x, y) px where the straight sides meet,
    half_angle and tilt (of the middle beam from vertical) in degrees, radius px (apex to the far
    arc), top_width px (the flat near-field edge; 0 for a point apex)."""
    rows = np.flatnonzero(fan.any(axis=1))
    top, bottom = rows[0], rows[-1]
    ys = np.arange(top + int(0.15 * (bottom - top)), top + int(0.45 * (bottom - top)))
    left = np.array([np.flatnonzero(fan[y])[0] for y in ys])
    right = np.array([np.flatnonzero(fan[y])[-1] for y in ys])
    (a_l, b_l), (a_r, b_r) = np.polyfit(ys, left, 1), np.polyfit(ys, right, 1)
    apex_y = (b_r - b_l) / (a_l - a_r)
    apex = np.array([a_l * apex_y + b_l, apex_y])
    points = np.argwhere(fan)[:, ::-1]
    top_row = np.flatnonzero(fan[top])
    return {"apex": apex, "half_angle": float(np.degrees(np.arctan(a_r) - np.arctan(a_l)) / 2),
            "tilt": float(np.degrees(np.arctan(a_r) + np.arctan(a_l)) / 2),
            "radius": float(np.linalg.norm(points - apex, axis=1).max()),
            "top_width": float(top_row[-1] - top_row[0])}


def fan_core(geometry: dict, shape: tuple, depths=(0.2, 0.8), angle_share: float = 0.7) -> np.ndarray:
    """bool `shape`: the part of the sector between `depths` (fractions of the radius) and within
    `angle_share` of the half angle around the middle beam."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    dx, dy = cols - geometry["apex"][0], rows - geometry["apex"][1]
    r = np.hypot(dx, dy) / geometry["radius"]
    angle = np.degrees(np.arctan2(dx, dy)) + geometry["tilt"]
    return (r >= depths[0]) & (r <= depths[1]) & (np.abs(angle) <= angle_share * geometry["half_angle"])


def tissue_and_blood(frame: np.ndarray, core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool (H, W) masks in the fan core: bright tissue (top 20 % after a 3 mm blur) and blood pool
    (bottom 25 %)."""
    smooth = _smooth(frame, SMOOTH_MM / REAL_MM_PER_PX)
    low, high = np.percentile(smooth[core], [25, 80])
    return core & (smooth >= high), core & (smooth <= low)


def grain_size(frame: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Speckle grain (x, y) px: full width at half maximum of the speckle's autocorrelation over
    `region` bool (H, W), along x and along y."""
    r0, c0 = np.argwhere(region).min(0)
    r1, c1 = np.argwhere(region).max(0) + 1
    mask = region[r0:r1, c0:c1].astype(np.float32)
    values = _speckle(frame)[r0:r1, c0:c1] * mask
    values -= mask * values.sum() / mask.sum()
    shape = (2 * mask.shape[0], 2 * mask.shape[1])
    power = np.fft.irfft2(np.abs(np.fft.rfft2(values, shape)) ** 2, shape)
    overlap = np.fft.irfft2(np.abs(np.fft.rfft2(mask, shape)) ** 2, shape)
    corr = power / np.maximum(overlap, 1)
    return _half_width(corr[0, :40] / corr[0, 0]), _half_width(corr[:40, 0] / corr[0, 0])


def _half_width(curve: np.ndarray) -> float:
    """Twice the (interpolated) lag where a falling curve (curve[0] = 1) first drops below 0.5."""
    k = int(np.argmax(curve < 0.5))
    return float(2 * (k - 1 + (curve[k - 1] - 0.5) / (curve[k - 1] - curve[k])))


def detail_share(frame: np.ndarray, region: np.ndarray) -> float:
    """Sharpness: std of the detail finer than 1 px over std of the detail finer than 3 mm, in
    `region` (lower is blurrier)."""
    fine = frame.astype(np.float32) - _smooth(frame, 1.0)
    return float(fine[region].std() / (_speckle(frame)[region].std() + 1e-6))


def leaflet_profile(frame: np.ndarray, lines: list) -> tuple[float, float, float]:
    """(peak, background, full width at half maximum px) of the mean grey-level profile across the
    leaflets' middle 60 %, each cross-section centred on its brightest point within 3 px of the
    centre line (`lines`: (n, 2) px (x, y) each)."""
    offsets = np.arange(-12, 12.5, 0.5, dtype=np.float32)
    profiles = []
    for line in lines:
        points, normals = resample_polyline(line, 2.0)
        keep = slice(int(0.2 * len(points)), max(int(0.8 * len(points)), int(0.2 * len(points)) + 1))
        coords = points[keep, None] + offsets[:, None] * normals[keep, None]
        sampled = cv2.remap(frame.astype(np.float32), coords[..., 0], coords[..., 1], cv2.INTER_LINEAR)
        for p in sampled:
            shift = int(np.argmax(p[18:31])) - 6
            profiles.append(np.roll(p, -shift)[6:-6])
    mean = np.mean(profiles, axis=0)
    centre = len(mean) // 2
    background = float(np.median(np.r_[mean[:4], mean[-4:]]))
    peak = float(mean[centre])
    above = mean >= (peak + background) / 2
    left = centre + 1 - int(np.argmin(above[centre::-1])) if not above[:centre + 1].all() else 0
    right = centre + int(np.argmin(above[centre:])) if not above[centre:].all() else len(mean)
    return peak, background, float((right - left) * 0.5)


def resample_polyline(line: np.ndarray, step: float, endpoint: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Points (m, 2) every `step` px along a polyline (n, 2) px (x, y) and the unit normals (m, 2)
    there; with `endpoint`, evenly spaced about `step` apart from the first point to the last."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    arc = np.r_[0, np.cumsum(seg)]
    s = (np.linspace(0, arc[-1], max(2, int(round(arc[-1] / step)) + 1)) if endpoint
         else np.arange(0, arc[-1], step))
    points = np.stack([np.interp(s, arc, line[:, 0]), np.interp(s, arc, line[:, 1])], 1)
    tangent = np.gradient(points, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    return points.astype(np.float32), np.stack([-tangent[:, 1], tangent[:, 0]], 1).astype(np.float32)


def frame_to_frame(video: np.ndarray, t: int, region: np.ndarray) -> float:
    """Correlation of the speckle of frames t and t + 1 over `region` bool (H, W); NaN when the
    region has under 100 px (a zoomed-in clip may not show the near field) or no speckle (black)."""
    a, b = _speckle(video[:, :, t])[region], _speckle(video[:, :, t + 1])[region]
    if a.size < 100 or min(a.std(), b.std()) < 1e-3:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _median(values) -> float:
    """Median of the values that are not NaN (NaN if none are)."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.median(kept)) if kept else float("nan")


def measure(cine: Cine) -> dict:
    """Every figure of one cine: {name: float}, in the order of the report."""
    video = cine.video
    fan = fan_mask(video)
    geometry = fan_geometry(fan)
    core = fan & fan_core(geometry, fan.shape)
    near = fan & fan_core(geometry, fan.shape, depths=(0.12, 0.25))
    sample = np.unique(np.linspace(0, video.shape[2] - 2, SAMPLE_FRAMES).astype(int))
    fan_values = video[:, :, sample][fan]
    figures = {f"grey p{q} in fan": float(np.percentile(fan_values, q)) for q in (5, 25, 50, 75, 95, 99)}
    per_frame = [_frame_figures(video, t, core, near) for t in sample]
    figures |= {key: _median([f[key] for f in per_frame]) for key in per_frame[0]}
    figures |= _leaflet_figures(video, cine.leaflets, core)
    rows, cols = fan.shape
    figures |= {"fan half angle (deg)": geometry["half_angle"], "fan tilt (deg)": geometry["tilt"],
                "fan radius (mm)": geometry["radius"] * REAL_MM_PER_PX,
                "apex x / width": geometry["apex"][0] / cols, "apex y / height": geometry["apex"][1] / rows,
                "fan bottom / height": (geometry["apex"][1] + geometry["radius"]) / rows,
                "near-field edge (mm)": geometry["top_width"] * REAL_MM_PER_PX}
    return figures


def _frame_figures(video: np.ndarray, t: int, core: np.ndarray, near: np.ndarray) -> dict:
    """The per-frame figures of frame t (speckle, blur, blood pool, decorrelation)."""
    frame = video[:, :, t]
    tissue, blood = tissue_and_blood(frame, core)
    tissue_level = float(np.median(frame[tissue]))
    grain_x, grain_y = grain_size(frame, cv2.erode(tissue.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    return {"speckle grain x (px)": grain_x, "speckle grain y (px)": grain_y,
            "fine-detail share (blur)": detail_share(frame, core),
            "tissue median": tissue_level,
            "speckle contrast in tissue": float(_speckle(frame)[tissue].std()) / max(tissue_level, 1.0),
            "blood mean": float(frame[blood].mean()), "blood std": float(frame[blood].std()),
            "blood mean / tissue": float(frame[blood].mean()) / max(tissue_level, 1.0),
            "t->t+1 corr, tissue": frame_to_frame(video, t, tissue),
            "t->t+1 corr, blood": frame_to_frame(video, t, blood),
            "t->t+1 corr, near field": frame_to_frame(video, t, near)}


def _leaflet_figures(video: np.ndarray, leaflets: dict, core: np.ndarray) -> dict:
    """Leaflet brightness (over the bright-tissue median, median and spread over the labelled
    frames), contrast and thickness."""
    ratios, contrasts, widths = [], [], []
    for t, lines in leaflets.items():
        frame = video[:, :, t]
        tissue, _ = tissue_and_blood(frame, core)
        level = max(float(np.median(frame[tissue])), 1.0)
        peak, background, width = leaflet_profile(frame, lines)
        ratios.append(peak / level)
        contrasts.append((peak - background) / level)
        widths.append(width)
    return {"leaflet / tissue": float(np.median(ratios)),
            "leaflet / tissue, frame p10": float(np.percentile(ratios, 10)),
            "leaflet / tissue, frame p90": float(np.percentile(ratios, 90)),
            "leaflet contrast / tissue": float(np.median(contrasts)),
            "leaflet thickness FWHM (mm)": float(np.median(widths)) * REAL_MM_PER_PX}


def report(real: dict, synthetic: list[dict]) -> str:
    """Markdown table: figure | real | synthetic median | synthetic range."""
    lines = ["| figure | real | synthetic (median) | synthetic (min - max) |", "|---|---|---|---|"]
    for key, value in real.items():
        values = [s[key] for s in synthetic if not np.isnan(s[key])]
        lines.append(f"| {key} | {value:.3g} | {_median(values):.3g} | {min(values):.3g} - {max(values):.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the real cine's figures beside those of synthetic expert clips."""
    parser = argparse.ArgumentParser(prog="python -m mvcore.synth.realism", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)),
                        help="seeds of the synthetic clips to measure")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the synthetic clips are rendered at")
    args = parser.parse_args(argv)
    real = measure(real_cine())
    synthetic = [measure(synthetic_cine(seed, args.scale)) for seed in args.seeds]
    print(report(real, synthetic))


if __name__ == "__main__":
    main()
