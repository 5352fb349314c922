"""Synthetic apical echocardiography clips in the AML mitral-valve format.

Real data cannot be fetched, so every test, benchmark and the bundled model use these clips.
A clip is formed the way a scanner forms it: a reflectivity map of the heart (tissue coordinates)
is deformed and moved every frame (beat, breathing), sampled along the beams of a sector scan
(polar grid), multiplied by scatterers that move with the tissue, blurred by a point-spread
function of fixed angular width (so speckle grows laterally with depth), enveloped,
log-compressed and scan-converted with `cv2.remap`. Labels come from the same leaflet geometry:
the exact leaflet shapes (expert, test) or sloppy 3-4 px strokes (amateur).

Coordinates: tissue mm (x right, y from the LV apex towards the base), probe mm (x right,
y = depth), image px (column, row).

- `anatomy`: the heart of one clip: chambers, valves and their leaflets, placement, timing.
- `motion`: the heart at each frame: beat, valve openings, breathing, tissue <-> probe mm.
- `render`: image formation: the tissue reflectivity map, the sector scan with its speckle,
  scan conversion, burned-in text and ECG.
- `labels`: expert and amateur leaflet masks, the annotated frames, the valve's box.
- `records`: one clip rendered and labelled, as an AML train or test record.
- `dataset`: whole train/test sets for a seed, in memory or written as AML pickles.
"""

from mvcore.synth.dataset import synth_dataset, write_dataset
from mvcore.synth.records import make_test_record, make_train_record

__all__ = ["make_test_record", "make_train_record", "synth_dataset", "write_dataset"]
