"""Folders of many clips, clip by clip on an engine: a process pool here (`--jobs N`) or Ray
(mvcore.ray_engine), each worker loading the model once.

Every clip's outputs are written as it is done, into one folder: NAME.npz (its bool (H, W, T)
mask), NAME.mp4, NAME.gif, NAME_frames.csv (mvcore.export.write_clip_outputs), with `measure` its
NAME_cycles.csv and NAME_summary.json, and a row of `manifest.csv` (file, clip, status, frames,
seconds, error, worker). Two files whose clips would be saved under one name are refused before
any clip is read. A file that cannot be read is a 'failed' row with its error and the run goes on.
A rerun skips the files whose clips are all 'done' with their outputs in place (resume after a
crash). At the end the submission CSV, the run's `.npz` and, with `measure`, `measurements.csv`
are assembled from the clips' NAME.npz and NAME_summary.json, in input order.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import socket
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from .config import PredictConfig
from .export import (ClipFiles, MeasureFiles, measure_and_write, read_clip_summary, read_masks_npz,
                     submission_csv_writer, write_clip_outputs, write_masks_npz, write_table)
from .files import sanitise_name

MANIFEST = "manifest.csv"
COLUMNS = ["file", "clip", "status", "frames", "seconds", "crop", "locator_peak", "error", "worker"]
DONE, FAILED = "done", "failed"

Row = dict


@dataclass(frozen=True)
class FolderJob:
    """What every worker needs: the output folder, the model folder (None: bundled), prediction
    settings, the overlay style, the axis order of array inputs, and whether each clip is measured
    (lengths in mm from `mm_per_pixel`, else a DICOM file's pixel size, else in pixels)."""

    out_dir: Path
    model: Path | None = None
    predict: PredictConfig = field(default_factory=PredictConfig)
    style: str = "fill"
    axis: str = "HWT"
    measure: bool = False
    mm_per_pixel: float | None = None


def sharing_cores(job: FolderJob, cores: float, workers: int) -> FolderJob:
    """`job` with each of `workers` running its networks on its share of `cores` (ONNX Runtime
    threads: cores // workers, at least 1), unless the job sets them: workers that each took one
    thread per core would fight over the cores."""
    if job.predict.onnx_threads:
        return job
    return replace(job, predict=replace(job.predict, onnx_threads=max(1, int(cores // workers))))


def list_files(inputs: Iterable[Path]) -> list[tuple[str, str]]:
    """[(file, kind)] of every input, folders expanded (mvcore.data.inputs.readable_files); InputError
    naming both files where two would give clips saved under one name, before any clip is read."""
    from .data.inputs import clip_names, readable_files, refuse_shared_clip_names

    files = [(str(file), kind) for path in inputs for file, kind in readable_files(Path(path))]
    refuse_shared_clip_names([(file, name) for file, kind in files for name in clip_names(Path(file), kind)])
    return files


def mask_path(out_dir: Path, name: str) -> Path:
    """NAME.npz beside the clip's other outputs (NAME made safe as a file name)."""
    return Path(out_dir) / f"{sanitise_name(name, 'clip')}.npz"


def clip_outputs(name: str, out_dir: Path, measure: bool = False) -> list[Path]:
    """Every file a done clip has in `out_dir`: NAME.npz, its `ClipFiles` and, measured, its `MeasureFiles`."""
    measured = MeasureFiles.in_folder(name, out_dir) if measure else ()
    return [mask_path(out_dir, name), *ClipFiles.in_folder(name, out_dir), *measured]


def worker_name() -> str:
    """host:pid of this process, as the manifest's `worker`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def failed_row(file: str, error: Exception, clip: str = "") -> Row:
    """The manifest row of a file (or one of its clips) that could not be read or segmented."""
    return {"file": file, "clip": clip, "status": FAILED, "frames": 0, "seconds": 0.0, "crop": "", "locator_peak": "",
            "error": str(error).splitlines()[0] if str(error) else type(error).__name__, "worker": worker_name()}


def decode(file: str, kind: str, axis: str = "HWT") -> tuple[list, Row | None]:
    """(the file's clips, None), or ([], its failed row) where it cannot be read."""
    from .data.inputs import read_file

    try:
        return read_file(Path(file), kind, axis), None
    except Exception as err:  # a corrupt clip is a manifest row, never the end of the run
        return [], failed_row(file, err)


def segment_and_write(segmenter, clip, file: str, job: FolderJob) -> Row:
    """Segment `clip` (of `file`) and write its outputs into `job.out_dir` (measured first with
    `job.measure`), NAME.npz last (its presence marks the clip complete); its manifest row (failed,
    with the error, where it fails)."""
    try:
        started = time.perf_counter()
        result = segmenter.segment(clip)
        seconds = time.perf_counter() - started
        measurement = measure_and_write(clip, result, job.out_dir, job.mm_per_pixel)[0] if job.measure else None
        write_clip_outputs(clip, result, job.out_dir, job.style, measurement)
        write_masks_npz({clip.name: result.mask}, mask_path(job.out_dir, clip.name))
    except Exception as err:
        return failed_row(file, err, clip.name)
    peak = result.location.peak
    return {"file": file, "clip": clip.name, "status": DONE, "frames": clip.n_frames, "seconds": round(seconds, 3),
            "crop": result.location.found_by, "locator_peak": "" if math.isnan(peak) else f"{peak:.3f}",
            "error": "", "worker": worker_name()}


def load_segmenter(job: FolderJob):
    """The job's Segmenter, traced on a small clip (once per worker)."""
    from .predict import Segmenter

    return Segmenter.load(job.model, job.predict).warm_up()


_SEGMENTER = None  # a pool process's own Segmenter


def _start_worker(job: FolderJob) -> None:
    global _SEGMENTER
    _SEGMENTER = load_segmenter(job)


def _run_file(file: str, kind: str, job: FolderJob) -> list[Row]:
    clips, failed = decode(file, kind, job.axis)
    return [failed] if failed else [segment_and_write(_SEGMENTER, clip, file, job) for clip in clips]


def run_local(job: FolderJob, files: list[tuple[str, str]], jobs: int, on_row: Callable[[Row], None]) -> None:
    """Each file decoded, segmented and written in a pool of `jobs` processes, each with its model;
    `on_row` is called with each manifest row as its clip is done."""
    import multiprocessing

    from .runtime import usable_cores

    job = sharing_cores(job, usable_cores(), jobs)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(job,)) as pool:
        for future in as_completed([pool.submit(_run_file, file, kind, job) for file, kind in files]):
            for row in future.result():
                on_row(row)


def read_manifest(out_dir: Path) -> list[Row]:
    """The rows of `out_dir`'s manifest.csv ([] where there is none)."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_complete(row: Row, out_dir: Path, measure: bool = False) -> bool:
    """Whether a manifest row is a done clip whose `clip_outputs` are all in place."""
    return row["status"] == DONE and all(p.is_file() for p in clip_outputs(row["clip"], out_dir, measure))


def completed_rows(out_dir: Path, files: list[tuple[str, str]], measure: bool = False) -> dict[str, list[Row]]:
    """file -> its rows, for the `files` whose every clip an earlier run completed (and measured, with `measure`)."""
    by_file: dict[str, list[Row]] = {}
    for row in read_manifest(out_dir):
        by_file.setdefault(row["file"], []).append(row)
    wanted = {file for file, _ in files}
    return {file: rows for file, rows in by_file.items()
            if file in wanted and all(is_complete(row, out_dir, measure) for row in rows)}


class ManifestWriter:
    """manifest.csv written row by row as clips are done (what a rerun resumes from), then whole
    and in input order by `finish`."""

    def __init__(self, out_dir: Path, kept: list[Row]):
        self.path = Path(out_dir) / MANIFEST
        self.rows = list(kept)
        self.file = open(self.path, "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, fieldnames=COLUMNS)
        self.writer.writeheader()
        self.writer.writerows(self.rows)
        self.file.flush()

    def __call__(self, row: Row) -> None:
        row = {k: row[k] for k in COLUMNS}
        self.rows.append(row)
        self.writer.writerow(row)
        self.file.flush()

    def finish(self, files: list[tuple[str, str]]) -> list[Row]:
        """The rows in the order of `files` (a file's clips in their order), written whole."""
        self.file.close()
        order = {file: i for i, (file, _) in enumerate(files)}
        self.rows.sort(key=lambda row: order.get(row["file"], len(order)))
        write_table(self.rows, self.path, COLUMNS)
        return self.rows


def run_folder(inputs: list[Path], job: FolderJob, engine: str = "local", jobs: int = 1, address: str | None = None,
               on_row: Callable[[Row], None] = lambda row: None) -> list[Row]:
    """Segment every clip of `inputs` on `engine` ('local': `jobs` processes; 'ray': `jobs` Ray
    actors, on the cluster at `address` or a new local one), skipping files an earlier run completed;
    returns the manifest rows in input order."""
    files = list_files(inputs)
    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    done = completed_rows(job.out_dir, files, job.measure)
    manifest = ManifestWriter(job.out_dir, [row for file, _ in files for row in done.get(file, [])])
    todo = [(file, kind) for file, kind in files if file not in done]

    def record(row: Row) -> None:
        manifest(row)
        on_row(row)

    if todo and engine == "ray":
        from .ray_engine import run_ray

        run_ray(job, todo, jobs, address, record)
    elif todo:
        run_local(job, todo, jobs, record)
    return manifest.finish(files)


def assemble(rows: list[Row], out_dir: Path, csv_path: Path | None, npz_path: Path | None) -> None:
    """The submission CSV and the run's `.npz` from the done clips' NAME.npz, in the rows' order."""
    names = [row["clip"] for row in rows if row["status"] == DONE]
    masks = {}
    with submission_csv_writer(csv_path) if csv_path else contextlib.nullcontext() as add_to_csv:
        for name in names:
            mask = read_masks_npz(mask_path(out_dir, name))[name]
            if add_to_csv:
                add_to_csv(name, mask)
            if npz_path:
                masks[name] = mask
    if npz_path:
        write_masks_npz(masks, npz_path)



def assemble_measurements(rows: list[Row], out_dir: Path) -> Path | None:
    """`out_dir`/measurements.csv from the done clips' NAME_summary.json, in the rows' order, as the
    default engine writes it; None (nothing written) where no clip is done."""
    summaries = [read_clip_summary(MeasureFiles.in_folder(row["clip"], out_dir).summary_json)
                 for row in rows if row["status"] == DONE]
    if not summaries:
        return None
    path = Path(out_dir) / "measurements.csv"
    write_table(summaries, path)
    return path
