"""Tests for mvcore.app.jobs: a real background training run, one job at a time, cancelled mid-training,
recorded before it starts, dead pids, and only our own children reaped."""

import hashlib
import json
import os
import shutil
import subprocess
import time

import psutil
import pytest

from conftest import wait_for
from mvcore.app import jobs, storage


def command_line(pid: int) -> list[str]:
    """The process's command line, once the kernel has set it: the parent's `Popen` returns as the
    exec begins, a moment before the new program's arguments are readable under /proc."""
    wait_for(lambda: psutil.Process(pid).cmdline(), 10, f"process {pid}'s command line")
    return psutil.Process(pid).cmdline()


def trainer_command(pid: int) -> list[str]:
    """`-m mvcore train` and what follows, from the process's command line."""
    return command_line(pid)[1:]


def file_hashes(folder) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.long
def test_training_job_runs_to_a_listed_model_and_refuses_a_second(ws, train_pickle):
    job = jobs.start_training([train_pickle], "tiny", jobs.TrainSettings(fast=True))
    assert job.status() == "running" and jobs.active_job().id == job.id
    assert os.getsid(job.pid) == job.pid != os.getsid(0)  # its own session: survives the web server's
    assert trainer_command(job.pid)[:3] == ["-m", "mvcore", "train"]  # the trainer itself, no shell around it
    with pytest.raises(jobs.JobBusy, match="already running"):
        jobs.start_training([train_pickle], "other", jobs.TrainSettings(fast=True))
    wait_for(lambda: job.status() != "running", 150, "the training job to end")
    assert job.status() == "done", job.error()
    assert job.exit_code() == 0
    progress = job.progress()
    assert progress.device and progress.finished and progress.eta_s == 0 and progress.fraction == 1.0
    assert {e["stage"] for e in progress.epochs} >= {"stage1", "stage2"}
    listed = {m.name: m for m in storage.list_models(bundled=ws / "no-bundled-model")}
    assert listed["tiny"].source == "trained here" and listed["tiny"].metrics["threshold"] > 0
    assert jobs.active_job() is None and [p.parent.name for p in (ws / "jobs").glob("*/job.json")] == [job.id]


@pytest.mark.long
@pytest.mark.parametrize("stage, fine_tune", [("stage1", False), ("stage2", True)])  # fine-tuning: stage 2 alone
def test_cancelling_mid_training_leaves_no_trace_and_frees_the_slot(ws, tiny_set, fast_model, stage, fine_tune):
    earlier = ws / "models" / "earlier"
    shutil.copytree(fast_model, earlier)
    before = file_hashes(ws / "models")
    # stage 2 long enough that the cancel lands inside it
    job = jobs.start_training([tiny_set / "train.pkl"], "doomed", jobs.TrainSettings(fast=True, epochs_stage2=40),
                              init=earlier if fine_tune else None)
    assert trainer_command(job.pid)[:3] == ["-m", "mvcore", "train"]
    wait_for(lambda: any(e["stage"] == stage for e in job.progress().epochs) or not job.is_alive(), 240,
             f"the first epoch of {stage}")
    assert job.status() == "running", job.error()
    jobs.cancel(job)
    assert not jobs.group_exists(job.pid) and not job.is_alive()
    assert job.status() == "cancelled" and job.progress().stage == stage
    assert not [p.name for p in (ws / "models").iterdir() if "doomed" in p.name]  # no model, no .partial folder
    assert file_hashes(ws / "models") == before  # the model it started from included
    assert jobs.active_job() is None
    again = jobs.start_training([tiny_set / "train.pkl"], "next", jobs.TrainSettings(fast=True))
    assert again.status() == "running" and jobs.active_job().id == again.id
    jobs.cancel(again)
    assert not jobs.group_exists(again.pid) and again.status() == "cancelled"


def test_the_job_is_recorded_before_its_process_starts(ws, train_pickle, monkeypatch):
    seen, popen = {}, subprocess.Popen

    def recording_popen(command, **options):
        """What the workspace says when the process is started; then a stand-in that sleeps."""
        (folder,) = [p.parent for p in (ws / "jobs").glob("*/job.json")]
        seen.update(json.loads((folder / "job.json").read_text()), active=(ws / "jobs" / "ACTIVE").read_text())
        seen["command_started"] = command
        return popen(["sleep", "30"], **options)

    monkeypatch.setattr(jobs.subprocess, "Popen", recording_popen)
    job = jobs.start_training([train_pickle], "recorded", jobs.TrainSettings(fast=True))
    assert seen["active"] == job.id and seen["pid"] is None and seen["command_started"] == seen["command"]
    assert job.info["pid"] == job.pid and command_line(job.pid) == ["sleep", "30"]
    assert job.info["process_started"] == psutil.Process(job.pid).create_time()
    assert job.status() == "running"
    jobs.cancel(job)
    assert not jobs.group_exists(job.pid) and job.status() == "cancelled"


def test_only_the_servers_own_children_are_reaped():
    other = subprocess.Popen(["sh", "-c", "exit 7"])  # a child of this process that the jobs did not start
    wait_for(lambda: psutil.Process(other.pid).status() == psutil.STATUS_ZOMBIE, 10, "the process to end")
    assert jobs.process_alive(other.pid) is False
    assert other.wait(5) == 7  # its exit status is still there for its owner: nobody else reaped it


def test_a_dead_or_reused_pid_does_not_block(ws, train_pickle):
    ended = subprocess.Popen(["true"])
    ended.wait()
    folder = ws / "jobs" / "old"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"name": "old", "model_dir": str(ws / "models" / "old"),
                                                 "started": time.time(), "pid": ended.pid,
                                                 "process_started": None}))
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
    (jobs.TrainSettings(from_scratch=True), ["--from-scratch"]),
    (jobs.TrainSettings(epochs_stage1=3, image_size=96, lr_stage2=1e-4),
     ["--epochs-stage1", "3", "--image-size", "96", "--lr-stage2", "0.0001"]),
])
def test_settings_become_cli_options(settings, args):
    assert settings.args() == args


@pytest.mark.parametrize("device", ["tensorflow on CPU", "jax on 2 x NVIDIA H200 (data parallel)"])
def test_the_train_page_is_told_the_devices_of_the_start_event(device):
    progress = jobs.summarise_events([{"kind": "start", "device": device, "devices": 2, "strategy": "data parallel"}],
                                     {"stage1": 1})
    assert progress.device == device
