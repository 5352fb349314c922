"""Whole synthetic train and test sets for a seed, in memory or written as the AML gzip pickles."""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from mvcore.synth.records import make_test_record, make_train_record

AMATEUR_SHARE = 46 / 65


def _clip_rngs(seed: int, part: int, n: int) -> list[np.random.Generator]:
    """Independent generators for clips 0..n-1 of `part` (0 train, 1 test); clip i's does not depend on n."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, part]).spawn(n)]


def _train_records(seed: int, n_train: int, scale: float):
    """Yield the train records one by one: round(n_train * 46 / 65) amateur, then expert."""
    n_amateur = round(n_train * AMATEUR_SHARE)
    for i, rng in enumerate(_clip_rngs(seed, 0, n_train)):
        yield make_train_record(rng, "amateur" if i < n_amateur else "expert", scale)


def _test_records(seed: int, n_test: int, scale: float):
    """Yield (test record, test label record) pairs one by one."""
    for rng in _clip_rngs(seed, 1, n_test):
        yield make_test_record(rng, scale)


def synth_dataset(seed: int = 0, n_train: int = 65, n_test: int = 20,
                  scale: float = 1.0) -> tuple[list[dict], list[dict], list[dict]]:
    """(train, test, test_labels) lists in the AML format; deterministic for a seed."""
    tests = list(_test_records(seed, n_test, scale))
    return list(_train_records(seed, n_train, scale)), [t for t, _ in tests], [lab for _, lab in tests]


def _open_list_pickle(path: Path):
    """A gzip stream holding the start of a protocol-4 pickle of a list; add items with `_append_item`."""
    stream = gzip.open(path, "wb", compresslevel=1)
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


def write_dataset(out_dir, seed: int = 0, n_train: int = 65, n_test: int = 20, scale: float = 1.0) -> list[Path]:
    """Write out_dir/train.pkl, test.pkl, test_labels.pkl (gzip pickles of lists of dicts), one clip
    in memory at a time; returns the three paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "train.pkl", out / "test.pkl", out / "test_labels.pkl"]
    streams = [_open_list_pickle(p) for p in paths]
    for record in _train_records(seed, n_train, scale):
        _append_item(streams[0], record)
    for test, label in _test_records(seed, n_test, scale):
        _append_item(streams[1], test)
        _append_item(streams[2], label)
    for stream in streams:
        stream.write(pickle.STOP)
        stream.close()
    return paths
