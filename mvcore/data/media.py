"""Readers of one clip file: video (MP4, AVI, MOV, MKV, GIF), DICOM, NumPy arrays (.npy, .npz),
still images (PNG, JPEG, TIFF) and folders of numbered frames.

Each gives grey uint8 (H, W, T) clips named by the file (or by the array key in a .npz). What a
file claims (frames x height x width) is checked against `mvcore.data.limits` before it is decoded.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np

from mvcore.clip import Clip
from mvcore.data.checks import _existing_file, _one_line, check_video
from mvcore.data.limits import Limits, input_limits
from mvcore.errors import InputError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".gif", ".mov", ".mkv")
# Also DICOM: any file whose suffix is not listed here but that has the 'DICM' preamble.
DICOM_EXTENSIONS = (".dcm", ".dicom")
ARRAY_EXTENSIONS = (".npy", ".npz")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

FALLBACK_FPS = 25.0  # when a video or DICOM file does not say


# --- video files -------------------------------------------------------------------------------

def _valid_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0 < fps <= 1000


FRAMES_LAST_ROWS = 16  # rows moved at a time by `frames_last`: a block stays in cache


def frames_last(frames) -> np.ndarray:
    """uint8 grey frames, (T, H, W) or a list of T (H, W) -> a contiguous (H, W, T) array.

    Moved a block of rows at a time: writing the frames-last layout frame by frame touches every
    T-th byte, about five times slower for a 600 x 800 clip.
    """
    stacked = np.asarray(frames) if not isinstance(frames, list) else np.stack(frames, axis=0)
    out = np.empty(stacked.shape[1:] + stacked.shape[:1], dtype=stacked.dtype)
    for row in range(0, out.shape[0], FRAMES_LAST_ROWS):
        out[row:row + FRAMES_LAST_ROWS] = stacked[:, row:row + FRAMES_LAST_ROWS].transpose(1, 2, 0)
    return out


def _frames_last_grey(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W) grey or (T, H, W, 3) RGB frames -> uint8 grey (H, W, T)."""
    if frames.ndim == 3:
        return frames_last(frames)
    import cv2

    return frames_last([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames])


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
        height, width = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        limits = input_limits()
        limits.check_pixels((height, width, max(announced, 1)), str(path))
        frames = []
        ok, frame = capture.read()
        while ok:  # the announced count can lie: the limit holds for what is decoded too
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            limits.check_pixels(frame.shape[:2] + (len(frames),), str(path))
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
    return frames_last(frames), fps


def _decode_gif(path: Path) -> tuple[np.ndarray, float]:
    """(uint8 grey (H, W, T), fps) of an animated GIF; fps from the first frame's duration."""
    import imageio.v3 as iio

    _check_image_file(path, input_limits())
    try:
        frames = iio.imread(path, index=None)
        duration_ms = float(iio.immeta(path).get("duration") or 0)
    except Exception as exc:  # Pillow raises many types for a damaged GIF
        raise InputError(f"{path}: not a readable GIF ({_one_line(exc)})") from exc
    frames = frames[..., :3] if frames.ndim == 4 else frames  # drop alpha
    return _frames_last_grey(frames.astype(np.uint8)), (1000.0 / duration_ms if duration_ms else 0)


def _check_image_file(path: Path, limits: Limits) -> None:
    """Refuse an image file (GIF, PNG, JPEG, TIFF) whose frames x height x width pass the limit,
    from its header alone; Pillow's own bomb check covers a single huge frame."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            n_frames = getattr(image, "n_frames", 1)
    except Exception as exc:  # Pillow raises many types for a damaged image, and DecompressionBombError
        raise InputError(f"{path}: not a readable image ({_one_line(exc)})") from exc
    limits.check_pixels((height, width, n_frames), str(path))


def read_video(path) -> Clip:
    """A video file (MP4, AVI, MOV, MKV, GIF) as a grey clip, uint8 (H, W, T), T >= 1.

    fps comes from the container (25 when it does not say); the name is the file stem.
    """
    path = _existing_file(path)
    decode = _decode_gif if path.suffix.lower() == ".gif" else _decode_with_opencv
    video, fps = decode(path)
    return Clip(name=path.stem, video=check_video(video, path),
                fps=fps if _valid_fps(fps) else FALLBACK_FPS, source=str(path))


# --- still images and folders of frames -----------------------------------------------------

def _grey_page(page) -> np.ndarray:
    """One Pillow image (any mode) as uint8 grey (H, W); 16-bit and float pages stretched min..max."""
    if page.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _scale_to_uint8(np.asarray(page))
    return np.asarray(page.convert("L"), dtype=np.uint8)


def _image_pages(path: Path) -> list[np.ndarray]:
    """Every page of an image file (one for PNG and JPEG, several for a multi-page TIFF), grey (H, W)."""
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            return [_grey_page(page) for page in ImageSequence.Iterator(image)]
    except Exception as exc:  # Pillow raises many types for a damaged or truncated image
        raise InputError(f"{path}: not a readable image ({_one_line(exc)})") from exc


def read_image(path) -> Clip:
    """A still image (PNG, JPEG, TIFF) as a grey clip uint8 (H, W, T): one frame, or one per TIFF page.

    Images carry no frame rate: fps is 25.
    """
    path = _existing_file(path)
    _check_image_file(path, input_limits())
    pages = _image_pages(path)
    if len({page.shape for page in pages}) > 1:
        raise InputError(f"{path}: its pages differ in size; a clip's frames must all be the same size")
    return Clip(name=path.stem, video=check_video(frames_last(pages), path), fps=FALLBACK_FPS, source=str(path))


def numbered_order(paths: list[Path]) -> list[Path]:
    """`paths` sorted by the numbers in their names, so frame_2.png comes before frame_10.png."""
    def key(path: Path):
        return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                for part in re.split(r"(\d+)", path.name) if part]

    return sorted(paths, key=key)


def read_frame_folder(folder, images: list[Path]) -> Clip:
    """The image files `images` of `folder`, in numbered order, as one grey clip uint8 (H, W, T)
    named by the folder. fps is 25."""
    folder, limits, frames = Path(folder), input_limits(), []
    for path in numbered_order(images):
        _check_image_file(path, limits)
        for page in _image_pages(path):
            if frames and page.shape != frames[0].shape:
                raise InputError(f"{path}: is {page.shape[0]} x {page.shape[1]} pixels, the folder's first frame "
                                 f"{frames[0].shape[0]} x {frames[0].shape[1]}; a clip's frames must all be the same size")
            frames.append(page)
            limits.check_pixels(page.shape + (len(frames),), str(folder))
    return Clip(name=folder.name, video=check_video(frames_last(frames), folder), fps=FALLBACK_FPS,
                source=str(folder))


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


CM_UNITS = 3  # PhysicalUnitsX/YDirection code of centimetres


def dicom_mm_per_px(ds) -> float | None:
    """mm per pixel from the first `SequenceOfUltrasoundRegions` item measured in cm with square
    pixels (PhysicalDeltaX == PhysicalDeltaY within 1 %); None when no region says."""
    for region in ds.get("SequenceOfUltrasoundRegions") or []:
        units = (region.get("PhysicalUnitsXDirection"), region.get("PhysicalUnitsYDirection"))
        dx, dy = (_dicom_number(region, key) for key in ("PhysicalDeltaX", "PhysicalDeltaY"))
        if units == (CM_UNITS, CM_UNITS) and dx > 0 and abs(dx - dy) <= 0.01 * dx:
            return 10.0 * dx
    return None


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


def _check_dicom_size(ds, path: Path, limits: Limits) -> None:
    """Refuse a DICOM image whose frames x rows x columns pass the limit, before any pixel is decoded."""
    shape = tuple(int(_dicom_number(ds, key)) for key in ("Rows", "Columns", "NumberOfFrames"))
    limits.check_pixels(shape[:2] + (max(shape[2], 1),), str(path))
    samples, bits = max(int(_dicom_number(ds, "SamplesPerPixel")), 1), max(int(_dicom_number(ds, "BitsAllocated")), 8)
    limits.check_bytes(math.prod(shape[:2]) * max(shape[2], 1) * samples * (bits // 8), str(path))


def _dicom_frames(ds, path: Path) -> np.ndarray:
    """Decoded pixels as (T, H, W) grey or (T, H, W, 3) RGB, in the file's own dtype."""
    from pydicom.pixels import apply_color_lut, pixel_array

    _check_dicom_size(ds, path, input_limits())
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


def dicom_clip_name(path: Path) -> str:
    """A DICOM file's clip name: its stem, or its whole name where it has no DICOM suffix (found by its preamble)."""
    return path.stem if path.name.lower().endswith(DICOM_EXTENSIONS) else path.name


def read_dicom(path) -> Clip:
    """A single- or multi-frame DICOM image as a grey clip, uint8 (H, W, T), T >= 1.

    MONOCHROME1 is inverted, colour converted to grey, other than 8-bit stretched from min..max
    to 0..255. fps from FrameTime / CineRate / RecommendedDisplayFrameRate, else 25; the pixel
    size from its ultrasound regions (`dicom_mm_per_px`).
    """
    path = _existing_file(path)
    ds = _read_dicom_dataset(path)
    frames = _dicom_frames(ds, path)
    video = _frames_last_grey(frames if frames.dtype == np.uint8 else _scale_to_uint8(frames))
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        video = 255 - video
    return Clip(name=dicom_clip_name(path), video=check_video(video, path), fps=_dicom_fps(ds),
                source=str(path), mm_per_px=dicom_mm_per_px(ds))


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
    """A 2-axis frame (H, W), or a 3-axis array laid out as `axis` ('HWT' or 'THW') -> uint8 (H, W, T)."""
    if array.ndim == 2:
        array = array[:, :, None] if axis == "HWT" else array[None]
    if array.ndim != 3:
        raise InputError(f"{where}: the array has shape {array.shape}, expected 3 axes ({axis}) or one frame (H, W)")
    video = _as_uint8(array, where)
    if axis == "THW":
        video = np.moveaxis(video, 0, 2)
    return check_video(np.ascontiguousarray(video), where)


def _npy_header(file) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header of an open .npy stream, without reading its data."""
    version = np.lib.format.read_magic(file)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    shape, _, dtype = read_header.get(version, np.lib.format.read_array_header_2_0)(file)
    return shape, dtype


def _claimed_arrays(path: Path) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(key, shape, dtype) of every array a .npy or .npz file claims to hold, from the headers alone."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith(".npy")]
            claimed = []
            for name in members:
                with archive.open(name) as member:
                    claimed.append((name[:-4],) + _npy_header(member))
            return claimed
    with open(path, "rb") as file:
        return [(path.stem,) + _npy_header(file)]


def _check_claimed_arrays(path: Path, limits: Limits) -> None:
    """Refuse a NumPy file whose arrays would unpack past the limits, before one is read."""
    try:
        claimed = _claimed_arrays(path)
    except Exception as exc:  # not NumPy, truncated, a damaged archive
        raise InputError(f"{path}: not a readable NumPy file ({_one_line(exc)})") from exc
    for key, shape, _ in claimed:
        limits.check_pixels(shape, f"{path} ['{key}']")
    limits.check_bytes(sum(math.prod(shape) * dtype.itemsize for _, shape, dtype in claimed), str(path))


def _load_named_arrays(path: Path, first_only: bool) -> list[tuple[str, np.ndarray]]:
    """(key, array) pairs of a .npy (key: file stem) or .npz file; never unpickles."""
    _check_claimed_arrays(path, input_limits())
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
    return [Clip(name=name, video=_array_to_video(array, axis, f"{path} ['{key}']" if several else str(path)),
                 fps=FALLBACK_FPS, source=str(path))
            for name, (key, array) in zip(_array_clip_names(path, [key for key, _ in items]), items)]


def _array_clip_names(path: Path, keys: list[str]) -> list[str]:
    """The clip names of a NumPy file's arrays `keys`: the file stem for one, the keys for several."""
    return keys if len(keys) > 1 else [path.stem] * len(keys)


def array_clip_names(path: Path) -> list[str]:
    """The names `read_arrays` gives a .npy or .npz file's clips, from the headers alone."""
    return _array_clip_names(path, [key for key, _, _ in _claimed_arrays(path)])


def read_arrays(path, axis: str = "HWT") -> list[Clip]:
    """One clip per array of a .npy or .npz file, each 3 axes laid out as `axis` ('HWT'/'THW').

    Clips are named by the file stem, or by the array key when a .npz holds several arrays.
    Arrays carry no frame rate: fps is 25.
    """
    return _read_arrays(path, axis, first_only=False)


def read_array(path, axis: str = "HWT") -> Clip:
    """The first array of a .npy or .npz file as a clip named by the file stem; see read_arrays."""
    return _read_arrays(path, axis, first_only=True)[0]
