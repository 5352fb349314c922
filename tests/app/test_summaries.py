"""Tests for mvcore.app.summaries: the rows and counts the pages show."""

import pytest

from conftest import SAMPLES
from mvcore.app import summaries
from mvcore.data import load_aml
from mvcore.errors import InputError


def test_summary_of_the_bundled_train_pickle(train_pickle):
    clips = load_aml(train_pickle)
    summary = summaries.dataset_summary(clips)
    assert (summary["clips"], summary["amateur"], summary["expert"], summary["labelled"]) == (5, 3, 2, 5)
    rows = summaries.clip_rows(clips)
    assert [r["frames"] for r in rows] == [c.n_frames for c in clips]
    assert set(summaries.labels_of(clips)) == {c.name for c in clips}
    with pytest.raises(InputError):
        summaries.labels_of(load_aml(SAMPLES / "test_small.pkl"))
