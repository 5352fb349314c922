"""Labels of a synthetic clip from the same leaflet geometry that was rendered: the leaflets as an
observer sees them (expert, test: the exact shapes widened to where their echo is seen) or sloppy
3-4 px strokes (amateur), the annotated frames (one shut, two open) and the box around the valve's
motion. Image px: (column, row)."""

from __future__ import annotations

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _ribbon
from mvcore.synth.motion import Pose, _local_scale, _probe_to_tissue, _tissue_to_probe
from mvcore.synth.render import MM_PER_TISSUE_PX, TISSUE_ORIGIN_MM, TISSUE_SHAPE, _draw_leaflet
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


# An echo is seen and marked as the leaflet where it is at least this share of its local peak. At
# 0.36 the labels are as thick against their band on the displayed frame as the hand marks of the
# real cine against theirs (docs/REALISM.md); at 0.5 (the band's half maximum) they were 0.79 as thick.
SEEN_LEVEL = 0.36


def _seen_label(heart: Heart, scan: Scan, pose: Pose, grid: np.ndarray, maps) -> np.ndarray:
    """Bool (scan.rows, scan.cols) mask of the mitral leaflets as an observer sees and marks them at
    this pose: where their echo alone (unit reflectivity, blurred by the scanner's point-spread
    function, no speckle or noise) reaches SEEN_LEVEL of its local peak. Across a leaflet thinner
    than the blur that is about 2.9 PSF sigmas, a little wider than its band's half maximum, as a
    person marks the band on screen; along it, the tip ends where its echo has faded to that level.
    grid: probe mm (n_depth, n_beams, 2) of the polar samples; maps: the scan conversion maps."""
    valve = heart.valves["mitral"]
    drawn = np.zeros(TISSUE_SHAPE, np.float32)
    for leaflet, half_width in zip(valve.nodes(pose.openings["mitral"]), valve.frame_half_width(pose.visibility["mitral"])):
        _draw_leaflet(drawn, leaflet, half_width, 1.0)
    u = (_probe_to_tissue(grid, heart, pose) - TISSUE_ORIGIN_MM) / MM_PER_TISSUE_PX
    echo = cv2.remap(drawn, u[..., 0], u[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    echo = cv2.GaussianBlur(echo, (0, 0), sigmaX=scan.psf[1], sigmaY=scan.psf[0])
    reach = [2 * int(np.ceil(3 * sigma)) + 1 for sigma in (scan.psf[1], scan.psf[0])]
    peak = cv2.dilate(echo, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, tuple(reach)))
    seen = ((echo >= SEEN_LEVEL * peak) & (peak > 0.05)).astype(np.uint8) * 255
    return cv2.remap(seen, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= 128


def _observed_label(mitral_px: tuple, heart: Heart, scan: Scan, pose: Pose, grid: np.ndarray, maps) -> np.ndarray:
    """Bool (scan.rows, scan.cols) expert label at this pose: the exact leaflets (`_exact_label` of
    `mitral_px`, `_mitral_px` at this pose) and their echo as it is seen (`_seen_label`), never
    thinner than the leaflets themselves."""
    return _exact_label(*mitral_px, (scan.rows, scan.cols)) | _seen_label(heart, scan, pose, grid, maps)


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
