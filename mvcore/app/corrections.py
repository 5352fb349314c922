"""Corrected frames in the workspace, keyed by the clip's content, and fine-tuning on them.

    corrections/KEY/clip.json         the clip's name and shape when first corrected
    corrections/KEY/frame_0007.png    the corrected mask of frame 7 (0 or 255, the clip's size)
    corrections/KEY/train.pkl         the corrected frames as an AML train record (written on export)

KEY is a hash of the clip's pixels, so a clip uploaded again (same content, any file name) finds its
corrections, and they outlive reloads and server restarts. No streamlit here.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from pathlib import Path

import cv2
import numpy as np

from mvcore.app import jobs
from mvcore.app.storage import workspace_dir
from mvcore.clip import Clip
from mvcore.corrections import FINE_TUNE_EPOCHS, FINE_TUNE_LR, corrected_clip, write_train_pickle
from mvcore.errors import InputError
from mvcore.files import atomic_path
from mvcore.metrics import frame_iou

FRAME_FILE = re.compile(r"frame_(\d+)\.png")
FINE_TUNE = jobs.TrainSettings(epochs_stage2=FINE_TUNE_EPOCHS, lr_stage2=FINE_TUNE_LR)
_KEYS: dict[int, tuple[weakref.ref, str]] = {}  # id(video) -> (the video, its clip_key)


def clip_key(clip: Clip) -> str:
    """16 hex digits naming the clip's content (its frames' shape and pixels), not its file.

    Remembered per video array (a page asks several times per run; nothing changes a loaded clip's pixels).
    """
    known = _KEYS.get(id(clip.video))
    if known is not None and known[0]() is clip.video:
        return known[1]
    digest = hashlib.sha256(repr(clip.video.shape).encode())
    digest.update(np.ascontiguousarray(clip.video).data)
    for gone in [k for k, (video, _) in _KEYS.items() if video() is None]:
        del _KEYS[gone]
    _KEYS[id(clip.video)] = (weakref.ref(clip.video), digest.hexdigest()[:16])
    return _KEYS[id(clip.video)][1]


def clip_folder(clip: Clip) -> Path:
    """workspace/corrections/KEY of `clip`, which may not exist yet."""
    return workspace_dir("corrections") / clip_key(clip)


def corrections_dir(clip: Clip) -> Path:
    """workspace/corrections/KEY of `clip` (created, with its clip.json)."""
    folder = clip_folder(clip)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "clip.json").is_file():
        (folder / "clip.json").write_text(json.dumps({"name": clip.name, "shape": list(clip.shape)}) + "\n")
    return folder


def save_correction(clip: Clip, t: int, mask: np.ndarray) -> Path:
    """Store `mask` bool (H, W) as the label of frame `t` of `clip` (replacing an earlier one), atomically."""
    if mask.shape != clip.shape[:2]:
        raise InputError(f"a correction of {mask.shape} does not fit the clip's {clip.shape[:2]} frames")
    if not 0 <= t < clip.n_frames:
        raise InputError(f"frame {t} is outside the clip's {clip.n_frames} frames")
    path = corrections_dir(clip) / f"frame_{t:04d}.png"
    with atomic_path(path) as partial:
        if not cv2.imwrite(str(partial), mask.astype(np.uint8) * 255):
            raise InputError(f"{path}: cannot write the mask")
    return path


def corrected_frames(clip: Clip) -> list[int]:
    """The frames of `clip` with a stored correction, in order."""
    folder = clip_folder(clip)
    found = (FRAME_FILE.fullmatch(p.name) for p in folder.glob("frame_*.png")) if folder.is_dir() else ()
    return sorted(int(m.group(1)) for m in found if m)


def load_corrections(clip: Clip) -> dict[int, np.ndarray]:
    """Frame index -> corrected mask bool (H, W) of every stored correction of `clip`."""
    folder = clip_folder(clip)
    masks = {}
    for t in corrected_frames(clip):
        image = cv2.imread(str(folder / f"frame_{t:04d}.png"), cv2.IMREAD_GRAYSCALE)
        if image is not None and image.shape == clip.shape[:2]:
            masks[t] = image > 127
    return masks


def delete_correction(clip: Clip, t: int) -> None:
    """Forget the correction of frame `t` (nothing happens when there is none)."""
    (clip_folder(clip) / f"frame_{t:04d}.png").unlink(missing_ok=True)


def export_train_pickle(clip: Clip) -> Path:
    """Write the corrected frames of `clip` as corrections/KEY/train.pkl (one AML train record);
    InputError when no frame is corrected."""
    masks = load_corrections(clip)
    if not masks:
        raise InputError(f"{clip.name}: no corrected frames yet; correct a frame and save it as a label first")
    return write_train_pickle([corrected_clip(clip, masks)], corrections_dir(clip) / "train.pkl")


def start_fine_tune(clip: Clip, start_model: Path, name: str) -> jobs.Job:
    """Fine-tune the model folder `start_model` on the corrected frames of `clip` (with the bundled
    synthetic set mixed in) as a background job writing workspace/models/NAME."""
    return jobs.start_training([export_train_pickle(clip)], name, FINE_TUNE, init=start_model)


def iou_rows(clip: Clip, masks: dict[str, np.ndarray]) -> list[dict]:
    """One row per corrected frame: its IoU with the correction for each model's masks
    (`masks`: model name -> bool (H, W, T))."""
    return [{"frame": t, **{f"IoU {name}": round(frame_iou(truth, mask[:, :, t]), 3) for name, mask in masks.items()}}
            for t, truth in load_corrections(clip).items()]
