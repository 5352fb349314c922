"""Where the app keeps things: the workspace folder, uploads under safe names, models, the samples.

Everything the web app stores lives under one folder, `workspace/` in the repository unless the
environment variable MVCORE_WORKSPACE names another:

    uploads/DIGEST/NAME     an accepted upload (DIGEST: its content hash, NAME: sanitised)
    models/NAME/            models trained here (same layout as models/default)
    jobs/ID/                background training jobs (see mvcore.app.jobs)
    results/KEY/            overlays and tables written for downloads (see mvcore.app.outputs)
    corrections/KEY/        a clip's corrected frames, keyed by its pixels (see mvcore.app.corrections)

The bundled model is models/default and the bundled sample clips are in samples/.
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

from mvcore.clip import Clip
from mvcore.errors import InputError
from mvcore.files import sanitise_name
from mvcore.predict import BUNDLED_MODEL, is_model_dir
from mvcore.synth.samples import SAMPLES_DIR

REPO = Path(__file__).resolve().parents[2]
WORKSPACE_ENV = "MVCORE_WORKSPACE"
PREDICTION_FILES = ("model.keras", "locator.keras", "metrics.json", "intensity.json")  # what decides a model's masks


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
        """Changes when any file that decides the masks changes or the folder is replaced (the cache
        key of a loaded model and of its results)."""
        files = [self.path / name for name in PREDICTION_FILES if (self.path / name).is_file()]
        return hashlib.sha256("|".join(file_key(f) for f in files).encode()).hexdigest()[:16]


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


# --- samples -----------------------------------------------------------------------------------

def list_samples(folder: Path = SAMPLES_DIR) -> list[Path]:
    """The bundled sample files (videos first, then pickles)."""
    if not Path(folder).is_dir():
        return []
    files = [p for p in Path(folder).iterdir() if p.suffix in (".mp4", ".pkl")]
    return sorted(files, key=lambda p: (p.suffix != ".mp4", not p.name.startswith("train"), p.name))
