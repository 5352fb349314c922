"""mvcore.runtime: ONNX Runtime runs the networks with the masks Keras gives, and the copy is kept."""

import shutil

import numpy as np
import pytest

from mvcore import runtime
from mvcore.clip import Clip
from mvcore.config import PredictConfig
from mvcore.errors import InputError
from mvcore.predict import Segmenter
from mvcore.synth import make_test_record


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory, bundled_model):
    """The bundled model's Keras files alone, in a folder of the test's own (no ONNX copies yet)."""
    folder = tmp_path_factory.mktemp("model") / "default"
    shutil.copytree(bundled_model, folder, ignore=shutil.ignore_patterns("*.onnx"))
    return folder


@pytest.mark.parametrize("seed, scale", [(21, 0.4), (22, 1.0)])
def test_onnx_runtime_gives_the_masks_keras_gives(model_copy, seed, scale):
    record, _ = make_test_record(np.random.default_rng(seed), scale=scale)
    clip = Clip(record["name"], record["video"][:, :, :40])
    with_onnx = Segmenter.load(model_copy, PredictConfig(runtime="onnx"))
    with_keras = Segmenter.load(model_copy, PredictConfig(runtime="keras"))
    assert isinstance(with_onnx.net, runtime.OnnxNet) and with_keras.net is with_keras.model
    a, b = with_onnx.segment(clip), with_keras.segment(clip)
    assert a.location.roi == b.location.roi
    # probabilities agree to about 1e-7; only a pixel sitting on the threshold could flip
    assert np.count_nonzero(a.mask != b.mask) <= 1e-5 * a.mask.size
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_the_onnx_copy_is_exported_once_and_again_when_it_is_not_the_keras_files(model_copy):
    Segmenter.load(model_copy, PredictConfig(runtime="onnx"))
    onnx_file, keras_file = model_copy / "model.onnx", model_copy / "model.keras"
    first = onnx_file.read_bytes()
    keras_file.touch()  # a newer Keras file with the same bytes, as a checkout leaves them: kept
    assert Segmenter.load(model_copy, PredictConfig(runtime="onnx")).net.source == runtime.file_sha256(keras_file)
    assert onnx_file.read_bytes() == first
    shutil.copy(model_copy / "locator.onnx", onnx_file)  # a copy exported from another file: exported again
    segmenter = Segmenter.load(model_copy, PredictConfig(runtime="onnx"))
    assert segmenter.net.source == runtime.file_sha256(keras_file)
    assert not list(model_copy.glob(".*partial*"))


def test_the_bundled_models_onnx_copies_are_of_its_keras_files(bundled_model):
    """Otherwise a fresh checkout's first prediction writes them again, into the repository."""
    for name in ("model", "locator"):
        net = runtime.OnnxNet(bundled_model / f"{name}.onnx")
        assert net.source == runtime.file_sha256(bundled_model / f"{name}.keras")


@pytest.mark.parametrize("asked, available, expected", [
    ("auto", True, "onnx"),
    ("auto", False, "keras"),
    ("keras", True, "keras"),
    ("onnx", False, InputError),
])
def test_the_runtime_asked_for_is_the_one_used(model_copy, monkeypatch, asked, available, expected):
    monkeypatch.setattr(runtime, "onnx_runtime_available", lambda: available)
    if expected is InputError:
        with pytest.raises(InputError, match="--runtime keras"):
            Segmenter.load(model_copy, PredictConfig(runtime=asked))
        return
    segmenter = Segmenter.load(model_copy, PredictConfig(runtime=asked))
    used = "onnx" if isinstance(segmenter.net, runtime.OnnxNet) else "keras"
    assert used == expected and type(segmenter.locator_net) is type(segmenter.net)


def test_the_networks_run_on_the_threads_asked_for_with_the_same_masks(model_copy):
    """One thread, as each of 2 workers on 2 cores (mvcore.folder.sharing_cores), against the default."""
    threads = 1
    record, _ = make_test_record(np.random.default_rng(23), scale=0.4)
    clip = Clip(record["name"], record["video"][:, :, :20])
    default = Segmenter.load(model_copy, PredictConfig(runtime="onnx"))
    asked = Segmenter.load(model_copy, PredictConfig(runtime="onnx", onnx_threads=threads))
    for net in (asked.net, asked.locator_net):
        assert net.session.get_session_options().intra_op_num_threads == threads
    a, b = asked.segment(clip), default.segment(clip)
    assert a.location.roi == b.location.roi and np.count_nonzero(a.mask != b.mask) <= 1e-5 * a.mask.size
