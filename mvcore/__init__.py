"""mvcore: segment the mitral valve in echocardiography videos.

The core: data -> synth -> model/losses -> train -> predict -> metrics/export/video, one module
each (data/ and synth/ are packages). Beside it, app/ serves the web app (the only part that
imports streamlit) and bench/ holds the benchmarks; the core imports neither.
"""

__version__ = "0.1.0"
