"""Clinical measurements from a clip's valve masks: open or shut per frame, the opening and closing
times, cycles and heart rate, and the leaflet geometry, in mm where the pixel size is known.

Per frame, the mask's connected parts are the leaflets. Two parts side by side (`leaflets_apart`:
far apart, or spread across their common line) are an open valve; each part's ends along its long
axis are its hinge (the deeper end, larger row: the annulus lies farther from the apical probe than
the open leaflet's tip) and its tip. Parts lying in one line are pieces of one structure, as a
model's mask often breaks a shut valve, and are measured as one part. One part lying across the
image (its long axis within a limit of the rows) is a shut valve, hinge to hinge; one part standing
steeper is one leaflet of an open valve, whose opening and annulus cannot be measured. The limit is
the clip's own where the tilts of its one-part frames fall in two groups clearly apart (lying
across, standing) and the standing ones are narrower than the lying ones (one leaflet, not the
whole valve seen obliquely), else `SHUT_MAX_TILT_DEG` (`clip_tilt_limit`, `standing_are_leaflets`,
`clip_frames`). Among the frames read shut, a clip's thicker ones are an open valve whose leaflets,
a pixel or two apart, the mask merged into one band (`merged_open`). Values that cannot be
measured are NaN, never 0.

Over the clip, each frame's state is weighed against the same phase of the other beats
(`fold_states`), so a beat whose masks lose the valve borrows the others' states; flickers and the
leaflets touching in mid-diastole are then smoothed away (`steady_states`). A mask cannot show a
gap narrower than its leaflets' blur, so each open run's first and last frames are placed where
the opening, extrapolated from its first (last) two widths, reaches zero (`resolved_edges`).

Image px are (column, row); times are ms from the first frame; `unit` is 'mm' when calibrated,
else 'px', and is in every column name (`opening_mm`, `area_px2`, `t_ms`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

MIN_PART_SHARE = 0.15   # a connected part smaller than this share of the largest is noise
MIN_PART_PX = 4         # ... and so is one of fewer pixels
SHUT_MAX_TILT_DEG = 45  # one part whose long axis lies within this of the rows is a shut valve ...
SPLIT_MIN_SHARE = 0.6   # ... unless a clip's one-part tilts split in two groups (Otsu) holding this share of their variance
SPLIT_MIN_GAP_DEG = 3   # ... with at least this gap between the groups
SPLIT_MIN_FRAMES = 2    # ... and at least this many frames in each
LONE_WIDTH_SHARE = 0.8  # ... and the standing group under this share of the lying one's width (a leaflet)
MERGED_THICKNESS = 1.4  # a clip's thicker shut parts (Otsu), this many times the thinner on average: merged open
GAP_SURE_PX = 3.0       # two leaflets this far apart are surely open (confidence 1)
APART_GAP_SHARE = 0.3   # two parts whose gap is this share of the valve's width are two leaflets ...
APART_SPREAD = 0.34     # ... and so are parts spread across their line this much (2nd / 1st singular value)
LEAFLET_MIN_TILT_DEG = 20  # ... if both stand this steeply (a shut valve broken by its tips lies flat)
MAJORITY_FRAMES = 3     # each frame's state is the majority over this many frames around it
MIN_BPM, MAX_BPM = 30, 200  # heart rates looked for
PEAK_SHARE = 0.7        # the valve's period: the first autocorrelation peak this high against the top
DIASTOLIC_TOUCH = 0.75  # a shut run inside open ones, shorter than this share of the longest, is open
OWN_BEAT_WEIGHT = 1.5   # a frame's own state against each other beat's at its phase: two beats outvote it


@dataclass(frozen=True)
class Calibration:
    """How long a pixel is: mm_per_px (square pixels) from `source` ('dicom', 'user'), or None
    (source 'none'): lengths stay in pixels, labelled 'px'."""

    mm_per_px: float | None = None
    source: str = "none"

    @property
    def unit(self) -> str:
        return "mm" if self.mm_per_px else "px"

    def length(self, px: float) -> float:
        """A length in px -> in `unit`."""
        return px * self.mm_per_px if self.mm_per_px else px

    def area(self, px2: float) -> float:
        """An area in px^2 -> in `unit`^2."""
        return px2 * self.mm_per_px ** 2 if self.mm_per_px else px2


def calibration_of(clip_mm_per_px: float | None, user_mm_per_px: float | None = None) -> Calibration:
    """The user's mm per pixel when given (> 0), else the file's (DICOM), else pixels."""
    if user_mm_per_px:
        return Calibration(float(user_mm_per_px), "user")
    if clip_mm_per_px:
        return Calibration(float(clip_mm_per_px), "dicom")
    return Calibration()


@dataclass
class FrameGeometry:
    """One frame's valve in px: state 'open', 'shut' or None (no valve found); confidence of the
    state 0.5 .. 1 (NaN when None); hinges and tips (2, 2) float (column, row) or None;
    opening_px tip to tip, annulus_px hinge to hinge (NaN when not measurable); extent of the
    mask's box (width, height) px and its area px^2; tilt_deg, the long axis's angle from the rows,
    and thickness_px, its pixels over its length along that axis, of a frame read as one part (NaN
    otherwise)."""

    state: str | None = None
    confidence: float = math.nan
    hinges: np.ndarray | None = None
    tips: np.ndarray | None = None
    opening_px: float = math.nan
    annulus_px: float = math.nan
    width_px: float = math.nan
    height_px: float = math.nan
    area_px2: float = 0.0
    tilt_deg: float = math.nan
    thickness_px: float = math.nan


def _parts(mask: np.ndarray) -> list[np.ndarray]:
    """The mask's connected parts (8-connected) worth measuring, largest first: each (n, 2) float
    (column, row) of its pixels."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if not len(areas):
        return []
    keep = [i + 1 for i in np.argsort(-areas, kind="stable")
            if areas[i] >= max(MIN_PART_PX, MIN_PART_SHARE * areas.max())]
    return [np.argwhere(labels == i)[:, ::-1].astype(np.float64) for i in keep]


def _long_axis(points: np.ndarray) -> np.ndarray:
    """The unit vector (2,) (column, row) of the long (principal) axis of pixels (n, 2); along the
    rows for a single pixel."""
    if len(points) < 2:
        return np.array([1.0, 0.0])
    return np.linalg.svd(points - points.mean(axis=0), full_matrices=False)[2][0]


def _along_axis(points: np.ndarray) -> np.ndarray:
    """float (n,): where each pixel of `points` (n, 2) lies along the part's long axis, px from its centre."""
    return (points - points.mean(axis=0)) @ _long_axis(points)


def part_ends(points: np.ndarray) -> np.ndarray:
    """(2, 2) (column, row): the pixels of a part `points` (n, 2) farthest apart along its long
    (principal) axis, the shallower (smaller row) first."""
    along = _along_axis(points)
    ends = points[[int(np.argmin(along)), int(np.argmax(along))]]
    return ends[np.argsort(ends[:, 1], kind="stable")]


def _gap_px(a: np.ndarray, b: np.ndarray) -> float:
    """Least distance px between two parts' pixels (n, 2) and (m, 2), edge to edge."""
    import cv2

    low = np.minimum(a.min(0), b.min(0)).astype(int)
    size = (np.maximum(a.max(0), b.max(0)).astype(int) - low + 1)[::-1]
    outside_a = np.ones(size, np.uint8)
    ia, ib = (a - low).astype(int), (b - low).astype(int)
    outside_a[ia[:, 1], ia[:, 0]] = 0
    distance = cv2.distanceTransform(outside_a, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float(distance[ib[:, 1], ib[:, 0]].min()) - 1.0


def _tilt_deg(points: np.ndarray) -> float:
    """Angle 0 .. 90 degrees between the long (principal) axis of pixels (n, 2) (column, row) and the
    rows; 0 for a single pixel. The axis, unlike the chord between the far ends, is not swung by a
    short stub (the leaflets' tips, pressed together, stand up from a shut valve)."""
    axis = _long_axis(points)
    return float(np.degrees(np.arctan2(abs(axis[1]), abs(axis[0]))))


def _thickness_px(points: np.ndarray) -> float:
    """Mean thickness px of a part, pixels (n, 2): their count over their extent along its long axis."""
    return float(len(points) / (np.ptp(_along_axis(points)) + 1.0))


def _open_geometry(first: np.ndarray, second: np.ndarray) -> dict:
    """Hinges, tips, opening and annulus px of two leaflets (pixels (n, 2) each)."""
    ends = np.stack([part_ends(first), part_ends(second)])  # (leaflet, [tip, hinge], 2)
    tips, hinges = ends[:, 0], ends[:, 1]
    return {"state": "open", "confidence": 0.5 + 0.5 * min(1.0, max(_gap_px(first, second), 0) / GAP_SURE_PX),
            "tips": tips, "hinges": hinges, "opening_px": float(np.linalg.norm(tips[0] - tips[1])),
            "annulus_px": float(np.linalg.norm(hinges[0] - hinges[1]))}


def _single_geometry(part: np.ndarray, shut_max_tilt_deg: float) -> dict:
    """A shut valve (lying within `shut_max_tilt_deg` of the rows: hinges at its ends, opening 0)
    or one leaflet (standing steeper)."""
    ends = part_ends(part)
    tilt, thickness = _tilt_deg(part), _thickness_px(part)
    confidence = 0.5 + 0.5 * min(1.0, abs(tilt - shut_max_tilt_deg) / max(shut_max_tilt_deg, 1e-9))
    if tilt > shut_max_tilt_deg:
        return {"state": "open", "confidence": confidence, "tilt_deg": tilt, "thickness_px": thickness}
    return {"state": "shut", "confidence": confidence, "hinges": ends, "opening_px": 0.0,
            "annulus_px": float(np.linalg.norm(ends[0] - ends[1])), "tilt_deg": tilt, "thickness_px": thickness}


def leaflets_apart(first: np.ndarray, second: np.ndarray, every: np.ndarray) -> bool:
    """Whether the two largest parts `first` and `second` (pixels (n, 2) each) of a mask whose kept
    parts' pixels are `every` (m, 2) are the two leaflets of an open valve: their gap at least
    APART_GAP_SHARE of the width of all parts, or all parts spread across their principal line by
    APART_SPREAD with both standing at least LEAFLET_MIN_TILT_DEG from the rows (pieces of a shut
    valve lie along one line; one broken where the leaflets meet is spread by their tips, standing
    up, but leaves a piece lying along the annulus).

    The gap and spread thresholds were chosen on the bundled model's masks of `synth --seed 3` test
    clips, the tilt on seeds 1, 3 and 4, keeping the rule's accuracy on the true masks
    (BENCHMARKS.md, "Measurements")."""
    width = np.ptp(every[:, 0]) + 1.0
    singular = np.linalg.svd(every - every.mean(axis=0), compute_uv=False)
    both_stand = min(_tilt_deg(first), _tilt_deg(second)) >= LEAFLET_MIN_TILT_DEG
    return (_gap_px(first, second) >= APART_GAP_SHARE * width
            or (singular[1] >= APART_SPREAD * max(singular[0], 1e-9) and both_stand))


def measure_frame(mask: np.ndarray, shut_max_tilt_deg: float = SHUT_MAX_TILT_DEG) -> FrameGeometry:
    """The valve of one frame, mask bool (H, W): state, points and lengths in px (see `FrameGeometry`);
    one part is shut within `shut_max_tilt_deg` of the rows."""
    parts = _parts(mask)
    if not parts:
        return FrameGeometry()
    every = np.concatenate(parts)
    if len(parts) >= 2 and leaflets_apart(parts[0], parts[1], every):
        found = _open_geometry(parts[0], parts[1])
    else:
        found = _single_geometry(every, shut_max_tilt_deg)
    width, height = every.max(0) - every.min(0) + 1
    return FrameGeometry(**found, width_px=float(width), height_px=float(height), area_px2=float(mask.sum()))


def clip_tilt_limit(tilts: np.ndarray) -> float:
    """The tilt (degrees) below which a clip's one part is shut, from the tilts float (n,) of its
    one-part frames (NaN entries ignored): where Otsu's split of them in two groups explains at least
    SPLIT_MIN_SHARE of their variance, with SPLIT_MIN_FRAMES or more in each and SPLIT_MIN_GAP_DEG or
    more between them, the middle of that gap (a shut valve lying across, a lone leaflet standing),
    at most SHUT_MAX_TILT_DEG; else SHUT_MAX_TILT_DEG.

    The three split thresholds were chosen on the bundled model's masks of `synth --seed 1..4` test
    clips, keeping the true masks' accuracy (BENCHMARKS.md, "Measurements")."""
    groups = two_groups(tilts)
    if groups is None or groups[1][0] - groups[0][-1] < SPLIT_MIN_GAP_DEG:
        return float(SHUT_MAX_TILT_DEG)
    return float(min(SHUT_MAX_TILT_DEG, (groups[0][-1] + groups[1][0]) / 2))


def two_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(lower, upper) sorted groups of `values` float (n,) (NaN left out) split by Otsu's method,
    where the split explains at least SPLIT_MIN_SHARE of their variance with SPLIT_MIN_FRAMES or more
    values in each; else None."""
    values = np.sort(values[np.isfinite(values)])
    cuts = range(SPLIT_MIN_FRAMES, len(values) - SPLIT_MIN_FRAMES + 1)
    if not cuts or np.ptp(values) == 0:
        return None
    n = len(values)
    between = [k * (n - k) * (values[:k].mean() - values[k:].mean()) ** 2 / n ** 2 for k in cuts]
    if max(between) < SPLIT_MIN_SHARE * values.var():
        return None
    k = cuts[int(np.argmax(between))]
    return values[:k], values[k:]


def standing_are_leaflets(tilts: np.ndarray, widths: np.ndarray, limit: float) -> bool:
    """Whether a clip's one-part frames standing steeper than `limit` degrees are lone leaflets of
    an open valve: the median width px (across the image) of those frames under LONE_WIDTH_SHARE of
    the lying ones'. As wide as those, they are the whole valve seen obliquely (shut, or open with
    its leaflets merged), not one leaflet of it. `tilts`, `widths` float (T,), NaN where a frame is
    not one part.

    The share lies between the ratios of the clips this rule was made for: 0.71 on the hand-drawn
    real masks and 0.46-0.65 on the synthetic clips whose split reads lone leaflets right, 0.94 and
    more on those whose split read an oblique shut valve as leaflets (BENCHMARKS.md, "Measurements")."""
    one = np.isfinite(tilts)
    standing, lying = widths[one & (tilts > limit)], widths[one & (tilts <= limit)]
    return bool(np.median(standing) < LONE_WIDTH_SHARE * np.median(lying))


def merged_open(frames: list[FrameGeometry]) -> list[FrameGeometry]:
    """`frames` with the thicker of a clip's shut frames read open, where their thicknesses fall in
    two groups (`two_groups`) whose upper is on average MERGED_THICKNESS times the lower or more:
    a shut valve is one line of leaflet, its leaflets pressed together, while the two leaflets of an
    open valve a pixel or two apart merge in a mask into one band about twice as thick. The band's
    ends stay its hinges (the annulus); its opening is unmeasured (NaN).

    The ratio was chosen on the bundled model's masks of `synth --seed 1..5` test clips (1.3 to 1.5
    all gain there), seeds 6-8 kept aside (BENCHMARKS.md, "Measurements")."""
    thickness = np.array([f.thickness_px if f.state == "shut" else math.nan for f in frames])
    groups = two_groups(thickness)
    if groups is None or groups[1].mean() < MERGED_THICKNESS * groups[0].mean():
        return frames
    cut = (groups[0][-1] + groups[1][0]) / 2
    return [replace(f, state="open", confidence=0.5 + 0.5 * min(1.0, (t - cut) / cut), opening_px=math.nan)
            if t > cut else f for f, t in zip(frames, thickness)]


def clip_frames(mask: np.ndarray) -> list[FrameGeometry]:
    """Each frame of masks bool (H, W, T) measured (`measure_frame`) with the clip's limit on the
    tilt of a shut part (`clip_tilt_limit` of the frames read as one part), where the frames standing
    past it are lone leaflets (`standing_are_leaflets`); then its merged open valves found among the
    shut frames (`merged_open`)."""
    frames = [measure_frame(mask[:, :, t]) for t in range(mask.shape[2])]
    tilts = np.array([f.tilt_deg for f in frames])
    limit = clip_tilt_limit(tilts)
    if limit != SHUT_MAX_TILT_DEG and standing_are_leaflets(tilts, np.array([f.width_px for f in frames]), limit):
        frames = [measure_frame(mask[:, :, t], limit) if math.isfinite(f.tilt_deg) else f
                  for t, f in enumerate(frames)]
    return merged_open(frames)


def _fill_inner_runs(states: list[str | None], is_short) -> list[str | None]:
    """`states` where each run between two runs of the other state for which `is_short(state,
    length)` holds takes their state; frames without a state (None) are skipped and stay."""
    known = [t for t, s in enumerate(states) if s is not None]
    out = list(states)
    runs = _runs([states[t] for t in known])
    for i, (state, start, stop) in enumerate(runs):
        if 0 < i < len(runs) - 1 and is_short(state, stop - start):
            for k in range(start, stop):
                out[known[k]] = runs[i - 1][0]
    return out


def _majority_once(states: list[str | None]) -> list[str | None]:
    """Each known state replaced by the majority of the MAJORITY_FRAMES known states centred on it
    (fewer at the ends); None stays None."""
    known = [t for t, s in enumerate(states) if s is not None]
    out, half = list(states), MAJORITY_FRAMES // 2
    for i, t in enumerate(known):
        window = [states[k] for k in known[max(0, i - half):i + half + 1]]
        out[t] = max(("open", "shut"), key=lambda s: (window.count(s), s == states[t]))
    return out


def majority_states(states: list[str | None]) -> list[str | None]:
    """`_majority_once` repeated until nothing changes: removes one-frame flickers, also where two
    follow each other (open shut open shut inside a shut run), which one pass only shifts."""
    while (again := _majority_once(states)) != states:
        states = again
    return states


def steady_states(states: list[str | None]) -> list[str | None]:
    """Per-frame states with flickers removed (`majority_states`), then the leaflets touching in
    mid-diastole called open (a shut run between open ones, shorter than DIASTOLIC_TOUCH times the
    longest shut run: systole is the long closure). The longest shut run is read before the flickers
    are removed: removing a one-frame atrial kick joins a mid-diastolic touch to the next systole
    into a run that would pass for twice a systole."""
    known = [s for s in states if s is not None]
    longest_shut = max((stop - start for state, start, stop in _runs(known) if state == "shut"), default=0)
    return _fill_inner_runs(majority_states(states),
                            lambda state, length: state == "shut" and length < DIASTOLIC_TOUCH * longest_shut)


def _runs(values: list) -> list[tuple]:
    """[(value, start, stop)] of the runs of equal values."""
    runs, start = [], 0
    for t in range(1, len(values) + 1):
        if t == len(values) or values[t] != values[start]:
            runs.append((values[start], start, t))
            start = t
    return runs


def _zero_crossing(at: int, width: float, next_width: float, step: int) -> float:
    """The frame (float) where an opening of `width` px at frame `at`, `next_width` px one `step`
    (+1 or -1 frames) further into its open run, reaches zero on the line through them; NaN unless
    it widens into the run (next_width > width > 0)."""
    if not next_width > width > 0:
        return math.nan
    return at - step * width / (next_width - width)


def resolved_edges(states: list[str | None], opening_px: list[float]) -> list[str | None]:
    """`states` with the shut frame next to each open run called open where the run's opening,
    extrapolated on the line through its two first (last) widths `opening_px` (px per frame, NaN
    where unmeasured), reaches zero before (after) that frame: the leaflets were already (still)
    apart there, by less than a mask shows. At most one frame per edge."""
    out = list(states)
    for t, state in enumerate(states):
        if state != "shut":
            continue
        if t + 2 < len(states) and states[t + 1] == "open":            # the run opens at t + 1
            if _zero_crossing(t + 1, opening_px[t + 1], opening_px[t + 2], +1) < t:
                out[t] = "open"
        if t >= 2 and states[t - 1] == "open":                         # the run closed at t
            if _zero_crossing(t - 1, opening_px[t - 1], opening_px[t - 2], -1) > t:
                out[t] = "open"
    return out


def valve_events(states: list[str | None]) -> list[tuple[int, str]]:
    """[(frame, 'opening' | 'closing')]: the first frame of each open or shut run after a run of the
    other state (frames without a state skipped)."""
    known = [(t, s) for t, s in enumerate(states) if s is not None]
    return [(t, "opening" if s == "open" else "closing")
            for (_, before), (t, s) in zip(known, known[1:]) if s != before]


@dataclass
class Cycle:
    """One opening and the closing after it: frames, times ms, open duration ms, period ms to the
    next opening (NaN for the last), the largest opening and the annulus at the start of diastole
    (the opening frame) and of systole (the closing frame), in the clip's unit (NaN if unmeasured)."""

    open_frame: int
    close_frame: int
    open_ms: float
    close_ms: float
    open_duration_ms: float
    period_ms: float
    max_opening: float
    annulus_diastole_start: float
    annulus_systole_start: float


@dataclass
class ClipMeasurement:
    """A clip's measurements: its calibration and fps, per-frame geometry (px), steady states,
    events [(frame, kind)], cycles and heart rate (bpm, NaN under about 1.5 beats)."""

    name: str
    fps: float
    calibration: Calibration
    frames: list[FrameGeometry]
    states: list[str | None]
    events: list[tuple[int, str]]
    cycles: list[Cycle] = field(default_factory=list)
    heart_rate_bpm: float = math.nan

    @property
    def unit(self) -> str:
        return self.calibration.unit

    def ms(self, frame: int) -> float:
        return 1000.0 * frame / self.fps


def landmarks(m: ClipMeasurement) -> np.ndarray:
    """Each frame's hinges and tips, float (T, 4, 2) px (column, row) in the order hinge, hinge, tip,
    tip; NaN where a frame has none (no valve, one leaflet, or a shut valve's tips)."""
    points = np.full((len(m.frames), 4, 2), np.nan)
    for t, frame in enumerate(m.frames):
        for slot, found in ((0, frame.hinges), (2, frame.tips)):
            if found is not None:
                points[t, slot:slot + 2] = found
    return points


def _nan_max(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _cycles(m: ClipMeasurement) -> list[Cycle]:
    """Each opening followed by a closing, with its period to the next opening."""
    openings = [t for t, kind in m.events if kind == "opening"]
    cycles = []
    for i, start in enumerate(openings):
        stop = next((t for t, kind in m.events if kind == "closing" and t > start), None)
        if stop is None:
            break
        cal = m.calibration
        period = m.ms(openings[i + 1]) - m.ms(start) if i + 1 < len(openings) else math.nan
        cycles.append(Cycle(start, stop, m.ms(start), m.ms(stop), m.ms(stop) - m.ms(start), period,
                            cal.length(_nan_max([f.opening_px for f in m.frames[start:stop]])),
                            cal.length(m.frames[start].annulus_px), cal.length(m.frames[stop].annulus_px)))
    return cycles


def _votes(states: list[str | None]) -> np.ndarray:
    """float (T,): +1 for each open frame, -1 for each shut one, 0 where no state."""
    return np.array([{"open": 1.0, "shut": -1.0}.get(s, 0.0) for s in states])


def _autocorrelation(x: np.ndarray, lags: range) -> np.ndarray:
    """Mean x[t] * x[t + lag] over t, for each lag (x float (T,))."""
    return np.array([np.dot(x[:-lag], x[lag:]) / (len(x) - lag) for lag in lags])


def event_spacing(states: list[str | None]) -> float:
    """Median frames from each opening to the next and each closing to the next (`valve_events`),
    leaving out those across frames without a state (a beat lost there would count twice); NaN
    when none is left."""
    events = valve_events(states)
    unknown_before = np.cumsum([s is None for s in states])
    frames = [[t for t, kind in events if kind == wanted] for wanted in ("opening", "closing")]
    spacings = [b - a for of_kind in frames for a, b in zip(of_kind, of_kind[1:])
                if unknown_before[a] == unknown_before[b]]
    return float(np.median(spacings)) if spacings else math.nan


def opening_series(states: list[str | None], openings: list[float]) -> np.ndarray | None:
    """float (T,): the opening px of each open frame (`openings`, px per frame; the median of the
    measured ones where a frame's is not: a lone leaflet, a merged band), 0 on shut frames, less
    its mean over the frames with a state, and 0 on those without. None when no open frame has a
    measured opening."""
    openings = np.asarray(openings, dtype=np.float64)
    is_open = np.array([s == "open" for s in states])
    known = np.array([s is not None for s in states])
    measured = openings[is_open & np.isfinite(openings) & (openings > 0)]
    if not measured.size:
        return None
    x = np.where(is_open, np.where(np.isfinite(openings), openings, np.median(measured)), 0.0)
    x[known] -= x[known].mean()
    x[~known] = 0.0
    return x


def valve_period(states: list[str | None], fps: float, openings: list[float] | None = None) -> float:
    """Frames (float) after which the valve's series repeats: its opening width over the frames
    with `openings` given (px per frame) and measured on some open frame (`opening_series`), which
    weighs each beat by how wide the valve opens rather than by its edges, a frame or two off where
    a mask is faint; else its open (+1) / shut (-1) states. Among the positive peaks of the series'
    autocorrelation, over lags of MIN_BPM..MAX_BPM and at most 2/3 of the clip, the one
    nearest (in ratio) the spacing of the states' events (`event_spacing`): a peak at half or twice
    the period can be as high as the period's when the leaflets touch in diastole or a beat is
    lost. Without two events of a kind, the shortest peak reaching PEAK_SHARE of the highest (a
    period's multiples repeat too). A rise at the shortest lag is no peak: it is the slope of a
    faster series, beyond MAX_BPM. Placed between whole frames by its neighbours (`_peak_offset`);
    NaN when there is no peak (under about 1.5 beats)."""
    x = opening_series(states, openings) if openings is not None else None
    if x is None:
        x = _votes(states)
        x[x != 0] -= x[x != 0].mean() if (x != 0).any() else 0.0
    lags = range(max(1, math.ceil(fps * 60 / MAX_BPM)), int(min(len(x) * 2 / 3, fps * 60 / MIN_BPM)) + 1)
    r = _autocorrelation(x, lags)
    peaks = [i for i in range(1, len(r))
             if r[i] > 0 and r[i] >= r[i - 1] and (i == len(r) - 1 or r[i] >= r[i + 1])]
    if not peaks:
        return math.nan
    spacing = event_spacing(states)
    if math.isfinite(spacing):
        chosen = min(peaks, key=lambda i: abs(math.log(lags[i] / spacing)))
    else:
        chosen = next(i for i in peaks if r[i] >= PEAK_SHARE * max(r[i] for i in peaks))
    return lags[chosen] + _peak_offset(r, chosen)


def heart_rate_bpm(states: list[str | None], fps: float, openings: list[float] | None = None) -> float:
    """The valve's rate in beats per minute: 60 fps / `valve_period` (of the opening widths
    `openings` px per frame where given); NaN under about 1.5 beats."""
    return 60.0 * fps / valve_period(states, fps, openings)


def _peak_offset(r: np.ndarray, i: int) -> float:
    """Where between its neighbours the peak r[i] of a sampled curve lies: the vertex of the parabola
    through r[i - 1], r[i], r[i + 1], in samples (-0.5 .. 0.5); 0 at either end or where flat."""
    if not 0 < i < len(r) - 1:
        return 0.0
    curvature = r[i - 1] - 2.0 * r[i] + r[i + 1]
    return float(0.5 * (r[i - 1] - r[i + 1]) / curvature) if curvature < 0 else 0.0


def fold_states(states: list[str | None], period: float) -> list[str | None]:
    """Each frame's state weighed against the states one or more `period`s (frames, float) away:
    votes +1 open, -1 shut, 0 None, linearly interpolated between frames; a frame's own vote
    counts OWN_BEAT_WEIGHT, so it stands unless two other beats outvote it, and a frame without a
    state takes the other beats'. None where the votes cancel; `states` as they are when `period`
    is NaN."""
    if not math.isfinite(period):
        return list(states)
    votes = _votes(states)
    frames = np.arange(len(votes), dtype=np.float64)
    total = OWN_BEAT_WEIGHT * votes
    for shift in period * np.arange(1, int(len(votes) / period) + 1):
        for at in (frames - shift, frames + shift):
            inside = (at >= 0) & (at <= len(votes) - 1)
            total[inside] += np.interp(at[inside], frames, votes)
    return [None if v == 0 else "open" if v > 0 else "shut" for v in total]


def measure_clip(mask: np.ndarray, fps: float, calibration: Calibration = Calibration(),
                 name: str = "") -> ClipMeasurement:
    """Measure a clip's masks, bool (H, W, T) at `fps` frames per second: each frame read with the
    clip's tilt limit (`clip_frames`), weighed against the other beats at the period of these states
    once steadied (`fold_states`), then steadied (`steady_states`), with the open runs' edges where
    their openings reach zero (`resolved_edges`). The heart rate is the period of the openings over
    the steady states (`valve_period`): an edge moved in one beat and not in the next would shift
    the period they repeat at."""
    frames = clip_frames(mask)
    raw = [f.state for f in frames]
    steady = steady_states(fold_states(raw, valve_period(steady_states(raw), fps)))
    states = resolved_edges(steady, [f.opening_px for f in frames])
    m = ClipMeasurement(name, float(fps), calibration, frames, states, valve_events(states))
    m.cycles = _cycles(m)
    m.heart_rate_bpm = heart_rate_bpm(steady, fps, [f.opening_px for f in frames])
    return m


def frame_table(m: ClipMeasurement) -> list[dict]:
    """Per-frame rows: frame, t_ms, valve (open/shut/''), valve_confidence, event, opening_U,
    annulus_U, width_U, height_U, area_U2 (U the unit), tip and hinge points in px."""
    u, cal, events = m.unit, m.calibration, dict(m.events)
    rows = []
    for t, (f, state) in enumerate(zip(m.frames, m.states)):
        points = {f"{what}{i + 1}_{axis}_px": (float(p[i][k]) if p is not None else math.nan)
                  for what, p in (("tip", f.tips), ("hinge", f.hinges))
                  for i in range(2) for k, axis in enumerate("xy")}
        rows.append({"frame": t, "t_ms": m.ms(t), "valve": state or "", "valve_confidence": f.confidence,
                     "event": events.get(t, ""), f"opening_{u}": cal.length(f.opening_px),
                     f"annulus_{u}": cal.length(f.annulus_px), f"width_{u}": cal.length(f.width_px),
                     f"height_{u}": cal.length(f.height_px),
                     f"area_{u}2": cal.area(f.area_px2) if f.area_px2 else math.nan, **points})
    return rows


def cycle_columns(unit: str) -> list[str]:
    """The per-cycle table's columns, lengths in `unit`."""
    return ["cycle", "open_frame", "close_frame", "open_ms", "close_ms", "open_duration_ms", "period_ms",
            f"max_opening_{unit}", f"annulus_diastole_start_{unit}", f"annulus_systole_start_{unit}"]


def cycle_table(m: ClipMeasurement) -> list[dict]:
    """Per-cycle rows under `cycle_columns`: the cycle's number (from 1) and its `Cycle` fields."""
    return [dict(zip(cycle_columns(m.unit), (i + 1, c.open_frame, c.close_frame, c.open_ms, c.close_ms,
                                              c.open_duration_ms, c.period_ms, c.max_opening,
                                              c.annulus_diastole_start, c.annulus_systole_start)))
            for i, c in enumerate(m.cycles)]


def clip_summary(m: ClipMeasurement) -> dict:
    """One clip's summary: name, frames, fps, calibration, cycles, heart rate, mean open duration,
    the largest opening and the median annulus diameter (NaN where nothing was measured)."""
    u, cal = m.unit, m.calibration
    durations = [c.open_duration_ms for c in m.cycles]
    annulus = [f.annulus_px for f in m.frames if math.isfinite(f.annulus_px)]
    known = [s for s in m.states if s]
    return {"clip": m.name, "frames": len(m.frames), "fps": m.fps, "unit": u, "mm_per_px": cal.mm_per_px,
            "calibration": cal.source, "frames_open": known.count("open"), "frames_shut": known.count("shut"),
            "cycles": len(m.cycles), "heart_rate_bpm": m.heart_rate_bpm,
            "mean_open_duration_ms": float(np.mean(durations)) if durations else math.nan,
            f"max_opening_{u}": cal.length(_nan_max([f.opening_px for f in m.frames])),
            f"median_annulus_{u}": cal.length(float(np.median(annulus))) if annulus else math.nan}
