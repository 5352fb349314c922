"""The app's file side: the workspace folder, uploads under safe names, models, samples, summaries.

Everything the web app stores lives under one folder, `workspace/` in the repository unless the
environment variable MVCORE_WORKSPACE names another:

    uploads/DIGEST/NAME     an accepted upload (DIGEST: its content hash, NAME: sanitised)
    models/NAME/            models trained here (same layout as models/default)
    jobs/ID/                background training jobs (see mvcore.jobs)
    results/KEY/            overlays and tables written for downloads

No streamlit here: the pages call these functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvcore.clip import Clip
from mvcore.errors import InputError
from mvcore.files import sanitise_name
from mvcore.predict import BUNDLED_MODEL, is_model_dir

REPO = Path(__file__).resolve().parent.parent
WORKSPACE_ENV = "MVCORE_WORKSPACE"
SAMPLES_DIR = REPO / "samples"


# --- folders and names -------------------------------------------------------------------------

def workspace_root() -> Path:
    """The workspace folder (created): $MVCORE_WORKSPACE, else REPO/workspace."""
    root = Path(os.environ.get(WORKSPACE_ENV) or REPO / "workspace").expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def workspace_dir(part: str) -> Path:
    """A sub-folder of the workspace ('uploads', 'models', 'jobs', 'results'), created."""
    folder = workspace_root() / part
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_model_name(name: str) -> str:
    """A new model's folder name: sanitised, not yet used in workspace/models. InputError otherwise."""
    safe = sanitise_name(name, default="")
    if not safe:
        raise InputError(f"model name {name!r}: use letters, digits, '-', '_' or '.'")
    if (workspace_dir("models") / safe).exists() or safe == "default":
        raise InputError(f"a model named '{safe}' already exists; choose another name")
    return safe


# --- uploads -----------------------------------------------------------------------------------

@dataclass
class Upload:
    """An accepted upload: where it is stored and the clips read from it."""

    path: Path
    clips: list[Clip] = field(repr=False)


def ingest_upload(name: str, data: bytes, max_bytes: int | None = None, aml_only: bool = False,
                  axis: str = "HWT") -> Upload:
    """Validate an uploaded file and store it as uploads/DIGEST/NAME; returns it with its clips.

    The file is read (mvcore.data.load_inputs: restricted unpickler for pickles) from a staging
    folder and moved into place only when it reads; a bad file raises InputError and leaves
    nothing behind. An identical upload is stored once. max_bytes: refuse larger files.
    aml_only: accept only an AML pickle (.pkl, .pickle, .pkl.gz). axis: layout of .npy/.npz
    arrays, 'HWT' or 'THW'.
    """
    from mvcore.data import AML_EXTENSIONS, load_aml, load_inputs

    safe = sanitise_name(name)
    if aml_only and not safe.lower().endswith(AML_EXTENSIONS):
        raise InputError(f"{safe}: not an AML pickle (expected {', '.join(AML_EXTENSIONS)})")
    read = load_aml if aml_only else (lambda path: load_inputs(path, axis=axis))
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{safe}: {len(data) / 2**20:.1f} MB is over the upload limit of "
                         f"{max_bytes / 2**20:.0f} MB")
    if not data:
        raise InputError(f"{safe}: the file is empty")
    uploads = workspace_dir("uploads")
    final = uploads / hashlib.sha256(data).hexdigest()[:16]
    if (final / safe).is_file():
        return Upload(final / safe, read(final / safe))
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=uploads))
    try:
        (staging / safe).write_bytes(data)
        clips = read(staging / safe)
        final.mkdir(exist_ok=True)
        os.replace(staging / safe, final / safe)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for clip in clips:
        clip.source = str(final / safe)
    return Upload(final / safe, clips)


def file_key(path: Path) -> str:
    """A short key naming a file's content version: its path, size and modification time."""
    stat = Path(path).stat()
    return hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def results_dir(*parts) -> Path:
    """workspace/results/KEY for any hashable description of a result (clip, model, ...), created."""
    key = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]
    folder = workspace_dir("results") / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- models ------------------------------------------------------------------------------------

@dataclass
class ModelInfo:
    """A model folder the app can use. source: 'bundled' or 'trained here'."""

    name: str
    path: Path
    source: str
    metrics: dict = field(default_factory=dict, repr=False)

    @property
    def val_iou(self) -> float | None:
        return self.metrics.get("val_iou")

    @property
    def warnings(self) -> list[str]:
        """What the training's quality check found wrong with this model (mvcore.quality)."""
        return self.metrics.get("quality", {}).get("warnings", [])

    @property
    def label(self) -> str:
        """'NAME (bundled)', 'NAME (trained here, validation IoU 0.71)', '... - warning: ...'."""
        extra = f", validation IoU {self.val_iou:.2f}" if self.val_iou is not None else ""
        warned = " - warning: may be poor" if self.warnings else ""
        return f"{self.name} ({self.source}{extra}){warned}"

    @property
    def version(self) -> str:
        """Changes when the folder is replaced (cache key for a loaded model)."""
        return file_key(self.path / "model.keras")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def list_models(bundled: Path = BUNDLED_MODEL) -> list[ModelInfo]:
    """The bundled model (when present) then the workspace's models, newest first.

    Hidden folders (a training run's partial output) are skipped.
    """
    models = [ModelInfo("default", bundled, "bundled", _read_json(bundled / "metrics.json"))] \
        if is_model_dir(bundled) else []
    trained = [p for p in workspace_dir("models").iterdir() if not p.name.startswith(".") and is_model_dir(p)]
    for path in sorted(trained, key=lambda p: p.stat().st_mtime, reverse=True):
        models.append(ModelInfo(path.name, path, "trained here", _read_json(path / "metrics.json")))
    return models


def model_rows(models: list[ModelInfo]) -> list[dict]:
    """One table row per model: name, source, validation IoU, locator box hits, threshold, train videos,
    seconds and the quality check's warnings."""
    return [{"model": m.name, "source": m.source, "validation IoU": m.val_iou,
             "box hits": m.metrics.get("quality", {}).get("box_hit_rate"),
             "threshold": m.metrics.get("threshold"), "train videos": len(m.metrics.get("train_videos", [])),
             "train seconds": m.metrics.get("train_seconds"), "warnings": "; ".join(m.warnings)} for m in models]


# --- samples -----------------------------------------------------------------------------------

SAMPLE_SEED = 11


def list_samples(folder: Path = SAMPLES_DIR) -> list[Path]:
    """The bundled sample files (videos first, then pickles)."""
    if not Path(folder).is_dir():
        return []
    files = [p for p in Path(folder).iterdir() if p.suffix in (".mp4", ".pkl")]
    return sorted(files, key=lambda p: (p.suffix != ".mp4", not p.name.startswith("train"), p.name))


def make_samples(folder: Path = SAMPLES_DIR, seed: int = SAMPLE_SEED) -> list[Path]:
    """(Re)write the bundled samples from mvcore.synth: two MP4 clips and two small AML pickles.

    echo_expert.mp4 (high-resolution clip at half size), echo_amateur.mp4 (112 x 112),
    train_small.pkl (3 amateur + 2 expert labelled clips, expert at scale 0.25, each cut to the
    frames around its annotations) and test_small.pkl (2 unlabelled 60-frame clips, for the
    submission CSV). About 4 MB in all; deterministic for a seed.
    """
    from mvcore.synth import make_test_record, make_train_record
    from mvcore.video import write_mp4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rngs = iter(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(200))
    written = []
    for name, dataset, scale in (("echo_expert", "expert", 0.5), ("echo_amateur", "amateur", 1.0)):
        record = make_train_record(next(rngs), dataset, scale)
        video = record["video"]
        frames = (np.repeat(video[:, :, t, None], 3, axis=2) for t in range(video.shape[2]))
        written.append(write_mp4(frames, folder / f"{name}.mp4", record["fps"]))
    train = [_short_train_record(rngs, dataset) for dataset in ["amateur"] * 3 + ["expert"] * 2]
    test = []
    for _ in range(2):
        record = make_test_record(next(rngs), 0.25)[0]
        test.append(dict(record, video=np.ascontiguousarray(record["video"][:, :, :60])))
    for name, records in (("train_small.pkl", train), ("test_small.pkl", test)):
        written.append(write_aml_pickle(records, folder / name))
    return written


def _short_train_record(rngs, dataset: str, max_span: int = 60, margin: int = 8) -> dict:
    """A synthetic train record whose annotated frames lie within `max_span` frames, cut to
    those frames plus `margin` on each side (labels and frame indices shifted to match)."""
    from mvcore.synth import make_train_record

    while True:
        record = make_train_record(next(rngs), dataset, 0.25)
        frames = record["frames"]
        if max(frames) - min(frames) <= max_span:
            break
    lo = max(0, min(frames) - margin)
    hi = min(record["video"].shape[2], max(frames) + margin + 1)
    return dict(record, video=np.ascontiguousarray(record["video"][:, :, lo:hi]),
                label=np.ascontiguousarray(record["label"][:, :, lo:hi]), frames=[int(t) - lo for t in frames])


def write_aml_pickle(records: list[dict], path: Path) -> Path:
    """Write AML records as a gzip pickle (protocol 4, what mvcore.data.load_aml reads)."""
    import gzip
    import pickle

    with gzip.open(path, "wb", compresslevel=9) as f:
        pickle.dump(records, f, protocol=4)
    return Path(path)


# --- summaries ---------------------------------------------------------------------------------

def clip_rows(clips: list[Clip]) -> list[dict]:
    """One table row per clip: name, dataset, height, width, frames, fps, annotated frames."""
    return [{"clip": c.name, "dataset": c.dataset or "-", "height": c.shape[0], "width": c.shape[1],
             "frames": c.n_frames, "fps": round(c.fps, 1),
             "annotated frames": ", ".join(map(str, c.frames)) if c.is_labelled else "-"} for c in clips]


def dataset_summary(clips: list[Clip]) -> dict:
    """Counts for a data set: clips, amateur, expert, labelled, frames (min/max), sizes (H x W range)."""
    if not clips:
        raise InputError("no clips in the data set")
    heights = [c.shape[0] for c in clips]
    widths = [c.shape[1] for c in clips]
    frames = [c.n_frames for c in clips]
    return {"clips": len(clips),
            "amateur": sum(c.dataset == "amateur" for c in clips),
            "expert": sum(c.dataset == "expert" for c in clips),
            "labelled": sum(c.is_labelled for c in clips),
            "frames": (min(frames), max(frames)),
            "size": f"{min(heights)}-{max(heights)} x {min(widths)}-{max(widths)}"
                    if len(set(heights + widths)) > 2 else f"{heights[0]} x {widths[0]}"}


def labels_of(clips: list[Clip]) -> dict[str, tuple[list[int], np.ndarray]]:
    """name -> (annotated frames, label) of the labelled clips, as mvcore.metrics.evaluate takes."""
    labels = {c.name: (list(c.frames), c.label) for c in clips if c.is_labelled}
    if not labels:
        raise InputError("the data set has no labelled clips (need a train.pkl with label and frames)")
    return labels


# --- outputs of one segmented clip ---------------------------------------------------------------

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
