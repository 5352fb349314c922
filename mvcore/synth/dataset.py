"""Whole synthetic train and test sets for a seed, in memory or written as the AML gzip pickles."""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from mvcore.synth.records import make_test_record_with_truth, make_train_record
from mvcore.synth.stress import StressOptions, stress_test_pair, stress_train_record

AMATEUR_SHARE = 46 / 65


def _clip_rngs(seed: int, part: int, n: int) -> list[np.random.Generator]:
    """Independent generators for clips 0..n-1 of `part` (0 train, 1 test); clip i's does not depend on n."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, part]).spawn(n)]


def _train_kinds(n_train: int, datasets: tuple[str, ...]) -> list[str]:
    """The dataset kind of train clips 0..n_train-1: with both kinds round(n_train * 46 / 65)
    amateur, then expert; with one kind, all of it."""
    n_amateur = round(n_train * AMATEUR_SHARE) if len(set(datasets)) == 2 else n_train * (datasets[0] == "amateur")
    return ["amateur" if i < n_amateur else "expert" for i in range(n_train)]


def _train_records(seed: int, n_train: int, scale: float, options: StressOptions):
    """Yield the train records one by one, of the kinds `_train_kinds` gives."""
    for kind, rng in zip(_train_kinds(n_train, options.datasets), _clip_rngs(seed, 0, n_train)):
        yield stress_train_record(make_train_record(rng, kind, scale), options)


def _test_records(seed: int, n_test: int, scale: float, options: StressOptions):
    """Yield (test record, test label record) pairs one by one, of kind `options.kind_of_test_clips`."""
    for rng in _clip_rngs(seed, 1, n_test):
        test, label, _ = make_test_record_with_truth(rng, scale, options.kind_of_test_clips)
        yield stress_test_pair(test, label, options)


def clips_and_truth(seed: int = 0, n_test: int = 20, scale: float = 1.0):
    """Yield (test record, test label record, truth) of the test clips `synth_dataset` makes with
    the same arguments (the same clips); truth is the valve at every frame (`records._valve_truth`)."""
    for rng in _clip_rngs(seed, 1, n_test):
        yield make_test_record_with_truth(rng, scale)


def synth_dataset(seed: int = 0, n_train: int = 65, n_test: int = 20, scale: float = 1.0, *,
                  frames_per_clip: int | None = None, datasets: tuple[str, ...] = ("amateur", "expert"),
                  size: int | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(train, test, test_labels) lists in the AML format; deterministic for a seed. The keyword
    options make stress sets (see `StressOptions`); their defaults leave the set as it always was."""
    options = StressOptions(frames_per_clip, tuple(datasets), size)
    tests = list(_test_records(seed, n_test, scale, options))
    return list(_train_records(seed, n_train, scale, options)), [t for t, _ in tests], [lab for _, lab in tests]


def _open_list_pickle(path: Path, compresslevel: int = 1):
    """A gzip stream holding the start of a protocol-4 pickle of a list; add items with `_append_item`,
    end it with `_close_list_pickle`."""
    stream = gzip.open(path, "wb", compresslevel=compresslevel)
    stream.write(pickle.PROTO + bytes([4]) + pickle.EMPTY_LIST)
    return stream


def _append_item(stream, item) -> None:
    """Append `item` to the list being pickled on `stream`: its own pickle (no memo, so items do not
    refer to each other) with the final STOP replaced by APPEND."""
    pickler_out = io.BytesIO()
    pickler = pickle.Pickler(pickler_out, 4)
    pickler.fast = True
    pickler.dump(item)
    data = pickler_out.getbuffer()
    stream.write(data[:-1])
    stream.write(pickle.APPEND)


def _close_list_pickle(stream) -> None:
    stream.write(pickle.STOP)
    stream.close()


def write_records(records, path, compresslevel: int = 1) -> Path:
    """Write AML records (an iterable of dicts) as a gzip pickle of a list, what `load_aml` reads;
    only one record need be in memory at a time. Returns `path`."""
    stream = _open_list_pickle(Path(path), compresslevel)
    for record in records:
        _append_item(stream, record)
    _close_list_pickle(stream)
    return Path(path)


def write_dataset(out_dir, seed: int = 0, n_train: int = 65, n_test: int = 20, scale: float = 1.0, *,
                  frames_per_clip: int | None = None, datasets: tuple[str, ...] = ("amateur", "expert"),
                  size: int | None = None) -> list[Path]:
    """Write out_dir/train.pkl, test.pkl, test_labels.pkl (gzip pickles of lists of dicts) of
    `synth_dataset` with the same arguments, one clip in memory at a time; returns the three paths."""
    options = StressOptions(frames_per_clip, tuple(datasets), size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "train.pkl", out / "test.pkl", out / "test_labels.pkl"]
    streams = [_open_list_pickle(p) for p in paths]
    for record in _train_records(seed, n_train, scale, options):
        _append_item(streams[0], record)
    for test, label in _test_records(seed, n_test, scale, options):
        _append_item(streams[1], test)
        _append_item(streams[2], label)
    for stream in streams:
        _close_list_pickle(stream)
    return paths
