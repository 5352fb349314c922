"""The AML pickles (`train.pkl`, `test.pkl`, `test_labels.pkl`): gzip or plain pickles of lists of
dicts, loaded by an unpickler that builds nothing but numpy arrays and plain values, then
validated record by record (keys, dtypes, shapes, annotated frames, unique names).
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from mvcore.clip import Clip
from mvcore.data.checks import _existing_file, _one_line, check_video
from mvcore.data.limits import CappedReader, input_limits
from mvcore.errors import InputError

AML_EXTENSIONS = (".pkl", ".pickle", ".pkl.gz", ".pickle.gz")
AML_FPS = 50.0  # AML pickles carry no frame rate; their clips are about 50 fps

_PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
})


class _AmlUnpickler(pickle.Unpickler):
    """Builds only lists, dicts, strings, numbers and numpy arrays; refuses every other global."""

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module, name):
        if (module, name) not in _PICKLE_GLOBALS:
            raise InputError(f"{self.path}: refused to load pickle: it references "
                             f"{module}.{name}, which is not allowed in AML data")
        return super().find_class(module, name)


def _open_pickle(path: Path):
    """A binary file object over the pickle stream of `path`, gunzipped when compressed."""
    with open(path, "rb") as file:
        magic = file.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


PLAIN_TYPES = (str, int, float, bool, type(None))


def _refuse_odd_values(value, where: str) -> None:
    """Refuse anything but plain values, lists, tuples, dicts and uint8/bool/integer arrays, at any depth.

    AML data holds no arrays of objects, floats or strings; an object array could hide anything.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "bui":
            raise InputError(f"{where} is a {value.dtype} array; AML data holds only uint8, bool or integer arrays")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_odd_values(item, f"{where}['{key}']")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _refuse_odd_values(item, f"{where}[{i}]")
    elif not isinstance(value, PLAIN_TYPES):
        raise InputError(f"{where} is a {type(value).__name__}; AML data holds only arrays and plain values")


def _check_pickle_values(records: list[dict], path) -> None:
    """Every value of every record, at any depth, is a plain value or an AML array."""
    for i, record in enumerate(records):
        for key, value in record.items():
            if not isinstance(key, str):
                raise InputError(f"{_where(path, i, record)}: has a key {key!r}; AML keys are strings")
            _refuse_odd_values(value, f"{_where(path, i, record)}: '{key}'")


def load_pickle(path) -> list[dict]:
    """Safely load a (gzip-compressed or plain) pickle holding a non-empty list of dicts.

    Only numpy arrays and plain Python values are built; a pickle referencing anything else
    (os.system, eval, ...) is refused before any of it runs, and one unpacking into more than
    `mvcore.data.limits` allows is refused when it reaches the limit.
    """
    path = _existing_file(path)
    try:
        with _open_pickle(path) as file:
            records = _AmlUnpickler(CappedReader(file, input_limits(), str(path)), path).load()
    except InputError:
        raise
    except Exception as exc:  # zlib, gzip, pickle and numpy errors from a damaged file
        raise InputError(f"{path}: not a readable AML pickle ({_one_line(exc)})") from exc
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a list of video records, found a "
                         f"{type(records).__name__}")
    if not records:
        raise InputError(f"{path}: the pickle holds no videos (empty list)")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"{path}: record {i} is a {type(record).__name__}, expected a dict")
    _check_pickle_values(records, path)
    return records


def _where(path, index: int, record: dict) -> str:
    """'<path>: record 3 (ABCDE12345)', the prefix of a message about one AML record."""
    name = record.get("name")
    return f"{path}: record {index}" + (f" ({name})" if isinstance(name, str) else "")


def _require_keys(record: dict, keys, where: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}")


def _require_array(record: dict, key: str, dtype, ndim: int, where: str) -> np.ndarray:
    """record[key] if it is an ndarray of `dtype` with `ndim` axes, else InputError."""
    value = record[key]
    if not isinstance(value, np.ndarray):
        raise InputError(f"{where}: '{key}' is a {type(value).__name__}, expected a "
                         f"{np.dtype(dtype)} array")
    if value.dtype != dtype:
        raise InputError(f"{where}: '{key}' is {value.dtype}, expected {np.dtype(dtype)}")
    if value.ndim != ndim:
        raise InputError(f"{where}: '{key}' has shape {value.shape}, expected {ndim} axes")
    return value


def _check_frames(frames, n_frames: int, where: str) -> list[int]:
    """Annotated frame indices as ints, each within 0..n_frames-1."""
    if isinstance(frames, np.ndarray):
        frames = frames.tolist()
    if not isinstance(frames, (list, tuple)) or not frames:
        raise InputError(f"{where}: 'frames' must be a non-empty list of frame indices")
    if not all(isinstance(f, int) and not isinstance(f, bool) for f in frames):
        raise InputError(f"{where}: 'frames' must hold whole numbers, got {frames}")
    outside = [f for f in frames if not 0 <= f < n_frames]
    if outside:
        raise InputError(f"{where}: annotated frame(s) {outside} lie outside the "
                         f"{n_frames} frames of the video")
    return list(frames)


def _check_label(record: dict, shape: tuple | None, where: str) -> tuple[list[int], np.ndarray]:
    """(frames, label bool (H, W, T)) of a record; `shape` is the video's (H, W, T) if known."""
    _require_keys(record, ("label", "frames"), where)
    label = _require_array(record, "label", bool, 3, where)
    if shape is not None and label.shape != shape:
        raise InputError(f"{where}: 'label' has shape {label.shape}, the video {shape}")
    return _check_frames(record["frames"], label.shape[2], where), label


def _check_box(record: dict, shape: tuple, where: str) -> np.ndarray:
    box = _require_array(record, "box", bool, 2, where)
    if box.shape != shape[:2]:
        raise InputError(f"{where}: 'box' has shape {box.shape}, the frames are {shape[:2]}")
    return box


def _check_dataset(record: dict, where: str) -> str:
    dataset = record["dataset"]
    if not isinstance(dataset, str) or dataset not in ("amateur", "expert"):
        raise InputError(f"{where}: 'dataset' is {dataset!r}, expected 'amateur' or 'expert'")
    return dataset


def _check_fps(record: dict, where: str) -> float:
    fps = record.get("fps", AML_FPS)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < 10_000:
        raise InputError(f"{where}: 'fps' is {fps!r}, expected a positive frame rate")
    return float(fps)


def _check_name(record: dict, where: str) -> str:
    name = record["name"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: 'name' is {name!r}, expected a non-empty string")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InputError(f"{where}: 'name' {name!r} contains a path separator; video names are plain ids")
    return name


def _aml_clip(record: dict, where: str, split: str | None, source: str) -> Clip:
    """One validated AML record as a Clip; train records must carry box, label, frames, dataset."""
    train_keys = ("box", "label", "frames", "dataset") if split == "train" else ()
    _require_keys(record, ("name", "video") + train_keys, where)
    video = check_video(_require_array(record, "video", np.uint8, 3, where), where)
    clip = Clip(name=_check_name(record, where), video=video,
                fps=_check_fps(record, where), source=source)
    if "label" in record or "frames" in record:
        clip.frames, clip.label = _check_label(record, clip.shape, where)
    if "box" in record:
        clip.box = _check_box(record, clip.shape, where)
    if "dataset" in record:
        clip.dataset = _check_dataset(record, where)
    return clip


def refuse_duplicate_names(names: list[str], what: str, hint: str = "") -> None:
    """InputError `WHAT NAME, NAME[; HINT]` when a name repeats: labels and outputs are keyed by clip name.

    what: the message up to the repeated names, e.g. 'train.pkl: several records are named'.
    """
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{what} {', '.join(repeated)}" + (f"; {hint}" if hint else ""))


def load_aml(path, split: str | None = None) -> list[Clip]:
    """All clips of an AML pickle (`train.pkl`, `test.pkl`), validated.

    split: 'train' (every record needs box, label, frames, dataset), 'test' or None (labels
    are validated where present). fps comes from an optional 'fps' key, else 50.
    """
    if split not in (None, "train", "test"):
        raise InputError(f"{path}: unknown split {split!r} (expected 'train' or 'test')")
    records = load_pickle(path)
    clips = [_aml_clip(record, _where(path, i, record), split, str(path))
             for i, record in enumerate(records)]
    refuse_duplicate_names([clip.name for clip in clips], f"{path}: several records are named")
    return clips


def load_labels(path) -> dict[str, tuple[list[int], np.ndarray]]:
    """name -> (annotated frames, label bool (H, W, T)) from a test_labels.pkl or a train.pkl."""
    records = load_pickle(path)
    labels, names = {}, []
    for i, record in enumerate(records):
        where = _where(path, i, record)
        _require_keys(record, ("name",), where)
        video = record.get("video")
        shape = video.shape if isinstance(video, np.ndarray) else None
        names.append(_check_name(record, where))
        labels[names[-1]] = _check_label(record, shape, where)
    refuse_duplicate_names(names, f"{path}: several records are named")
    return labels
