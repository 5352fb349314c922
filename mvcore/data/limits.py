"""How much one input file may unpack into: caps that stop decompression bombs while a file is read.

A gzip pickle, an `.npz`, a DICOM or a video can claim far more memory than its size on disk
(8 MB of zipped zeros can hold 8 GB of frames). Every reader checks what a file claims before
allocating it, and the pickle reader counts the bytes it unpacks as it goes.

- `MVCORE_MAX_INPUT_GB`: decompressed bytes per file (default 4 GB: a 2 GB expert pickle fits
  with room to spare).
- `MVCORE_MAX_FRAME_PIXELS`: frames x height x width of one clip (default 1.2 billion: 2,500
  frames of 600 x 800).

AML pickles are protocol 2, whose arrays arrive as strings read through `CappedReader`. In
protocol 4 and later, Python's unpickler reserves a large bytes object at the size the stream
claims before reading into it; the cap still stops the read, so those pages are never filled.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from mvcore.errors import InputError

MAX_BYTES_ENV = "MVCORE_MAX_INPUT_GB"
MAX_PIXELS_ENV = "MVCORE_MAX_FRAME_PIXELS"
DEFAULT_MAX_GB = 4.0
DEFAULT_MAX_PIXELS = 1_200_000_000


@dataclass(frozen=True)
class Limits:
    """max_bytes: decompressed bytes per file; max_pixels: frames x height x width per clip."""

    max_bytes: int
    max_pixels: int

    def check_pixels(self, shape, where: str) -> None:
        """Refuse a clip of `shape` (any axes, e.g. (H, W, T)) holding more than `max_pixels` values."""
        count = math.prod(int(n) for n in shape)
        if count > self.max_pixels:
            raise InputError(f"{where}: claims {' x '.join(str(int(n)) for n in shape)} = {count:,} pixel values, "
                             f"more than the limit of {self.max_pixels:,} (set {MAX_PIXELS_ENV} to raise it)")

    def check_bytes(self, count: int, where: str) -> None:
        """Refuse a file that unpacks into more than `max_bytes`."""
        if count > self.max_bytes:
            raise InputError(f"{where}: unpacks into more than {self.max_bytes / 1e9:.3g} GB, the limit for one "
                             f"input file (set {MAX_BYTES_ENV} to raise it)")


def positive_env_number(name: str, default: float | None) -> float | None:
    """The positive number in environment variable `name`, or `default` where it is unset or empty;
    InputError naming the variable for anything else."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name}={text!r}: expected a positive number") from None
    if not value > 0:
        raise InputError(f"{name}={text!r}: expected a positive number")
    return value


def input_limits() -> Limits:
    """Today's limits: the environment's where set, else the defaults."""
    return Limits(max_bytes=int(positive_env_number(MAX_BYTES_ENV, DEFAULT_MAX_GB) * 1e9),
                  max_pixels=int(positive_env_number(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)))


class CappedReader:
    """A binary file object that refuses to give more than `limits.max_bytes` bytes in all.

    Wraps the decompressing stream a pickle is read from, so a bomb stops at the cap instead of
    filling the memory; `where` starts the error message.
    """

    def __init__(self, file, limits: Limits, where: str):
        self.file, self.limits, self.where, self.count = file, limits, where, 0

    def _allowed(self, size: int | None) -> int:
        """At most one byte past the cap, so a bomb is never unpacked whole before it is refused."""
        left = self.limits.max_bytes - self.count + 1
        return left if size is None or size < 0 or size > left else size

    def _count(self, n: int) -> None:
        self.count += n
        self.limits.check_bytes(self.count, self.where)

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(self._allowed(size))
        self._count(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.file.readline(self._allowed(size))
        self._count(len(data))
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        count = self.file.readinto(view[:self._allowed(len(view))]) or 0
        self._count(count)
        return count
