"""Motion features of a tracked object, and the documented rules that turn them into voice levels.

Every provider sees the same `Motion`: audio-rate curves of the object's speed and presence, derived from the
track fields of docs/contracts.md §1 (`times_s`, `x_norm`, `distance_m`). Speed in metres per second is estimated
from the picture robustly (`robust_speed`): the log-distance is median-filtered and fitted by a straight line over
2 s (box heights jitter by a few per cent between frames, which a plain derivative turns into darting), the
lateral speed is the fitted slope of the box centre times the frame width at that distance.

Voice-level rules (docs/sources.md keeps the same table). Each has two bounded parts (see `LevelRule`): the
typical (median) speed of the track sets the level of the whole track, and the moment's speed against the
typical one adds at most ±2 dB; the sum stays within ±6 dB, so distance (20 dB per decade) dominates the level:

| voice   | classes (see vocabulary.toml)             | level rule                                     |
|---------|-------------------------------------------|------------------------------------------------|
| engine  | car, motorcycle, bus, truck, train, boat, airplane | +6 dB per doubling of speed re 10 m/s, [−6, +6] dB |
| steps   | person                                    | cadence 1.2 + 0.45·v steps/s (1..3.4), none below 0.3 m/s; +3 dB per doubling re 1.4 m/s, [−6, +6] dB |
| animal  | dog, cat, horse, sheep, cow, elephant, bear, zebra, giraffe | 0 dB: calls do not depend on speed |
| birds   | bird                                      | 0 dB                                           |
| whoosh  | everything else                           | +6 dB per doubling of speed re 5 m/s, [−6, +6] dB |

Outside the span the object is tracked, its voice fades out over 0.1 s (it is not on screen to be heard).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal

from .. import SAMPLE_RATE_HZ
from ..config import SpatialSettings
from ..errors import InvalidParameter
from ..vocabulary import Vocabulary, builtin_vocabulary

CONTROL_RATE_HZ = 100  # motion curves are computed at this rate, then interpolated to audio rate
SPEED_SMOOTHING_S = 0.3
DISTANCE_MEDIAN_S = 0.7  # robust_speed: median filter of log-distance
RADIAL_FIT_S = 2.0  # ... straight-line fit of log-distance for the radial speed
LATERAL_FIT_S = 0.5  # ... straight-line fit of x for the lateral speed
PRESENCE_RAMP_S = 0.1
DEFAULT_HFOV_DEG = SpatialSettings().hfov_deg  # the camera the spatial settings assume

VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "train", "boat", "airplane")
ANIMAL_CLASSES = ("dog", "cat", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")


@dataclass(frozen=True)
class LevelRule:
    """A voice's level from its speed, in two bounded parts, so that speed never outweighs distance:

    - the object's typical speed (the median over the track) sets its level for the whole track:
      slope_db_per_doubling · log2(typical / reference), clamped to [min_db, max_db] (a fast car is louder than
      a slow one);
    - the moment's speed against that typical speed adds the same slope, clamped to ±local_db (a car speeding
      up gets a little louder).

    The sum is clamped to ±LEVEL_RULE_BOUND_DB. Distance, applied by the renderer, varies the level by 20 dB per
    decade; an approach from 30 m to 5 m is 15.6 dB, which the local part (at most 2·local_db) cannot undo
    even when the estimated speed falls with distance (a box growing linearly, the speed falling 36-fold).
    """

    reference_speed_m_s: float
    slope_db_per_doubling: float
    min_db: float
    max_db: float
    floor_speed_m_s: float = 0.05
    local_db: float = 2.0

    def gain_db(self, speed_m_s: np.ndarray, typical_speed_m_s: float | None = None) -> np.ndarray:
        v = np.maximum(np.asarray(speed_m_s, dtype=np.float64), self.floor_speed_m_s)
        if self.slope_db_per_doubling == 0.0:
            return np.zeros_like(v)
        typical = max(float(np.median(v)) if typical_speed_m_s is None else float(typical_speed_m_s), self.floor_speed_m_s)
        track_db = np.clip(self.slope_db_per_doubling * math.log2(typical / self.reference_speed_m_s), self.min_db, self.max_db)
        local_db = np.clip(self.slope_db_per_doubling * np.log2(v / typical), -self.local_db, self.local_db)
        return np.clip(track_db + local_db, -LEVEL_RULE_BOUND_DB, LEVEL_RULE_BOUND_DB)


LEVEL_RULE_BOUND_DB = 6.0  # no speed rule moves a voice's level by more than this either way
VEHICLE_LEVEL = LevelRule(reference_speed_m_s=10.0, slope_db_per_doubling=6.0, min_db=-6.0, max_db=6.0)
STEPS_LEVEL = LevelRule(reference_speed_m_s=1.4, slope_db_per_doubling=3.0, min_db=-6.0, max_db=6.0)
WHOOSH_LEVEL = LevelRule(reference_speed_m_s=5.0, slope_db_per_doubling=6.0, min_db=-6.0, max_db=6.0)
FLAT_LEVEL = LevelRule(reference_speed_m_s=1.0, slope_db_per_doubling=0.0, min_db=0.0, max_db=0.0)


def voice_for_class(class_name: str, vocabulary: Vocabulary | None = None) -> str:
    """The synth voice (and level rule) for a detector class: engine, steps, animal, birds or whoosh, as the class
    vocabulary says (synonyms such as "pedestrian" or "vehicle" included; unmapped classes get the whoosh)."""
    return (vocabulary or builtin_vocabulary()).voice(class_name)


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

    @property
    def typical_speed_m_s(self) -> float:
        """Median speed while the object is present (all of the render if it never is): its usual pace."""
        if self.n_samples == 0:
            return 0.0
        present = self.presence >= 0.5
        return float(np.median(self.speed_m_s[present] if present.any() else self.speed_m_s))


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
    speed = np.interp(t_ctl, *robust_speed(times, x, d, hfov_deg)) if times.size >= 2 else np.zeros_like(t_ctl)
    width = max(1, int(round(SPEED_SMOOTHING_S * CONTROL_RATE_HZ)))
    speed = scipy.ndimage.uniform_filter1d(speed, width, mode="nearest")
    # Presence: 1 while tracked, raised-cosine ramps of PRESENCE_RAMP_S outside that span.
    outside_s = np.maximum(times[0] - t_ctl, t_ctl - times[-1]).clip(min=0.0)
    presence = 0.5 + 0.5 * np.cos(np.pi * np.clip(outside_s / PRESENCE_RAMP_S, 0.0, 1.0))
    t_audio = np.arange(n_samples) / SAMPLE_RATE_HZ
    return Motion(
        speed_m_s=np.interp(t_audio, t_ctl, speed).astype(np.float32),
        presence=np.interp(t_audio, t_ctl, presence).astype(np.float32),
    )


def robust_speed(times_s: np.ndarray, x_norm: np.ndarray, distance_m: np.ndarray, hfov_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, speed in m/s) on a regular grid over the track, robust to detector jitter.

    A box's height, and with it the distance, jitters by a few per cent from frame to frame; differentiated
    directly, a far object seems to dart back and forth at several times its real speed. So the log-distance is
    median-filtered over `DISTANCE_MEDIAN_S`, then its slope is a local straight-line fit over `RADIAL_FIT_S`
    (Savitzky–Golay, order 1); the lateral speed is the slope of x over `LATERAL_FIT_S` times the frame width at
    the smoothed distance.
    """
    step = float(np.median(np.diff(times_s)))
    step = min(max(step, 0.02), 0.2)
    grid = np.arange(times_s[0], times_s[-1] + 0.5 * step, step)
    if grid.size < 3:
        return times_s, np.zeros(times_s.size)
    x = np.interp(grid, times_s, x_norm)
    log_d = np.log(np.maximum(np.interp(grid, times_s, distance_m), 1e-3))
    log_d = scipy.ndimage.median_filter(log_d, size=_odd(DISTANCE_MEDIAN_S / step, grid.size), mode="nearest")
    fit = _odd(RADIAL_FIT_S / step, grid.size)
    d_smooth = np.exp(scipy.signal.savgol_filter(log_d, fit, 1, mode="interp")) if fit >= 3 else np.exp(log_d)
    radial = d_smooth * (scipy.signal.savgol_filter(log_d, fit, 1, deriv=1, delta=step, mode="interp") if fit >= 3 else 0.0)
    lat_fit = _odd(LATERAL_FIT_S / step, grid.size)
    dx = scipy.signal.savgol_filter(x, lat_fit, 1, deriv=1, delta=step, mode="interp") if lat_fit >= 3 else np.gradient(x, step)
    lateral = dx * 2.0 * d_smooth * math.tan(math.radians(hfov_deg) / 2.0)
    return grid, np.hypot(lateral, radial)


def _odd(points: float, limit: int) -> int:
    n = min(int(round(points)), limit)
    n = n if n % 2 else n - 1
    return max(n, 1)


def level_gain(voice: str, motion: Motion) -> np.ndarray:
    """Linear audio-rate gain of a voice from the rules above, times presence."""
    gain_db = level_rule(voice).gain_db(motion.speed_m_s, motion.typical_speed_m_s)
    return (np.power(10.0, gain_db / 20.0) * motion.presence).astype(np.float32)
