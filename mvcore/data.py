"""Readers of user input, each giving `Clip`s: the AML pickle, video files, DICOM, NumPy arrays.

Every failure is an `InputError` whose one-line message starts with the file path.
Videos are uint8 (H, W, T), frames last; fps is frames per second.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
from pathlib import Path

import numpy as np

from mvcore.clip import Clip
from mvcore.errors import InputError

AML_EXTENSIONS = (".pkl", ".pickle", ".pkl.gz", ".pickle.gz")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".gif", ".mov", ".mkv")
# Also DICOM: any file whose suffix is not listed here but that has the 'DICM' preamble.
DICOM_EXTENSIONS = (".dcm", ".dicom")
ARRAY_EXTENSIONS = (".npy", ".npz")

AML_FPS = 50.0  # AML pickles carry no frame rate; their clips are about 50 fps
FALLBACK_FPS = 25.0  # when a video or DICOM file does not say
MIN_SIDE = 8  # pixels: smaller frames cannot hold a valve

_PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
})


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for an error banner."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def check_video(video, path, min_frames: int = 2) -> np.ndarray:
    """Return `video` if it is a usable uint8 (H, W, T) clip, else raise InputError.

    H and W must be at least 8 pixels, T at least `min_frames` (1 for a single DICOM image,
    2 for anything that claims to be a video). `path` starts the message (a file, or a file
    and a record).
    """
    if not isinstance(video, np.ndarray):
        raise InputError(f"{path}: the video is a {type(video).__name__}, not an image array")
    if video.dtype != np.uint8:
        raise InputError(f"{path}: the video is {video.dtype}, expected uint8 grey levels")
    if video.ndim != 3:
        raise InputError(f"{path}: the video has shape {video.shape}, expected (H, W, T)")
    height, width, n_frames = video.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        raise InputError(f"{path}: frames of {height} x {width} pixels are too small "
                         f"(at least {MIN_SIDE} x {MIN_SIDE})")
    if n_frames < min_frames:
        raise InputError(f"{path}: the video has {n_frames} frame(s), "
                         f"at least {min_frames} are needed")
    return video


# --- AML pickles -------------------------------------------------------------------------------

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


def _check_pickle_arrays(records: list[dict], path) -> None:
    """Refuse arrays of objects, floats, strings...: AML holds uint8/bool (and integer) arrays."""
    for i, record in enumerate(records):
        for key, value in record.items():
            if isinstance(value, np.ndarray) and value.dtype.kind not in "bui":
                raise InputError(f"{_where(path, i, record)}: '{key}' is a {value.dtype} array; "
                                 "AML data holds only uint8 or bool arrays")


def load_pickle(path) -> list[dict]:
    """Safely load a (gzip-compressed or plain) pickle holding a non-empty list of dicts.

    Only numpy arrays and plain Python values are built; a pickle referencing anything else
    (os.system, eval, ...) is refused before any of it runs.
    """
    path = _existing_file(path)
    try:
        with _open_pickle(path) as file:
            records = _AmlUnpickler(file, path).load()
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
    _check_pickle_arrays(records, path)
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
    if dataset not in ("amateur", "expert"):
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


def _refuse_duplicate_names(names: list[str], path) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: several records are named {', '.join(map(repr, repeated))}")


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
    _refuse_duplicate_names([clip.name for clip in clips], path)
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
    _refuse_duplicate_names(names, path)
    return labels


# --- video files -------------------------------------------------------------------------------

def _valid_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0 < fps <= 1000


def _frames_last_grey(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W) grey or (T, H, W, 3) RGB frames -> uint8 grey (H, W, T)."""
    if frames.ndim == 3:
        return np.ascontiguousarray(np.moveaxis(frames, 0, 2))
    import cv2

    grey = np.empty(frames.shape[1:3] + frames.shape[:1], np.uint8)
    for t, frame in enumerate(frames):
        grey[:, :, t] = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return grey


def _decode_with_opencv(path: Path) -> tuple[np.ndarray, float]:
    """(uint8 grey (H, W, T), fps) of a video OpenCV/FFmpeg plays; a cut or empty file fails."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path}: cannot be played as a video "
                             "(damaged, truncated, or not a video file)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        ok, frame = capture.read()
        while ok:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            ok, frame = capture.read()
    except cv2.error as exc:
        raise InputError(f"{path}: the video could not be decoded ({_one_line(exc)})") from exc
    finally:
        capture.release()
    if announced > 0 and len(frames) < 0.9 * announced:
        raise InputError(f"{path}: only {len(frames)} of its {announced} frames could be decoded "
                         "(the file is truncated or damaged)")
    if not frames:
        raise InputError(f"{path}: the video holds no frames that could be decoded")
    return np.stack(frames, axis=2), fps


def _decode_gif(path: Path) -> tuple[np.ndarray, float]:
    """(uint8 grey (H, W, T), fps) of an animated GIF; fps from the first frame's duration."""
    import imageio.v3 as iio

    try:
        frames = iio.imread(path, index=None)
        duration_ms = float(iio.immeta(path).get("duration") or 0)
    except Exception as exc:  # Pillow raises many types for a damaged GIF
        raise InputError(f"{path}: not a readable GIF ({_one_line(exc)})") from exc
    frames = frames[..., :3] if frames.ndim == 4 else frames  # drop alpha
    return _frames_last_grey(frames.astype(np.uint8)), (1000.0 / duration_ms if duration_ms else 0)


def read_video(path) -> Clip:
    """A video file (MP4, AVI, MOV, MKV, GIF) as a grey clip, uint8 (H, W, T), T >= 2.

    fps comes from the container (25 when it does not say); the name is the file stem.
    """
    path = _existing_file(path)
    decode = _decode_gif if path.suffix.lower() == ".gif" else _decode_with_opencv
    video, fps = decode(path)
    return Clip(name=path.stem, video=check_video(video, path),
                fps=fps if _valid_fps(fps) else FALLBACK_FPS, source=str(path))


# --- DICOM -------------------------------------------------------------------------------------

def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Any numeric array stretched linearly from its min..max to uint8 0..255."""
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return np.zeros(values.shape, np.uint8)
    scaled = (values.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def _dicom_number(ds, keyword: str) -> float:
    try:
        return float(ds.get(keyword) or 0)
    except (TypeError, ValueError):
        return 0.0


def _dicom_fps(ds) -> float:
    """Frames per second from FrameTime (ms), CineRate or RecommendedDisplayFrameRate, else 25."""
    frame_time_ms = _dicom_number(ds, "FrameTime")
    candidates = (1000.0 / frame_time_ms if frame_time_ms > 0 else 0.0,
                  _dicom_number(ds, "CineRate"),
                  _dicom_number(ds, "RecommendedDisplayFrameRate"))
    return next((fps for fps in candidates if _valid_fps(fps)), FALLBACK_FPS)


def _read_dicom_dataset(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise InputError(f"{path}: not a DICOM file") from None
    except Exception as exc:  # pydicom raises many types for a damaged file
        raise InputError(f"{path}: damaged DICOM file ({_one_line(exc)})") from exc
    if "PixelData" not in ds:
        raise InputError(f"{path}: the DICOM file holds no image")
    return ds


def _dicom_frames(ds, path: Path) -> np.ndarray:
    """Decoded pixels as (T, H, W) grey or (T, H, W, 3) RGB, in the file's own dtype."""
    from pydicom.pixels import apply_color_lut, pixel_array

    photometric = str(ds.get("PhotometricInterpretation", ""))
    try:
        pixels = pixel_array(ds, as_rgb=True)  # YBR_FULL(_422), YBR_RCT/ICT -> RGB
        if photometric == "PALETTE COLOR":
            pixels = apply_color_lut(pixels, ds)
    except Exception as exc:  # missing codec, truncated or damaged pixel data
        syntax = getattr(ds.file_meta.get("TransferSyntaxUID"), "name", "unknown encoding")
        raise InputError(f"{path}: the DICOM image could not be decoded "
                         f"({syntax}: {_one_line(exc)})") from exc
    colour = int(ds.get("SamplesPerPixel", 1)) == 3 or photometric == "PALETTE COLOR"
    return pixels[np.newaxis] if pixels.ndim == (3 if colour else 2) else pixels


def read_dicom(path) -> Clip:
    """A single- or multi-frame DICOM image as a grey clip, uint8 (H, W, T), T >= 1.

    MONOCHROME1 is inverted, colour converted to grey, other than 8-bit stretched from min..max
    to 0..255. fps from FrameTime / CineRate / RecommendedDisplayFrameRate, else 25.
    """
    path = _existing_file(path)
    ds = _read_dicom_dataset(path)
    frames = _dicom_frames(ds, path)
    video = _frames_last_grey(frames if frames.dtype == np.uint8 else _scale_to_uint8(frames))
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        video = 255 - video
    name = path.stem if path.name.lower().endswith(DICOM_EXTENSIONS) else path.name
    return Clip(name=name, video=check_video(video, path, min_frames=1), fps=_dicom_fps(ds),
                source=str(path))


# --- NumPy arrays ------------------------------------------------------------------------------

def _as_uint8(array: np.ndarray, where: str) -> np.ndarray:
    """bool -> 0/255, float in 0..1 -> 0..255, other numbers rounded and clipped to 0..255."""
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind in "ui":
        return np.clip(array, 0, 255).astype(np.uint8)
    if kind != "f":
        raise InputError(f"{where}: the array is {array.dtype}, expected grey levels "
                         "(uint8, bool, integers or floats)")
    if not np.isfinite(array).all():
        raise InputError(f"{where}: the array holds NaN or infinite values")
    scale = 255.0 if array.size and array.min() >= 0 and array.max() <= 1 else 1.0
    return np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)


def _array_to_video(array: np.ndarray, axis: str, where: str) -> np.ndarray:
    """A 3-axis array laid out as `axis` ('HWT' or 'THW') -> uint8 (H, W, T), T >= 2."""
    if array.ndim != 3:
        raise InputError(f"{where}: the array has shape {array.shape}, expected 3 axes ({axis})")
    video = _as_uint8(array, where)
    if axis == "THW":
        video = np.moveaxis(video, 0, 2)
    return check_video(np.ascontiguousarray(video), where)


def _load_named_arrays(path: Path, first_only: bool) -> list[tuple[str, np.ndarray]]:
    """(key, array) pairs of a .npy (key: file stem) or .npz file; never unpickles."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return [(path.stem, loaded)]
        with loaded:
            keys = loaded.files[:1] if first_only else loaded.files
            return [(key, loaded[key]) for key in keys]
    except Exception as exc:  # not NumPy, truncated, or arrays of Python objects
        raise InputError(f"{path}: not a readable NumPy file ({_one_line(exc)})") from exc


def _read_arrays(path, axis: str, first_only: bool) -> list[Clip]:
    path = _existing_file(path)
    if axis not in ("HWT", "THW"):
        raise InputError(f"{path}: axis must be 'HWT' or 'THW', got {axis!r}")
    items = _load_named_arrays(path, first_only)
    if not items:
        raise InputError(f"{path}: the file holds no arrays")
    several = len(items) > 1
    return [Clip(name=key if several else path.stem,
                 video=_array_to_video(array, axis, f"{path} ['{key}']" if several else str(path)),
                 fps=FALLBACK_FPS, source=str(path))
            for key, array in items]


def read_arrays(path, axis: str = "HWT") -> list[Clip]:
    """One clip per array of a .npy or .npz file, each 3 axes laid out as `axis` ('HWT'/'THW').

    Clips are named by the file stem, or by the array key when a .npz holds several arrays.
    Arrays carry no frame rate: fps is 25.
    """
    return _read_arrays(path, axis, first_only=False)


def read_array(path, axis: str = "HWT") -> Clip:
    """The first array of a .npy or .npz file as a clip named by the file stem; see read_arrays."""
    return _read_arrays(path, axis, first_only=True)[0]


# --- any input ---------------------------------------------------------------------------------

_KINDS = (("aml", AML_EXTENSIONS), ("video", VIDEO_EXTENSIONS),
          ("dicom", DICOM_EXTENSIONS), ("array", ARRAY_EXTENSIONS))
_EXPECTED = ", ".join(ext for _, extensions in _KINDS for ext in extensions)


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: is a folder, not a file")
    return path


def _has_dicom_preamble(path: Path) -> bool:
    """True if bytes 128..131 spell 'DICM', as in every DICOM Part 10 file."""
    try:
        with open(path, "rb") as file:
            return file.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _file_kind(path: Path) -> str | None:
    """'aml', 'video', 'dicom' or 'array' by suffix (or DICOM preamble); None if none fits."""
    name = path.name.lower()
    kind = next((kind for kind, extensions in _KINDS if name.endswith(extensions)), None)
    return kind or ("dicom" if _has_dicom_preamble(path) else None)


def _readable_files(path: Path) -> list[tuple[Path, str]]:
    """[(file, kind)]: the file itself, or a folder's readable files (sorted, not recursive)."""
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        readable = [(p, kind) for p in files if p.name != "DICOMDIR" and (kind := _file_kind(p))]
        if not files:
            raise InputError(f"{path}: the folder is empty")
        if not readable:
            raise InputError(f"{path}: the folder holds no videos, DICOM files, arrays or AML "
                             f"pickles (expected {_EXPECTED})")
        return readable
    kind = _file_kind(_existing_file(path))
    if kind is None:
        found = f"'{path.suffix}'" if path.suffix else "(no suffix, and not DICOM)"
        raise InputError(f"{path}: unsupported file type {found} (expected {_EXPECTED} "
                         "or a DICOM file)")
    return [(path, kind)]


def _read_file(path: Path, kind: str, axis: str) -> list[Clip]:
    if kind == "aml":
        return load_aml(path)
    if kind == "video":
        return [read_video(path)]
    if kind == "dicom":
        return [read_dicom(path)]
    return read_arrays(path, axis)


def load_inputs(paths, axis: str = "HWT") -> list[Clip]:
    """Clips from files and folders of any supported type, in the order given.

    paths: one path or several; a folder stands for its readable files. An AML pickle gives all
    its clips, a .npz one per array (laid out as `axis`).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    clips = []
    for path in map(Path, paths):
        for file, kind in _readable_files(path):
            clips.extend(_read_file(file, kind, axis))
    if not clips:
        raise InputError("no input files were given")
    return clips
