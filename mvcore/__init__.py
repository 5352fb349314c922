"""mvcore: segment the mitral valve in echocardiography videos.

The core: data -> synth -> model/losses -> train -> predict -> metrics/export/video, one module
each (data/ and synth/ are packages). Beside it, app/ serves the web app (the only part that
imports streamlit) and bench/ holds the benchmarks; the core imports neither.
"""

import os

__version__ = "0.1.0"

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with neural-network instructions
# (AVX-512 VNNI and newer). On other CPUs, such as an AVX2 Zen 3, it keeps its older kernels and
# trains the U-Net about 1.7 times as slowly (BENCHMARKS.md, "Training time"). The switch is read
# once, when TensorFlow loads, so it is set here, before any module of the package imports it;
# TF_ENABLE_ONEDNN_OPTS=0 in the environment still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
