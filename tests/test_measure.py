"""Tests for mvcore.measure on hand-made masks of known geometry, and the DICOM pixel size."""

import math

import numpy as np
import pytest

from mvcore.measure import (
    MAX_BPM,
    Calibration,
    calibration_of,
    clip_frames,
    clip_summary,
    clip_tilt_limit,
    cycle_table,
    fold_states,
    frame_table,
    heart_rate_bpm,
    landmarks,
    measure_clip,
    measure_frame,
    resolved_edges,
    steady_states,
    two_groups,
    valve_events,
)

SHAPE = (120, 160)


def bar(mask, top, bottom, left, right):
    """Set the rectangle rows top..bottom-1, columns left..right-1 of `mask` (a leaflet)."""
    mask[top:bottom, left:right] = True
    return mask


def open_valve(gap: int, length: int = 40, width: int = 3) -> np.ndarray:
    """Two upright bars `gap` px apart (edge to edge), hinges at row 90, tips at row 90 - length."""
    mask = np.zeros(SHAPE, bool)
    bar(mask, 90 - length, 90, 60, 60 + width)
    return bar(mask, 90 - length, 90, 60 + width + gap, 60 + 2 * width + gap)


def shut_valve(span: int = 50, width: int = 3) -> np.ndarray:
    """One bar lying across, `span` px from end to end."""
    return bar(np.zeros(SHAPE, bool), 80, 80 + width, 50, 50 + span)


def broken_shut_valve(gap: int, span: int = 50, width: int = 3) -> np.ndarray:
    """`shut_valve` broken by a `gap` px wide hole in its middle, as a model's mask often is."""
    mask = shut_valve(span, width)
    mask[:, 50 + (span - gap) // 2:50 + (span - gap) // 2 + gap] = False
    return mask


def tips_up_shut_valve(gap: int) -> np.ndarray:
    """A shut valve 50 px across whose leaflets' tips, pressed together, stand 18 px up from its
    middle, broken by a `gap` px wide hole beside them (where a model's mask often breaks it)."""
    mask = bar(np.zeros(SHAPE, bool), 80, 83, 50, 100)
    bar(mask, 62, 80, 75, 78)
    mask[:, 75 - gap:75] = False
    return mask


def tipped_leaflet() -> np.ndarray:
    """One leaflet lying across (30 px) with the tips standing up (18 px) at its end: a shut valve
    whose other leaflet is lost. The chord from its far end to the tips' top is 34 degrees steep."""
    mask = bar(np.zeros(SHAPE, bool), 80, 83, 50, 80)
    return bar(mask, 62, 80, 77, 80)


def tilted_leaflet() -> np.ndarray:
    """One bar standing upright: one leaflet of an open valve, the other not found."""
    return bar(np.zeros(SHAPE, bool), 40, 90, 60, 63)


# (mask, state, opening px, annulus px), measured between pixel centres: bars of width w whose edges
# are g px apart have their end pixels g + w columns apart; a bar of n px spans n - 1 px
@pytest.mark.parametrize("mask, state, opening, annulus", [
    (open_valve(gap=10), "open", 13.0, 13.0),
    (open_valve(gap=30), "open", 33.0, 33.0),
    (open_valve(gap=30, length=20), "open", 33.0, 33.0),
    (shut_valve(span=50), "shut", 0.0, 49.0),
    (shut_valve(span=24), "shut", 0.0, 23.0),
    (broken_shut_valve(gap=4), "shut", 0.0, 49.0),      # two pieces in one line: one valve, end to end
    (broken_shut_valve(gap=10), "shut", 0.0, 49.0),
    (tips_up_shut_valve(gap=0), "shut", 0.0, 49.0),
    (tips_up_shut_valve(gap=3), "shut", 0.0, 49.0),     # broken beside the tips: a flat piece is no leaflet
    (tips_up_shut_valve(gap=6), "shut", 0.0, 49.0),
    (tilted_leaflet(), "open", math.nan, math.nan),
    (np.zeros(SHAPE, bool), None, math.nan, math.nan),
])
def test_frame_geometry_of_hand_made_masks(mask, state, opening, annulus):
    found = measure_frame(mask)
    assert found.state == state
    np.testing.assert_allclose([found.opening_px, found.annulus_px], [opening, annulus], atol=1.0)
    assert found.area_px2 == mask.sum()
    assert (found.state is None) == math.isnan(found.confidence)


def test_open_valve_tips_are_the_shallow_ends_and_hinges_the_deep_ones():
    found = measure_frame(open_valve(gap=20, length=40))
    assert (found.tips[:, 1] < 60).all() and (found.hinges[:, 1] > 80).all()
    assert found.confidence == 1.0  # 20 px apart: surely open


@pytest.mark.parametrize("mask, hinges, tips", [
    (open_valve(gap=20), True, True),
    (shut_valve(), True, False),        # shut: hinge to hinge, no tips
    (tilted_leaflet(), False, False),   # one leaflet: nothing to pair
    (np.zeros(SHAPE, bool), False, False),
])
def test_landmarks_are_each_frames_hinges_then_tips_or_nan(mask, hinges, tips):
    m = measure_clip(np.repeat(mask[:, :, None], 2, axis=2), 30.0)
    points = landmarks(m)
    assert points.shape == (2, 4, 2)
    assert [not np.isnan(points[:, :2]).any(), not np.isnan(points[:, 2:]).any()] == [hinges, tips]
    assert np.isnan(points[:, :2]).all() != hinges and np.isnan(points[:, 2:]).all() != tips
    if hinges:
        np.testing.assert_array_equal(points[0, :2], m.frames[0].hinges)


@pytest.mark.parametrize("mask, state", [
    (tipped_leaflet(), "shut"),     # its long axis lies across, whatever the stub at its end
    (tilted_leaflet(), "open"),
])
def test_one_part_is_read_by_its_long_axis(mask, state):
    assert measure_frame(mask).state == state


def leaning_bar(degrees: float, length: int = 50, thickness: int = 3) -> np.ndarray:
    """One bar `thickness` px thick, `length` px long, centred at (80, 60), its long axis `degrees`
    from the rows."""
    import cv2

    mask = np.zeros(SHAPE, np.uint8)
    dx, dy = 0.5 * length * math.cos(math.radians(degrees)), 0.5 * length * math.sin(math.radians(degrees))
    cv2.line(mask, (round(80 - dx), round(60 + dy)), (round(80 + dx), round(60 - dy)), 1, thickness=thickness)
    return mask.astype(bool)


# (tilts of a clip's one-part frames, the clip's limit): two groups clearly apart are split in the
# middle of their gap (never above the fixed 45); one group, or too few standing, keep 45
@pytest.mark.parametrize("tilts, limit", [
    ([25, 25, 25, 25, 40, 40], 32.5),
    ([25, 24, 26, 40, 41, math.nan], 33.0),      # frames read as two leaflets (NaN) left out
    ([2, 4, 5, 3, 30, 38], 17.5),
    ([5, 5, 5, 60, 70], 32.5),
    ([30, 30, 80, 85], 45.0),                    # the gap's middle is steeper than 45: 45
    ([10, 11, 12, 13, 12, 11], 45.0),            # one group
    ([20, 21, 22, 23, 24, 25], 45.0),            # spread, no gap
    ([5, 5, 5, 5, 40], 45.0),                    # one frame standing is not a group
    ([7, 7, 7, 7], 45.0),
    ([], 45.0),
])
def test_clip_tilt_limit_splits_two_groups_clearly_apart(tilts, limit):
    assert clip_tilt_limit(np.array(tilts, float)) == pytest.approx(limit)


# (shut frames' tilt, the standing part's tilt and length, states of the clip 'ssssooss'; the shut
# valve is 50 px long): the clip's one-part frames read against each other, standing ones as lone
# leaflets where they are narrower than the lying ones; a frame alone reads both shut under the fixed 45
@pytest.mark.parametrize("shut_deg, open_deg, open_length, states", [
    (25, 40, 28, "ssssooss"),
    (5, 30, 28, "ssssooss"),
    (3, 60, 40, "ssssooss"),
    (20, 22, 28, "ssssssss"),   # groups too near: the fixed 45 reads both shut
    (10, 35, 50, "ssssssss"),   # standing 0.82 of the lying ones' width: the whole valve, oblique, shut
    (25, 40, 50, "ssssssss"),   # 0.84 of it
    (25, 40, 40, "ssssooss"),   # 0.69 of it: lone leaflets
])
def test_a_clip_reads_its_one_part_frames_by_their_own_groups(shut_deg, open_deg, open_length, states):
    masks = np.stack([leaning_bar(open_deg, open_length) if c == "o" else leaning_bar(shut_deg)
                      for c in "ssssooss"], axis=2)
    frames = clip_frames(masks)
    assert "".join(f.state[0] for f in frames) == states
    assert [math.isnan(f.annulus_px) for f in frames] == [c == "o" for c in states]
    assert measure_frame(masks[:, :, 4]).state == ("open" if open_deg > 45 else "shut")


# (values, the groups Otsu's split gives, or None): two groups of 2 or more, the split explaining
# at least 60 % of the variance
@pytest.mark.parametrize("values, groups", [
    ([3, 3.2, 2.9, 7, 7.1], ([2.9, 3, 3.2], [7, 7.1])),
    ([3, math.nan, 3.1, 6, 6.2], ([3, 3.1], [6, 6.2])),   # NaN left out
    ([3, 3, 3, 3, 7], None),                             # one value apart is not a group
    ([1, 3, 3, 3, 3, 3, 3, 5], None),                    # one group: a split explains a third of it
    ([4, 4, 4], None),
    ([], None),
])
def test_two_groups_are_split_where_they_are_clearly_apart(values, groups):
    found = two_groups(np.array(values, float))
    if groups is None:
        assert found is None
    else:
        assert [list(g) for g in found] == [pytest.approx(g) for g in groups]


# (line thickness px of the frames marked 'm', the others' 3; the states read): the thicker of a
# clip's shut frames are its leaflets merged open where they are 1.4 times as thick or more (cv2
# draws lines 3, 5, 7 and 9 px wide 4.8, 6.5, 8.3 and 10.5 px thick: ratios 1.38, 1.76 and 2.2)
@pytest.mark.parametrize("merged_px, pattern, states", [
    (7, "ssssmmss", "ssssooss"),
    (9, "smmsssss", "soosssss"),
    (5, "ssssmmss", "ssssssss"),   # 1.38 times as thick: one valve, a little thicker
    (7, "sssssmss", "ssssssss"),   # one frame is not a group
    (7, "mmmmmmmm", "ssssssss"),   # all alike
])
def test_a_clips_thicker_shut_frames_are_its_leaflets_merged_open(merged_px, pattern, states):
    drawn = [merged_px if c == "m" else 3 for c in pattern]
    frames = clip_frames(np.stack([leaning_bar(8, thickness=px) for px in drawn], axis=2))
    assert "".join(f.state[0] for f in frames) == states
    assert [math.isnan(f.opening_px) for f in frames] == [c == "o" for c in states]
    # the band's ends are its hinges: 50 px apart, and cv2's round caps add the line's width
    assert [f.annulus_px for f in frames] == [pytest.approx(50 + px, abs=2) for px in drawn]
    assert all(0.5 <= f.confidence <= 1.0 for f in frames)


def test_specks_are_ignored():
    mask = shut_valve()
    mask[10, 10] = True  # one stray pixel is not a second leaflet
    assert measure_frame(mask).state == "shut"


@pytest.mark.parametrize("mm_per_px, opening, annulus, unit", [
    (None, 33.0, 33.0, "px"),
    (0.5, 16.5, 16.5, "mm"),
    (0.25, 8.25, 8.25, "mm"),
])
def test_calibrated_columns_carry_their_unit(mm_per_px, opening, annulus, unit):
    mask = open_valve(gap=30)[:, :, None]
    m = measure_clip(mask, fps=50.0, calibration=calibration_of(None, mm_per_px))
    row = frame_table(m)[0]
    assert m.unit == unit and f"opening_{unit}" in row and f"area_{unit}2" in row
    assert row[f"opening_{unit}"] == pytest.approx(opening, abs=0.5 * (mm_per_px or 1))
    assert row[f"annulus_{unit}"] == pytest.approx(annulus, abs=0.5 * (mm_per_px or 1))
    assert row[f"area_{unit}2"] == pytest.approx(mask.sum() * (mm_per_px or 1) ** 2)


@pytest.mark.parametrize("file_mm, user_mm, expected", [
    (None, None, Calibration(None, "none")),
    (0.51, None, Calibration(0.51, "dicom")),
    (0.51, 0.2, Calibration(0.2, "user")),
    (None, 0.2, Calibration(0.2, "user")),
])
def test_the_user_pixel_size_comes_before_the_file_one(file_mm, user_mm, expected):
    assert calibration_of(file_mm, user_mm) == expected


def beating_masks(pattern: str) -> np.ndarray:
    """Masks (H, W, T) whose frames are open ('o'), shut ('s'), empty ('.') or one leaflet
    standing ('l', read as open)."""
    frames = {"o": open_valve(gap=20), "s": shut_valve(), ".": np.zeros(SHAPE, bool), "l": tilted_leaflet()}
    return np.stack([frames[c] for c in pattern], axis=2)


def states_of(pattern: str) -> list[str | None]:
    """Per-frame states from a pattern of 'o' (open), 's' (shut) and '.' (None)."""
    return [{"o": "open", "s": "shut", ".": None}[c] for c in pattern]


BEAT = "s" * 8 + "o" * 12  # one beat of 20 frames: 150 bpm at 50 fps


@pytest.mark.parametrize("pattern, events", [
    ("sssooooosss", [(3, "opening"), (8, "closing")]),
    ("ssssosssss", []),                               # a one-frame flicker is no event
    ("sss..ooo", [(5, "opening")]),                    # empty frames are skipped, not shut
    ("oooossssssssoooss", [(4, "closing"), (12, "opening"), (15, "closing")]),
])
def test_events_from_states(pattern, events):
    states = steady_states(states_of(pattern))
    assert valve_events(states) == events


@pytest.mark.parametrize("pattern, events", [
    ("ssssssssss" + "oooo" + "sss" + "oooo" + "ssssssssss", [(10, "opening"), (21, "closing")]),
    ("ssss..ssss" + "ooooo" + "sss" + "ooooo" + "ss", [(10, "opening"), (23, "closing")]),  # systole: 8 frames seen
    ("ssss" + "oooo" + "sss" + "oooo" + "ssss", [(4, "opening"), (8, "closing"), (11, "opening"), (15, "closing")]),
    # a one-frame atrial kick, removed as a flicker, joins the first touch to its systole (16 frames);
    # the later systoles (10) are still systoles, not touches under 3/4 of that joined run
    ("s" * 10 + "oooo" + "sssss" + "o" + "s" * 10 + ("oooo" + "sssss" + "oo" + "s" * 10) * 2,
     [(10, "opening"), (14, "closing"), (30, "opening"), (41, "closing"), (51, "opening"), (62, "closing")]),
])
def test_mid_diastolic_touch_is_not_a_closing(pattern, events):
    """A shut run inside open ones under 3/4 of the clip's longest (systole) is the leaflets touching."""
    states = steady_states(states_of(pattern))
    assert valve_events(states) == events


NAN = math.nan


@pytest.mark.parametrize("pattern, widths, expected", [
    # opening: the line through 20 then 30 px reaches 0 at frame 0, before the shut frame 1
    ("ssoooo", [0, 0, 20, 30, 40, 40], "sooooo"),
    ("ssoooo", [0, 0, 5, 30, 40, 40], "ssoooo"),        # ... through 5 then 30: at 1.8, after it
    # closing: 30 then 20 px reach 0 at frame 4, after the shut frame 3
    ("ooossss", [40, 30, 20, 0, 0, 0, 0], "oooosss"),
    ("ooossss", [40, 40, 5, 0, 0, 0, 0], "ooossss"),    # ... 40 then 5: at 2.1, before it
    ("ssoooo", [0, 0, NAN, 30, 40, 40], "ssoooo"),      # the first open frame unmeasured (one leaflet)
    ("ssoooo", [0, 0, 30, 20, 40, 40], "ssoooo"),       # narrowing into the run: no line to follow
    ("ssosss", [0, 0, 20, 0, 0, 0], "ssosss"),          # one open frame: no second width
    ("ss..oo", [0, 0, NAN, NAN, 20, 30], "ss..oo"),     # frames without a valve are not shut
])
def test_open_runs_reach_where_their_opening_extrapolates_to_zero(pattern, widths, expected):
    """At most one frame per edge: a gap narrower than the mask's blur shows as shut."""
    assert resolved_edges(states_of(pattern), [float(w) for w in widths]) == states_of(expected)


def test_the_heart_rate_is_that_of_the_beats_before_their_edges_move():
    """The first beat's opening widens steeply (tips 23 then 43 px apart: zero at frame 6.85), so
    its edge moves to frame 7; the other beats' do not, and the period is not pulled by it."""
    masks = beating_masks(BEAT * 4)
    masks[:, :, 8], masks[:, :, 9] = open_valve(gap=20), open_valve(gap=40)
    m = measure_clip(masks, fps=50.0)
    assert m.states == states_of("s" * 7 + "o" * 13 + BEAT * 3)
    assert m.heart_rate_bpm == pytest.approx(150.0, abs=1.0)  # 20 frames a beat at 50 frames/s


# periods in frames, whole or not (a heart's period is no whole number of frames): within 1 bpm,
# where whole frames alone would be off by up to half a frame (2 bpm at 20.5 frames and 30 fps)
@pytest.mark.parametrize("period, beats, fps", [(20, 4, 50.0), (30, 3, 30.0), (12, 5, 25.0), (20.5, 4, 30.0),
                                                (17.3, 4, 25.0), (33.7, 3, 50.0)])
def test_heart_rate_from_the_valve_period(period, beats, fps):
    states = ["open" if (t % period) / period >= 0.4 else "shut" for t in range(int(period * beats))]
    assert heart_rate_bpm(states, fps) == pytest.approx(60 * fps / period, abs=1.0)


OPEN_PX = [3, 8, 12, 10, 6, 4, 4, 5, 7, 4, 1]  # a beat's opening px: E wave, diastasis, A wave
WIDE_BEAT = OPEN_PX + [0] * 10                  # 21 frames: 85.7 bpm at 30 frames/s


# (frames by which the second of two beats opens early, barely: 0.5 px): the period of the opening
# widths holds within 1 bpm; the open / shut states' is pulled by the early edge (9 bpm at 3 frames)
@pytest.mark.parametrize("early", [0, 1, 3, 4])
def test_heart_rate_from_the_openings_is_not_pulled_by_a_faint_edge(early):
    widths = [float(w) for w in WIDE_BEAT * 2 + WIDE_BEAT[:2]]
    widths[21 - early:21] = [0.5] * early
    states = ["open" if w > 0 else "shut" for w in widths]
    assert heart_rate_bpm(states, 30.0, widths) == pytest.approx(60 * 30.0 / 21, abs=1.0)
    # no opening measured on any open frame (lone leaflets): the states' period
    assert heart_rate_bpm(states, 30.0, [math.nan] * len(states)) == heart_rate_bpm(states, 30.0)


@pytest.mark.parametrize("early", [0, 2])
def test_a_clips_heart_rate_is_that_of_its_openings(early):
    """Two beats of WIDE_BEAT drawn as masks (gaps 4 px per OPEN_PX), the second opening `early`
    frames early by a 2-px gap: 85.7 bpm within 1, where its states alone are 6 bpm off at 2."""
    widths = WIDE_BEAT * 2 + WIDE_BEAT[:2]
    frames = [open_valve(gap=4 * w) if w else shut_valve() for w in widths]
    frames[21 - early:21] = [open_valve(gap=2)] * early
    m = measure_clip(np.stack(frames, axis=2), fps=30.0)
    assert m.heart_rate_bpm == pytest.approx(60 * 30.0 / 21, abs=1.0)
    assert early == 0 or abs(heart_rate_bpm(m.states, 30.0) - 60 * 30.0 / 21) > 3


@pytest.mark.parametrize("period, fps", [(8, 29.4), (6, 25.0)])  # 220 and 250 bpm, both beyond MAX_BPM
def test_no_heart_rate_is_faster_than_the_fastest_looked_for(period, fps):
    """A series repeating faster than MAX_BPM rises towards the shortest lag looked for; that rise is
    no period (it gave 196-220 bpm at 29.4 frames/s on a model's masks)."""
    states = ["open" if (t % period) / period >= 0.5 else "shut" for t in range(period * 6)]
    assert not heart_rate_bpm(states, fps) > MAX_BPM


@pytest.mark.parametrize("pattern", [
    BEAT + "o" * 20 + BEAT * 2,     # a closure lost: the autocorrelation peaks higher at 2 beats than at 1
    BEAT * 2 + "." * 20 + BEAT,     # a beat without a valve
    BEAT * 4,
])
def test_heart_rate_is_not_halved_by_a_lost_beat(pattern):
    assert heart_rate_bpm(states_of(pattern), 50.0) == pytest.approx(150.0, abs=1.0)


@pytest.mark.parametrize("pattern, period, expected", [
    (BEAT * 3, 20.0, BEAT * 3),                     # a steady clip stays as it is
    (BEAT + "." * 20 + BEAT * 2, 20.0, BEAT * 4),   # a beat without a valve takes the others' states
    (BEAT + "o" * 20 + BEAT * 2, 20.0, BEAT * 4),   # a closure read open is outvoted by three beats
    (BEAT + "o" * 20, 20.0, BEAT + "o" * 20),        # ... but not by one
    ("ss..oo", math.nan, "ss..oo"),                  # no period: nothing to weigh against
])
def test_each_frame_is_weighed_against_the_other_beats(pattern, period, expected):
    assert fold_states(states_of(pattern), period) == states_of(expected)


@pytest.mark.parametrize("pattern", [
    BEAT + "." * 8 + "o" * 12 + BEAT * 2,   # a systole without a valve
    BEAT + "l" * 8 + "o" * 12 + BEAT * 2,   # a systole where only one leaflet, standing, is found
])
def test_a_beat_whose_masks_lose_the_valve_borrows_the_other_beats(pattern):
    m = measure_clip(beating_masks(pattern), fps=50.0)
    assert m.states == states_of(BEAT * 4)
    assert m.events == valve_events(states_of(BEAT * 4))
    assert [c.open_frame for c in m.cycles] == [8, 28, 48]
    assert m.heart_rate_bpm == pytest.approx(150.0, abs=1.0)


def test_one_beat_gives_no_heart_rate():
    assert math.isnan(heart_rate_bpm(["shut"] * 8 + ["open"] * 12, 50.0))


def test_cycles_and_summary_of_a_beating_valve():
    pattern = ("s" * 8 + "o" * 12) * 3
    m = measure_clip(beating_masks(pattern), fps=50.0, calibration=Calibration(0.5, "user"), name="beats")
    cycles = cycle_table(m)
    assert [(c["open_frame"], c["close_frame"]) for c in cycles] == [(8, 20), (28, 40)]
    assert cycles[0]["open_ms"] == 160.0 and cycles[0]["open_duration_ms"] == 240.0
    assert [c["period_ms"] for c in cycles] == [400.0, 400.0]  # the third opening (frame 48) has no closing
    last = cycle_table(measure_clip(beating_masks(pattern[:-12]), fps=50.0))
    assert len(last) == 2 and math.isnan(last[1]["period_ms"])  # no opening after the last cycle's
    assert cycles[0]["max_opening_mm"] == pytest.approx(23 * 0.5, abs=0.5)
    assert cycles[0]["annulus_diastole_start_mm"] == pytest.approx(23 * 0.5, abs=0.5)
    assert cycles[0]["annulus_systole_start_mm"] == pytest.approx(49 * 0.5, abs=0.5)
    summary = clip_summary(m)
    assert summary["heart_rate_bpm"] == pytest.approx(150.0, abs=1.0)
    assert summary["cycles"] == 2 and summary["mean_open_duration_ms"] == 240.0
    assert summary["calibration"] == "user" and summary["unit"] == "mm"


def test_the_real_dicom_cine_gives_its_pixel_size():
    from pydicom.data import get_testdata_file

    from mvcore.data import load_inputs

    clip = load_inputs([get_testdata_file("color3d_jpeg_baseline.dcm")])[0]
    assert clip.mm_per_px == pytest.approx(0.5105, abs=1e-4)  # 0.051 cm per pixel
    assert clip.fps == pytest.approx(30.0, abs=0.01)          # FrameTime 33.333 ms


def test_files_without_a_pixel_size_stay_in_pixels(tmp_path):
    from mvcore.data import load_inputs

    path = tmp_path / "clip.npy"
    np.save(path, np.zeros((64, 64, 3), np.uint8))
    assert load_inputs([path])[0].mm_per_px is None
