"""Image formation: a reflectivity map of the heart in tissue coordinates, sampled along the beams
of a sector scan (polar grid) with scatterers that move with the tissue and are partly renewed
every frame, blurred by the point-spread function, enveloped, log-compressed and scan-converted
with `cv2.remap`; plus burned-in text and ECG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _ribbon
from mvcore.synth.motion import Pose, _along_beam, _probe_to_tissue
from mvcore.synth.scan import Scan, smooth_field

MM_PER_TISSUE_PX = 0.5
TISSUE_ORIGIN_MM = np.array([-95.0, -30.0], np.float32)  # tissue mm at tissue-map pixel (0, 0)
TISSUE_SHAPE = (420, 320)                                 # rows (y), cols (x) of the tissue map


def _to_map_px(points_mm: np.ndarray) -> np.ndarray:
    """Tissue mm (..., 2) -> int32 tissue-map px in 1/16 px (for cv2 drawing with shift=4)."""
    return np.round((points_mm - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX * 16).astype(np.int32)


def _tissue_map(rng: np.random.Generator, heart: Heart) -> tuple[np.ndarray, np.ndarray]:
    """Static reflectivity map float32 TISSUE_SHAPE (myocardium ~1, blood ~0.01), no leaflets, and
    the blood pools bool TISSUE_SHAPE."""
    lv = heart.levels
    res = MM_PER_TISSUE_PX
    refl = lv["outside"] * np.exp(0.8 * smooth_field(rng, TISSUE_SHAPE, (8 / res, 8 / res)))
    walls = np.zeros(TISSUE_SHAPE, np.uint8)
    for outline, wall in heart.chambers:
        one = cv2.fillPoly(np.zeros_like(walls), [_to_map_px(outline)], 1, cv2.LINE_8, 4)
        size = 2 * int(round(wall / res)) + 1
        walls |= cv2.dilate(one, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    walls = cv2.morphologyEx(walls, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21)))
    ring = cv2.dilate(walls, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > walls
    myo = lv["myocardium"] * np.exp(0.45 * smooth_field(rng, TISSUE_SHAPE, (5 / res, 5 / res)))
    refl = np.where(walls > 0, myo, refl)
    refl[ring] = lv["pericardium"] * rng.uniform(0.6, 1.0)
    blood = np.zeros(TISSUE_SHAPE, np.float32)
    for outline, _ in heart.chambers:  # one call each: fillPoly leaves overlaps of a list empty
        cv2.fillPoly(blood, [_to_map_px(outline)], 1.0, cv2.LINE_8, 4)
    refl = np.where(blood > 0, lv["blood"] * (1 + 0.5 * smooth_field(rng, TISSUE_SHAPE, (4, 4))).clip(0.2), refl)
    papillary = _to_map_px(np.array([heart.y_av * 0.22, heart.y_av * 0.62]))
    cv2.ellipse(refl, tuple(papillary), (6 * 16 // 1, 14 * 16), 8, 0, 360, 0.7, -1, cv2.LINE_8, 4)
    for valve in heart.valves.values():
        for hinge in valve.hinges:
            cv2.circle(refl, tuple(_to_map_px(hinge)), 3 * 16, 1.4, -1, cv2.LINE_8, 4)
    if rng.random() < 0.15:
        cv2.circle(refl, tuple(_to_map_px(heart.valves["mitral"].hinges[1])), 6 * 16, 4.0, -1, cv2.LINE_8, 4)
    return cv2.GaussianBlur(refl.astype(np.float32), (0, 0), 0.7), (blood > 0) & (refl < 0.2)


def _draw_leaflet(out: np.ndarray, leaflet: np.ndarray, half_width: np.ndarray, level: float) -> None:
    """Draw one leaflet into the tissue map `out` float32 TISSUE_SHAPE, in place: a ribbon around its
    centre line `leaflet` (N, 2) tissue mm, `half_width` (N,) mm, with a rounded tip, at reflectivity `level`."""
    cv2.fillPoly(out, [_to_map_px(_ribbon(leaflet, half_width))], level, cv2.LINE_AA, 4)
    tip_radius = int(16 * half_width[-1] / MM_PER_TISSUE_PX)
    cv2.circle(out, tuple(_to_map_px(leaflet[-1])), tip_radius, level, -1, cv2.LINE_AA, 4)


def _draw_leaflets(refl: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """Copy of the tissue map `refl` with every valve's leaflets drawn at this pose."""
    out = refl.copy()
    for name, valve in heart.valves.items():
        nodes = valve.nodes(pose.openings[name])
        seen = pose.visibility[name]
        levels = valve.frame_brightness(seen, _along_beam(nodes, heart, pose))
        for leaflet, half_width, level in zip(nodes, valve.frame_half_width(seen), levels):
            _draw_leaflet(out, leaflet, half_width, float(level))
        for leaflet, node in valve.spots:
            cv2.circle(out, tuple(_to_map_px(nodes[leaflet, node])), 16 * 2, 2 * valve.brightness, -1, cv2.LINE_8, 4)
    return out


@dataclass
class Speckle:
    """Scatterers (I and Q) float32 TISSUE_SHAPE + (2,) in tissue coordinates, moving with the
    tissue; `keep` float32 TISSUE_SHAPE + (2,): the share of a scatterer's amplitude that survives
    a frame (near 1 in still tissue, near 0 in flowing blood), the rest is renewed from `pool`,
    white noise float32 (2 x rows, 2 x cols, 2) read at a random offset each frame."""

    field: np.ndarray
    keep: np.ndarray
    pool: np.ndarray

    def __post_init__(self):
        self.renew = np.sqrt(1 - self.keep ** 2)

    def step(self, rng: np.random.Generator) -> None:
        """Move on one frame: field <- keep * field + sqrt(1 - keep^2) * fresh scatterers."""
        rows, cols = TISSUE_SHAPE
        r, c = rng.integers(0, rows), rng.integers(0, cols)
        self.field *= self.keep
        self.field += self.renew * self.pool[r:r + rows, c:c + cols]


def _sample_speckle(rng: np.random.Generator, blood: np.ndarray, fps: float) -> Speckle:
    """Scatterers that decorrelate from frame to frame: in tissue with a time constant of 0.05-0.5 s
    (out-of-plane motion), in the blood pools (bool TISSUE_SHAPE) almost at once."""
    tissue_keep = np.exp(-1 / (fps * rng.uniform(0.05, 0.5)))
    keep = np.where(blood, rng.uniform(0, 0.15), tissue_keep).astype(np.float32)
    pool = rng.standard_normal((2 * TISSUE_SHAPE[0], 2 * TISSUE_SHAPE[1], 2), dtype=np.float32)
    return Speckle(rng.standard_normal(TISSUE_SHAPE + (2,), dtype=np.float32), np.repeat(keep[..., None], 2, 2), pool)


def _render_frame(scan: Scan, grid, maps, refl, speckle: Speckle, heart: Heart, pose: Pose, rng) -> np.ndarray:
    """One uint8 (rows, cols) frame: sample reflectivity and scatterers along the beams, add side-lobe
    haze, fog and the probe's still clutter, blur by the PSF, envelope, add electronic noise, log-compress,
    smooth the speckle and scan-convert. grid: probe mm (n_depth, n_beams, 2); maps: the scan conversion maps."""
    u = (_probe_to_tissue(grid, heart, pose) - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX
    mx, my = u[..., 0], u[..., 1]
    amp = cv2.remap(refl, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    amp += scan.haze * cv2.GaussianBlur(amp, (0, 0), sigmaX=scan.haze_beams, sigmaY=2) + scan.fog
    field = cv2.remap(speckle.field, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    field = cv2.GaussianBlur(field * amp[..., None] + scan.clutter, (0, 0), sigmaX=scan.psf[1], sigmaY=scan.psf[0])
    env = cv2.magnitude(field[..., 0], field[..., 1]) * np.float32(np.sqrt(4 * np.pi * scan.psf[0] * scan.psf[1]))
    noise = scan.floor * rng.standard_normal(env.shape, dtype=np.float32)
    db = 20 * np.log10(cv2.magnitude(env, noise) + 1e-6)
    db = cv2.addWeighted(db, 1 - scan.smoothing, cv2.GaussianBlur(db, (0, 0), 1.5), scan.smoothing, 0) + scan.gain_db
    level = np.clip((db - scan.top_db + scan.dyn_range_db) / scan.dyn_range_db, 0, 1) ** scan.gamma
    polar = (255 * level).astype(np.uint8)
    return cv2.remap(polar, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _ecg_wave(phase: np.ndarray) -> np.ndarray:
    """ECG amplitude (R = 1) at cardiac phases `phase` (R wave at 0): P, QRS and T as Gaussians."""
    waves = [(-0.12, 0.02, 0.15), (-0.015, 0.006, -0.15), (0.0, 0.007, 1.0), (0.015, 0.006, -0.25), (0.3, 0.04, 0.3)]
    d = (phase[..., None] - np.array([w[0] for w in waves]) + 0.5) % 1 - 0.5
    return (np.array([w[2] for w in waves]) * np.exp(-0.5 * (d / np.array([w[1] for w in waves])) ** 2)).sum(-1)


def _burned_in(rng, scan: Scan, heart: Heart, fps: float, n_frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Static overlay uint8 (rows, cols): text, depth dots, grey bar and maybe an ECG trace; and the
    ECG cursor px (n_frames, 2) int, or None without a trace."""
    overlay = np.zeros((scan.rows, scan.cols), np.uint8)
    font = scan.rows / 900 * rng.uniform(0.8, 1.2)
    lines = [f"HR {heart.bpm:.0f} bpm", f"{fps:.0f} Hz", f"{scan.depth_mm / 10:.0f} cm",
             str(rng.choice(["A4C", "Apical", "MV", "Adult Echo"])), f"G {rng.integers(40, 70)}  C {rng.integers(40, 70)}"]
    for i, text in enumerate(rng.permutation(lines)[: rng.integers(2, 6)]):
        org = (int(scan.cols * 0.02), int((i + 1.3) * 30 * font))
        cv2.putText(overlay, str(text), org, cv2.FONT_HERSHEY_SIMPLEX, font, int(rng.integers(150, 256)), 1, cv2.LINE_AA)
    edge = scan.half_angle + scan.steer
    for depth in np.arange(10, scan.depth_mm, 10):
        x = scan.apex[0] + (depth * np.sin(edge) + 4) * scan.px_per_mm
        y = scan.apex[1] + depth * np.cos(edge) * scan.px_per_mm
        cv2.circle(overlay, (int(min(x, scan.cols - 4)), int(y)), max(1, scan.rows // 300), 200, -1)
    bar = np.linspace(255, 0, scan.rows // 4).astype(np.uint8)[:, None]
    overlay[scan.rows // 8: scan.rows // 8 + len(bar), scan.cols - 12: scan.cols - 6] = bar
    if rng.random() < 0.4:
        return overlay, None
    xs = np.linspace(0.08, 0.92, 4 * scan.cols) * scan.cols
    t = np.linspace(0, n_frames / fps, len(xs))
    y = scan.rows * (0.94 - 0.05 * _ecg_wave((heart.phase0 + t * heart.bpm / 60) % 1))
    cv2.polylines(overlay, [np.stack([xs, y], 1).astype(np.int32)], False, 220, 1, cv2.LINE_AA)
    idx = np.minimum((np.arange(n_frames) / n_frames * len(xs)).astype(int), len(xs) - 1)
    return overlay, np.stack([xs[idx], y[idx]], 1).astype(int)
