"""What the app writes for a segmented clip or a whole set: overlays, tables and masks for download,
the masks an evaluation scores, the submission CSV.

No streamlit here: the pages call these functions.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from mvcore.app.storage import workspace_dir
from mvcore.clip import Clip
from mvcore.files import sanitise_name


class ClipOutputs:
    """Downloadable files of one segmented clip, written into `folder` when first asked for.

    clip: the Clip; result: its mvcore.predict.Segmentation. Labelled clips get the truth drawn
    as a green contour in the overlays.
    """

    def __init__(self, clip: Clip, result, folder: Path):
        self.clip, self.result, self.folder = clip, result, Path(folder)
        self.truth = clip.label if clip.is_labelled else None

    def overlay_mp4(self, style: str = "fill") -> Path:
        """H.264 overlay at the clip's frame rate (written once per style)."""
        from mvcore.video import iter_overlay, write_mp4

        path = self.folder / f"{sanitise_name(self.clip.name, 'clip')}_{style}.mp4"
        if not path.is_file():
            write_mp4(iter_overlay(self.clip.video, self.result.mask, style, truth=self.truth),
                      path, self.clip.fps)
        return path

    def overlay_gif(self, style: str = "fill") -> bytes:
        from mvcore.video import iter_overlay, write_gif

        path = self.folder / f"{sanitise_name(self.clip.name, 'clip')}_{style}.gif"
        if not path.is_file():
            write_gif(iter_overlay(self.clip.video, self.result.mask, style, truth=self.truth), path, self.clip.fps)
        return path.read_bytes()

    def masks_npz(self) -> bytes:
        from mvcore.export import write_masks_npz

        path = self.folder / f"{sanitise_name(self.clip.name, 'clip')}_masks.npz"
        if not path.is_file():
            write_masks_npz({self.clip.name: self.result.mask}, path)
        return path.read_bytes()

    def rows(self) -> list[dict]:
        """Per-frame rows: frame, area_px, mean_confidence, iou (None on unlabelled frames)."""
        from mvcore.export import frame_rows

        return frame_rows(self.result, self.clip)

    def frames_csv(self) -> bytes:
        from mvcore.export import write_frame_table

        path = self.folder / f"{sanitise_name(self.clip.name, 'clip')}_frames.csv"
        write_frame_table(self.rows(), path)
        return path.read_bytes()


def annotated_masks(segmenter, clips: list[Clip], progress=None) -> dict[str, np.ndarray]:
    """name -> bool (H, W, T) mask on each labelled clip's annotated frames (what evaluation scores)."""
    from mvcore.predict import annotated_mask

    masks = {}
    for i, clip in enumerate(clips):
        masks[clip.name] = annotated_mask(segmenter, clip)
        if progress:
            progress((i + 1) / len(clips))
    return masks


def submission_csv(segmenter, clips: list[Clip], progress=None) -> bytes:
    """The leaderboard CSV (mvcore.export) of every clip segmented in turn; progress(fraction) over
    all clips' frames. Each full-size mask is encoded and dropped before the next clip."""
    from mvcore.export import submission_csv_writer
    from mvcore.predict import segment_clips

    with tempfile.TemporaryDirectory(dir=workspace_dir("results")) as tmp:
        path = Path(tmp) / "submission.csv"
        with submission_csv_writer(path) as add:
            for clip, result, _ in segment_clips(segmenter, clips, progress):
                add(clip.name, result.mask)
        return path.read_bytes()
