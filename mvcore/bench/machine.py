"""The header every benchmark prints: what machine, threads and library versions its figures come from."""

from __future__ import annotations

import os
import platform
from datetime import date
from importlib import metadata

from ..runtime import usable_cores

LIBRARIES = ("tensorflow", "keras", "numpy", "opencv-python-headless", "imageio-ffmpeg", "jax", "torch",
             "onnxruntime")


def describe_cpu(cpuinfo: str) -> str:
    """'AMD EPYC (family 25 model 17, AVX-512)' from the text of /proc/cpuinfo: the model name, which
    a virtual machine often leaves generic, with the family and model numbers that tell the CPU's
    generation and its widest vector instructions (AVX-512, AVX2 or neither), which set its speed."""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} model " \
           f"{fields.get('model', '?')}, {vectors})"


def cpu_model() -> str:
    """The CPU as `describe_cpu` names it from /proc/cpuinfo, or what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return describe_cpu(f.read())
    except OSError:
        return platform.processor() or platform.machine()


def framework_threads() -> str:
    """The backend's thread settings, e.g. 'tensorflow intra-op 2, inter-op 1'."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        return (f"tensorflow intra-op {intra}, inter-op {inter} (0: TensorFlow's choice, one per usable core), "
                f"oneDNN {'on' if onednn_enabled() else 'off'}; onnxruntime intra-op: its default, one per physical core")
    if backend == "torch":
        import torch

        return f"torch threads {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}"
    return f"{backend} (threads chosen by XLA)"


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN kernels (decided when it loaded)."""
    from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own answer; no public one exists

    return bool(_pywrap_util_port.IsMklEnabled())


def versions() -> str:
    """'tensorflow 2.21.0, keras 3.15.1, ...' for the installed LIBRARIES."""
    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def header() -> str:
    """Lines naming the date, CPU, usable cores, thread settings and library versions."""
    import keras

    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                                     "TF_NUM_INTEROP_THREADS", "OPENBLAS_CORETYPE")
                    if k in os.environ) or "none set"
    return (f"{date.today()}: {cpu_model()}, {usable_cores()} usable cores, keras backend {keras.backend.backend()}\n"
            f"threads: {framework_threads()}; environment: {env}\n"
            f"versions: Python {platform.python_version()}, {versions()}")
