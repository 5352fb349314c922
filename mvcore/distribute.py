"""Training on several devices: data parallelism from the engine of each Keras backend.

- JAX: `keras.distribution.DataParallel` over the first N devices, set before the networks are
  built; with `Cluster` (several processes, one per host), `keras.distribution.initialize` first,
  and N counts every process's devices.
- TensorFlow: `tf.distribute.MirroredStrategy` over the first N devices (Keras 3's own distribution
  API is JAX-only); networks are built, compiled and fitted in its scope, and their batch norms
  synchronised across replicas. This is the one module of mvcore that imports tensorflow.
- PyTorch: one device (`--devices` above 1 is refused).

Each of the N replicas gets batch_size / N examples of every global batch and the gradients are
averaged over all of them, so the loss curve is one device's with the same global batch, to float
rounding, and the weights stay replicated. Prediction runs on the weights as they are, outside the
scope.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

SINGLE = "single device"
DATA_PARALLEL = "data parallel"
PARALLEL_BACKENDS = ("jax", "tensorflow")


@dataclass(frozen=True)
class Cluster:
    """Several JAX processes training one model (one per host): the coordinator's `host:port`,
    how many processes, and this one's index from 0 (the coordinator)."""

    coordinator: str | None = None
    num_processes: int = 1
    process_id: int = 0

    @property
    def is_multi_process(self) -> bool:
        return self.num_processes > 1


@dataclass
class Placement:
    """Where a training runs: `count` devices (every process's) of `kind` ('CPU', 'NVIDIA H200') on
    `backend`, with `strategy` (SINGLE or DATA_PARALLEL); `engine` is the DataParallel or
    MirroredStrategy (None on one device), `cluster` the processes."""

    backend: str
    count: int = 1
    kind: str = "CPU"
    strategy: str = SINGLE
    cluster: Cluster = field(default_factory=Cluster)
    engine: object = field(default=None, repr=False)

    def describe(self) -> str:
        """e.g. 'tensorflow on CPU', 'jax on 2 x NVIDIA H200 (data parallel)'."""
        if self.count == 1:
            return f"{self.backend} on {self.kind}"
        return f"{self.backend} on {self.count} x {self.kind} ({self.strategy})"

    def scope(self):
        """The context networks are built, compiled and fitted in."""
        return self.engine.scope() if self.engine is not None else contextlib.nullcontext()

    @property
    def sync_batchnorm(self) -> bool:
        """Whether batch norms must average their statistics over replicas (MirroredStrategy computes
        them per replica; JAX's DataParallel computes the global batch's already)."""
        return self.backend == "tensorflow" and self.count > 1

    def training_data(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
        """`fit`'s keyword arguments that feed (x, y) in batches of `batch_size`, in order (`fit_feed`)."""
        if self.backend == "tensorflow":
            return {"x": fit_feed(x, y, batch_size)}
        return {"x": x, "y": y, "batch_size": batch_size}

    def validation_data(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
        """`fit`'s keyword arguments that validate on (x, y) in batches of `batch_size`."""
        if self.backend == "tensorflow":
            return {"validation_data": fit_feed(x, y, batch_size)}
        return {"validation_data": (x, y), "validation_batch_size": batch_size}

    def record(self) -> dict:
        """What config.json and the training events keep: devices, device kind, strategy, processes."""
        return {"devices": self.count, "device_kind": self.kind, "strategy": self.strategy,
                "processes": self.cluster.num_processes}


def place(devices: int | str = 1, cluster: Cluster | None = None, backend: str | None = None) -> Placement:
    """The placement of a training on `devices` (a count or 'all') of the Keras `backend` (default:
    the running one); InputError where that backend cannot, or there are fewer devices."""
    import keras

    backend = backend or keras.backend.backend()
    cluster = cluster or Cluster()
    refuse_unsupported(devices, cluster, backend)
    if backend == "jax":
        return jax_placement(devices, cluster)
    if backend == "tensorflow":
        return tensorflow_placement(devices)
    return Placement(backend, kind=device_kind(backend))


def refuse_unsupported(devices: int | str, cluster: Cluster, backend: str) -> None:
    """InputError for several devices on a backend without data parallelism here, or several
    processes off JAX."""
    if devices != 1 and backend not in PARALLEL_BACKENDS:
        raise InputError(f"--devices {devices}: the {backend} backend trains on one device in mvcore; "
                         "train on several with KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow, "
                         "or drop --devices")
    if cluster.is_multi_process and backend != "jax":
        raise InputError(f"--num-processes {cluster.num_processes}: several hosts train together on the jax "
                         f"backend only (KERAS_BACKEND=jax), not on {backend}")


def chosen_count(devices: int | str, available: int, what: str) -> int:
    """How many of `available` devices `devices` (a count or 'all') asks for; InputError beyond them."""
    if devices == "all":
        return available
    if devices > available:
        raise InputError(f"--devices {devices}: only {available} {what} device(s) here")
    return devices


def jax_placement(devices: int | str, cluster: Cluster) -> Placement:
    """DataParallel over the first `devices` of every process's devices (GPUs where there are)."""
    import keras

    if cluster.is_multi_process:
        keras.distribution.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)
    found = keras.distribution.list_devices()
    count = chosen_count(devices, len(found), "jax")
    if count == 1:
        return Placement("jax", kind=device_kind("jax"), cluster=cluster)
    # each process feeds its own share of every batch (process_share), not a tf.data set Keras would cut
    engine = keras.distribution.DataParallel(devices=found[:count], auto_shard_dataset=False)
    return Placement("jax", count, device_kind("jax"), DATA_PARALLEL, cluster, engine)


def tensorflow_placement(devices: int | str) -> Placement:
    """MirroredStrategy over the first `devices` logical GPUs, or CPUs where there are no GPUs."""
    import tensorflow as tf

    found = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    count = chosen_count(devices, len(found), "tensorflow")
    if count == 1:
        return Placement("tensorflow", kind=device_kind("tensorflow"))
    engine = tf.distribute.MirroredStrategy([d.name for d in found[:count]])
    return Placement("tensorflow", count, device_kind("tensorflow"), DATA_PARALLEL, engine=engine)


def device_kind(backend: str) -> str:
    """The first device's name, e.g. 'CPU' or 'NVIDIA H200'; 'unknown device' where it cannot be read."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "CPU"
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return getattr(device, "device_kind", "CPU") if device.platform != "cpu" else "CPU"
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    except Exception:  # device discovery must never stop training
        return "unknown device"
    return "CPU"


def check_batch(batch_size: int, placement: Placement) -> None:
    """InputError unless the global batch splits evenly over the devices."""
    if batch_size % placement.count:
        up = -(-batch_size // placement.count) * placement.count
        raise InputError(f"--batch-size {batch_size} does not split over {placement.count} devices: "
                         f"give a multiple of {placement.count} (e.g. --batch-size {up})")


def shard_ready(x: np.ndarray, y: np.ndarray, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) cut to a multiple of the device count (at most count - 1 examples left out), so that
    the last, shorter batch splits over the devices too; unchanged on one device."""
    keep = len(x) - len(x) % placement.count
    return x[:keep], y[:keep]


def process_share(x: np.ndarray, batch_size: int, cluster: Cluster) -> tuple[np.ndarray, int]:
    """(this process's rows of `x`, its batch size): each process feeds its 1 / K of every global
    batch of `batch_size`, as JAX assembles the global batch from the processes' in order; a last,
    shorter batch is split alike where it splits evenly, else left out. Unchanged with one process."""
    if not cluster.is_multi_process:
        return x, batch_size
    k, share = cluster.num_processes, batch_size // cluster.num_processes
    whole = len(x) - len(x) % batch_size
    rows = np.arange(whole).reshape(-1, k, share)[:, cluster.process_id].ravel()
    rest = len(x) - whole
    if rest and rest % k == 0:
        rows = np.concatenate([rows, whole + np.arange(rest).reshape(k, rest // k)[cluster.process_id]])
    return x[rows], share


def fit_feed(x: np.ndarray, y: np.ndarray, batch_size: int):
    """(x, y) as a TensorFlow `tf.data` set of batches of `batch_size`, in order, with tf.data's
    autotuning off.

    Keras feeds arrays to TensorFlow through a set it autotunes. On a 2-core CPU each epoch that
    followed an evaluation then waited 16 to 18 s, idle, before its first step: the default
    segmenter's epochs took 41 s instead of 23 (BENCHMARKS.md, "Training time"). Slicing arrays
    needs no tuning.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).with_options(options)
