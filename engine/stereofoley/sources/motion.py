"""Motion features of a tracked object, and the documented rules that turn them into voice levels.

Every provider sees the same `Motion`: audio-rate curves of the object's speed and presence, derived from the
track fields of docs/contracts.md §1 (`times_s`, `x_norm`, `distance_m`). Speed in metres per second is estimated from
the picture: the horizontal speed of the box centre times the width of the frame at the object's distance
(2·d·tan(hfov/2) metres), combined with the change of distance. Tracker jitter is smoothed over 0.3 s.

Voice-level rules (docs/sources.md keeps the same table):

| voice   | classes                                   | level rule                                     |
|---------|-------------------------------------------|------------------------------------------------|
| engine  | car, motorcycle, bus, truck, train, boat, airplane | +6 dB per doubling of speed re 10 m/s, clamped to [−18, +6] dB |
| steps   | person                                    | cadence 1.2 + 0.45·v steps/s (1..3.4), none below 0.3 m/s; +3 dB per doubling re 1.4 m/s, [−9, +6] dB |
| animal  | dog, cat, horse, sheep, cow, elephant, bear, zebra, giraffe | 0 dB: calls do not depend on speed |
| birds   | bird                                      | 0 dB                                           |
| whoosh  | everything else                           | +6 dB per doubling of speed re 5 m/s, [−30, +6] dB (a still object is near silent) |

Outside the span the object is tracked, its voice fades out over 0.1 s (it is not on screen to be heard).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage

from .. import SAMPLE_RATE_HZ
from ..config import SpatialSettings
from ..errors import InvalidParameter

CONTROL_RATE_HZ = 100  # motion curves are computed at this rate, then interpolated to audio rate
SPEED_SMOOTHING_S = 0.3
PRESENCE_RAMP_S = 0.1
DEFAULT_HFOV_DEG = SpatialSettings().hfov_deg  # the camera the spatial settings assume

VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "train", "boat", "airplane")
ANIMAL_CLASSES = ("dog", "cat", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")


@dataclass(frozen=True)
class LevelRule:
    """gain_db = slope_db_per_doubling · log2(max(v, floor) / reference), clamped to [min_db, max_db]."""

    reference_speed_m_s: float
    slope_db_per_doubling: float
    min_db: float
    max_db: float
    floor_speed_m_s: float = 0.05

    def gain_db(self, speed_m_s: np.ndarray) -> np.ndarray:
        if self.slope_db_per_doubling == 0.0:
            return np.zeros_like(np.asarray(speed_m_s, dtype=np.float64))
        v = np.maximum(np.asarray(speed_m_s, dtype=np.float64), self.floor_speed_m_s)
        return np.clip(self.slope_db_per_doubling * np.log2(v / self.reference_speed_m_s), self.min_db, self.max_db)


VEHICLE_LEVEL = LevelRule(reference_speed_m_s=10.0, slope_db_per_doubling=6.0, min_db=-18.0, max_db=6.0)
STEPS_LEVEL = LevelRule(reference_speed_m_s=1.4, slope_db_per_doubling=3.0, min_db=-9.0, max_db=6.0)
WHOOSH_LEVEL = LevelRule(reference_speed_m_s=5.0, slope_db_per_doubling=6.0, min_db=-30.0, max_db=6.0)
FLAT_LEVEL = LevelRule(reference_speed_m_s=1.0, slope_db_per_doubling=0.0, min_db=0.0, max_db=0.0)


def voice_for_class(class_name: str) -> str:
    """The synth voice (and level rule) for a detector class: engine, steps, animal, birds or whoosh."""
    name = class_name.strip().lower()
    if name in VEHICLE_CLASSES:
        return "engine"
    if name == "person":
        return "steps"
    if name in ANIMAL_CLASSES:
        return "animal"
    if name == "bird":
        return "birds"
    return "whoosh"


def level_rule(voice: str) -> LevelRule:
    return {"engine": VEHICLE_LEVEL, "steps": STEPS_LEVEL, "whoosh": WHOOSH_LEVEL}.get(voice, FLAT_LEVEL)


def footstep_cadence_hz(speed_m_s: np.ndarray) -> np.ndarray:
    """Steps per second from walking speed (about 1.8/s at 1.4 m/s, 3/s at a 4 m/s run); 0 when standing."""
    v = np.asarray(speed_m_s, dtype=np.float64)
    return np.where(v >= 0.3, np.clip(1.2 + 0.45 * v, 1.0, 3.4), 0.0)


@dataclass(frozen=True, eq=False)
class Motion:
    """Audio-rate curves (n_samples each) over the render: speed in m/s and presence 0..1."""

    speed_m_s: np.ndarray
    presence: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.speed_m_s.size)


def motion_of(track: Any, n_samples: int, *, hfov_deg: float = DEFAULT_HFOV_DEG) -> Motion:
    """Speed and presence of a track (docs/contracts.md §1 fields: times_s, x_norm, distance_m) over n_samples at 48 kHz."""
    if n_samples < 0:
        raise InvalidParameter(f"n_samples={n_samples} must be >= 0")
    times = np.asarray(track.times_s, dtype=np.float64).reshape(-1)
    x = np.asarray(track.x_norm, dtype=np.float64).reshape(-1)
    d = np.asarray(track.distance_m, dtype=np.float64).reshape(-1)
    if not (times.size == x.size == d.size) or times.size == 0:
        raise InvalidParameter(
            f"track {getattr(track, 'track_id', '?')}: times_s, x_norm and distance_m need the same non-zero length, "
            f"got {times.size}, {x.size}, {d.size}"
        )
    if not (np.isfinite(times).all() and np.isfinite(x).all() and np.isfinite(d).all()):
        raise InvalidParameter(f"track {getattr(track, 'track_id', '?')} has NaN/inf in times_s, x_norm or distance_m")
    duration_s = n_samples / SAMPLE_RATE_HZ
    t_ctl = np.arange(int(math.ceil(duration_s * CONTROL_RATE_HZ)) + 1) / CONTROL_RATE_HZ
    if times.size >= 2:
        xc, dc = np.interp(t_ctl, times, x), np.interp(t_ctl, times, d)
        frame_width_m = 2.0 * dc * math.tan(math.radians(hfov_deg) / 2.0)
        lateral = np.gradient(xc, 1.0 / CONTROL_RATE_HZ) * frame_width_m
        radial = np.gradient(dc, 1.0 / CONTROL_RATE_HZ)
        speed = np.hypot(lateral, radial)
        width = max(1, int(round(SPEED_SMOOTHING_S * CONTROL_RATE_HZ)))
        speed = scipy.ndimage.uniform_filter1d(speed, width, mode="nearest")
    else:
        speed = np.zeros_like(t_ctl)
    # Presence: 1 while tracked, raised-cosine ramps of PRESENCE_RAMP_S outside that span.
    outside_s = np.maximum(times[0] - t_ctl, t_ctl - times[-1]).clip(min=0.0)
    presence = 0.5 + 0.5 * np.cos(np.pi * np.clip(outside_s / PRESENCE_RAMP_S, 0.0, 1.0))
    t_audio = np.arange(n_samples) / SAMPLE_RATE_HZ
    return Motion(
        speed_m_s=np.interp(t_audio, t_ctl, speed).astype(np.float32),
        presence=np.interp(t_audio, t_ctl, presence).astype(np.float32),
    )


def level_gain(voice: str, motion: Motion) -> np.ndarray:
    """Linear audio-rate gain of a voice from the rules above, times presence."""
    gain_db = level_rule(voice).gain_db(motion.speed_m_s)
    return (np.power(10.0, gain_db / 20.0) * motion.presence).astype(np.float32)
