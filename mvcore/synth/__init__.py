"""Synthetic apical echocardiography clips in the AML mitral-valve format.

Real data cannot be fetched, so every test, benchmark and the bundled model use these clips.
A clip is formed the way a scanner forms it: a reflectivity map of the heart (tissue coordinates)
is deformed and moved every frame (beat, breathing, a slightly off-axis cut), sampled along the
beams of a sector scan (polar grid; depth, zoom, steering and a near-field dead zone vary),
multiplied by scatterers that move with the tissue and are partly renewed every frame, hazed by
side lobes, fog and reverberation clutter that stays with the probe, blurred by a point-spread
function of fixed angular width (so speckle grows laterally with depth), enveloped,
log-compressed under a varying gain and time-gain compensation, smoothed, scan-converted with
`cv2.remap` and stored as JPEG or H.264 would store it. The leaflets fade, thin and brighten from
frame to frame and echo less when they lie along the beam. Labels come from the same leaflet
geometry: the leaflets as an observer sees them (expert, test: the exact shapes widened to where
their echo falls to 36% of its peak, as thick against their band as the real cine's hand marks)
or sloppy 3-4 px strokes (amateur).
`docs/REALISM.md` compares the clips with a real cine (`python -m mvcore.synth.realism`).

Coordinates: tissue mm (x right, y from the LV apex towards the base), probe mm (x right,
y = depth), image px (column, row).

- `anatomy`: the heart of one clip: chambers, valves and their leaflets, placement, timing.
- `motion`: the heart at each frame: beat, valve openings, breathing, tissue <-> probe mm.
- `scan`: the scanner's settings: sector geometry, gain, haze and clutter, scan conversion.
- `render`: image formation: the tissue reflectivity map, the moving speckle, one frame through
  the sector scan, burned-in text and ECG.
- `codec`: JPEG and H.264-like compression artefacts.
- `labels`: expert and amateur leaflet masks, the annotated frames, the valve's box.
- `records`: one clip rendered and labelled, as an AML train or test record.
- `stress`: stress-set options: clips cut to their labelled frames, resized to a small square.
- `dataset`: whole train/test sets for a seed, in memory or written as AML pickles.
- `samples`: the bundled sample clips of `samples/` (`python -m mvcore.synth.samples`).
- `realism`: image statistics of the real SonoSite cine beside synthetic clips (a tool).
"""

from mvcore.synth.dataset import synth_dataset, write_dataset
from mvcore.synth.records import make_test_record, make_train_record

__all__ = ["make_test_record", "make_train_record", "synth_dataset", "write_dataset"]
