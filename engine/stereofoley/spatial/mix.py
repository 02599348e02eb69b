"""Mixing spatialized objects into one stereo bus, with a safety limiter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.ndimage

from .. import SAMPLE_RATE_HZ
from ..config import SpatialSettings
from .dsp import convolve_send_half_rate, diffuse_ir, spatialize_object
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
    # What the object got, for the record (docs/contracts.md §3): voice, library file, generator and prompt,
    # sound file given by the user, seed. Plain JSON values.
    provenance: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "class": self.class_name, "track_id": self.track_id, "source": self.provider,
                "provenance": dict(self.provenance), "trajectory": self.trajectory.to_points()}


@dataclass(frozen=True, eq=False)
class MixParts:
    """A mix and the parts it is the sum of (before the limiter): stereo == limit(Σ stems under their curves
    + diffuse). stems[k]: object k's source as it reaches its gains (after Doppler and air absorption), (n,);
    diffuse: the shared diffuse field (2, n), None when the settings have none or nothing was sent to it."""

    stereo: np.ndarray
    stems: tuple[np.ndarray, ...]
    diffuse: np.ndarray | None


def render_parts(objects: Sequence[SoundObject], settings: SpatialSettings, n_samples: int) -> MixParts:
    """All objects on one stereo bus of exactly n_samples at 48 kHz, one shared diffuse field, then the limiter;
    with each object's conditioned source and the diffuse field kept apart (the stems a host rebuilds it from)."""
    bus = np.zeros((2, n_samples), dtype=np.float32)
    send = np.zeros(n_samples, dtype=np.float32)
    stems = []
    for obj in objects:
        rendered = spatialize_object(obj.source, obj.trajectory, settings, n_samples)
        bus += rendered.dry
        send += rendered.wet_send
        stems.append(rendered.mono)
    diffuse = None
    if settings.diffuse and np.any(send):
        diffuse = convolve_send_half_rate(send, diffuse_ir(settings.impulse_response_path))
        bus = (bus + diffuse).astype(np.float32)
    return MixParts(limit(bus, settings.limiter_ceiling_dbfs), tuple(stems), diffuse)


def render_mix(objects: Sequence[SoundObject], settings: SpatialSettings, n_samples: int) -> np.ndarray:
    """All objects on one stereo bus of exactly n_samples at 48 kHz, one shared diffuse field, then the limiter."""
    return render_parts(objects, settings, n_samples).stereo


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
