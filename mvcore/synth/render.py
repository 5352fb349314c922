"""Image formation: a reflectivity map of the heart in tissue coordinates, sampled along the beams
of a sector scan (polar grid) with moving scatterers, blurred by the point-spread function,
enveloped, log-compressed and scan-converted with `cv2.remap`; plus burned-in text and ECG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _ribbon
from mvcore.synth.motion import Pose, _probe_to_tissue

MM_PER_TISSUE_PX = 0.5
TISSUE_ORIGIN_MM = np.array([-95.0, -30.0], np.float32)  # tissue mm at tissue-map pixel (0, 0)
TISSUE_SHAPE = (420, 320)                                 # rows (y), cols (x) of the tissue map


@dataclass
class Scan:
    """Sector geometry and image formation of one clip.

    rows, cols: image size px; apex: (col, row) px of the probe; px_per_mm; depth_mm; half_angle:
    rad; n_depth, n_beams: polar grid; psf: Gaussian blur sigma in polar samples (axial, lateral);
    gain_db: (n_depth, n_beams) time-gain and beam profile in dB; dyn_range_db, top_db: log
    compression window; gamma: display curve exponent; floor: electronic noise amplitude.
    """

    rows: int
    cols: int
    apex: tuple
    px_per_mm: float
    depth_mm: float
    half_angle: float
    n_depth: int
    n_beams: int
    psf: tuple
    gain_db: np.ndarray
    dyn_range_db: float
    top_db: float
    gamma: float
    floor: float


def _to_map_px(points_mm: np.ndarray) -> np.ndarray:
    """Tissue mm (..., 2) -> int32 tissue-map px in 1/16 px (for cv2 drawing with shift=4)."""
    return np.round((points_mm - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX * 16).astype(np.int32)


def _smooth_noise(rng: np.random.Generator, shape: tuple, sigma_px: float) -> np.ndarray:
    """Smooth Gaussian random field float32 `shape` with unit standard deviation."""
    field = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), sigma_px)
    return field / (field.std() + 1e-6)


def _tissue_map(rng: np.random.Generator, heart: Heart) -> np.ndarray:
    """Static reflectivity map float32 TISSUE_SHAPE (myocardium ~1, blood ~0.01), no leaflets."""
    lv = heart.levels
    res = MM_PER_TISSUE_PX
    refl = lv["outside"] * np.exp(0.8 * _smooth_noise(rng, TISSUE_SHAPE, 8 / res))
    walls = np.zeros(TISSUE_SHAPE, np.uint8)
    for outline, wall in heart.chambers:
        one = cv2.fillPoly(np.zeros_like(walls), [_to_map_px(outline)], 1, cv2.LINE_8, 4)
        size = 2 * int(round(wall / res)) + 1
        walls |= cv2.dilate(one, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    walls = cv2.morphologyEx(walls, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21)))
    ring = cv2.dilate(walls, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > walls
    myo = lv["myocardium"] * np.exp(0.45 * _smooth_noise(rng, TISSUE_SHAPE, 5 / res))
    refl = np.where(walls > 0, myo, refl)
    refl[ring] = lv["pericardium"] * rng.uniform(0.6, 1.0)
    blood = np.zeros(TISSUE_SHAPE, np.float32)
    for outline, _ in heart.chambers:  # one call each: fillPoly leaves overlaps of a list empty
        cv2.fillPoly(blood, [_to_map_px(outline)], 1.0, cv2.LINE_8, 4)
    refl = np.where(blood > 0, lv["blood"] * (1 + 0.5 * _smooth_noise(rng, TISSUE_SHAPE, 4)).clip(0.2), refl)
    papillary = _to_map_px(np.array([heart.y_av * 0.22, heart.y_av * 0.62]))
    cv2.ellipse(refl, tuple(papillary), (6 * 16 // 1, 14 * 16), 8, 0, 360, 0.7, -1, cv2.LINE_8, 4)
    for valve in heart.valves.values():
        for hinge in valve.hinges:
            cv2.circle(refl, tuple(_to_map_px(hinge)), 3 * 16, 1.4, -1, cv2.LINE_8, 4)
    if rng.random() < 0.15:
        cv2.circle(refl, tuple(_to_map_px(heart.valves["mitral"].hinges[1])), 6 * 16, 4.0, -1, cv2.LINE_8, 4)
    return cv2.GaussianBlur(refl.astype(np.float32), (0, 0), 0.7)


def _draw_leaflets(refl: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """Copy of the tissue map `refl` with every valve's leaflets drawn at this pose."""
    out = refl.copy()
    for name, valve in heart.valves.items():
        nodes = valve.nodes(pose.openings[name])
        for leaflet, half_width in zip(nodes, valve.half_width):
            cv2.fillPoly(out, [_to_map_px(_ribbon(leaflet, half_width))], valve.brightness, cv2.LINE_AA, 4)
            tip_radius = int(16 * half_width[-1] / MM_PER_TISSUE_PX)
            cv2.circle(out, tuple(_to_map_px(leaflet[-1])), tip_radius, valve.brightness, -1, cv2.LINE_AA, 4)
        for leaflet, node in valve.spots:
            cv2.circle(out, tuple(_to_map_px(nodes[leaflet, node])), 16 * 2, 4.0, -1, cv2.LINE_8, 4)
    return out


def _sample_scan(rng: np.random.Generator, rows: int, cols: int, depth_mm: float, fill: float) -> Scan:
    """Sector geometry and image formation for an image of `rows` x `cols` px showing `depth_mm`;
    the fan reaches `fill` of the rows."""
    apex = (cols / 2 * rng.uniform(0.96, 1.04), rows * rng.uniform(0.0, 0.05))
    px_per_mm = (rows * fill - apex[1]) / depth_mm
    reach = depth_mm * px_per_mm
    widest = np.arcsin(min(1.0, cols / 2 / reach)) + np.deg2rad(5)
    half_angle = float(min(np.deg2rad(rng.uniform(34, 46)), widest))
    dr = max(0.4, 0.8 / px_per_mm)
    d_beam = max(np.deg2rad(0.4), 0.8 / (px_per_mm * 0.6 * depth_mm))
    n_depth, n_beams = int(depth_mm / dr), int(2 * half_angle / d_beam)
    r = np.linspace(0, 1, n_depth)[:, None]
    beam = np.linspace(-1, 1, n_beams)[None]
    tgc = rng.uniform(-8, 6) * r + rng.uniform(-3, 3) * np.sin(np.pi * r * rng.uniform(1, 3))
    gain_db = tgc - rng.uniform(2, 8) * beam ** 4 + 6 * np.exp(-r * depth_mm / rng.uniform(6, 14))
    psf = (rng.uniform(0.9, 1.6), rng.uniform(1.0, 1.8))
    return Scan(rows, cols, apex, px_per_mm, depth_mm, half_angle, n_depth, n_beams, psf,
                gain_db.astype(np.float32), rng.uniform(50, 62), rng.uniform(17, 25), rng.uniform(1.0, 1.4),
                rng.uniform(0.002, 0.01))


def _probe_grid(scan: Scan) -> np.ndarray:
    """Probe mm (n_depth, n_beams, 2) float32 of the polar samples."""
    r = np.linspace(0, scan.depth_mm, scan.n_depth)[:, None]
    theta = np.linspace(-scan.half_angle, scan.half_angle, scan.n_beams)[None]
    return np.stack([r * np.sin(theta), r * np.cos(theta)], -1).astype(np.float32)


def _scan_conversion_maps(scan: Scan) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps from the polar grid to the image (fixed point, CV_16SC2)."""
    rows, cols = np.mgrid[0:scan.rows, 0:scan.cols].astype(np.float32)
    x, y = (cols - scan.apex[0]) / scan.px_per_mm, (rows - scan.apex[1]) / scan.px_per_mm
    map_r = np.hypot(x, y) / scan.depth_mm * (scan.n_depth - 1)
    map_b = (np.arctan2(x, y) + scan.half_angle) / (2 * scan.half_angle) * (scan.n_beams - 1)
    return cv2.convertMaps(map_b, map_r, cv2.CV_16SC2)


def _render_frame(scan, grid, maps, refl, scatterers, heart, pose, rng) -> np.ndarray:
    """One uint8 (rows, cols) frame: sample reflectivity and scatterers along the beams, blur by the
    PSF, envelope, add electronic noise, log-compress and scan-convert."""
    u = (_probe_to_tissue(grid, heart, pose) - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX
    mx, my = u[..., 0], u[..., 1]
    amp = cv2.remap(refl, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    field = cv2.remap(scatterers, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    field = cv2.GaussianBlur(field * amp[..., None], (0, 0), sigmaX=scan.psf[1], sigmaY=scan.psf[0])
    env = cv2.magnitude(field[..., 0], field[..., 1]) * np.float32(np.sqrt(4 * np.pi * scan.psf[0] * scan.psf[1]))
    noise = scan.floor * rng.standard_normal(env.shape, dtype=np.float32)
    db = 20 * np.log10(cv2.magnitude(env, noise) + 1e-6) + scan.gain_db
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
    for depth in np.arange(10, scan.depth_mm, 10):
        x = scan.apex[0] + (depth * np.sin(scan.half_angle) + 4) * scan.px_per_mm
        y = scan.apex[1] + depth * np.cos(scan.half_angle) * scan.px_per_mm
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
