"""`mvcore bench scale`: a folder of synthetic 600 x 800 clips segmented one after another in one
process, by the local engine (`--jobs` processes) and by Ray (`--jobs` actors), each writing every
clip's outputs (mvcore.folder): clips/s and frames/s each, and the per-clip cost of decoding
(CPU) and of the networks, from which BENCHMARKS.md models throughput on N GPUs. With `--kill`,
Ray runs once more and one of its workers is killed midway: every clip must then be in the
manifest exactly once, done.

The clips are copies of the bundled synthetic expert sample, resized to 600 x 800 and cut to
FRAMES frames, as H.264 MP4: each copy is decoded anew.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

from ..folder import DONE, FolderJob, decode, list_files, load_segmenter, run_folder, segment_and_write

FRAMES = 20
SIZE = (600, 800)  # (H, W) pixels
SCALE_HEADER = ("Each run segments every clip and writes its outputs (mask .npz, MP4, GIF, per-frame CSV).\n"
                f"{'engine':<22}{'clips':>6}{'frames':>8}{'seconds':>9}{'clips/s':>9}{'frames/s':>10}{'of one':>8}")


def scale_folder(work: Path, clips: int) -> Path:
    """`clips` copies of one synthetic 600 x 800 MP4 of FRAMES frames in `work`/scale-clips-N."""
    import cv2
    import numpy as np

    from ..data import read_video
    from ..synth.samples import SAMPLES_DIR
    from ..video import write_mp4

    folder = work / f"scale-clips-{clips}"
    if len(list(folder.glob("*.mp4"))) == clips:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sample = read_video(SAMPLES_DIR / "echo_expert.mp4")
    frames = [cv2.resize(sample.video[:, :, t], SIZE[::-1], interpolation=cv2.INTER_LINEAR) for t in range(FRAMES)]
    first = write_mp4((np.repeat(f[:, :, None], 3, axis=2) for f in frames), folder / "clip000.mp4", sample.fps)
    for i in range(1, clips):
        shutil.copyfile(first, folder / f"clip{i:03d}.mp4")
    return folder


def one_process(job: FolderJob, folder: Path) -> dict:
    """Every clip decoded, segmented and written in this process, one after another: the seconds of
    each part summed over clips."""
    segmenter = load_segmenter(job)
    parts = Counter()
    for file, kind in list_files([folder]):
        started = time.perf_counter()
        clips, _ = decode(file, kind)
        decoded = time.perf_counter()
        rows = [segment_and_write(segmenter, clip, file, job) for clip in clips]
        parts["decode"] += decoded - started
        parts["model"] += sum(float(row["seconds"]) for row in rows)
        parts["total"] += time.perf_counter() - started
        parts["frames"] += sum(int(row["frames"]) for row in rows)
    return dict(parts)


def timed_engine(job: FolderJob, folder: Path, engine: str, jobs: int, on_row=lambda row: None) -> tuple[list, float]:
    """(manifest rows, seconds) of a fresh run of `engine` (its output folder emptied first)."""
    shutil.rmtree(job.out_dir, ignore_errors=True)
    started = time.perf_counter()
    rows = run_folder([folder], job, engine, jobs, on_row=on_row)
    return rows, time.perf_counter() - started


def print_row(name: str, clips: int, frames: int, seconds: float, single_fps: float | None) -> float:
    """One table row; returns its frames/s."""
    fps = frames / seconds
    share = f"{fps / single_fps:.0%}" if single_fps else ""
    print(f"{name:<22}{clips:>6}{frames:>8}{seconds:>9.1f}{clips / seconds:>9.2f}{fps:>10.1f}{share:>8}", flush=True)
    return fps


def killer(after: int):
    """An `on_row` that SIGKILLs the worker of the `after`-th row (a Ray actor on this machine) once."""
    seen = []

    def on_row(row):
        seen.append(row)
        if len(seen) == after:
            pid = int(str(row["worker"]).rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            print(f"  killed worker {row['worker']} after {after} clips", flush=True)

    return on_row


def check_each_once(rows: list, clips: int) -> str:
    """'ok' when the manifest holds each of `clips` clips exactly once, done; else what is wrong."""
    counts = Counter(row["clip"] for row in rows)
    lost = clips - len(counts)
    duplicated = sum(n - 1 for n in counts.values())
    failed = sum(row["status"] != DONE for row in rows)
    return "ok" if not (lost or duplicated or failed) else f"{lost} lost, {duplicated} duplicated, {failed} failed"


def scale(clips: int, jobs: int, work: Path, kill: bool = False) -> None:
    """Print the table: one process, `--jobs` local processes, `--jobs` Ray actors (and with `kill`,
    Ray with one actor killed midway), then the per-clip costs."""
    folder = scale_folder(work, clips)
    job = FolderJob(work / "scale-out")
    print(SCALE_HEADER, flush=True)
    parts = one_process(job, folder)
    frames = parts["frames"]
    single = print_row("one process", clips, frames, parts["total"], None)
    for engine in ("local", "ray"):
        rows, seconds = timed_engine(job, folder, engine, jobs)
        print_row(f"{engine}, {jobs} workers", clips, frames, seconds, single)
    if kill:
        rows, seconds = timed_engine(job, folder, "ray", jobs, killer(clips // 2))
        print_row(f"ray, 1 of {jobs} killed", clips, frames, seconds, single)
        print(f"  every clip exactly once in the manifest: {check_each_once(rows, clips)}", flush=True)
    print(f"per clip of {FRAMES} frames {SIZE[0]} x {SIZE[1]}: decode {parts['decode'] / clips:.3f} s (CPU), "
          f"networks {parts['model'] / clips:.3f} s, writing outputs "
          f"{(parts['total'] - parts['decode'] - parts['model']) / clips:.3f} s", flush=True)
