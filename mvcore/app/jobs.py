"""Background training jobs: `python -m mvcore train` in a detached process, one at a time.

The trainer runs in its own session (process group), outside any web request, so a page reload,
a second browser tab, a closed browser or a restarted web server neither stops nor duplicates it.
Everything about a job is in its folder, workspace/jobs/ID/ (mvcore.app.storage):

    job.json      id, model name and folder, command, settings, planned epochs, start time; written
                  (atomically) before the trainer starts, then again with the trainer's `pid` and
                  `process_started` (its create time, so a reused pid is not taken for it)
    events.jsonl  the trainer's progress events, one JSON object a line (mvcore.cli.EventLog)
    stdout.log, stderr.log
    exit_code     the trainer's exit status, when the server that started it saw it end
    cancelled     present once the user cancelled

workspace/jobs/ACTIVE names the latest job; a new one starts only when no job is running (its
process is gone, a zombie, or its pid reused by another process). The workspace alone says which
job runs, so a restarted server finds it again. Only a process this server started is ever reaped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mvcore.app.storage import REPO, check_model_name, workspace_dir
from mvcore.errors import InputError
from mvcore.files import atomic_path, sanitise_name
from mvcore.predict import is_model_dir


class JobBusy(InputError):
    """A training job is already running."""


@dataclass
class TrainSettings:
    """The `mvcore train` options the app exposes; None keeps the recipe's default.

    epochs per stage; image_size: segmenter input side (pixels); learning rates per step.
    """

    epochs_stage1: int | None = None
    epochs_stage2: int | None = None
    image_size: int | None = None
    lr_stage1: float | None = None
    lr_stage2: float | None = None
    fast: bool = False
    from_scratch: bool = False   # random starting weights instead of the bundled model's networks

    def args(self) -> list[str]:
        """Command-line options for `python -m mvcore train`."""
        options = {"--epochs-stage1": self.epochs_stage1, "--epochs-stage2": self.epochs_stage2,
                   "--image-size": self.image_size, "--lr-stage1": self.lr_stage1, "--lr-stage2": self.lr_stage2}
        args = [part for flag, value in options.items() if value is not None for part in (flag, str(value))]
        return args + (["--fast"] if self.fast else []) + (["--from-scratch"] if self.from_scratch else [])

    def planned_epochs(self, fine_tune: bool) -> dict[str, int]:
        """Epochs per stage the run is expected to do (fine-tuning reuses the locator and skips stage 1)."""
        from mvcore.config import TrainConfig

        config = TrainConfig.preset_config("default", fast=self.fast, epochs_stage1=self.epochs_stage1,
                                           epochs_stage2=self.epochs_stage2, crop_size=self.image_size)
        return {"locator": 0 if fine_tune or not config.locator_size else config.locator_epochs,
                "stage1": 0 if fine_tune else config.epochs_stage1, "stage2": config.epochs_stage2}


@dataclass
class Progress:
    """What a job's events say so far.

    epochs: the epoch events (dicts with stage, epoch, epochs, loss, val_loss, val_iou, seconds).
    eta_s: seconds left, from the median epoch time and the epochs still planned (None: unknown).
    """

    device: str | None = None
    stage: str | None = None
    epochs: list[dict] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    done_epochs: int = 0
    planned_epochs: int = 0
    eta_s: float | None = None
    finished: dict | None = None

    @property
    def fraction(self) -> float:
        if self.finished:
            return 1.0
        return min(1.0, self.done_epochs / self.planned_epochs) if self.planned_epochs else 0.0


STARTUP_S = 30.0  # a job recorded but without a process yet counts as starting this long


class Job:
    """One training job's folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.id = self.folder.name
        self.info = json.loads((self.folder / "job.json").read_text())

    @property
    def name(self) -> str:
        return self.info["name"]

    @property
    def model_dir(self) -> Path:
        return Path(self.info["model_dir"])

    @property
    def pid(self) -> int | None:
        """The trainer's process id (also its process group's), None until it has started."""
        return self.info.get("pid")

    def is_alive(self) -> bool:
        """True while the trainer runs (a zombie or a reused pid counts as gone), or while a job
        just recorded has not started it yet."""
        if self.pid is None:
            return time.time() - self.info["started"] < STARTUP_S
        alive = process_alive(self.pid, self.info.get("process_started"))
        if not alive:
            self._record_exit_code()
        return alive

    def _record_exit_code(self) -> None:
        """Write `exit_code` once the trainer, a child of this server, has ended and been reaped."""
        child = _CHILDREN.get(self.pid)
        path = self.folder / "exit_code"
        if child is not None and child.returncode is not None and not path.exists():
            write_text_atomically(path, f"{child.returncode}\n")

    def exit_code(self) -> int | None:
        """The trainer's exit status where this server saw it end; None otherwise (another server
        started it, or it still runs)."""
        path = self.folder / "exit_code"
        return int(path.read_text()) if path.is_file() else None

    def status(self) -> str:
        """'running', 'done', 'failed' or 'cancelled'.

        Done: the trainer said so in its last event and its model folder is whole (and its exit
        status, where known, is 0), which a server restarted meanwhile can still tell.
        """
        if self.is_alive():
            return "running"
        finished = self.progress().finished is not None and is_model_dir(self.model_dir)
        if finished and self.exit_code() in (None, 0):
            return "done"
        return "cancelled" if (self.folder / "cancelled").exists() else "failed"

    def events(self) -> list[dict]:
        """The events written so far (a half-written last line is skipped)."""
        return read_events(self.folder / "events.jsonl")

    def error(self) -> str:
        """Why a failed job failed: its `error: ...` line, else the end of its stderr."""
        path = self.folder / "stderr.log"
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.is_file() else []
        errors = [line for line in lines if line.startswith("error:")]
        return errors[-1] if errors else "\n".join(lines[-5:]) or "the training process ended without a message"

    def progress(self) -> Progress:
        return summarise_events(self.events(), self.info.get("planned", {}))


def read_events(path: Path) -> list[dict]:
    """JSON lines of `path` as dicts; missing file -> []; an unfinished or broken line is skipped."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def summarise_events(events: list[dict], planned: dict[str, int]) -> Progress:
    """Progress (device, current stage, epoch rows, ETA) from training events and planned epochs per stage."""
    progress, planned = Progress(), dict(planned)
    for event in events:
        kind = event.get("kind")
        if kind == "start":
            progress.device = event.get("device")
        elif kind == "stage":
            progress.stage = event["stage"]
            planned[event["stage"]] = int(event["epochs"])
        elif kind == "epoch":
            progress.epochs.append(event)
        elif kind == "message":
            progress.messages.append(event.get("text", ""))
            if "stage 2 skipped" in event.get("text", ""):
                planned["stage2"] = 0
        elif kind == "warning":
            progress.warnings.append(event.get("text", ""))
        elif kind == "done":
            progress.finished = event
    progress.done_epochs = len(progress.epochs)
    progress.planned_epochs = max(sum(planned.values()), progress.done_epochs)
    left = progress.planned_epochs - progress.done_epochs
    if progress.finished:
        progress.eta_s = 0.0
    elif progress.epochs:
        progress.eta_s = left * statistics.median(float(e["seconds"]) for e in progress.epochs)
    return progress


_CHILDREN: dict[int, subprocess.Popen] = {}  # trainers this server started, by pid: the only ones it reaps


def process_alive(pid: int, started: float | None = None) -> bool:
    """True if `pid` runs and is not a zombie; with `started` (its create time), also not a reused pid.

    Reaps `pid` only where this server started it (never `waitpid` on another's process).
    """
    import psutil

    child = _CHILDREN.get(pid)
    if child is not None:  # ours: it runs until reaped (psutil calls a leader whose threads still exit a zombie)
        return child.poll() is None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


@contextmanager
def _start_lock():
    """Exclusive lock held while checking for a running job and starting one."""
    with open(workspace_dir("jobs") / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def active_job() -> Job | None:
    """The running job, if any: found from the workspace alone (every job folder), so a restarted
    server finds a job an earlier one started."""
    running = [job for job in all_jobs() if job.status() == "running"]
    return max(running, key=lambda job: job.info["started"]) if running else None


def all_jobs() -> list[Job]:
    """Every job recorded in the workspace, oldest first."""
    folders = sorted(workspace_dir("jobs").glob("*/job.json"))
    return [Job(path.parent) for path in folders]


def latest_job() -> Job | None:
    """The job to show: the running one, else the one started last, if any."""
    running = active_job()
    if running:
        return running
    pointer = workspace_dir("jobs") / "ACTIVE"
    if not pointer.is_file():
        return None
    folder = workspace_dir("jobs") / sanitise_name(pointer.read_text().strip(), "none")
    return Job(folder) if (folder / "job.json").is_file() else None


def start_training(data: list[Path], name: str, settings: TrainSettings | None = None,
                   init: Path | None = None) -> Job:
    """Start training model `name` (workspace/models/NAME) on AML train pickles `data`, detached.

    init: a model folder to fine-tune instead of training from scratch.
    Raises JobBusy when a job is running, InputError for a bad name, missing data or init folder.
    """
    settings = settings or TrainSettings()
    data = [Path(p) for p in data]
    if not data:
        raise InputError("choose at least one training pickle")
    for path in data:
        if not path.is_file():
            raise InputError(f"{path}: file not found")
    if init is not None and not is_model_dir(init):
        raise InputError(f"{init}: not a model folder")
    with _start_lock():
        running = active_job()
        if running:
            raise JobBusy(f"training job '{running.name}' is already running (started "
                          f"{time.strftime('%H:%M:%S', time.localtime(running.info['started']))}); "
                          "wait for it to finish or cancel it")
        model_name = check_model_name(name)
        return _launch(data, model_name, settings, init)


def _launch(data: list[Path], model_name: str, settings: TrainSettings, init: Path | None) -> Job:
    """Record the job (job.json, ACTIVE), then start the trainer detached and record its pid and
    create time; returns the Job."""
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{model_name}"
    folder = workspace_dir("jobs") / job_id
    folder.mkdir()
    model_dir = workspace_dir("models") / model_name
    command = [sys.executable, "-m", "mvcore", "train", *map(str, data), "--out", str(model_dir),
               *settings.args(), "--events", str(folder / "events.jsonl")]
    if init is not None:
        command += ["--init", str(init)]
    info = {"id": job_id, "name": model_name, "model_dir": str(model_dir), "data": [str(p) for p in data],
            "init": str(init) if init else None, "settings": settings.__dict__, "command": command,
            "planned": settings.planned_epochs(fine_tune=init is not None), "started": time.time(),
            "pid": None, "process_started": None}
    write_text_atomically(folder / "job.json", json.dumps(info, indent=2) + "\n")
    write_text_atomically(workspace_dir("jobs") / "ACTIVE", job_id)
    info.update(start_trainer(command, folder))
    write_text_atomically(folder / "job.json", json.dumps(info, indent=2) + "\n")
    return Job(folder)


def start_trainer(command: list[str], folder: Path) -> dict:
    """Start `command` in its own session, output to `folder`/stdout.log and stderr.log; returns its
    {"pid", "process_started"} (create time, seconds since the epoch)."""
    import psutil

    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
    with open(folder / "stdout.log", "wb") as out, open(folder / "stderr.log", "wb") as err:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
    _CHILDREN[process.pid] = process
    try:
        created = psutil.Process(process.pid).create_time()
    except psutil.Error:  # it has already ended
        created = None
    return {"pid": process.pid, "process_started": created}


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def cancel(job: Job, grace_s: float = 3.0) -> None:
    """Stop a job: SIGTERM to its process group, SIGKILL after `grace_s` to what is left of it;
    returns once the group is gone (or after another `grace_s`), its partial model removed."""
    write_text_atomically(job.folder / "cancelled", time.strftime("%Y-%m-%d %H:%M:%S"))
    signalled = False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        # the group is signalled only while the trainer, checked by its create time, runs or just ran
        if job.pid is None or not (job.is_alive() or (signalled and group_exists(job.pid))):
            break
        try:
            os.killpg(job.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        signalled = True
        deadline = time.time() + grace_s
        while time.time() < deadline and (job.is_alive() or group_exists(job.pid)):
            time.sleep(0.1)
    for partial in job.model_dir.parent.glob(f".{job.model_dir.name}.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)


def group_exists(pgid: int) -> bool:
    """True while any process of process group `pgid` is left (a zombie not yet reaped included)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
