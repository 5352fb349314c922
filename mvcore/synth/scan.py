"""The scanner's side of one clip: sector geometry (depth, zoom, steering, near-field dead zone),
gain and time-gain compensation, haze and static clutter, the polar grid of the beams and the
scan conversion from that grid to the image."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Scan:
    """Sector geometry and image formation of one clip.

    rows, cols: image size px; apex: (col, row) px of the probe (a row < 0 when zoomed in);
    px_per_mm; depth_mm; half_angle, steer: rad (the middle beam's angle from straight down);
    dead_mm: near-field depth that shows nothing; n_depth, n_beams: polar grid; psf: Gaussian blur
    sigma in polar samples (axial, lateral); gain_db: (n_depth, n_beams) overall gain, time-gain
    and beam profile in dB; dyn_range_db, top_db: log compression window; gamma: display curve
    exponent; floor: electronic noise amplitude; haze: share of the echoes that side lobes spread
    over `haze_beams` beams (sigma) into the chambers; fog: (n_depth, n_beams) reflectivity added
    everywhere (patchy haze in the chambers); clutter: (n_depth, n_beams, 2) I/Q echoes of the
    reverberations that stay with the probe (still speckle in the near field); smoothing: share of
    the log image replaced by its blur (the scanner's speckle reduction).
    """

    rows: int
    cols: int
    apex: tuple
    px_per_mm: float
    depth_mm: float
    half_angle: float
    steer: float
    dead_mm: float
    n_depth: int
    n_beams: int
    psf: tuple
    gain_db: np.ndarray
    dyn_range_db: float
    top_db: float
    gamma: float
    floor: float
    haze: float
    haze_beams: float
    fog: np.ndarray
    clutter: np.ndarray
    smoothing: float


def smooth_field(rng: np.random.Generator, shape: tuple, sigma: tuple) -> np.ndarray:
    """Smooth Gaussian random field float32 `shape` (unit standard deviation), sigma (rows, cols) px."""
    field = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), sigmaX=sigma[1], sigmaY=sigma[0])
    return field / (field.std() + 1e-6)


def _sample_gain(rng: np.random.Generator, n_depth: int, n_beams: int, depth_mm: float) -> np.ndarray:
    """Gain dB float32 (n_depth, n_beams): an overall gain from dim to bright, a TGC slope and eight
    slider bumps along the depth, the edge beams' loss and the near-field's ring-down."""
    r = np.linspace(0, 1, n_depth)[:, None]
    beam = np.linspace(-1, 1, n_beams)[None]
    sliders = np.interp(r, np.linspace(0, 1, 8), rng.uniform(-4, 4, 8))
    tgc = rng.uniform(-16, 2) + rng.uniform(-8, 8) * r + sliders
    near = rng.uniform(0, 8) * np.exp(-r * depth_mm / rng.uniform(6, 14))
    return (tgc - rng.uniform(2, 10) * beam ** 4 + near).astype(np.float32)


def _sample_clutter(rng: np.random.Generator, n_depth: int, n_beams: int, depth_mm: float) -> np.ndarray:
    """I/Q echoes float32 (n_depth, n_beams, 2) that stay with the probe: near-field reverberation
    and its repeats at multiples of the chest wall's depth, patchy across the beams."""
    r = np.linspace(0, depth_mm, n_depth)[:, None]
    wall = rng.uniform(10, 25)
    repeats = sum(0.5 ** k * np.exp(-0.5 * ((r - k * wall) / rng.uniform(1.5, 4)) ** 2) for k in (1, 2, 3))
    level = rng.uniform(0.05, 0.8) * (np.exp(-r / rng.uniform(10, 35)) + rng.uniform(0, 0.6) * repeats)
    patches = np.exp(0.5 * smooth_field(rng, (n_depth, n_beams), (2, n_beams / 8)))
    echoes = (level * patches)[..., None] * rng.standard_normal((n_depth, n_beams, 2), dtype=np.float32)
    return echoes.astype(np.float32)


def _sample_fog(rng: np.random.Generator, n_depth: int, n_beams: int) -> np.ndarray:
    """Reflectivity float32 (n_depth, n_beams) of a patchy haze over the whole fan (0 to 0.05)."""
    return (rng.uniform(0, 0.05) * np.exp(smooth_field(rng, (n_depth, n_beams), (n_depth / 12, n_beams / 6)))
            ).astype(np.float32)


def _sample_geometry(rng: np.random.Generator, rows: int, cols: int, depth_mm: float,
                     fill: float) -> tuple[tuple, float, float, float, float]:
    """(apex px, px_per_mm, half angle rad, steer rad, dead zone mm) of a sector reaching `fill`
    of the rows at `depth_mm`; one clip in six is zoomed in (apex above the image)."""
    top = -rng.uniform(0.05, 0.3) if rng.random() < 1 / 6 else rng.uniform(0.0, 0.05)
    apex = (cols / 2 * rng.uniform(0.96, 1.04), rows * top)
    px_per_mm = (rows * fill - apex[1]) / depth_mm
    widest = np.arcsin(min(1.0, cols / 2 / (depth_mm * px_per_mm))) + np.deg2rad(5)
    half_angle = float(min(np.deg2rad(rng.uniform(34, 46)), widest))
    steer = float(np.deg2rad(rng.uniform(-5, 5))) if rng.random() < 0.3 else 0.0
    dead = rng.uniform(3, 20) if rng.random() < 0.5 else 0.0
    return apex, px_per_mm, half_angle, steer, dead


def _sample_scan(rng: np.random.Generator, rows: int, cols: int, depth_mm: float, fill: float) -> Scan:
    """Sector geometry and image formation for an image of `rows` x `cols` px showing `depth_mm`;
    the fan reaches `fill` of the rows."""
    apex, px_per_mm, half_angle, steer, dead = _sample_geometry(rng, rows, cols, depth_mm, fill)
    dr = max(0.4, 0.8 / px_per_mm)
    d_beam = max(np.deg2rad(0.4), 0.8 / (px_per_mm * 0.6 * depth_mm))
    n_depth, n_beams = int(depth_mm / dr), int(2 * half_angle / d_beam)
    psf = (rng.uniform(1.1, 2.1), rng.uniform(1.4, 2.4) * rng.uniform(1.0, 1.6))
    return Scan(rows, cols, apex, px_per_mm, depth_mm, half_angle, steer, dead, n_depth, n_beams, psf,
                _sample_gain(rng, n_depth, n_beams, depth_mm), rng.uniform(50, 62), rng.uniform(17, 25),
                rng.uniform(1.0, 1.8), rng.uniform(0.002, 0.02), rng.uniform(0, 0.2), rng.uniform(4, 12),
                _sample_fog(rng, n_depth, n_beams), _sample_clutter(rng, n_depth, n_beams, depth_mm),
                rng.uniform(0, 0.5))


def _probe_grid(scan: Scan) -> np.ndarray:
    """Probe mm (n_depth, n_beams, 2) float32 of the polar samples."""
    r = np.linspace(0, scan.depth_mm, scan.n_depth)[:, None]
    theta = np.linspace(-scan.half_angle, scan.half_angle, scan.n_beams)[None] + scan.steer
    return np.stack([r * np.sin(theta), r * np.cos(theta)], -1).astype(np.float32)


def _scan_conversion_maps(scan: Scan) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps from the polar grid to the image (fixed point, CV_16SC2); the dead zone maps
    outside the grid (black)."""
    rows, cols = np.mgrid[0:scan.rows, 0:scan.cols].astype(np.float32)
    x, y = (cols - scan.apex[0]) / scan.px_per_mm, (rows - scan.apex[1]) / scan.px_per_mm
    radius = np.hypot(x, y)
    map_r = np.where(radius < scan.dead_mm, -2, radius / scan.depth_mm * (scan.n_depth - 1))
    map_b = (np.arctan2(x, y) - scan.steer + scan.half_angle) / (2 * scan.half_angle) * (scan.n_beams - 1)
    return cv2.convertMaps(map_b, map_r.astype(np.float32), cv2.CV_16SC2)
