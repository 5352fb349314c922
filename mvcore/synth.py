"""Synthetic apical echocardiography clips in the AML mitral-valve format.

Real data cannot be fetched, so every test, benchmark and the bundled model use these clips.
A clip is formed the way a scanner forms it: a reflectivity map of the heart (tissue coordinates)
is deformed and moved every frame (beat, breathing), sampled along the beams of a sector scan
(polar grid), multiplied by scatterers that move with the tissue, blurred by a point-spread
function of fixed angular width (so speckle grows laterally with depth), enveloped,
log-compressed and scan-converted with `cv2.remap`. Labels come from the same leaflet geometry:
the exact leaflet shapes (expert, test) or sloppy 3-4 px strokes (amateur).

Coordinates: tissue mm (x right, y from the LV apex towards the base), probe mm (x right,
y = depth), image px (column, row).
"""

from __future__ import annotations

import gzip
import io
import pickle
import string
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MM_PER_TISSUE_PX = 0.5
TISSUE_ORIGIN_MM = np.array([-95.0, -30.0], np.float32)  # tissue mm at tissue-map pixel (0, 0)
TISSUE_SHAPE = (420, 320)                                 # rows (y), cols (x) of the tissue map
SEGMENTS = 8                                              # straight segments per leaflet
AMATEUR_SHARE = 46 / 65
TAU = 2 * np.pi


@dataclass
class Valve:
    """Two leaflets as chains of `SEGMENTS` segments hinged at the annulus.

    hinges: (2, 2) tissue mm (left, right hinge); seg_len: (2, K) mm; closed, opened: (2, K) segment
    directions in rad when shut and fully open; half_width: (2, K + 1) mm; brightness: reflectivity
    (myocardium = 1); spots: (leaflet, node) pairs that are calcified.
    """

    hinges: np.ndarray
    seg_len: np.ndarray
    closed: np.ndarray
    opened: np.ndarray
    half_width: np.ndarray
    brightness: float
    spots: list

    def nodes(self, opening: float) -> np.ndarray:
        """Leaflet centre lines (2, K + 1, 2) tissue mm at `opening` 0 (shut) .. 1 (open)."""
        angle = self.closed + opening * (self.opened - self.closed)
        steps = self.seg_len[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        return self.hinges[:, None] + np.concatenate([np.zeros((2, 1, 2)), np.cumsum(steps, 1)], 1)


@dataclass
class Heart:
    """Anatomy, placement and timing of one clip's heart.

    chambers: [(outline (n, 2) tissue mm, wall thickness mm)], blood pools in drawing order;
    valves: 'mitral' (labelled), 'tricuspid', 'aortic' (distractors, may be absent);
    y_av: AV-plane depth (tissue mm); d_av: its systolic excursion towards the apex (mm);
    k_lat: systolic lateral shortening (fraction); scale: tissue-to-probe scale; tilt: rad;
    apex: probe mm of the tissue origin; mirror: +1 or -1 (left-right flipped view);
    bpm: beats per minute; phase0: cardiac phase at frame 0 (0 = QRS); systole: its share of a
    beat; filling: (diastasis, atrial kick) mitral openings; breath: (period s, x mm, y mm, phase);
    sway: rotation amplitude rad; levels: reflectivities of blood, myocardium, outside, pericardium.
    """

    chambers: list
    valves: dict
    y_av: float
    d_av: float
    k_lat: float
    scale: float
    tilt: float
    apex: np.ndarray
    mirror: int
    bpm: float
    phase0: float
    systole: float
    filling: tuple
    breath: tuple
    sway: float
    levels: dict


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


def _random_name(rng: np.random.Generator) -> str:
    """10 upper-case letters/digits."""
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    return "".join(rng.choice(alphabet, 10))


def _jitter(rng: np.random.Generator, value: float, spread: float = 0.1) -> float:
    """`value` times a uniform factor in [1 - spread, 1 + spread]."""
    return float(value * rng.uniform(1 - spread, 1 + spread))


def _chamber_outline(xc: float, y_apex: float, y_base: float, half_width: float) -> np.ndarray:
    """Closed polygon (48, 2) tissue mm: rounded at `y_apex`, widest 60 % of the way, 72 % at the flat `y_base`."""
    q = np.linspace(0, 1, 24)
    hw = half_width * np.sqrt(np.minimum(q / 0.6, 1)) * (1 - 0.28 * np.clip((q - 0.6) / 0.4, 0, 1) ** 2)
    y = y_apex + q * (y_base - y_apex)
    return np.concatenate([np.stack([xc - hw, y], 1), np.stack([xc + hw, y], 1)[::-1]])


def _tube_outline(start: np.ndarray, end: np.ndarray, half_width: float) -> np.ndarray:
    """Rectangle (4, 2) tissue mm of a vessel from `start` to `end`."""
    along = (end - start) / np.linalg.norm(end - start)
    normal = np.array([-along[1], along[0]]) * half_width
    return np.array([start + normal, end + normal, end - normal, start - normal])


def _closed_leaflet(hinge, coapt, length, billow, open_dir) -> np.ndarray:
    """Nodes (K + 1, 2) tissue mm of a shut leaflet: an arc to the coaptation point, then the
    coaptation zone pointing the way the valve opens (`open_dir` -1 towards the apex, +1 away)."""
    reach = float(np.linalg.norm(coapt - hinge))
    m = int(np.clip(round(SEGMENTS * reach / length), 2, SEGMENTS - 1))
    s = np.linspace(0, 1, m + 1)[:, None]
    ctrl = (hinge + coapt) / 2 + np.array([0.0, -open_dir * billow])
    arc = (1 - s) ** 2 * hinge + 2 * s * (1 - s) * ctrl + s ** 2 * coapt
    rest = max(length - np.linalg.norm(np.diff(arc, axis=0), axis=1).sum(), 1.0)
    tail = coapt + np.linspace(0, rest, SEGMENTS - m + 1)[1:, None] * np.array([0.0, open_dir])
    return np.concatenate([arc, tail])


def _make_valve(rng, left, right, lengths, tent, open_dir, thick, brightness, n_spots=0) -> Valve:
    """A valve hinged at `left`/`right` (tissue mm) with leaflet `lengths` (mm); `tent` mm from the
    annulus to the coaptation point along `open_dir` (negative: prolapse); `thick` mm."""
    coapt = left + np.array([(right[0] - left[0]) * lengths[0] / sum(lengths), open_dir * tent])
    closed, seg_len, opened = [], [], []
    for side, hinge in ((1, left), (-1, right)):
        length = max(lengths[(1 - side) // 2], 1.15 * np.linalg.norm(coapt - hinge))
        nodes = _closed_leaflet(hinge, coapt, length, rng.uniform(0.5, 2.5), open_dir)
        d = np.diff(nodes, axis=0)
        angles = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
        curl = rng.uniform(-0.15, 0.35) * np.linspace(0, 1, SEGMENTS)
        open_angles = open_dir * (np.pi / 2 + side * (rng.uniform(-0.1, 0.25) + curl))
        closed.append(angles + TAU * np.round((open_angles[0] - angles[0]) / TAU))
        seg_len.append(np.linalg.norm(d, axis=1))
        opened.append(open_angles)
    tip = rng.uniform(0, 0.8) * np.linspace(0, 1, SEGMENTS + 1) ** 3
    half_width = np.tile(thick / 2 * (0.85 + tip), (2, 1))
    spots = [(int(rng.integers(2)), int(rng.integers(2, SEGMENTS + 1))) for _ in range(n_spots)]
    return Valve(np.stack([left, right]), np.array(seg_len), np.array(closed), np.array(opened),
                 half_width, brightness, spots)


def _sample_anatomy(rng: np.random.Generator, view: str) -> tuple[list, dict, float]:
    """Chambers, valves and AV-plane depth (mm) of an apical 4-chamber ('a4c'), 5-chamber ('a5c':
    a4c plus the aortic outflow) or 2-chamber ('a2c') heart, in tissue mm with the LV apex at 0."""
    y_av, lv_w = _jitter(rng, 88), _jitter(rng, 24)
    thick = rng.uniform(1.2, 2.4) * (rng.uniform(1.3, 2.0) if rng.random() < 0.2 else 1.0)
    tent = rng.uniform(2, 8) if rng.random() > 0.12 else -rng.uniform(3, 8)
    mitral_hinges = np.array([[-0.72 * lv_w + 0.6, y_av], [0.72 * lv_w - 0.6, y_av]])
    lengths = (rng.uniform(21, 28), rng.uniform(12, 17))
    valves = {"mitral": _make_valve(rng, *mitral_hinges, lengths, tent, -1, thick, rng.uniform(1.5, 3.0),
                                    int(rng.integers(1, 4)) if rng.random() < 0.15 else 0)}
    chambers = [(_chamber_outline(0, 0, y_av + 1, lv_w), _jitter(rng, 9, 0.2)),
                (_chamber_outline(0, y_av + _jitter(rng, 50), y_av - 1, _jitter(rng, 24)), 3.0)]
    if view in ("a4c", "a5c"):
        rv_w, y_tv = _jitter(rng, 19), y_av - _jitter(rng, 7, 0.3)
        rv_x = -(lv_w + _jitter(rng, 10, 0.2) + rv_w)
        chambers += [(_chamber_outline(rv_x, _jitter(rng, 28), y_tv + 1, rv_w), 4.0),
                     (_chamber_outline(rv_x, y_tv + _jitter(rng, 44), y_tv - 1, _jitter(rng, 21)), 3.0)]
        tv_hinges = np.array([[rv_x - 0.72 * rv_w + 0.6, y_tv], [rv_x + 0.72 * rv_w - 0.6, y_tv]])
        valves["tricuspid"] = _make_valve(rng, *tv_hinges, (rng.uniform(18, 25), rng.uniform(11, 16)),
                                          rng.uniform(2, 6), -1, rng.uniform(1.0, 2.0), rng.uniform(0.6, 1.3))
    if view == "a5c":
        root = mitral_hinges[0] + np.array([-8.0, 8.0])
        chambers.append((_tube_outline(root + [2, -14], root + [-5, 28], 9.0), 2.5))
        av_hinges = np.array([root + [-9.2, 1.0], root + [8.8, -1.0]])
        valves["aortic"] = _make_valve(rng, *av_hinges, (11.0, 11.0), rng.uniform(1, 4), 1, 1.2, 1.3)
    return chambers, valves, y_av


def _sample_heart(rng: np.random.Generator) -> Heart:
    """Anatomy, placement, beat and breathing of one clip."""
    view = rng.choice(["a4c", "a5c", "a2c"], p=[0.65, 0.15, 0.2])
    chambers, valves, y_av = _sample_anatomy(rng, str(view))
    bpm = rng.uniform(50, 110)
    levels = {"blood": rng.uniform(0.004, 0.015), "myocardium": 1.0, "outside": rng.uniform(0.04, 0.25),
              "pericardium": rng.uniform(1.5, 3.0)}
    return Heart(chambers, valves, y_av, rng.uniform(7, 15), rng.uniform(0.1, 0.25), rng.uniform(0.88, 1.12),
                 np.deg2rad(rng.uniform(-6, 22)), np.array([rng.uniform(-12, 8), rng.uniform(18, 30)]),
                 int(rng.choice([1, 1, 1, 1, -1])), bpm, rng.uniform(0, 1), 0.3 + 0.12 * (bpm - 50) / 60,
                 (rng.uniform(0.15, 0.5), rng.uniform(0.45, 0.9)),
                 (rng.uniform(3, 6), rng.uniform(-3, 3), rng.uniform(1, 6), rng.uniform(0, TAU)),
                 np.deg2rad(rng.uniform(0.5, 3)), levels)


def _contraction(phase: float, systole: float) -> float:
    """Ventricular contraction 0 .. 1 at cardiac `phase` (0 = QRS), peaking at end-systole."""
    c = np.interp(phase, [0, systole, systole + 0.15, 1], [0, 1, 0, 0])
    return float(0.5 - 0.5 * np.cos(np.pi * c))


def _av_opening(phase: float, systole: float, filling: tuple) -> float:
    """Atrioventricular valve opening 0 .. 1: shut in systole, E wave, diastasis, atrial kick."""
    start = systole + 0.04
    xs = [0, start, start + 0.06, start + 0.2, 0.8, 0.9, 0.97, 1]
    return float(np.interp(phase, xs, [0, 0, 1, filling[0], filling[0], filling[1], 0, 0]))


def _aortic_opening(phase: float, systole: float) -> float:
    """Aortic valve opening 0 .. 1: open during ejection only."""
    return float(np.interp(phase, [0, 0.04, 0.08, systole - 0.05, systole, 1], [0, 0, 1, 1, 0, 0]))


@dataclass
class Pose:
    """The heart at one frame: contraction, valve openings, tissue-to-probe affine."""

    contraction: float
    openings: dict
    matrix: np.ndarray   # (2, 2) scale and rotation
    offset: np.ndarray   # (2,) probe mm


def _frame_pose(heart: Heart, t_s: float) -> Pose:
    """Pose at time `t_s` seconds: beat, breathing translation and sway."""
    phase = (heart.phase0 + t_s * heart.bpm / 60) % 1
    breath = np.sin(TAU * t_s / heart.breath[0] + heart.breath[3])
    angle = heart.tilt + heart.sway * (0.6 * breath + 0.4 * np.sin(TAU * phase))
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    openings = {"mitral": _av_opening(phase, heart.systole, heart.filling),
                "tricuspid": _av_opening((phase + 0.02) % 1, heart.systole, heart.filling),
                "aortic": _aortic_opening(phase, heart.systole)}
    offset = heart.apex + breath * np.array(heart.breath[1:3])
    return Pose(_contraction(phase, heart.systole), openings, heart.scale * rot, offset)


def _displacement(u: np.ndarray, heart: Heart, contraction: float) -> np.ndarray:
    """Beat displacement (..., 2) mm of tissue points `u` (..., 2): the AV plane moves towards the
    fixed apex and the ventricles shorten laterally."""
    ramp = np.clip(u[..., 1] / heart.y_av, 0, 1)
    dx = -heart.k_lat * contraction * u[..., 0] * np.sin(np.pi * ramp)
    return np.stack([dx, -heart.d_av * contraction * ramp], -1)


def _tissue_to_probe(u: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """Probe mm (..., 2) of tissue points `u` (..., 2) mm."""
    p = (u + _displacement(u, heart, pose.contraction)) @ pose.matrix.T + pose.offset
    return p * np.array([heart.mirror, 1])


def _probe_to_tissue(p: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """Tissue mm (..., 2) of probe points `p` (..., 2) mm (fixed-point inverse of the beat)."""
    q = (p * np.array([heart.mirror, 1], np.float32) - pose.offset) @ np.linalg.inv(pose.matrix).T
    u = q
    for _ in range(3):
        u = q - _displacement(u, heart, pose.contraction)
    return u.astype(np.float32)


def _to_map_px(points_mm: np.ndarray) -> np.ndarray:
    """Tissue mm (..., 2) -> int32 tissue-map px in 1/16 px (for cv2 drawing with shift=4)."""
    return np.round((points_mm - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX * 16).astype(np.int32)


def _smooth_noise(rng: np.random.Generator, shape: tuple, sigma_px: float) -> np.ndarray:
    """Smooth Gaussian random field float32 `shape` with unit standard deviation."""
    field = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), sigma_px)
    return field / (field.std() + 1e-6)


def _ribbon(nodes: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Polygon (2N, 2) around a centre line `nodes` (N, 2) with `half_width` (N,) on each side."""
    tangent = np.gradient(nodes, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
    offset = normal * half_width[:, None]
    return np.concatenate([nodes + offset, (nodes - offset)[::-1]])


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


def _mitral_px(heart: Heart, scan: Scan, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Mitral leaflet centre lines (2, K + 1, 2) and half widths (2, K + 1) in image px."""
    valve = heart.valves["mitral"]
    probe = _tissue_to_probe(valve.nodes(pose.openings["mitral"]), heart, pose)
    return probe * scan.px_per_mm + np.array(scan.apex), valve.half_width * heart.scale * scan.px_per_mm


def _exact_label(nodes: np.ndarray, half_width: np.ndarray, shape: tuple) -> np.ndarray:
    """Bool `shape` mask of both leaflet shapes (nodes (2, N, 2) px, half_width (2, N) px)."""
    mask = np.zeros(shape, np.uint8)
    for leaflet, width in zip(nodes, half_width):
        cv2.fillPoly(mask, [np.round(_ribbon(leaflet, width) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask > 0


def _stroke_label(rng, nodes: np.ndarray, shape: tuple, leaflets: list, thickness: int) -> np.ndarray:
    """Bool `shape` mask of an amateur's strokes: 3-4 px polylines along `leaflets`, jittered and offset."""
    mask = np.zeros(shape, np.uint8)
    offset = rng.normal(0, 0.8, 2)
    for i in leaflets:
        points = nodes[i] + offset + rng.normal(0, 0.5, nodes[i].shape)
        cv2.polylines(mask, [np.round(points * 16).astype(np.int32)], False, 1, thickness, cv2.LINE_8, 4)
    return mask > 0


def _amateur_label(rng, nodes: np.ndarray, shape: tuple, leaflets: list, thickness: int) -> np.ndarray:
    """Stroke label kept within the 50-220 px the real amateur masks have (redrawn otherwise)."""
    mask = _stroke_label(rng, nodes, shape, leaflets, thickness)
    if mask.sum() < 50:
        mask = _stroke_label(rng, nodes, shape, [0, 1], 4)
    if mask.sum() > 220:
        mask = _stroke_label(rng, nodes, shape, [0], 3)
    return mask


def _annotated_frames(rng: np.random.Generator, opening: np.ndarray) -> list[int]:
    """Sorted indices of 3 frames: one with the mitral valve shut, two wide open (opening (T,))."""
    shut = int(rng.choice(np.flatnonzero(opening <= opening.min() + 0.02)))
    wide = [int(i) for i in np.flatnonzero(opening >= 0.75 * opening.max()) if i != shut]
    if len(wide) < 2:
        wide = [int(i) for i in np.argsort(-opening, kind="stable") if i != shut][:2]
    return sorted([shut, *(int(i) for i in rng.choice(wide, 2, replace=False))])


def _motion_box(rng, nodes: np.ndarray, half_width: np.ndarray, shape: tuple, amateur: bool) -> np.ndarray:
    """Bool `shape` rectangle around every position of the leaflets (nodes (T, 2, N, 2) px) plus a
    margin; amateur boxes are padded to the 24-39 x 35-55 px of the real set."""
    lo = nodes.reshape(-1, 2).min(0) - half_width.max()
    hi = nodes.reshape(-1, 2).max(0) + half_width.max()
    if amateur:
        target = np.array([rng.uniform(35, 55), rng.uniform(24, 39)])
        pad = np.maximum(1.0, (target - (hi - lo)) / 2)
    else:
        pad = rng.uniform(0.04, 0.1) * (hi - lo).max() + 2
    c0, r0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    c1, r1 = np.ceil(hi + pad).astype(int) + 1
    box = np.zeros(shape, bool)
    box[r0:r1, c0:c1] = True
    return box


def _clip_size(rng: np.random.Generator, amateur: bool, scale: float) -> tuple[int, int, float, float, float]:
    """(rows, cols, fps, depth mm, fraction of the rows the fan reaches) of one clip."""
    if amateur:
        return 112, 112, float(rng.integers(44, 57)), rng.uniform(150, 185), rng.uniform(0.97, 1.05)
    rows = max(64, round(rng.uniform(579, 732) * scale))
    cols = max(64, round(rng.uniform(600, 1007) * scale))
    return rows, cols, round(float(rng.uniform(25, 60)), 1), rng.uniform(130, 175), rng.uniform(0.85, 0.96)


def _limit_thickness(heart: Heart, scan: Scan, scale: float) -> None:
    """Clamp the mitral leaflets to 4-15 px thick at full resolution (times `scale`)."""
    mm_to_px = heart.scale * scan.px_per_mm / scale
    valve = heart.valves["mitral"]
    valve.half_width = np.clip(valve.half_width, 2.1 / mm_to_px, 7.3 / mm_to_px)


def _make_clip(rng: np.random.Generator, amateur: bool, scale: float) -> dict:
    """One synthetic clip: name, video uint8 (H, W, T), label bool (H, W, T) on 3 frames, frames,
    box bool (H, W), fps."""
    name = _random_name(rng)
    rows, cols, fps, depth, fill = _clip_size(rng, amateur, scale)
    heart = _sample_heart(rng)
    low = int(np.ceil(1.15 * fps * 60 / heart.bpm))
    n_frames = int(rng.integers(109, 335)) if amateur else int(np.clip(rng.integers(39, 160), low, 159))
    scan = _sample_scan(rng, rows, cols, depth, fill)
    if not amateur:
        _limit_thickness(heart, scan, scale)
    refl, grid, maps = _tissue_map(rng, heart), _probe_grid(scan), _scan_conversion_maps(scan)
    scatterers = rng.standard_normal(TISSUE_SHAPE + (2,), dtype=np.float32)
    overlay, cursor = (None, None) if amateur or rng.random() < 0.3 else _burned_in(rng, scan, heart, fps, n_frames)
    poses = [_frame_pose(heart, t / fps) for t in range(n_frames)]
    video = np.empty((rows, cols, n_frames), np.uint8)
    for t, pose in enumerate(poses):
        frame = _render_frame(scan, grid, maps, _draw_leaflets(refl, heart, pose), scatterers, heart, pose, rng)
        if overlay is not None:
            frame = cv2.max(frame, overlay)
        if cursor is not None:
            cv2.circle(frame, tuple(int(v) for v in cursor[t]), max(2, rows // 150), 255, -1)
        video[:, :, t] = frame
    leaflets = [_mitral_px(heart, scan, pose) for pose in poses]
    nodes = np.stack([n for n, _ in leaflets])
    frames = _annotated_frames(rng, np.array([p.openings["mitral"] for p in poses]))
    label = np.zeros(video.shape, bool)
    strokes = ([0, 1] if rng.random() < 0.7 else [0], int(rng.integers(3, 5)))
    for f in frames:
        label[:, :, f] = (_amateur_label(rng, nodes[f], (rows, cols), *strokes) if amateur
                          else _exact_label(*leaflets[f], (rows, cols)))
    box = _motion_box(rng, nodes, leaflets[0][1], (rows, cols), amateur)
    return {"name": name, "video": video, "label": label, "frames": frames, "box": box, "fps": fps}


def make_train_record(rng: np.random.Generator, dataset: str, scale: float = 1.0) -> dict:
    """An AML train record: name, video uint8 (H, W, T), box bool (H, W), label bool (H, W, T) set
    on the 3 `frames` only, dataset ('amateur' 112 x 112 strokes, or 'expert' high resolution
    times `scale`, exact labels) and fps (frames per second, float)."""
    if dataset not in ("amateur", "expert"):
        raise ValueError(f"dataset must be 'amateur' or 'expert', not {dataset!r}")
    clip = _make_clip(rng, dataset == "amateur", scale)
    return {"name": clip["name"], "video": clip["video"], "box": clip["box"], "label": clip["label"],
            "frames": clip["frames"], "dataset": dataset, "fps": clip["fps"]}


def make_test_record(rng: np.random.Generator, scale: float = 1.0) -> tuple[dict, dict]:
    """An expert-like high-resolution test clip: ({name, video, fps}, {name, frames, label})."""
    clip = _make_clip(rng, False, scale)
    return ({"name": clip["name"], "video": clip["video"], "fps": clip["fps"]},
            {"name": clip["name"], "frames": clip["frames"], "label": clip["label"]})


def _clip_rngs(seed: int, part: int, n: int) -> list[np.random.Generator]:
    """Independent generators for clips 0..n-1 of `part` (0 train, 1 test); clip i's does not depend on n."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, part]).spawn(n)]


def _train_records(seed: int, n_train: int, scale: float):
    """Yield the train records one by one: round(n_train * 46 / 65) amateur, then expert."""
    n_amateur = round(n_train * AMATEUR_SHARE)
    for i, rng in enumerate(_clip_rngs(seed, 0, n_train)):
        yield make_train_record(rng, "amateur" if i < n_amateur else "expert", scale)


def _test_records(seed: int, n_test: int, scale: float):
    """Yield (test record, test label record) pairs one by one."""
    for rng in _clip_rngs(seed, 1, n_test):
        yield make_test_record(rng, scale)


def synth_dataset(seed: int = 0, n_train: int = 65, n_test: int = 20,
                  scale: float = 1.0) -> tuple[list[dict], list[dict], list[dict]]:
    """(train, test, test_labels) lists in the AML format; deterministic for a seed."""
    tests = list(_test_records(seed, n_test, scale))
    return list(_train_records(seed, n_train, scale)), [t for t, _ in tests], [lab for _, lab in tests]


def _open_list_pickle(path: Path):
    """A gzip stream holding the start of a protocol-4 pickle of a list; add items with `_append_item`."""
    stream = gzip.open(path, "wb", compresslevel=1)
    stream.write(pickle.PROTO + bytes([4]) + pickle.EMPTY_LIST)
    return stream


def _append_item(stream, item) -> None:
    """Append `item` to the list being pickled on `stream`: its own pickle (no memo, so items do not
    refer to each other) with the final STOP replaced by APPEND."""
    pickler_out = io.BytesIO()
    pickler = pickle.Pickler(pickler_out, 4)
    pickler.fast = True
    pickler.dump(item)
    data = pickler_out.getbuffer()
    stream.write(data[:-1])
    stream.write(pickle.APPEND)


def write_dataset(out_dir, seed: int = 0, n_train: int = 65, n_test: int = 20, scale: float = 1.0) -> list[Path]:
    """Write out_dir/train.pkl, test.pkl, test_labels.pkl (gzip pickles of lists of dicts), one clip
    in memory at a time; returns the three paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "train.pkl", out / "test.pkl", out / "test_labels.pkl"]
    streams = [_open_list_pickle(p) for p in paths]
    for record in _train_records(seed, n_train, scale):
        _append_item(streams[0], record)
    for test, label in _test_records(seed, n_test, scale):
        _append_item(streams[1], test)
        _append_item(streams[2], label)
    for stream in streams:
        stream.write(pickle.STOP)
        stream.close()
    return paths
