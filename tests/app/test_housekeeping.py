"""The workspace's storage: sizes per folder, clearing what can be remade, and the optional size cap."""

import json
import os
import time

import psutil
import pytest

from mvcore.app import housekeeping
from mvcore.app.storage import workspace_dir
from mvcore.errors import InputError


def fill(part: str, name: str, size: int, age_s: float = 0.0):
    """A file of `size` bytes at workspace/part/name/data.bin, its folder dated `age_s` seconds ago."""
    folder = workspace_dir(part) / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.bin").write_bytes(b"\0" * size)
    stamp = time.time() - age_s
    os.utime(folder, (stamp, stamp))
    return folder


def running_job(data_file):
    """A job folder whose recorded process is this test's own: a job that is running."""
    folder = workspace_dir("jobs") / "20261129-120000-live"
    folder.mkdir()
    info = {"id": folder.name, "name": "live", "model_dir": str(workspace_dir("models") / "live"),
            "data": [str(data_file)], "planned": {}, "started": time.time(), "pid": os.getpid(),
            "process_started": psutil.Process().create_time()}
    (folder / "job.json").write_text(json.dumps(info))
    (workspace_dir("jobs") / "ACTIVE").write_text(folder.name)
    return folder


def test_the_storage_table_has_every_folder_with_its_size(ws):
    fill("results", "a", 2_000_000)
    fill("models", "mine", 1_000_000)
    rows = {row["folder"]: row for row in housekeeping.storage_rows()}
    assert set(rows) == {"models", "uploads", "results", "jobs"}
    assert (rows["results"]["entries"], rows["results"]["MB"]) == (1, 2.0)
    assert (rows["models"]["entries"], rows["uploads"]["entries"]) == (1, 0)


@pytest.mark.parametrize("part", ["results", "uploads", "jobs"])
def test_clearing_a_folder_keeps_models_and_what_a_running_job_uses(ws, part):
    model = fill("models", "mine", 1000)
    trained_on = fill("uploads", "train.pkl", 1000) / "data.bin"
    job = running_job(trained_on)
    spare = fill(part, "old", 5000)
    freed = housekeeping.clear(part)
    assert freed >= 5000 and not spare.exists()
    assert model.exists() and trained_on.exists() and job.exists()


def test_models_cannot_be_cleared(ws):
    with pytest.raises(InputError, match="cannot be cleared"):
        housekeeping.clear("models")


def test_past_the_cap_the_oldest_results_go_first(ws, monkeypatch):
    for name, age in (("old", 300), ("middle", 200), ("new", 100)):
        fill("results", name, 400_000, age)
    monkeypatch.setenv(housekeeping.MAX_GB_ENV, "0.001")   # 1 MB
    assert housekeeping.keep_under_cap() == ["old"]
    assert sorted(p.name for p in workspace_dir("results").iterdir()) == ["middle", "new"]
    monkeypatch.delenv(housekeeping.MAX_GB_ENV)
    assert housekeeping.keep_under_cap() == []


@pytest.mark.parametrize("value", ["big", "0"])
def test_a_bad_cap_is_named(ws, monkeypatch, value):
    monkeypatch.setenv(housekeeping.MAX_GB_ENV, value)
    with pytest.raises(InputError, match=housekeeping.MAX_GB_ENV):
        housekeeping.keep_under_cap()
