"""`predict FOLDER --engine ray`: the clips of a folder segmented on Ray Data, the one module of
mvcore that imports ray (an optional extra: `pip install .[ray]`).

The files are listed into a dataset; each is decoded in a CPU task (`flat_map`), and its clips go
through an actor pool (`map_batches` with `SegmentClips`, which loads the model once per actor,
one GPU each where the cluster has GPUs, a share of one where `--jobs` exceeds them, and its share
of the cluster's cores for ONNX Runtime's threads) that writes every clip's outputs
(mvcore.folder). The manifest rows stream back to the driver as clips finish.
Ray restarts a dead actor and retries its clip (Ray Data's defaults for actor pools), and outputs
are written atomically, so a worker lost midway loses and duplicates nothing.

`ray.init()` starts a cluster on this machine; `--address auto` (or `ray://HOST:10001`) joins one
started with `ray start --head` and `ray start --address=HEAD:6379` on each other node.
"""

from __future__ import annotations

import logging
import pickle
from typing import Callable

import numpy as np

from .errors import InputError
from .folder import COLUMNS, FolderJob, Row, decode, failed_row, load_segmenter, segment_and_write, sharing_cores

CPUS_PER_TASK = 0.5  # decoding tasks and segmenting actors each: both fit beside each other on every core


def import_ray():
    """The ray module, or InputError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError("--engine ray needs Ray Data: pip install '.[ray]' (or pip install 'ray[data]')") from None
    return ray


def connect(address: str | None):
    """Ray, joined to the cluster at `address` (None: a new one on this machine) unless already up."""
    ray = import_ray()
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # the manifest rows are the progress report
    ray.data.DataContext.get_current().enable_progress_bars = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    return ray


def decoded_rows(row: dict, axis: str) -> list[dict]:
    """One file's rows for the actors: {'file', 'clip' (a pickled mvcore Clip, b'' where the file
    cannot be read), 'error' (why, else '')}. Clips travel pickled: an Arrow column of one type."""
    clips, failed = decode(row["file"], row["kind"], axis)
    if failed:
        return [{"file": row["file"], "clip": b"", "error": failed["error"]}]
    return [{"file": row["file"], "clip": pickle.dumps(clip, protocol=5), "error": ""} for clip in clips]


class SegmentClips:
    """A Ray Data actor: the model loaded once, then each batch's clips segmented and written."""

    def __init__(self, job: FolderJob):
        self.job = job
        self.segmenter = load_segmenter(job)

    def __call__(self, batch: dict) -> dict:
        rows = [failed_row(str(file), InputError(str(error))) if error else
                segment_and_write(self.segmenter, pickle.loads(clip), str(file), self.job)
                for file, clip, error in zip(batch["file"], batch["clip"], batch["error"])]
        return {key: np.array([row[key] for row in rows]) for key in COLUMNS}


def gpus_per_actor(gpus: float, workers: int) -> float:
    """One GPU per actor, or a share of one where there are more actors than GPUs (the CPU parts of
    a clip take far longer than its network: BENCHMARKS.md); 0 without GPUs."""
    return min(1.0, gpus / workers) if gpus else 0


def run_ray(job: FolderJob, files: list[tuple[str, str]], workers: int, address: str | None,
            on_row: Callable[[Row], None]) -> None:
    """Segment the clips of `files` with `workers` actors on Ray; `on_row(manifest row)` as each is done."""
    ray = connect(address)
    resources = ray.cluster_resources()
    gpus = gpus_per_actor(resources.get("GPU", 0), workers)
    job = sharing_cores(job, resources.get("CPU", 1), workers)
    dataset = (ray.data.from_items([{"file": file, "kind": kind} for file, kind in files],
                                   override_num_blocks=len(files))
               .flat_map(decoded_rows, fn_kwargs={"axis": job.axis}, num_cpus=CPUS_PER_TASK)
               .map_batches(SegmentClips, fn_constructor_args=(job,), batch_size=1,
                            compute=ray.data.ActorPoolStrategy(size=workers),
                            num_gpus=gpus, num_cpus=CPUS_PER_TASK, batch_format="numpy"))
    for row in dataset.iter_rows():
        on_row({key: value.item() if hasattr(value, "item") else value for key, value in row.items()})
