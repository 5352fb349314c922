"""Shared fixtures: a throw-away workspace per test, the bundled samples and model, bad uploads, and
a tiny synthetic set and fast model made once per run for every worker."""

import fcntl
import gzip
import io
import os
import pickle
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from mvcore.app import storage

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """An empty workspace folder for this test (MVCORE_WORKSPACE points at it)."""
    root = tmp_path / "workspace"
    monkeypatch.setenv(storage.WORKSPACE_ENV, str(root))
    return root


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The bundled model folder; its absence is a failure, not a skip."""
    path = storage.BUNDLED_MODEL
    assert storage.is_model_dir(path), f"{path} is missing: the app's tests need the bundled model"
    return path


@pytest.fixture(scope="session")
def train_pickle() -> Path:
    """The bundled labelled AML pickle (5 small synthetic clips)."""
    path = SAMPLES / "train_small.pkl"
    assert path.is_file(), f"{path} is missing: regenerate with python -m mvcore.synth.samples"
    return path


def made_once(tmp_path_factory, name: str, make) -> Path:
    """The folder `name`, made by `make(folder)` once per test run and shared by every pytest-xdist
    worker (the first to ask makes it while the others wait on a lock)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' common folder of this run
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory) -> Path:
    """`synth --seed 5 --scale 0.4` with 14 train and 3 test clips: train.pkl, test.pkl, test_labels.pkl."""
    from mvcore.synth import write_dataset

    return made_once(tmp_path_factory, "synth-seed5-scale0.4",
                     lambda folder: write_dataset(folder, seed=5, n_train=14, n_test=3, scale=0.4))


@pytest.fixture(scope="session")
def fast_model(tiny_set, tmp_path_factory) -> Path:
    """A model folder from `mvcore train --fast` on the tiny set: the default recipe, locator included."""
    from mvcore.cli import main

    def train_fast(folder):
        assert main(["train", str(tiny_set / "train.pkl"), "--out", str(folder), "--fast"]) == 0

    return made_once(tmp_path_factory, "fast-model", train_fast)


def blind_locator(size: int):
    """A real one-layer Keras locator whose heatmap is near 0 everywhere: it sees no valve."""
    import keras

    inputs = keras.Input((size, size, 2))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    outputs = conv(inputs)
    conv.set_weights([np.zeros((1, 1, 2, 1), np.float32), np.array([-20.0], np.float32)])
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def blind_model(bundled_model, tmp_path_factory) -> Path:
    """The bundled model with a locator that sees no valve in any clip (`blind_locator`), so that
    every crop is its box prior's."""
    from mvcore.config import load_train_config

    def make(folder):
        shutil.copytree(bundled_model, folder, ignore=shutil.ignore_patterns("locator.onnx"))
        blind_locator(load_train_config(folder / "config.json").locator_size).save(folder / "locator.keras")

    return made_once(tmp_path_factory, "blind-model", make)


def wait_for(predicate, timeout_s: float, what: str):
    """Poll `predicate` every 0.2 s until it is true; AssertionError after `timeout_s`."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class _Boom:
    """Pickles to a call of os.system: what a malicious pickle does when loaded naively."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/mvcore-pwned",))


def gzip_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
        pickle.dump(obj, f, protocol=2)
    return buffer.getvalue()


BAD_UPLOADS = {
    # name -> (file name, content): each must be refused with a message, nothing stored
    "malicious pickle": ("evil.pkl", gzip_pickle([{"name": "X", "video": _Boom()}])),
    "not AML pickle": ("numbers.pkl", gzip_pickle([1, 2, 3])),
    "corrupt video": ("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8),
    "wrong type": ("notes.txt", b"hello"),
    "corrupt dicom": ("scan.dcm", b"\x00" * 128 + b"DICM" + b"\x01\x02" * 50),
}


@pytest.fixture(params=sorted(BAD_UPLOADS))
def bad_upload(request):
    return BAD_UPLOADS[request.param]


def small_video_bytes(frames: int = 12, size=(64, 80)) -> bytes:
    """An H.264 MP4 of a moving grey gradient, as bytes."""
    import tempfile

    from mvcore.video import write_mp4

    h, w = size
    yy, xx = np.mgrid[:h, :w]
    clip = [np.repeat(((xx + 3 * t + yy) % 256).astype(np.uint8)[..., None], 3, axis=2) for t in range(frames)]
    with tempfile.TemporaryDirectory() as tmp:
        return write_mp4(clip, Path(tmp) / "v.mp4", 25.0).read_bytes()


def worker_shares(n_items: int, n_workers: int) -> list[int]:
    """How many of `n_items` tests pytest-xdist's work stealing first hands each of `n_workers`
    workers, in order: consecutive runs of the collection, as even as whole tests allow."""
    shares, left = [], n_items
    for i in range(n_workers):
        shares.append(left // (n_workers - i))
        left -= shares[-1]
    return shares


# session models that take a worker a minute or more to train: each heads its own worker's share,
# so they train side by side from the start and no worker waits on another's
SHARED_MODELS = ("small_model", "fast_model")
# module fixtures that start something costly (the app's server and a browser): their users run on
# one worker, one after another, so it starts once
KEPT_TOGETHER = ("browser_app",)


def pytest_collection_modifyitems(config, items):
    """Order the tests so that every worker begins with its part of the long work.

    Work stealing hands each worker a consecutive run of the collection and lets an idle one take
    only the far end of another's queue, so a long test stays with the worker it was handed to.
    The users of each shared session model open one worker's share (the model trains once, while
    the other workers do other work); the tests marked `long` (whole trainings, the browser) are
    dealt round the workers next, the users of a KEPT_TOGETHER fixture as one; the rest keep their
    order and fill each share to its size. The run then ends when the work does, not when a long
    test that happened to start last does."""
    n_workers = getattr(config, "workerinput", {}).get("workercount", 1)
    model_users, long_ones, rest = [[] for _ in range(n_workers)], [[] for _ in range(n_workers)], []
    long_units, together = [], {name: [] for name in KEPT_TOGETHER}
    for item in items:
        model = next((i for i, name in enumerate(SHARED_MODELS) if name in item.fixturenames), None)
        kept = next((name for name in KEPT_TOGETHER if name in item.fixturenames), None)
        if model is not None:
            model_users[model % n_workers].append(item)
        elif kept is not None:
            together[kept].append(item)
        elif item.get_closest_marker("long"):
            long_units.append([item])
        else:
            rest.append(item)
    for i, unit in enumerate([group for group in together.values() if group] + long_units):
        long_ones[i % n_workers] += unit
    ordered = []
    for users, long_work, share in zip(model_users, long_ones, worker_shares(len(items), n_workers)):
        fill = max(0, share - len(users) - len(long_work))
        ordered += users + long_work + rest[:fill]
        rest = rest[fill:]
    items[:] = ordered + rest
