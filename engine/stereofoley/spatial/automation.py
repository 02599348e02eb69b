"""Automation curves: (time, value) breakpoints, evaluation at any time, simplification, JSON form.

Curves are how placement leaves the engine: REAPER envelopes, live OSC preview, timeline metadata.
Times are seconds from the start of the clip; values carry their unit in the curve's name (pan, gain_db).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..config import SpatialSettings
from ..errors import InvalidParameter
from .dsp import distance_gain
from .trajectory import Trajectory


# How far a simplified curve may stray from the engine's own, wherever curves leave the engine (job results,
# timeline metadata, REAPER envelopes, live preview): 0.002 pan is 0.1 % of the pan range (about 0.06° of azimuth
# at a 60° field of view) and 0.05 dB is far below an audible level step.
PAN_MAX_ERROR = 0.002
GAIN_DB_MAX_ERROR = 0.05


@dataclass(frozen=True, eq=False)
class Curve:
    times_s: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        t = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float64).reshape(-1)
        if t.size == 0 or t.size != v.size:
            raise InvalidParameter(f"a curve needs matching, non-empty times and values (got {t.size} and {v.size})")
        if np.any(np.diff(t) <= 0) or not (np.isfinite(t).all() and np.isfinite(v).all()):
            raise InvalidParameter("curve times must increase and every value must be finite")
        t.setflags(write=False)
        v.setflags(write=False)
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "values", v)

    def value_at(self, time_s: float | np.ndarray) -> float | np.ndarray:
        """Linear interpolation, held before the first and after the last point."""
        result = np.interp(time_s, self.times_s, self.values)
        return float(result) if np.ndim(result) == 0 else result

    def simplified(self, max_error: float) -> "Curve":
        """Fewest points (Ramer–Douglas–Peucker) such that the polyline stays within max_error of every original point."""
        if max_error < 0:
            raise InvalidParameter(f"max_error={max_error} must not be negative")
        keep = _rdp_keep(self.times_s, self.values, max_error)
        return Curve(self.times_s[keep], self.values[keep])

    def to_json(self) -> list[list[float]]:
        return [[float(t), float(v)] for t, v in zip(self.times_s, self.values)]

    @classmethod
    def from_json(cls, points: Sequence[Sequence[float]]) -> "Curve":
        arr = np.asarray(points, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise InvalidParameter("a curve in JSON is a list of [time_s, value] pairs")
        return cls(arr[:, 0], arr[:, 1])


def curves_for(trajectory: Trajectory, settings: SpatialSettings) -> dict[str, Curve]:
    """The automation a host needs to reproduce the dry placement: pan (-1..1) and total gain in dB
    (distance law plus the trajectory's own gain), and the distance itself for filters."""
    gain = distance_gain(trajectory.distance_m, settings.reference_distance_m, settings.max_distance_m)
    gain_db = 20.0 * np.log10(gain) + trajectory.gain_db
    return {
        "pan": Curve(trajectory.times_s, trajectory.pan),
        "gain_db": Curve(trajectory.times_s, gain_db),
        "distance_m": Curve(trajectory.times_s, trajectory.distance_m),
    }


def _rdp_keep(t: np.ndarray, v: np.ndarray, eps: float) -> np.ndarray:
    keep = np.zeros(t.size, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, t.size - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            continue
        seg_t, seg_v = t[lo + 1 : hi], v[lo + 1 : hi]
        line = v[lo] + (v[hi] - v[lo]) * (seg_t - t[lo]) / (t[hi] - t[lo])
        err = np.abs(seg_v - line)
        i = int(np.argmax(err))
        if err[i] > eps:
            mid = lo + 1 + i
            keep[mid] = True
            stack.extend([(lo, mid), (mid, hi)])
    return keep
