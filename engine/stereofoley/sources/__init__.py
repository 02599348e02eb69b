"""Foley sources: a mono 48 kHz sound for every tracked object (docs/contracts.md §2).

Providers, one a module: `library` (the user's UCS-named files), `synth` (procedural voices in numpy),
`clip_audio` (the clip's own production audio through PyAV), `generator` (plug-ins under the entry-point group
`stereofoley.generators`). `make_source_for(spec, ...)` chains them in fallback order into the
`source_for(track, n_samples)` callable that `stereofoley.pipeline.render_clip` takes; `loudness.normalize`
brings a finished mix to −23 LUFS under a −1 dBTP true-peak ceiling. Voice levels follow motion (motion.py).
"""

from .factory import ProviderChain, make_source_for, parse_sources
from ..spatial.loudness import integrated_lufs, normalize, true_peak_level

__all__ = ["ProviderChain", "make_source_for", "parse_sources", "normalize", "integrated_lufs", "true_peak_level"]
