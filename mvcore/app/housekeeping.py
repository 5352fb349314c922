"""The workspace's size, and clearing what can be made again: cached results, uploads, finished jobs.

Models are never touched, nor a running job's folder or the uploads it trains on. With
`MVCORE_WORKSPACE_MAX_GB` set, `keep_under_cap` removes the oldest cached results until the
workspace fits (results are remade on the next segmentation).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mvcore.app import jobs
from mvcore.app.storage import workspace_dir, workspace_root
from mvcore.data.limits import positive_env_number
from mvcore.errors import InputError

MAX_GB_ENV = "MVCORE_WORKSPACE_MAX_GB"
FOLDERS = ("models", "uploads", "results", "jobs")
CLEARABLE = ("uploads", "results", "jobs")


def tree_bytes(path: Path) -> int:
    """Bytes of every file under `path` (0 where it does not exist)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def entries(part: str) -> list[Path]:
    """What the workspace folder `part` holds: its files and folders, without hidden ones (locks,
    staging) and the jobs' ACTIVE pointer."""
    return [p for p in workspace_dir(part).iterdir() if not p.name.startswith(".") and p.name != "ACTIVE"]


def storage_rows() -> list[dict]:
    """One row per workspace folder: name, entries and size in MB."""
    return [{"folder": part, "entries": len(entries(part)), "MB": round(tree_bytes(workspace_dir(part)) / 1e6, 1)}
            for part in FOLDERS]


def _in_use() -> set[Path]:
    """What a running job needs: its folder and the data files it trains on."""
    job = jobs.active_job()
    if job is None:
        return set()
    return {job.folder.resolve(), *(Path(p).resolve() for p in job.info.get("data", []))}


def _remove(path: Path) -> int:
    """Delete a file or folder; the bytes it held."""
    size = tree_bytes(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return size


def clear(part: str) -> int:
    """Empty the workspace folder `part` ('uploads', 'results' or finished 'jobs'), sparing what a
    running job uses; returns the bytes freed."""
    if part not in CLEARABLE:
        raise InputError(f"'{part}' cannot be cleared (only {', '.join(CLEARABLE)}; models are kept)")
    keep = _in_use()

    def needed(entry: Path) -> bool:
        entry = entry.resolve()
        return any(used == entry or entry in used.parents for used in keep)

    return sum(_remove(p) for p in entries(part) if not needed(p))


def workspace_cap_bytes() -> int | None:
    """$MVCORE_WORKSPACE_MAX_GB in bytes, or None when unset."""
    gigabytes = positive_env_number(MAX_GB_ENV, None)
    return None if gigabytes is None else int(gigabytes * 1e9)


def keep_under_cap() -> list[str]:
    """Remove the oldest cached results until the workspace fits $MVCORE_WORKSPACE_MAX_GB; the names
    of the results removed (none when unset or already under)."""
    cap = workspace_cap_bytes()
    if cap is None:
        return []
    total = tree_bytes(workspace_root())
    removed = []
    oldest_first = sorted(workspace_dir("results").iterdir(), key=lambda p: p.stat().st_mtime)
    for result in oldest_first:
        if total <= cap:
            break
        total -= _remove(result)
        removed.append(result.name)
    return removed
