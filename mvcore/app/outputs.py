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
from mvcore.export import (
    ClipFiles,
    frame_rows,
    submission_csv_writer,
    write_clip_outputs,
    write_frame_table,
    write_masks_npz,
    write_measure_files,
)
from mvcore.files import sanitise_name
from mvcore.predict import annotated_mask, segment_clips


class ClipOutputs:
    """Downloadable files of one segmented clip, written into `folder` when first asked for.

    clip: the Clip; result: its mvcore.predict.Segmentation. Per overlay style, the files the
    command line writes (mvcore.export.write_clip_outputs) in folder/STYLE; the masks beside them.
    """

    def __init__(self, clip: Clip, result, folder: Path):
        self.clip, self.result, self.folder = clip, result, Path(folder)
        self._measured = {}

    def files(self, style: str = "fill") -> ClipFiles:
        """The overlay MP4 and GIF in `style`, the valve's hinges and tips marked on them, and the
        per-frame CSV (written once per style)."""
        files = ClipFiles.in_folder(self.clip.name, self.folder / style)
        if not all(path.is_file() for path in files):
            write_clip_outputs(self.clip, self.result, self.folder / style, style, self.measured(0.0)[0])
        return files

    def masks_npz(self) -> bytes:
        path = self.folder / f"{sanitise_name(self.clip.name, 'clip')}_masks.npz"
        if not path.is_file():
            write_masks_npz({self.clip.name: self.result.mask}, path)
        return path.read_bytes()

    def rows(self) -> list[dict]:
        """Per-frame rows: frame, area_px, mean_confidence, iou (None on unlabelled frames)."""
        return frame_rows(self.result, self.clip)

    def measured(self, mm_per_px: float) -> tuple:
        """(ClipMeasurement, per-frame CSV with its columns, MeasureFiles) at this pixel size (0:
        lengths in pixels; the file's own: labelled as the file's); measured and written in
        folder/measure-SIZE once per size, by the functions `predict --measure` writes them with."""
        from mvcore.measure import Calibration, calibration_of, measure_clip

        user = mm_per_px if mm_per_px != self.clip.mm_per_px else None
        calibration = calibration_of(self.clip.mm_per_px, user) if mm_per_px else Calibration()
        if calibration not in self._measured:
            m = measure_clip(self.result.mask, self.clip.fps, calibration, self.clip.name)
            folder = self.folder / f"measure-{calibration.mm_per_px or 'px'}"
            files = write_measure_files(m, folder)
            frames_csv = ClipFiles.in_folder(self.clip.name, folder).frames_csv
            write_frame_table(frame_rows(self.result, self.clip, m), frames_csv)
            self._measured[calibration] = (m, frames_csv, files)
        return self._measured[calibration]


def annotated_masks(segmenter, clips: list[Clip], progress=None) -> dict[str, np.ndarray]:
    """name -> bool (H, W, T) mask on each labelled clip's annotated frames (what evaluation scores)."""
    masks = {}
    for i, clip in enumerate(clips):
        masks[clip.name] = annotated_mask(segmenter, clip)
        if progress:
            progress((i + 1) / len(clips))
    return masks


def submission_csv(segmenter, clips: list[Clip], progress=None) -> tuple[bytes, list[str]]:
    """The leaderboard CSV (mvcore.export) of every clip segmented in turn, and the names of the
    clips where the locator saw no valve (their crops are guesses); progress(fraction) over all
    clips' frames. Each full-size mask is encoded and dropped before the next clip."""
    unsure = []
    with tempfile.TemporaryDirectory(dir=workspace_dir("results")) as tmp:
        path = Path(tmp) / "submission.csv"
        with submission_csv_writer(path) as add:
            for clip, result, _ in segment_clips(segmenter, clips, progress):
                add(clip.name, result.mask)
                if result.location.unsure:
                    unsure.append(clip.name)
        return path.read_bytes(), unsure
