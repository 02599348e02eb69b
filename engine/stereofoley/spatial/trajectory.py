"""Where a sound is over time: the renderer's input.

A `Trajectory` holds points at explicit times (seconds from the start of the sound) with a pan position
(-1 left .. +1 right), a distance in metres and an extra gain in dB. Values between points are interpolated
linearly; before the first and after the last point they are held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..config import SpatialSettings
from ..errors import InvalidTrajectory
from ..files import read_json


@dataclass(frozen=True, eq=False)
class Trajectory:
    times_s: np.ndarray
    pan: np.ndarray
    distance_m: np.ndarray
    gain_db: np.ndarray

    def __post_init__(self) -> None:
        arrays = {}
        for name in ("times_s", "pan", "distance_m", "gain_db"):
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
            arrays[name] = arr
        n = arrays["times_s"].size
        if n == 0:
            raise InvalidTrajectory("trajectory is empty: it needs at least one point")
        for name, arr in arrays.items():
            if arr.size != n:
                raise InvalidTrajectory(f"trajectory field {name} has {arr.size} values, times_s has {n}")
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise InvalidTrajectory(f"trajectory point {bad[0]}: {name} is not finite ({arr[bad[0]]})")
        steps = np.diff(arrays["times_s"])
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise InvalidTrajectory(
                f"trajectory times must increase: point {i} has t={arrays['times_s'][i]} s after "
                f"t={arrays['times_s'][i - 1]} s"
            )
        _check_bounds("pan", arrays["pan"], -1.0, 1.0)
        _check_bounds("distance_m", arrays["distance_m"], 0.0, math.inf, low_open=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in ("times_s", "pan", "distance_m", "gain_db"))

    @classmethod
    def constant(cls, *, pan: float = 0.0, distance_m: float = 1.0, gain_db: float = 0.0) -> "Trajectory":
        return cls(times_s=[0.0], pan=[pan], distance_m=[distance_m], gain_db=[gain_db])

    @classmethod
    def from_points(cls, points: Iterable[Mapping[str, Any]], settings: SpatialSettings | None = None) -> "Trajectory":
        """Build from dicts {"t": s, "pan": -1..1 | "x": 0..1 of frame width, "distance_m": m, "gain_db": dB}."""
        settings = settings or SpatialSettings()
        if not isinstance(points, (list, tuple)):
            raise InvalidTrajectory(f"a trajectory is a list of points, got {type(points).__name__}")
        times, pans, dists, gains = [], [], [], []
        for i, point in enumerate(points):
            if not isinstance(point, Mapping):
                raise InvalidTrajectory(f"trajectory point {i} is not an object: {point!r}")
            t = _number(point, "t", i)
            if "pan" in point:
                pan = _number(point, "pan", i)
                _check_bounds("pan", np.array([pan]), -1.0, 1.0, index=i)
            elif "x" in point:
                x = _number(point, "x", i)
                _check_bounds("x", np.array([x]), 0.0, 1.0, index=i)
                pan = float(pan_from_x(np.array([x]), settings)[0])
            else:
                raise InvalidTrajectory(f"trajectory point {i} needs 'pan' (-1..1) or 'x' (0..1 of frame width)")
            times.append(t)
            pans.append(pan)
            dists.append(_number(point, "distance_m", i, default=settings.reference_distance_m))
            gains.append(_number(point, "gain_db", i, default=0.0))
        return cls(times_s=times, pan=pans, distance_m=dists, gain_db=gains)

    def to_points(self) -> list[dict[str, float]]:
        return [
            {"t": float(t), "pan": float(p), "distance_m": float(d), "gain_db": float(g)}
            for t, p, d, g in zip(self.times_s, self.pan, self.distance_m, self.gain_db)
        ]


def read_trajectory(path: str | Path, settings: SpatialSettings | None = None) -> Trajectory:
    data = read_json(path, what="trajectory file", error=InvalidTrajectory)
    if isinstance(data, Mapping) and "points" in data:  # also accept {"points": [...]}
        data = data["points"]
    return Trajectory.from_points(data, settings)


def azimuth_from_x(x: np.ndarray, hfov_deg: float) -> np.ndarray:
    """Horizontal image position (0..1 of frame width) to azimuth in degrees through a pinhole camera.

    Positions off-screen (x < 0 or x > 1) give azimuths beyond the field of view.
    """
    half = math.radians(hfov_deg) / 2.0
    return np.degrees(np.arctan((2.0 * np.asarray(x, dtype=np.float64) - 1.0) * math.tan(half)))


def pan_from_azimuth(azimuth_deg: np.ndarray, hfov_deg: float, stereo_width: float = 1.0) -> np.ndarray:
    """Azimuth to pan: the frame edges (±hfov/2) map to ±stereo_width; beyond them pan is clipped to ±1."""
    return np.clip(np.asarray(azimuth_deg, dtype=np.float64) / (hfov_deg / 2.0) * stereo_width, -1.0, 1.0)


def pan_from_x(x: np.ndarray, settings: SpatialSettings) -> np.ndarray:
    return pan_from_azimuth(azimuth_from_x(x, settings.hfov_deg), settings.hfov_deg, settings.stereo_width)


def _number(point: Mapping[str, Any], key: str, index: int, default: float | None = None) -> float:
    if key not in point:
        if default is None:
            raise InvalidTrajectory(f"trajectory point {index} has no {key!r}")
        return float(default)
    value = point[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidTrajectory(f"trajectory point {index}: {key}={value!r} is not a finite number")
    return float(value)


def _check_bounds(name: str, arr: np.ndarray, low: float, high: float, *, low_open: bool = False, index: int | None = None) -> None:
    bad = (arr <= low) if low_open else (arr < low)
    bad |= arr > high
    if np.any(bad):
        i = index if index is not None else int(np.flatnonzero(bad)[0])
        value = arr[0] if index is not None else arr[i]
        interval = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise InvalidTrajectory(f"trajectory point {i}: {name}={value} is outside {interval}")
