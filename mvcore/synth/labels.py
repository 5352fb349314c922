"""Labels of a synthetic clip from the same leaflet geometry that was rendered: exact leaflet
shapes (expert, test) or sloppy 3-4 px strokes (amateur), the annotated frames (one shut, two
open) and the box around the valve's motion. Image px: (column, row)."""

from __future__ import annotations

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _ribbon
from mvcore.synth.motion import Pose, _local_scale, _tissue_to_probe
from mvcore.synth.scan import Scan


def _mitral_px(heart: Heart, scan: Scan, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """Mitral leaflet centre lines (2, K + 1, 2) and half widths (2, K + 1) in image px, as drawn at
    this pose: the frame's half widths carried through the local scale of the tissue -> probe map."""
    valve = heart.valves["mitral"]
    nodes = valve.nodes(pose.openings["mitral"])
    widen = _local_scale(nodes, np.gradient(nodes, axis=1), heart, pose)
    half_width = valve.frame_half_width(pose.visibility["mitral"]) * widen * scan.px_per_mm
    return _tissue_to_probe(nodes, heart, pose) * scan.px_per_mm + np.array(scan.apex), half_width


def _exact_label(nodes: np.ndarray, half_width: np.ndarray, shape: tuple) -> np.ndarray:
    """Bool `shape` mask of both leaflet shapes (nodes (2, N, 2) px, half_width (2, N) px), each a
    ribbon with a rounded tip, as the leaflets are drawn."""
    mask = np.zeros(shape, np.uint8)
    for leaflet, width in zip(nodes, half_width):
        cv2.fillPoly(mask, [np.round(_ribbon(leaflet, width) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        tip = tuple(np.round(leaflet[-1] * 16).astype(int))
        cv2.circle(mask, tip, int(round(16 * width[-1])), 1, -1, cv2.LINE_8, 4)
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
