"""Mask outputs: the run-length submission CSV, `.npz` mask files and the per-frame table.

The CSV format is the course leaderboard's (see docs/FORMATS.md): header `id,value`, one row per run
of True values in `mask.flatten()` (C order, frame index fastest), `id` = `NAME_j`,
`value` = `"[start, length]"` with a 0-based start.
"""

from __future__ import annotations

import csv
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import numpy as np

from mvcore.errors import InputError
from mvcore.files import atomic_path, sanitise_name

_ID = re.compile(r"^(.+)_(\d+)$")
_RUN = re.compile(r"^\[\s*(\d+)\s*,\s*(\d+)\s*\]$")


def encode_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in `mask.flatten()` (C order) as [(start, length)], start 0-based.

    mask: bool (H, W, T) (any shape works; 0/1 values are read as bool).
    """
    flat = np.ascontiguousarray(mask, dtype=bool).reshape(-1).view(np.int8)
    padded = np.zeros(flat.size + 2, dtype=np.int8)
    padded[1:-1] = flat
    edges = np.flatnonzero(np.diff(padded) != 0)  # alternating run starts and run ends
    starts, ends = edges[0::2], edges[1::2]
    return list(zip(starts.tolist(), (ends - starts).tolist()))


def decode_runs(runs, shape) -> np.ndarray:
    """Inverse of `encode_runs`: bool array of `shape` (H, W, T) with the runs set True.

    runs: iterable of (start, length), start 0-based in the C-order flattening.
    Raises InputError when a run has a negative start, a length below 1, or ends past the array.
    """
    size = int(np.prod(shape))
    table = np.asarray(list(runs), dtype=np.int64).reshape(-1, 2)
    starts, lengths = table[:, 0], table[:, 1]
    bad = (starts < 0) | (lengths < 1) | (starts + lengths > size)
    if bad.any():
        start, length = table[np.flatnonzero(bad)[0]]
        raise InputError(f"run [{start}, {length}] does not fit an array of shape {tuple(shape)}")
    flat = np.zeros(size, dtype=bool)
    flat[_run_indices(starts, lengths)] = True
    return flat.reshape(shape)


def _run_indices(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Every flat index covered by the runs, int64 (sum(lengths),), without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)


@contextmanager
def submission_csv_writer(path) -> Iterator[Callable[[str, np.ndarray], None]]:
    """Write the leaderboard CSV one video at a time: yields `add(name, mask)`, mask bool (H, W, T).

    Videos appear in the order added, with no rows for an empty mask; only the mask being added
    need be in memory. An earlier file at `path` is replaced only once the block ends without error.
    """
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "value"])

        def add(name: str, mask: np.ndarray) -> None:
            _check_mask_array(f"video {name}", mask)
            runs = enumerate(encode_runs(mask))
            writer.writerows((f"{name}_{j}", f"[{start}, {length}]") for j, (start, length) in runs)

        yield add


def read_submission_csv(path, shapes: dict[str, tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """Read a leaderboard CSV back into masks, given each video's shape (H, W, T).

    Returns name -> bool (H, W, T) for every name in `shapes` (all False when it has no rows).
    Raises InputError naming the file and line for a bad header or row, an unknown video, or a
    run outside its video.
    """
    runs: dict[str, list[tuple[int, int]]] = {name: [] for name in shapes}
    sizes = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header != ["id", "value"]:
                raise InputError(f"{path}: line 1: header must be 'id,value', found {header}")
            for row in reader:
                name, run = _parse_row(row, sizes, f"{path}: line {reader.line_num}")
                runs[name].append(run)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from err
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: not a CSV text file ({err})") from err
    return {name: decode_runs(runs[name], shape) for name, shape in shapes.items()}


def _parse_row(row: list[str], sizes: dict[str, int], where: str) -> tuple[str, tuple[int, int]]:
    """One CSV row -> (video name, (start, length)), checked against the video's size."""
    if len(row) != 2:
        raise InputError(f"{where}: expected 2 fields (id,value), found {len(row)}")
    id_match, run_match = _ID.match(row[0]), _RUN.match(row[1].strip())
    if id_match is None:
        raise InputError(f"{where}: id {row[0]!r} is not NAME_j")
    if run_match is None:
        raise InputError(f"{where}: value {row[1]!r} is not '[start, length]'")
    name = id_match.group(1)
    if name not in sizes:
        raise InputError(f"{where}: unknown video {name!r}")
    start, length = int(run_match.group(1)), int(run_match.group(2))
    if length < 1 or start + length > sizes[name]:
        raise InputError(
            f"{where}: run [{start}, {length}] outside video {name} ({sizes[name]} pixels)"
        )
    return name, (start, length)


def write_masks_npz(masks: dict[str, np.ndarray], path) -> None:
    """Save masks with `np.savez_compressed`, one bool (H, W, T) array per video name.

    The file is written at `path` exactly (numpy would otherwise append `.npz`).
    """
    arrays = {}
    for name, mask in masks.items():
        _check_mask_array(f"video {name}", mask)
        arrays[name] = np.asarray(mask, dtype=bool)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_masks_npz(path) -> dict[str, np.ndarray]:
    """Load an `.npz` of masks: name -> bool (H, W, T).

    Accepts bool arrays and numeric arrays holding only 0 and 1; anything else (wrong number of
    dimensions, other values, object arrays, not an npz) raises InputError naming the file.
    """
    try:
        data = np.load(path, allow_pickle=False)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from err
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: not an npz file of mask arrays ({err})") from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: a single .npy array, not an npz of named masks")
    with data:
        return {name: _read_npz_mask(path, data, name) for name in data.files}


def _read_npz_mask(path, data, name: str) -> np.ndarray:
    """One named array of an open npz as a bool mask; InputError naming the file and array."""
    where = f"{path}: array {name!r}"
    try:
        array = data[name]
    except (ValueError, zipfile.BadZipFile) as err:
        raise InputError(f"{where}: unreadable ({err})") from err
    return _as_mask(where, array)


def _as_mask(where: str, array: np.ndarray) -> np.ndarray:
    """A 3-D bool or 0/1 numeric array as bool (H, W, T); InputError otherwise."""
    _check_mask_array(where, array)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise InputError(f"{where}: must hold only 0 and 1 (dtype {array.dtype})")
    return array.astype(bool)


def _check_mask_array(where: str, mask: np.ndarray) -> None:
    """Raise InputError unless `mask` is a 3-D array (H, W, T)."""
    if np.ndim(mask) != 3:
        raise InputError(f"{where}: mask must be 3-D (H, W, T), got shape {np.shape(mask)}")


FRAME_COLUMNS = ("frame", "area_px", "mean_confidence", "iou")


def write_frame_table(rows: list[dict], path) -> None:
    """Per-frame CSV with columns frame, area_px, mean_confidence, iou, then any further keys of
    the rows (the measurements of `mvcore.measure.frame_table`, units in their names).

    rows: dicts with those keys; frame and area_px (pixels) are ints, mean_confidence in [0, 1],
    iou in [0, 1] or None where the frame has no label (written as an empty cell); further values
    are written as `_format_value` does.
    """
    extra = [key for key in (rows[0] if rows else {}) if key not in FRAME_COLUMNS]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*FRAME_COLUMNS, *extra])
        writer.writerows(
            (
                int(row["frame"]),
                int(row["area_px"]),
                _format_fraction(row["mean_confidence"]),
                _format_fraction(row["iou"]),
                *(_format_value(row[key]) for key in extra),
            )
            for row in rows
        )


def write_table(rows: list[dict], path, columns: list[str] | None = None) -> None:
    """A CSV of `rows` under the header `columns` (default: every key of the rows, in order of
    appearance), values as `_format_value` writes them, '' where a row lacks a column."""
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([_format_value(row.get(key)) for key in columns] for row in rows)


def _format_value(value) -> str:
    """'' for None or NaN, ints as they are, other numbers with 3 decimals, text as it is."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.3f}"


def _format_fraction(value) -> str:
    """A float in [0, 1] with 4 decimals, or '' for None/NaN."""
    if value is None or np.isnan(value):
        return ""
    return f"{float(value):.4f}"


def frame_rows(result, clip, measurement=None) -> list[dict]:
    """Per-frame rows for `write_frame_table`: area and confidence of a `Segmentation`, IoU on
    labelled frames, and with a `mvcore.measure.ClipMeasurement` its per-frame columns after them."""
    from .measure import frame_table
    from .metrics import frame_iou

    labelled = set(clip.frames) if clip.is_labelled else set()
    measured = frame_table(measurement) if measurement is not None else [{}] * clip.n_frames
    return [{"frame": t, "area_px": int(result.area[t]), "mean_confidence": float(result.confidence[t]),
             "iou": frame_iou(clip.label[:, :, t], result.mask[:, :, t]) if t in labelled else None,
             **{k: v for k, v in measured[t].items() if k != "frame"}}
            for t in range(clip.n_frames)]


class ClipFiles(NamedTuple):
    """The per-clip outputs in one folder: overlay video (H.264 MP4), overlay GIF, per-frame CSV."""

    mp4: Path
    gif: Path
    frames_csv: Path

    @classmethod
    def in_folder(cls, name: str, folder: Path) -> "ClipFiles":
        """NAME.mp4, NAME.gif and NAME_frames.csv in `folder`; NAME is the clip's name made safe as a file name."""
        stem, folder = sanitise_name(name, "clip"), Path(folder)
        return cls(folder / f"{stem}.mp4", folder / f"{stem}.gif", folder / f"{stem}_frames.csv")


def write_clip_outputs(clip, result, out_dir: Path, style: str = "fill", measurement=None) -> ClipFiles:
    """Write the `ClipFiles` of one segmented clip into `out_dir` (created); what the CLI and the app both write.

    result: its `Segmentation`; style: 'fill' or 'contour'. A labelled clip's truth is drawn too.
    The overlay is drawn once for both videos. With a `mvcore.measure.ClipMeasurement` the
    per-frame CSV has its columns too, and the overlay its hinges and tips.
    """
    from .measure import landmarks
    from .video import GIF_MAX_SIDE, fit_within, iter_overlay, write_gif, write_mp4

    files = ClipFiles.in_folder(clip.name, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    gif_frames = []
    points = landmarks(measurement) if measurement is not None else None

    def overlay_frames_keeping_small_copies():
        for frame in iter_overlay(clip.video, result.mask, style, truth=clip.label if clip.is_labelled else None,
                                  points=points):
            gif_frames.append(fit_within(frame, GIF_MAX_SIDE))
            yield frame

    write_mp4(overlay_frames_keeping_small_copies(), files.mp4, clip.fps)
    write_gif(gif_frames, files.gif, clip.fps)
    write_frame_table(frame_rows(result, clip, measurement), files.frames_csv)
    return files


class MeasureFiles(NamedTuple):
    """A measured clip's summary beside its `ClipFiles`: NAME_cycles.csv (one row per cycle) and
    NAME_summary.json (the clip's summary, its events and cycles)."""

    cycles_csv: Path
    summary_json: Path

    @classmethod
    def in_folder(cls, name: str, folder: Path) -> "MeasureFiles":
        """NAME_cycles.csv and NAME_summary.json in `folder`; NAME is the clip's name made safe as a file name."""
        stem, folder = sanitise_name(name, "clip"), Path(folder)
        return cls(folder / f"{stem}_cycles.csv", folder / f"{stem}_summary.json")


def summary_document(measurement) -> dict:
    """The JSON summary of a `mvcore.measure.ClipMeasurement`: 'summary', 'events' [{frame, t_ms,
    event}], 'cycles' (rows of `cycle_table`); NaN written as null."""
    from .measure import clip_summary, cycle_table

    def plain(value):
        return None if isinstance(value, float) and np.isnan(value) else value

    events = [{"frame": t, "t_ms": measurement.ms(t), "event": kind} for t, kind in measurement.events]
    return {"summary": {k: plain(v) for k, v in clip_summary(measurement).items()}, "events": events,
            "cycles": [{k: plain(v) for k, v in row.items()} for row in cycle_table(measurement)]}


def write_measure_files(measurement, out_dir: Path) -> MeasureFiles:
    """Write the `MeasureFiles` of a `mvcore.measure.ClipMeasurement` into `out_dir` (created)."""
    import json

    from .measure import cycle_columns, cycle_table

    files = MeasureFiles.in_folder(measurement.name, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_table(cycle_table(measurement), files.cycles_csv, cycle_columns(measurement.unit))
    with atomic_path(files.summary_json) as tmp:
        tmp.write_text(json.dumps(summary_document(measurement), indent=1) + "\n")
    return files


def measure_and_write(clip, result, out_dir: Path, mm_per_pixel: float | None = None):
    """(the `mvcore.measure.ClipMeasurement` of a segmented clip, its `MeasureFiles` written into
    `out_dir`). result: its `Segmentation`; lengths in mm from `mm_per_pixel`, else the clip's own
    pixel size (DICOM), else in pixels."""
    from .measure import calibration_of, measure_clip

    measurement = measure_clip(result.mask, clip.fps, calibration_of(clip.mm_per_px, mm_per_pixel), clip.name)
    return measurement, write_measure_files(measurement, out_dir)


def read_clip_summary(path: Path) -> dict:
    """The 'summary' of a NAME_summary.json (`summary_document`), a row of measurements.csv."""
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))["summary"]
