"""Any input: the reader for each file picked by its suffix (or DICOM preamble), folders expanded.

A folder's images (PNG, JPEG, TIFF) are one clip, its frames in numbered order; its other files
are read one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

from mvcore.clip import Clip
from mvcore.data.aml import AML_EXTENSIONS, load_aml
from mvcore.data.checks import _existing_file
from mvcore.data.media import (
    ARRAY_EXTENSIONS,
    DICOM_EXTENSIONS,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    array_clip_names,
    dicom_clip_name,
    read_arrays,
    read_dicom,
    read_frame_folder,
    read_image,
    read_video,
)
from mvcore.errors import InputError
from mvcore.files import sanitise_name

_KINDS = (("aml", AML_EXTENSIONS), ("video", VIDEO_EXTENSIONS),
          ("dicom", DICOM_EXTENSIONS), ("array", ARRAY_EXTENSIONS), ("image", IMAGE_EXTENSIONS))
_EXPECTED = ", ".join(ext for _, extensions in _KINDS for ext in extensions)


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


def _visible_files(folder: Path) -> list[Path]:
    """A folder's files, sorted, without hidden ones (`.DS_Store`, `._frame_1.png` from macOS)."""
    return [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


def readable_files(path: Path) -> list[tuple[Path, str]]:
    """[(file, kind)]: the file itself, or a folder's readable files (sorted, not recursive), its
    images standing as one ('frames', the folder itself) after the others."""
    if path.is_dir():
        files = _visible_files(path)
        readable = [(p, kind) for p in files if p.name != "DICOMDIR" and (kind := _file_kind(p))]
        if not files:
            raise InputError(f"{path}: the folder is empty")
        if not readable:
            raise InputError(f"{path}: the folder holds no videos, DICOM files, arrays, images or AML "
                             f"pickles (expected {_EXPECTED})")
        others = [(p, kind) for p, kind in readable if kind != "image"]
        return others + ([(path, "frames")] if len(others) < len(readable) else [])
    kind = _file_kind(_existing_file(path))
    if kind is None:
        found = f"'{path.suffix}'" if path.suffix else "(no suffix, and not DICOM)"
        raise InputError(f"{path}: unsupported file type {found} (expected {_EXPECTED} "
                         "or a DICOM file)")
    return [(path, kind)]


def read_file(path: Path, kind: str, axis: str = "HWT") -> list[Clip]:
    """The clips of one entry of `readable_files` (a `.npz` of several arrays laid out as `axis`)."""
    if kind == "aml":
        return load_aml(path)
    if kind == "video":
        return [read_video(path)]
    if kind == "dicom":
        return [read_dicom(path)]
    if kind == "image":
        return [read_image(path)]
    if kind == "frames":
        return [read_frame_folder(path, [p for p in _visible_files(path) if _file_kind(p) == "image"])]
    return read_arrays(path, axis)


def clip_names(path: Path, kind: str) -> list[str]:
    """The names `read_file(path, kind)` gives its clips, without decoding a frame (an AML pickle is
    read whole: its names are inside); [] where the file cannot be read that far (its reading fails later)."""
    try:
        if kind == "aml":
            return [clip.name for clip in load_aml(path)]
        if kind == "dicom":
            return [dicom_clip_name(path)]
        if kind == "frames":
            return [path.name]
        if kind == "array":
            return array_clip_names(path)
    except Exception:  # a damaged file: its own error comes when it is read
        return []
    return [path.stem]


def refuse_shared_clip_names(named: list[tuple[str, str]]) -> None:
    """InputError naming both files where two clips would be saved under one name (the same name,
    or two that are the same once made safe as file names): their outputs would overwrite each other.

    named: [(file, clip name)] of every clip, in input order.
    """
    first: dict[str, tuple[str, str]] = {}
    for file, name in named:
        saved_as = sanitise_name(name, "clip")
        if saved_as in first:
            other_file, other_name = first[saved_as]
            clips = f"clips named {other_name!r} and {name!r}" if other_name != name else f"a clip named {name!r}"
            raise InputError(f"{other_file} and {file} both give {clips}, whose outputs ({saved_as}.*) would "
                             "overwrite each other; rename one of the files")
        first[saved_as] = (file, name)


def load_inputs(paths, axis: str = "HWT") -> list[Clip]:
    """Clips from files and folders of any supported type, in the order given.

    paths: one path or several; a folder stands for its readable files, its images for one clip of
    numbered frames. An AML pickle gives all its clips, a .npz one per array (laid out as `axis`).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    clips = []
    for path in map(Path, paths):
        for file, kind in readable_files(path):
            clips.extend(read_file(file, kind, axis))
    if not clips:
        raise InputError("no input files were given")
    return clips
