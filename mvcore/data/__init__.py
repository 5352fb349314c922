"""Readers of user input, each giving `Clip`s: the AML pickle, video files, DICOM, NumPy arrays.

Every failure is an `InputError` whose one-line message starts with the file path.
Videos are uint8 (H, W, T), frames last; fps is frames per second.

- `aml`: the AML pickles (`train.pkl`, `test.pkl`, `test_labels.pkl`): a restricted unpickler
  and the validation of every record.
- `media`: video files (MP4, AVI, MOV, MKV, GIF), DICOM, NumPy arrays, still images (PNG, JPEG,
  TIFF) and folders of numbered frames, one grey clip each.
- `limits`: how much one file may unpack into (decompression bombs are refused while reading).
- `inputs`: `load_inputs`, which picks the reader for each file of a list or a folder.
- `checks`: what every reader shares: `check_video`, one-line error messages.
"""

from mvcore.data.aml import AML_EXTENSIONS, AML_FPS, load_aml, load_labels, load_pickle
from mvcore.data.checks import MIN_SIDE, check_video
from mvcore.data.inputs import load_inputs
from mvcore.data.limits import Limits, input_limits
from mvcore.data.media import (
    ARRAY_EXTENSIONS,
    DICOM_EXTENSIONS,
    FALLBACK_FPS,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    read_array,
    read_arrays,
    read_dicom,
    read_frame_folder,
    read_image,
    read_video,
)

__all__ = [
    "AML_EXTENSIONS", "AML_FPS", "ARRAY_EXTENSIONS", "DICOM_EXTENSIONS", "FALLBACK_FPS", "IMAGE_EXTENSIONS",
    "Limits", "MIN_SIDE", "VIDEO_EXTENSIONS", "check_video", "input_limits", "load_aml", "load_inputs", "load_labels",
    "load_pickle", "read_array", "read_arrays", "read_dicom", "read_frame_folder", "read_image", "read_video",
]
