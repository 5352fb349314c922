"""The hand marks of the real cine (tests/data/real/marks.json): placed by eye, snapped onto the
leaflet's ridge, drawn into masks.

A person places each leaflet's polyline on the middle of its bright band by eye, with about 2 px of
error at each point (docs/LABELLING.md). On a band 5 px wide that error alone costs half the IoU:
a mask lying exactly on the band scored 0.53 against the drawn lines. So each drawn line (`drawn`)
is resampled and moved across itself, at most REACH_PX, onto the ridge of the band it was drawn
along (`leaflets`, the lines the masks are drawn from). The move uses the frame alone, never a
model. `python -m mvcore.bench.marks --write` snaps the drawn lines again and redraws labels.npz.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..synth.realism import resample_polyline

REAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "real"
CINE_SHAPE = (480, 640)  # the marks' frame, rows x cols
REACH_PX = 4.0           # how far a drawn point may move across its line
STEP_PX = 0.5            # the offsets tried, this far apart
SPACING_PX = 3.0         # points along the snapped line
BLUR_PX = 1.5            # the frame's blur before its ridge is sought (speckle is 2-3 px)
BEND_COST = 16.0         # grey levels a point gives up per px its offset differs from its neighbour's


def read_marks() -> dict:
    """marks.json: {"thickness_px", "frames": {frame: {"state", "drawn", "leaflets"}}, ...}."""
    return json.loads((REAL_DIR / "marks.json").read_text())


def marks_to_masks(marks: dict, shape: tuple[int, int], scale: float = 1.0,
                   origin: tuple[float, float] = (0.0, 0.0)) -> tuple[list[int], np.ndarray]:
    """(frames, bool (H, W, len(frames))): each frame's snapped leaflet polylines drawn `thickness_px` wide.

    `marks`: the contents of marks.json (points are (x, y) in pixels of the 480 x 640 cine);
    `scale`: 0.5 draws them for the half-size copy; `origin` (x, y) px of the cine: the point that
    lands on the masks' top left corner, for a part of the cine cut out before it was resized.
    """
    frames = sorted(int(t) for t in marks["frames"])
    width = max(1, int(round(marks["thickness_px"] * scale)))
    masks = []
    for t in frames:
        mask = np.zeros(shape, dtype=np.uint8)
        for leaflet in marks["frames"][str(t)]["leaflets"]:
            points = np.round((np.asarray(leaflet, dtype=np.float64) - origin) * scale).astype(np.int32)
            cv2.polylines(mask, [points], isClosed=False, color=1, thickness=width)
        masks.append(mask)
    return frames, np.stack(masks, axis=2).astype(bool)


def snap_to_ridge(frame: np.ndarray, line) -> np.ndarray:
    """The polyline `line` (n, 2) px (x, y), drawn along a bright band of `frame` uint8 (H, W),
    moved onto the band's ridge: float (m, 2) px, a point every SPACING_PX from its first to its last.

    Each point moves along the line's normal by one of the offsets -REACH_PX..REACH_PX. The offsets
    are chosen together (dynamic programming) for the brightest path of the blurred frame, less
    BEND_COST per px that neighbouring offsets differ, so that the line follows one band rather than
    jump onto a brighter neighbour such as the crux at the leaflet's hinge.
    """
    smooth = cv2.GaussianBlur(frame.astype(np.float32), (0, 0), BLUR_PX)
    points, normals = resample_polyline(np.asarray(line, np.float32), SPACING_PX, endpoint=True)
    offsets = np.arange(-REACH_PX, REACH_PX + STEP_PX / 2, STEP_PX, dtype=np.float32)
    coords = points[:, None, :] + offsets[None, :, None] * normals[:, None, :]
    brightness = cv2.remap(smooth, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    chosen = offsets[brightest_path(brightness, BEND_COST * np.abs(offsets[:, None] - offsets[None, :]))]
    return points + chosen[:, None] * normals


def brightest_path(brightness: np.ndarray, bend: np.ndarray) -> np.ndarray:
    """The column per row, int (m,), maximising the sum of `brightness` (m, k) less `bend` (k, k)[j, i]
    for each step from column j to column i (Viterbi)."""
    score = brightness[0].astype(np.float64)
    came_from = np.zeros(brightness.shape, dtype=np.int64)
    for row in range(1, len(brightness)):
        options = score[:, None] - bend  # [from, to]
        came_from[row] = np.argmax(options, axis=0)
        score = options[came_from[row], np.arange(brightness.shape[1])] + brightness[row]
    path = [int(np.argmax(score))]
    for row in range(len(brightness) - 1, 0, -1):
        path.append(int(came_from[row, path[-1]]))
    return np.asarray(path[::-1])


def snapped(marks: dict, video: np.ndarray) -> dict:
    """`marks` with each frame's `leaflets` the `drawn` lines snapped onto the ridge of that frame of
    `video` uint8 (480, 640, T), rounded to 0.1 px."""
    frames = {t: dict(m, leaflets=[np.round(snap_to_ridge(video[:, :, int(t)], line).astype(float), 1).tolist()
                                   for line in m["drawn"]])
              for t, m in marks["frames"].items()}
    return dict(marks, frames=frames)


def marks_text(marks: dict) -> str:
    """marks.json's text: the settings one per line, then each frame's state, drawn and snapped
    lines on a line each (readable beside the frame, and in a diff)."""
    settings = [f'  {json.dumps(k)}: {json.dumps(v)}' for k, v in marks.items() if k != "frames"]
    frames = [f'    {json.dumps(t)}: {{"state": {json.dumps(m["state"])},\n'
              f'      "drawn": {json.dumps(m["drawn"])},\n'
              f'      "leaflets": {json.dumps(m["leaflets"])}}}'
              for t, m in sorted(marks["frames"].items(), key=lambda item: int(item[0]))]
    return "{\n" + ",\n".join(settings + ['  "frames": {\n' + ",\n".join(frames) + "\n  }"]) + "\n}\n"


def real_cine():
    """The SonoSite cine the marks were placed on, as read by the app: a `mvcore.clip.Clip` of
    uint8 (480, 640, 120) with its fps and calibration."""
    from pydicom.data import get_testdata_file

    from ..data import load_inputs

    return load_inputs([get_testdata_file("color3d_jpeg_baseline.dcm")])[0]


def write_marks_and_labels() -> tuple[Path, Path]:
    """Snap the drawn lines of marks.json again, save it, and draw labels.npz (frames, masks) from it."""
    marks = snapped(read_marks(), real_cine().video)
    marks_path, labels_path = REAL_DIR / "marks.json", REAL_DIR / "labels.npz"
    marks_path.write_text(marks_text(marks))
    frames, masks = marks_to_masks(marks, CINE_SHAPE)
    np.savez_compressed(labels_path, frames=np.asarray(frames), masks=masks)
    return marks_path, labels_path


def print_snapping(marks: dict) -> None:
    """Per frame, how far the snapped lines lie from the drawn ones (mean px over the snapped points)
    and the IoU of the masks drawn from each; then the mean IoU."""
    from ..metrics import frame_iou

    drawn = dict(marks, frames={t: dict(m, leaflets=m["drawn"]) for t, m in marks["frames"].items()})
    frames, before = marks_to_masks(drawn, CINE_SHAPE)
    _, after = marks_to_masks(marks, CINE_SHAPE)
    print("| frame | state | snapped from drawn, mean px | IoU drawn vs snapped |\n|---|---|---|---|")
    ious = []
    for i, t in enumerate(frames):
        frame = marks["frames"][str(t)]
        dense = [resample_polyline(np.asarray(line, np.float32), 0.25, endpoint=True)[0] for line in frame["drawn"]]
        moved = [np.min(np.linalg.norm(np.asarray(line)[:, None] - d[None], axis=2), axis=1).mean()
                 for line, d in zip(frame["leaflets"], dense)]
        ious.append(frame_iou(before[:, :, i], after[:, :, i]))
        print(f"| {t} | {frame['state']} | {np.mean(moved):.1f} | {ious[-1]:.3f} |")
    print(f"\nmean IoU of the drawn and the snapped masks {np.mean(ious):.3f} "
          f"(least {np.min(ious):.3f}, most {np.max(ious):.3f}) over {len(frames)} frames")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m mvcore.bench.marks --write   (snap marks.json's drawn lines, redraw labels.npz)")
    print("wrote", *write_marks_and_labels(), "\n")
    print_snapping(read_marks())
