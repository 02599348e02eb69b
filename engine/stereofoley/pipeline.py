"""One clip end to end: analyse the picture, pick the objects, give each a sound, spatialize, mix.

`render_clip` is what the timeline renderer, the job runner and `stereofoley clip` call for every clip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import SAMPLE_RATE_HZ
from .config import SpatialSettings
from .errors import InvalidAudio
from .spatial.mix import SoundObject, render_mix
from .vision.scene import select_objects
from .spatial.dsp import check_mono
from .spatial.trajectory import Trajectory
from .vision import Analysis, ObjectTrack, analyze_video

SourceFor = Callable[[ObjectTrack, int], np.ndarray]

NEUTRAL_LEVEL_DBFS = -20.0
NEUTRAL_BAND_HZ = (40.0, 16000.0)


@dataclass(frozen=True, eq=False)
class RenderedObject:
    name: str
    class_name: str
    source: np.ndarray  # mono 48 kHz, as long as the clip
    trajectory: Trajectory  # times from the clip start


@dataclass(frozen=True, eq=False)
class ClipRender:
    stereo: np.ndarray  # (2, n) float32 at 48 kHz, n = round((end_s - start_s) * 48000)
    objects: tuple[RenderedObject, ...]
    media_path: Path
    start_s: float
    end_s: float
    analysis: Analysis


def neutral_source(track: ObjectTrack, n_samples: int) -> np.ndarray:
    """The default sound of an object: pink noise (−3 dB/octave, 40 Hz–16 kHz) at −20 dBFS RMS.

    Broadband so that panning, distance and air absorption are all audible, steady so that level changes come
    from the scene rather than the source; seeded by the track id, so a render is reproducible and two objects
    are uncorrelated.
    """
    if n_samples <= 0:
        return np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(int(track.track_id))
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / SAMPLE_RATE_HZ)
    band = (freqs >= NEUTRAL_BAND_HZ[0]) & (freqs <= NEUTRAL_BAND_HZ[1])
    spectrum *= np.where(band, 1.0 / np.sqrt(np.maximum(freqs, 1.0)), 0.0)
    noise = np.fft.irfft(spectrum, n_samples)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return (noise * (10 ** (NEUTRAL_LEVEL_DBFS / 20.0) / rms)).astype(np.float32)


def render_clip(
    video: str | os.PathLike,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    detector: str = "auto",
    weights: str | os.PathLike | None = None,
    settings: SpatialSettings = SpatialSettings(),
    max_objects: int = 4,
    source_for: SourceFor | None = None,
    progress: Callable[[float], None] | None = None,
    analysis_fps: float = 10.0,
    cache_dir: str | os.PathLike | None = None,
) -> ClipRender:
    """Stereo Foley for video over [start_s, end_s) media seconds: exactly round((end_s - start_s) * 48000) samples.

    source_for(track, n_samples) gives each selected object's mono 48 kHz sound for the whole clip (the object's
    trajectory fades it in and out where it appears and leaves); default `neutral_source`. progress gets 0..1.
    """
    analysis = analyze_video(
        video, start_s=start_s, end_s=end_s, detector=detector, weights=weights, analysis_fps=analysis_fps,
        cache_dir=cache_dir, progress=(lambda f: progress(0.8 * f)) if progress else None,
    )
    n = int(round((analysis.end_s - analysis.start_s) * SAMPLE_RATE_HZ))
    cuts = [c - analysis.start_s for c in analysis.cuts_s]
    chosen = select_objects(analysis.tracks, max_objects, cuts_s=cuts)
    source_for = source_for or neutral_source
    objects = []
    for track in chosen:
        source = _checked_source(source_for(track, n), n, track)
        objects.append(RenderedObject(f"{track.class_name}-{track.track_id}", track.class_name, source, track.to_trajectory(settings)))
    stereo = render_mix([SoundObject(o.name, o.source, o.trajectory) for o in objects], settings, n)
    if progress:
        progress(1.0)
    return ClipRender(stereo, tuple(objects), analysis.media_path, analysis.start_s, analysis.end_s, analysis)


def _checked_source(source, n: int, track: ObjectTrack) -> np.ndarray:
    where = f"source for track {track.track_id} ({track.class_name})"
    try:
        arr = check_mono(source)
    except InvalidAudio as exc:
        raise InvalidAudio(f"{where}: {exc}; expected ({n},) mono samples at 48 kHz") from None
    if arr.size != n:
        raise InvalidAudio(f"{where} has shape {arr.shape}; expected ({n},) mono samples at 48 kHz")
    return arr
