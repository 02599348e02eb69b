"""Mixing spatialized objects into one stereo bus, with a safety limiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.ndimage

from .. import SAMPLE_RATE_HZ
from ..config import SpatialSettings
from .dsp import add_diffuse, spatialize_object
from .trajectory import Trajectory

LIMITER_WINDOW_MS = 5.0  # look-ahead and release of the safety limiter


@dataclass(frozen=True, eq=False)
class SoundObject:
    """One sounding object: a mono 48 kHz source and where it is over time (times relative to the start of the
    render), with what it is (class, tracker id) and which provider gave its sound. The one record of an object
    from the sources to the files; `to_json` is its part of a clip result (docs/contracts.md)."""

    name: str
    source: np.ndarray
    trajectory: Trajectory
    class_name: str = ""
    track_id: int | None = None
    provider: str = ""  # the sources provider that served it ("synth", "library", ...), "" when not from one

    def to_json(self) -> dict:
        return {"name": self.name, "class": self.class_name, "track_id": self.track_id, "source": self.provider,
                "trajectory": self.trajectory.to_points()}


def render_mix(objects: Sequence[SoundObject], settings: SpatialSettings, n_samples: int) -> np.ndarray:
    """All objects on one stereo bus of exactly n_samples at 48 kHz, one shared diffuse field, then the limiter."""
    bus = np.zeros((2, n_samples), dtype=np.float32)
    send = np.zeros(n_samples, dtype=np.float32)
    for obj in objects:
        rendered = spatialize_object(obj.source, obj.trajectory, settings, n_samples)
        bus += rendered.dry
        send += rendered.wet_send
    return limit(add_diffuse(bus, send, settings), settings.limiter_ceiling_dbfs)


def limit(audio: np.ndarray, ceiling_dbfs: float = -1.0, window_ms: float = LIMITER_WINDOW_MS) -> np.ndarray:
    """Zero-latency (offline, look-ahead) peak limiter: every sample ends at or below the ceiling.

    The gain each sample needs is min(1, ceiling/|x|) over channels (linked, so the image does not shift).
    A centred minimum filter of width W followed by a centred box average of width W keeps the gain at or
    below the need at every sample (each averaged value is a minimum over a window that contains it) while
    ramping smoothly over W samples, so the limiter itself does not click.
    """
    ceiling = 10.0 ** (ceiling_dbfs / 20.0) * 0.9999  # a hair below, so 24-bit rounding cannot cross it
    peak = np.max(np.abs(audio), axis=0) if audio.ndim == 2 else np.abs(audio)
    if peak.size == 0 or float(peak.max()) <= ceiling:
        return audio.astype(np.float32, copy=False)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    width = max(1, int(round(window_ms * SAMPLE_RATE_HZ / 1000.0))) | 1
    gain = scipy.ndimage.minimum_filter1d(need, width, mode="nearest")
    gain = scipy.ndimage.uniform_filter1d(gain, width, mode="nearest")
    gain = np.minimum(gain, need)  # float rounding in the average must not let a sample through
    return (audio * gain).astype(np.float32)


def peak_dbfs(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf
