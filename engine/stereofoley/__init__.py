"""StereoFoley: sound that is where the picture is.

The pipeline, one module (or sub-package) a stage:
timeline -> vision -> scene -> sources -> spatial -> render -> outputs, with transport (OSC) beside it.
"""

__version__ = "0.1.0"

SAMPLE_RATE_HZ = 48_000
"""The engine renders at 48 kHz; other rates are resampled at the edges."""
