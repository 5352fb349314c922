"""The heart at each frame: contraction and valve openings over the cardiac cycle, breathing and
sway, and the mapping between tissue mm and probe mm (x right, y = depth) that they deform."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvcore.synth.anatomy import TAU, Heart


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
    """The heart at one frame: contraction, valve openings, leaflet visibility ({valve: (2,) 0..1}),
    tissue-to-probe affine."""

    contraction: float
    openings: dict
    visibility: dict
    matrix: np.ndarray   # (2, 2) scale, off-axis aspect and rotation
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
    visibility = {name: valve.visibility(t_s) for name, valve in heart.valves.items()}
    aspect = np.diag([np.sqrt(heart.aspect), 1 / np.sqrt(heart.aspect)])
    return Pose(_contraction(phase, heart.systole), openings, visibility, heart.scale * rot @ aspect, offset)


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


def _along_beam(nodes: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """|cos| (L,) of the angle between each leaflet's chord (nodes (L, N, 2) tissue mm) and the beam
    through its middle, in probe mm: 1 along the beam, 0 across it."""
    probe = _tissue_to_probe(nodes, heart, pose)
    chord = probe[:, -1] - probe[:, 0]
    beam = probe.mean(axis=1)
    return np.abs((chord * beam).sum(-1)) / (np.linalg.norm(chord, axis=-1) * np.linalg.norm(beam, axis=-1) + 1e-9)


def _local_scale(u: np.ndarray, direction: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """How much a ribbon along `direction` (..., 2) at tissue points `u` (..., 2) mm widens from
    tissue to probe mm: |det J| / |J direction| for the Jacobian J of `_tissue_to_probe` there."""
    step = 0.05
    jx = (_tissue_to_probe(u + [step, 0], heart, pose) - _tissue_to_probe(u - [step, 0], heart, pose)) / (2 * step)
    jy = (_tissue_to_probe(u + [0, step], heart, pose) - _tissue_to_probe(u - [0, step], heart, pose)) / (2 * step)
    det = np.abs(jx[..., 0] * jy[..., 1] - jx[..., 1] * jy[..., 0])
    unit = direction / (np.linalg.norm(direction, axis=-1, keepdims=True) + 1e-9)
    return det / (np.linalg.norm(jx * unit[..., :1] + jy * unit[..., 1:], axis=-1) + 1e-9)


def _probe_to_tissue(p: np.ndarray, heart: Heart, pose: Pose) -> np.ndarray:
    """Tissue mm (..., 2) of probe points `p` (..., 2) mm (fixed-point inverse of the beat)."""
    q = (p * np.array([heart.mirror, 1], np.float32) - pose.offset) @ np.linalg.inv(pose.matrix).T
    u = q
    for _ in range(3):
        u = q - _displacement(u, heart, pose.contraction)
    return u.astype(np.float32)
