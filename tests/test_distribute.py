"""Training on several devices: what each backend is allowed, the batch split, the rows each
process feeds, what the run records, and (in subprocesses, on 2 virtual CPU devices) a tiny fit on
2 devices whose loss curve is the one device's, with its weights replicated."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from mvcore.cli import main
from mvcore.clip import Clip
from mvcore.config import TrainConfig
from mvcore.distribute import (DATA_PARALLEL, Cluster, Placement, check_batch, fit_feed, process_share,
                               refuse_unsupported, shard_ready)
from mvcore.errors import InputError
from mvcore.train import start_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("devices, cluster, backend, refusal", [
    (2, Cluster(), "torch", "the torch backend trains on one device in mvcore; train on several with KERAS_BACKEND"),
    ("all", Cluster(), "torch", "--devices all: the torch backend"),
    (1, Cluster("h:1", 2, 0), "tensorflow", "several hosts train together on the jax backend only"),
    (1, Cluster(), "torch", None),
    (2, Cluster(), "tensorflow", None),
    (2, Cluster("h:1", 2, 1), "jax", None),
])
def test_each_backend_is_refused_what_it_cannot_do(devices, cluster, backend, refusal):
    if refusal is None:
        refuse_unsupported(devices, cluster, backend)
    else:
        with pytest.raises(InputError, match=refusal.replace("(", r"\(")):
            refuse_unsupported(devices, cluster, backend)


@pytest.mark.parametrize("batch, count, refusal", [
    (16, 2, None), (16, 8, None), (16, 1, None), (15, 1, None),
    (16, 3, "--batch-size 16 does not split over 3 devices: give a multiple of 3 \\(e.g. --batch-size 18\\)"),
    (6, 4, "e.g. --batch-size 8"),
])
def test_the_global_batch_must_split_over_the_devices(batch, count, refusal):
    placement = Placement("jax", count, "CPU", DATA_PARALLEL)
    if refusal is None:
        check_batch(batch, placement)
    else:
        with pytest.raises(InputError, match=refusal):
            check_batch(batch, placement)


@pytest.mark.parametrize("n, batch", [(10, 4), (8, 4), (3, 16)])
def test_tensorflow_is_fed_the_arrays_in_order_without_autotuning(n, batch):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    feed = fit_feed(x, -x, batch)
    pairs = [(a.numpy(), b.numpy()) for a, b in feed]
    assert [len(a) for a, _ in pairs] == [min(batch, n - i) for i in range(0, n, batch)]
    assert np.array_equal(np.concatenate([a for a, _ in pairs]), x) and np.array_equal(np.concatenate([b for _, b in pairs]), -x)
    assert feed.options().autotune.enabled is False


@pytest.mark.parametrize("backend, keys", [("tensorflow", ["x"]), ("jax", ["x", "y", "batch_size"])])
def test_fit_gets_its_data_as_the_backend_takes_it(backend, keys):
    x = np.zeros((5, 2), np.float32)
    assert list(Placement(backend).training_data(x, x, 2)) == keys
    assert list(Placement(backend).validation_data(x, x, 2)) == (
        ["validation_data"] if backend == "tensorflow" else ["validation_data", "validation_batch_size"])


@pytest.mark.parametrize("n, count, kept", [(13, 2, 12), (12, 2, 12), (13, 1, 13), (7, 4, 4)])
def test_examples_are_cut_to_whole_shards(n, count, kept):
    x = np.arange(n)
    cut_x, cut_y = shard_ready(x, -x, Placement("jax", count))
    assert cut_x.tolist() == list(range(kept)) and cut_y.tolist() == [-i for i in range(kept)]


@pytest.mark.parametrize("n, batch, processes, process, rows, share", [
    (8, 4, 1, 0, list(range(8)), 4),
    (8, 4, 2, 0, [0, 1, 4, 5], 2),
    (8, 4, 2, 1, [2, 3, 6, 7], 2),
    (10, 4, 2, 1, [2, 3, 6, 7, 9], 2),         # the last, shorter batch split too
    (9, 4, 2, 1, [2, 3, 6, 7], 2),             # ... unless it does not split evenly
    (8, 8, 4, 3, [6, 7], 2),
])
def test_each_process_feeds_its_share_of_every_global_batch(n, batch, processes, process, rows, share):
    x, got_share = process_share(np.arange(n), batch, Cluster("h:1" if processes > 1 else None, processes, process))
    assert x.tolist() == rows and got_share == share


@pytest.mark.parametrize("placement, device, recorded", [
    (Placement("tensorflow"), "tensorflow on CPU", (1, "single device")),
    (Placement("jax", 2, "CPU", DATA_PARALLEL), "jax on 2 x CPU (data parallel)", (2, "data parallel")),
    (Placement("jax", 8, "NVIDIA H200", DATA_PARALLEL, Cluster("h:1", 2, 0)),
     "jax on 8 x NVIDIA H200 (data parallel)", (8, "data parallel")),
])
def test_the_run_records_its_devices_in_config_and_start_event(placement, device, recorded):
    events = []
    clips = [Clip(f"A{i}", np.zeros((8, 8, 2), np.uint8), dataset="amateur") for i in range(4)]
    run = start_run(clips, TrainConfig(match_intensity=False), events.append, placement)
    assert (run.config.devices, run.config.strategy) == recorded
    start = events[0]
    assert start["device"] == device and (start["devices"], start["strategy"]) == recorded
    assert start["processes"] == placement.cluster.num_processes


@pytest.mark.parametrize("args, message", [
    (["--devices", "0"], "0: give a number of devices"),
    (["--devices", "two"], "two: give a number of devices"),
    (["--num-processes", "2"], "--num-processes 2: give --coordinator HOST:PORT"),
    (["--num-processes", "2", "--coordinator", "localhost:1", "--process-id", "2"], "--process-id 2: must be from 0 to 1"),
    (["--devices", "99"], "--devices 99: only "),
])
def test_train_refuses_device_settings_that_cannot_work(train_pickle, tmp_path, capsys, args, message):
    argv = ["train", str(train_pickle), "--out", str(tmp_path / "m"), "--fast", *args]
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own refusal
        status = exit_.code
    assert status == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# A tiny fit on 1 device, then on 2 with the same global batch and starting weights, in one process
# whose framework sees 2 virtual CPU devices: the loss curves and each device's copy of the weights.
# Given a process index and a port, the fit runs instead on every device of a 2-process JAX cluster
# on this machine (one CPU device each): `train --coordinator ... --num-processes 2 --process-id I`.
FIT_ON_DEVICES = r"""
import json, sys
import numpy as np
backend = sys.argv[1]
if backend == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from mvcore.batches import LocatorBatches
from mvcore.distribute import Cluster, place
from mvcore.fit import Stage, fit_stage
from mvcore.train import new_network

cluster = Cluster(f"localhost:{sys.argv[3]}", 2, int(sys.argv[2])) if len(sys.argv) > 2 else Cluster()
rng = np.random.default_rng(0)
x = rng.random((14, 16, 16, 1), dtype=np.float32)
y = (rng.random((14, 16, 16, 1)) > 0.7).astype(np.float32)
curves, replicas = {}, {}
for count in ("all",) if cluster.is_multi_process else (1, 2):
    placement = place(count, cluster)
    model = new_network(placement, size=16, channels=1, base=4, depth=1)
    draw = np.random.default_rng(1)  # the same starting weights in every run and process
    model.set_weights([draw.normal(0, 0.3, v.shape).astype("float32") if len(v.shape) > 1
                       else np.ones(v.shape, "float32") for v in model.weights])
    history = []
    fit_stage(model, LocatorBatches(x[:8], y[:8], 4, augment=False), LocatorBatches(x[8:], y[8:], 4, augment=False),
              Stage("s", 2, 1e-2, "iou_bce"), lambda event: None, history, placement)
    curves[count] = [[row["loss"], row["val_loss"]] for row in history]
    kernel = model.trainable_weights[0]
    if backend == "jax":
        copies = [np.asarray(shard.data) for shard in kernel.value.addressable_shards]
    else:
        copies = [np.asarray(v) for v in getattr(kernel.value, "values", [kernel.value])]
    replicas[count] = {"copies": len(copies), "spread": float(max(np.abs(c - copies[0]).max() for c in copies)),
                       "placement": placement.describe()}
print(json.dumps({"curves": curves, "replicas": replicas}))
"""
# XLA's least optimised CPU code compiles in a third of the time; the sums it runs are the same
JAX_ENV = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_backend_optimization_level=0"}


def start_fit(backend: str, devices: int, *cluster_args: str) -> subprocess.Popen:
    """FIT_ON_DEVICES in a new process whose framework sees `devices` CPU devices."""
    environ = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3",
                   JAX_NUM_CPU_DEVICES=str(devices), **(JAX_ENV if backend == "jax" else {}))
    return subprocess.Popen([sys.executable, "-c", FIT_ON_DEVICES, backend, *cluster_args], env=environ, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fit_result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.long
@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_two_devices_give_one_devices_loss_curve_and_replicated_weights(backend):
    """On JAX also across 2 processes of one device each, started at the same time as the first."""
    port = str(free_port())
    processes = [start_fit(backend, 2)] + ([start_fit("jax", 1, str(i), port) for i in (0, 1)]
                                           if backend == "jax" else [])
    result, *cluster = [fit_result(p) for p in processes]
    one, two = np.array(result["curves"]["1"]), np.array(result["curves"]["2"])
    assert one.shape == (2, 2) and np.isfinite(one).all()
    np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-5)
    assert result["replicas"]["2"]["placement"] == f"{backend} on 2 x CPU (data parallel)"
    assert result["replicas"]["2"]["copies"] == 2 and result["replicas"]["2"]["spread"] == 0.0
    for process in cluster:
        np.testing.assert_allclose(np.array(process["curves"]["all"]), one, rtol=1e-4, atol=1e-5)
        assert process["replicas"]["all"]["placement"] == "jax on 2 x CPU (data parallel)"
