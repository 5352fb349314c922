"""Run a trained network on a batch: ONNX Runtime where it can, Keras otherwise.

On a CPU, ONNX Runtime runs the U-Net about twice as fast as Keras on TensorFlow with the same
outputs (to about 1e-7). A model folder keeps its networks' ONNX copies (`model.onnx`,
`locator.onnx`) beside the Keras files; they are exported from the Keras files the first time
the folder is loaded with ONNX Runtime installed, and again whenever a copy was not exported from
the Keras file beside it: each copy keeps that file's SHA-256 in its metadata (a checkout's file
times say nothing of which was written from which).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from .files import atomic_path

RUNTIMES = ("auto", "onnx", "keras")
SOURCE_KEY = "mvcore_keras_sha256"  # an ONNX copy's metadata: the SHA-256 of the Keras file it was exported from


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), not the host's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxNet:
    """An ONNX Runtime session with Keras' `predict_on_batch` call: float32 (N, ...) -> (N, ...).

    threads: the session's intra-op threads (0: ONNX Runtime's default, one per physical core); a
    share of the cores where several processes segment side by side (mvcore.folder)."""

    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime

        self.path = Path(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    @property
    def source(self) -> str | None:
        """The SHA-256 (hex) of the Keras file this copy was exported from; None where it does not say."""
        return self.session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_onnx(model, path: Path, source: str) -> Path:
    """Write `model` (a Keras model) as ONNX at `path`, all or nothing, with `source` (the SHA-256 of
    the Keras file it was loaded from) in its metadata; returns `path`."""
    import onnx

    size = model.input_shape[1:]
    model.predict_on_batch(np.zeros((1, *size), np.float32))  # Keras exports only a model that has run
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx shim probes np.object
        model.export(str(tmp), format="onnx", verbose=False)
        exported = onnx.load(str(tmp))
        entry = exported.metadata_props.add()
        entry.key, entry.value = SOURCE_KEY, source
        onnx.save(exported, str(tmp))
    return Path(path)


def onnx_net(model, keras_file: Path, threads: int = 0) -> OnnxNet | None:
    """The ONNX Runtime copy of `model` (loaded from `keras_file`) on `threads` threads (0: its
    default), exported beside it when missing or exported from another file (`OnnxNet.source`);
    None where ONNX Runtime or the exporter is missing or the folder cannot be written."""
    if not onnx_runtime_available():
        return None
    path = Path(keras_file).with_suffix(".onnx")
    try:
        source = file_sha256(keras_file)
        if path.is_file() and (net := OnnxNet(path, threads)).source == source:
            return net
        export_onnx(model, path, source)
        return OnnxNet(path, threads)
    except Exception:  # exporting must never stop prediction: Keras runs the model instead
        return None


def runner(model, keras_file: Path, runtime: str, threads: int = 0):
    """What runs `model` for prediction: an `OnnxNet` on `threads` threads (0: its default) for
    'onnx' (or 'auto' where one can be had), else the Keras model itself. `runtime`: one of RUNTIMES."""
    if runtime == "keras":
        return model
    net = onnx_net(model, keras_file, threads)
    if net is None and runtime == "onnx":
        from .errors import InputError

        raise InputError(f"{keras_file}: cannot run with ONNX Runtime (is onnxruntime installed?); "
                         "use --runtime keras")
    return net or model
