"""What the vision stage produces: `ObjectTrack`s inside an `Analysis`, and their tracks.json form."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..config import SpatialSettings
from ..errors import InvalidParameter
from ..files import write_text_atomic
from ..spatial.trajectory import Trajectory, pan_from_x

TRACKS_FORMAT_VERSION = 1
SILENT_GAIN_DB = -90.0  # an object before it appears and after it leaves
FADE_S = 0.05  # how long an object takes to fade in and out at the ends of its track
DEFAULT_HFOV_DEG = SpatialSettings().hfov_deg  # the camera the spatial settings assume


def vertical_fov_deg(hfov_deg: float, aspect: float) -> float:
    """Vertical field of view of a pinhole camera with horizontal fov `hfov_deg` and width/height `aspect`."""
    return math.degrees(2.0 * math.atan(math.tan(math.radians(hfov_deg) / 2.0) / aspect))


def _frozen(values, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape((-1, *shape_tail))
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class ObjectTrack:
    """One object over time. Times are seconds from the analysis start (`Analysis.start_s`).

    `x_norm` is the box centre (0..1 of frame width; beyond it while the object is briefly extrapolated
    off-screen), `azimuth_deg` and `distance_m` follow from it through a camera of `hfov_deg`. `confidence`
    is 0 at interpolated or extrapolated points.
    """

    track_id: int
    class_name: str
    sounding: bool
    times_s: np.ndarray
    xyxy_norm: np.ndarray
    confidence: np.ndarray
    x_norm: np.ndarray
    azimuth_deg: np.ndarray
    distance_m: np.ndarray
    salience: float
    hfov_deg: float = DEFAULT_HFOV_DEG
    aspect: float = 16 / 9  # frame width / height, for the vertical field of view behind distance_m

    def __post_init__(self) -> None:
        for name in ("times_s", "confidence", "x_norm", "azimuth_deg", "distance_m"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "xyxy_norm", _frozen(self.xyxy_norm, (4,)))
        n = self.times_s.size
        for name in ("xyxy_norm", "confidence", "x_norm", "azimuth_deg", "distance_m"):
            if len(getattr(self, name)) != n:
                raise InvalidParameter(f"track {self.track_id}: {name} has {len(getattr(self, name))} rows, times_s has {n}")
        if n == 0 or np.any(np.diff(self.times_s) <= 0):
            raise InvalidParameter(f"track {self.track_id}: times_s must be non-empty and increasing")

    @property
    def start_s(self) -> float:
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1])

    def distance_for(self, hfov_deg: float) -> np.ndarray:
        """distance_m as a camera of another field of view would give it (size in the picture is fixed)."""
        if hfov_deg == self.hfov_deg:
            return self.distance_m
        here = math.tan(math.radians(vertical_fov_deg(self.hfov_deg, self.aspect)) / 2.0)
        there = math.tan(math.radians(vertical_fov_deg(hfov_deg, self.aspect)) / 2.0)
        return self.distance_m * (here / there)

    def to_trajectory(self, settings: SpatialSettings = SpatialSettings()) -> Trajectory:
        """Pan from x_norm through the settings' field of view and width; silent (fading) outside the track."""
        times = list(self.times_s)
        pan = list(pan_from_x(self.x_norm, settings))
        dist = list(self.distance_for(settings.hfov_deg))
        gain = [0.0] * len(times)
        if times[0] > 0.0:  # fade in: silent until FADE_S before the first sighting
            t = max(0.0, times[0] - FADE_S)
            times, pan, dist, gain = [t] + times, [pan[0]] + pan, [dist[0]] + dist, [SILENT_GAIN_DB] + gain
            if t > 0.0:
                times, pan, dist, gain = [0.0] + times, [pan[0]] + pan, [dist[0]] + dist, [SILENT_GAIN_DB] + gain
        times += [times[-1] + FADE_S]  # fade out after the last sighting (held silent from there on)
        pan += [pan[-1]]
        dist += [dist[-1]]
        gain += [SILENT_GAIN_DB]
        return Trajectory(times_s=times, pan=pan, distance_m=dist, gain_db=gain)

    def to_dict(self) -> dict:
        return {
            "track_id": self.track_id, "class_name": self.class_name, "sounding": self.sounding,
            "salience": self.salience, "hfov_deg": self.hfov_deg, "aspect": self.aspect,
            "times_s": self.times_s.tolist(), "xyxy_norm": self.xyxy_norm.tolist(),
            "confidence": self.confidence.tolist(), "x_norm": self.x_norm.tolist(),
            "azimuth_deg": self.azimuth_deg.tolist(), "distance_m": self.distance_m.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ObjectTrack":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, eq=False)
class Analysis:
    media_path: Path
    width: int
    height: int
    fps: Fraction
    start_s: float
    end_s: float
    frame_times_s: np.ndarray  # media times of the frames actually analysed
    tracks: tuple[ObjectTrack, ...]
    cuts_s: tuple[float, ...] = ()  # media times of detected hard cuts
    detector: str = ""
    analysis_fps: float = 0.0
    settings_key: dict = field(default_factory=dict)  # what the cache key was made of
    # Where the picture that decoded ends, when before end_s (truncated or damaged media); None: the whole range.
    analysed_end_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_times_s", _frozen(self.frame_times_s))
        object.__setattr__(self, "tracks", tuple(self.tracks))
        object.__setattr__(self, "media_path", Path(self.media_path))

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def analysed_fraction(self) -> float:
        """The fraction of [start_s, end_s) that had picture to analyse (1.0: all of it)."""
        if self.analysed_end_s is None or not self.duration_s > 0:
            return 1.0
        return min(1.0, max(0.0, (self.analysed_end_s - self.start_s) / self.duration_s))

    def to_dict(self) -> dict:
        return {
            "version": TRACKS_FORMAT_VERSION, "media_path": str(self.media_path), "width": self.width,
            "height": self.height, "fps": [self.fps.numerator, self.fps.denominator], "start_s": self.start_s,
            "end_s": self.end_s, "frame_times_s": self.frame_times_s.tolist(), "cuts_s": list(self.cuts_s),
            "detector": self.detector, "analysis_fps": self.analysis_fps, "settings_key": self.settings_key,
            "tracks": [t.to_dict() for t in self.tracks],
            **({} if self.analysed_end_s is None else {"analysed_end_s": self.analysed_end_s}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Analysis":
        if d.get("version") != TRACKS_FORMAT_VERSION:
            raise InvalidParameter(f"tracks file version {d.get('version')!r} is not supported (expected {TRACKS_FORMAT_VERSION})")
        return cls(
            media_path=Path(d["media_path"]), width=int(d["width"]), height=int(d["height"]),
            fps=Fraction(*d["fps"]), start_s=float(d["start_s"]), end_s=float(d["end_s"]),
            frame_times_s=d["frame_times_s"], tracks=tuple(ObjectTrack.from_dict(t) for t in d["tracks"]),
            cuts_s=tuple(d.get("cuts_s", ())), detector=d.get("detector", ""),
            analysis_fps=float(d.get("analysis_fps", 0.0)), settings_key=d.get("settings_key", {}),
            analysed_end_s=None if d.get("analysed_end_s") is None else float(d["analysed_end_s"]),
        )


def write_tracks(analysis: Analysis, path: str | Path, *, overwrite: bool = False) -> Path:
    """tracks.json: the whole analysis, written atomically."""
    return write_text_atomic(path, json.dumps(analysis.to_dict(), indent=1), overwrite=overwrite)


def read_tracks(path: str | Path) -> Analysis:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Analysis.from_dict(data)
    except FileNotFoundError:
        raise InvalidParameter(f"tracks file not found: {path}") from None
    except InvalidParameter as exc:  # an unsupported version, a bad track: say which file
        raise InvalidParameter(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:  # ValueError covers bad UTF-8 and bad JSON
        raise InvalidParameter(f"{path} is not a valid tracks file: {exc}") from None
