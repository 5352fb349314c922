"""File-system helpers every writer shares: safe file names and all-or-nothing writes."""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from contextlib import contextmanager
from pathlib import Path

MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitise_name(name: str, default: str = "upload") -> str:
    """A file name safe to join to a folder: no folders, no leading dot, only [A-Za-z0-9._-].

    Keeps only the last path component (for '/' and '\\'), transliterates accents to ASCII,
    turns other runs of characters into '_', and keeps at most 100 characters with the suffix
    (e.g. '.pkl.gz') intact. Returns `default` when nothing usable is left.
    """
    base = re.split(r"[/\\]", str(name).replace("\x00", ""))[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_name).lstrip(".-_ ")
    safe = re.sub(r"\.{2,}", ".", safe).strip("_")
    if not safe.strip("._-"):
        return default
    if len(safe) > MAX_NAME_CHARS:
        stem, dot, suffix = safe.partition(".")
        suffix = (dot + suffix)[:20]
        safe = stem[: MAX_NAME_CHARS - len(suffix)] + suffix
    return safe


@contextmanager
def atomic_path(path):
    """Yield a temporary sibling of `path` to write; it replaces `path` only if the block succeeds.

    A failed or interrupted write leaves any earlier file at `path` untouched. The temporary name
    is unique (several writers of one path, in one process or many, never share it; the last to
    finish wins whole) and keeps the suffix, since encoders choose the format by it. The file gets
    the permissions a plain `open` would give it (0666 less the umask), not a private 0600.
    """
    path = Path(path)
    tmp = path.parent / f".{path.stem}.{uuid.uuid4().hex}.partial{path.suffix}"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
