"""mvcore: segment the mitral valve in echocardiography videos.

data -> synth -> model/losses -> train -> predict -> metrics/export/video, one module each.
"""

__version__ = "0.1.0"
