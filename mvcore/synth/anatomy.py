"""The heart of one synthetic clip: chamber outlines, valves whose leaflets are chains of hinged
segments, and its placement, beat and breathing parameters, all drawn from a generator.

Tissue mm: x right, y from the LV apex (0) towards the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS = 8  # straight segments per leaflet
TAU = 2 * np.pi


@dataclass
class Valve:
    """Two leaflets as chains of `SEGMENTS` segments hinged at the annulus.

    hinges: (2, 2) tissue mm (left, right hinge); seg_len: (2, K) mm; closed, opened: (2, K) segment
    directions in rad when shut and fully open; half_width: (2, K + 1) mm; brightness: reflectivity
    (myocardium = 1); spots: (leaflet, node) pairs that are calcified (twice as bright);
    fade_floor: brightness share left when a leaflet is least seen (out of plane); fade_freq,
    fade_phase: (2, 2) Hz and rad of the two waves that set each leaflet's visibility over time;
    specular: share of the echo lost when a leaflet lies along the beam rather than across it;
    width_limits: least and most half width mm a frame may show.
    """

    hinges: np.ndarray
    seg_len: np.ndarray
    closed: np.ndarray
    opened: np.ndarray
    half_width: np.ndarray
    brightness: float
    spots: list
    fade_floor: float
    fade_freq: np.ndarray
    fade_phase: np.ndarray
    specular: float
    width_limits: tuple = (0.0, np.inf)

    def visibility(self, t_s: float) -> np.ndarray:
        """How well each leaflet is seen at time `t_s` s: (2,) in 0 (faint, thin) .. 1 (bright)."""
        waves = np.sin(TAU * self.fade_freq * t_s + self.fade_phase) @ np.array([0.7, 0.5])
        return np.clip(0.5 + 0.7 * waves, 0, 1)

    def frame_half_width(self, visibility: np.ndarray) -> np.ndarray:
        """Half widths (2, K + 1) mm at a frame: thinner when less visible, within width_limits."""
        return np.clip(self.half_width * (0.65 + 0.35 * visibility[:, None]), *self.width_limits)

    def frame_brightness(self, visibility: np.ndarray, along_beam: np.ndarray) -> np.ndarray:
        """Reflectivity (2,) of each leaflet at a frame of this `visibility` (2,), lying `along_beam`
        (2,): 0 across the beam (a mirror-like echo) .. 1 along it."""
        return (self.brightness * (self.fade_floor + (1 - self.fade_floor) * visibility)
                * (1 - self.specular * along_beam ** 2))

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
    sway: rotation amplitude rad; levels: reflectivities of blood, myocardium, outside, pericardium;
    aspect: a slightly off-axis cut, tissue x stretched by sqrt(aspect) and y shrunk by it.
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
    aspect: float


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
                 half_width, brightness, spots, rng.uniform(0.02, 0.3), rng.uniform(0.2, 1.2, (2, 2)),
                 rng.uniform(0, TAU, (2, 2)), rng.uniform(0.1, 0.5))


def _sample_anatomy(rng: np.random.Generator, view: str) -> tuple[list, dict, float]:
    """Chambers, valves and AV-plane depth (mm) of an apical 4-chamber ('a4c'), 5-chamber ('a5c':
    a4c plus the aortic outflow) or 2-chamber ('a2c') heart, in tissue mm with the LV apex at 0."""
    y_av, lv_w = _jitter(rng, 88), _jitter(rng, 24)
    thick = rng.uniform(0.8, 1.8) * (rng.uniform(1.3, 2.0) if rng.random() < 0.2 else 1.0)
    tent = rng.uniform(2, 8) if rng.random() > 0.12 else -rng.uniform(3, 8)
    mitral_hinges = np.array([[-0.72 * lv_w + 0.6, y_av], [0.72 * lv_w - 0.6, y_av]])
    lengths = (rng.uniform(21, 28), rng.uniform(12, 17))
    valves = {"mitral": _make_valve(rng, *mitral_hinges, lengths, tent, -1, thick, rng.uniform(8.0, 24.0),
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
                 np.deg2rad(rng.uniform(0.5, 3)), levels, rng.uniform(0.85, 1.15) if rng.random() < 0.5 else 1.0)


def _ribbon(nodes: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Polygon (2N, 2) around a centre line `nodes` (N, 2) with `half_width` (N,) on each side."""
    tangent = np.gradient(nodes, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / (np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9)
    offset = normal * half_width[:, None]
    return np.concatenate([nodes + offset, (nodes - offset)[::-1]])
