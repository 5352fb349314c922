"""`mvcore bench scale`: a folder of synthetic 600 x 800 clips segmented one after another in one
process, by the local engine (`--jobs` processes) and by Ray (`--jobs` actors), each writing every
clip's outputs (mvcore.folder): clips/s and frames/s each over the whole run, starting included
(the one process loading its model, the engines starting their workers), the seconds to the first
clip done, and the frames/s from the first clip done to the last (steady); and the per-clip cost of
decoding (CPU) and of the networks, from which BENCHMARKS.md models throughput on N GPUs. With
`--kill`, Ray runs once more and one of its workers is killed midway: every clip must then be in
the manifest exactly once, done.

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
from ..runtime import usable_cores

FRAMES = 20
SIZE = (600, 800)  # (H, W) pixels
SCALE_HEADER = ("Each run segments every clip and writes its outputs (mask .npz, MP4, GIF, per-frame CSV).\n"
                "seconds, clips/s, frames/s: the whole run, starting included (one process: loading its model "
                "in this process, TensorFlow already imported; engines: starting their workers, each importing\n"
                "TensorFlow and loading the model, and Ray itself); first: seconds to the first clip done; "
                "steady: frames/s from the first clip done to the last.\n"
                f"{'engine':<22}{'clips':>6}{'frames':>8}{'seconds':>9}{'clips/s':>9}{'frames/s':>10}{'of one':>8}"
                f"{'first':>7}{'steady':>8}{'of one':>8}")


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


class Clock:
    """A run's clock: started when made, called with each manifest row as its clip is done, stopped at the end."""

    def __init__(self):
        self.started = time.perf_counter()
        self.done: list[tuple[float, int]] = []  # (seconds since the start, frames) of each clip done
        self.seconds = 0.0

    def __call__(self, row) -> None:
        self.done.append((time.perf_counter() - self.started, int(row["frames"])))

    def stop(self) -> "Clock":
        self.seconds = time.perf_counter() - self.started
        return self

    def frames_per_s(self) -> tuple[float, float]:
        """(over the whole run, steady: from the first clip done to the last)."""
        frames = sum(n for _, n in self.done)
        (first, first_frames), (last, _) = self.done[0], self.done[-1]
        return frames / self.seconds, (frames - first_frames) / (last - first) if last > first else float("nan")


def one_process(job: FolderJob, folder: Path) -> tuple[Clock, dict]:
    """Every clip decoded, segmented and written in this process, one after another, the model loaded
    first: (its clock, the seconds of each part summed over clips)."""
    clock = Clock()
    segmenter = load_segmenter(job)
    parts = Counter()
    for file, kind in list_files([folder]):
        started = time.perf_counter()
        clips, _ = decode(file, kind)
        decoded = time.perf_counter()
        rows = [segment_and_write(segmenter, clip, file, job) for clip in clips]
        for row in rows:
            clock(row)
        parts["decode"] += decoded - started
        parts["model"] += sum(float(row["seconds"]) for row in rows)
        parts["total"] += time.perf_counter() - started
    return clock.stop(), dict(parts)


def timed_engine(job: FolderJob, folder: Path, engine: str, jobs: int, on_row=lambda row: None) -> tuple[list, Clock]:
    """(manifest rows, clock) of a fresh run of `engine` (its output folder emptied first)."""
    shutil.rmtree(job.out_dir, ignore_errors=True)
    clock = Clock()

    def record(row):
        clock(row)
        on_row(row)

    rows = run_folder([folder], job, engine, jobs, on_row=record)
    return rows, clock.stop()


def print_row(name: str, clock: Clock, single: tuple[float, float] | None) -> tuple[float, float]:
    """One table row, its shares of `single` (the one process's frames/s, whole and steady);
    returns its (frames/s, steady frames/s)."""
    clips, frames = len(clock.done), sum(n for _, n in clock.done)
    fps, steady = clock.frames_per_s()
    share, steady_share = (f"{fps / single[0]:.0%}", f"{steady / single[1]:.0%}") if single else ("", "")
    print(f"{name:<22}{clips:>6}{frames:>8}{clock.seconds:>9.1f}{clips / clock.seconds:>9.2f}{fps:>10.1f}{share:>8}"
          f"{clock.done[0][0]:>7.1f}{steady:>8.1f}{steady_share:>8}", flush=True)
    return fps, steady


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
    print(f"The one process runs ONNX Runtime on its default threads, one per core; each worker on its share "
          f"of the {usable_cores()} usable cores, {max(1, usable_cores() // jobs)} (mvcore.folder.sharing_cores).",
          flush=True)
    print(SCALE_HEADER, flush=True)
    clock, parts = one_process(job, folder)
    single = print_row("one process", clock, None)
    for engine in ("local", "ray"):
        print_row(f"{engine}, {jobs} workers", timed_engine(job, folder, engine, jobs)[1], single)
    if kill:
        rows, clock = timed_engine(job, folder, "ray", jobs, killer(clips // 2))
        print_row(f"ray, 1 of {jobs} killed", clock, single)
        print(f"  every clip exactly once in the manifest: {check_each_once(rows, clips)}", flush=True)
    print(f"per clip of {FRAMES} frames {SIZE[0]} x {SIZE[1]}: decode {parts['decode'] / clips:.3f} s (CPU), "
          f"networks {parts['model'] / clips:.3f} s, writing outputs "
          f"{(parts['total'] - parts['decode'] - parts['model']) / clips:.3f} s", flush=True)
