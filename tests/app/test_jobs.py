"""Tests for mvcore.app.jobs: a real background training run, one job at a time, cancel, dead pids."""

import json
import os
import subprocess
import time

import pytest

from mvcore.app import jobs, storage


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.mark.long
def test_training_job_runs_to_a_listed_model_and_refuses_a_second(ws, train_pickle):
    job = jobs.start_training([train_pickle], "tiny", jobs.TrainSettings(fast=True))
    assert job.status() == "running" and jobs.active_job().id == job.id
    assert os.getsid(job.pid) == job.pid != os.getsid(0)  # its own session: survives the web server's
    with pytest.raises(jobs.JobBusy, match="already running"):
        jobs.start_training([train_pickle], "other", jobs.TrainSettings(fast=True))
    wait_for(lambda: job.status() != "running", 150, "the training job to end")
    assert job.status() == "done", job.error()
    progress = job.progress()
    assert progress.device and progress.finished and progress.eta_s == 0 and progress.fraction == 1.0
    assert {e["stage"] for e in progress.epochs} >= {"stage1", "stage2"}
    listed = {m.name: m for m in storage.list_models(bundled=ws / "no-bundled-model")}
    assert listed["tiny"].source == "trained here" and listed["tiny"].metrics["threshold"] > 0
    assert jobs.active_job() is None and [p.parent.name for p in (ws / "jobs").glob("*/job.json")] == [job.id]


def test_cancel_stops_the_process_group_and_frees_the_slot(ws, train_pickle):
    job = jobs.start_training([train_pickle], "doomed", jobs.TrainSettings(fast=True))
    time.sleep(1.0)
    jobs.cancel(job)
    assert not job.is_alive() and job.status() == "cancelled"
    assert not list((ws / "models").glob("*doomed*"))
    assert jobs.active_job() is None
    again = jobs.start_training([train_pickle], "next", jobs.TrainSettings(fast=True))
    jobs.cancel(again)
    assert again.status() == "cancelled"


def test_a_dead_or_reused_pid_does_not_block(ws, train_pickle):
    ended = subprocess.Popen(["true"])
    ended.wait()
    folder = ws / "jobs" / "old"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"name": "old", "model_dir": str(ws / "models" / "old"),
                                                 "started": time.time(), "process_started": None}))
    (folder / "pid").write_text(str(ended.pid))
    (ws / "jobs" / "ACTIVE").write_text("old")
    assert jobs.latest_job().status() == "failed" and jobs.active_job() is None
    assert jobs.process_alive(1, started=0.0) is False  # pid 1 runs, but it is not the process we started


def test_bad_requests_are_input_errors(ws, train_pickle):
    with pytest.raises(jobs.InputError, match="not found"):
        jobs.start_training([ws / "missing.pkl"], "m")
    with pytest.raises(jobs.InputError, match="not a model folder"):
        jobs.start_training([train_pickle], "m", init=ws)
    with pytest.raises(jobs.InputError):
        jobs.start_training([train_pickle], "../..")
    assert jobs.latest_job() is None


@pytest.mark.parametrize("events, planned, expected", [
    ([], {"locator": 2, "stage1": 3, "stage2": 2}, (None, 0, 7, None)),
    ([{"kind": "start", "device": "tensorflow on CPU"}, {"kind": "stage", "stage": "locator", "epochs": 2},
      {"kind": "epoch", "stage": "locator", "seconds": 4.0}, {"kind": "epoch", "stage": "locator", "seconds": 2.0}],
     {"locator": 2, "stage1": 3, "stage2": 2}, ("locator", 2, 7, 15.0)),
    ([{"kind": "stage", "stage": "stage1", "epochs": 5}, {"kind": "epoch", "stage": "stage1", "seconds": 1.0},
      {"kind": "message", "text": "no expert clips in the training data: stage 2 skipped"}],
     {"locator": 0, "stage1": 3, "stage2": 2}, ("stage1", 1, 5, 4.0)),
    ([{"kind": "epoch", "stage": "stage2", "seconds": 1.0}, {"kind": "done", "out_dir": "x"}],
     {"stage2": 1}, (None, 1, 1, 0.0)),
])
def test_progress_from_events(events, planned, expected):
    progress = jobs.summarise_events(events, planned)
    assert (progress.stage, progress.done_epochs, progress.planned_epochs, progress.eta_s) == expected


@pytest.mark.parametrize("settings, args", [
    (jobs.TrainSettings(), []),
    (jobs.TrainSettings(fast=True), ["--fast"]),
    (jobs.TrainSettings(epochs_stage1=3, image_size=96, lr_stage2=1e-4),
     ["--epochs-stage1", "3", "--image-size", "96", "--lr-stage2", "0.0001"]),
])
def test_settings_become_cli_options(settings, args):
    assert settings.args() == args
