"""Settings as frozen dataclasses with units in field names, and named presets.

Change a setting with `dataclasses.replace(settings, field=value)`; presets are never mutated.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidParameter, UnknownPreset

PAN_LAWS = ("constant_power", "-4.5dB", "linear")
"""constant_power: -3 dB centre, equal summed power; -4.5dB: geometric mean of the two; linear: -6 dB centre."""

OUTPUT_SUBTYPES = ("PCM_24", "PCM_16", "FLOAT")


@dataclass(frozen=True)
class SpatialSettings:
    # Panning
    pan_law: str = "constant_power"
    hfov_deg: float = 60.0  # horizontal field of view of the camera; a phone or a 28 mm lens is close to this
    stereo_width: float = 1.0  # 1.0: the frame edges pan fully; 0.5: half-way
    # Distance
    reference_distance_m: float = 1.0  # no attenuation at or nearer than this (near clamp)
    max_distance_m: float = 200.0  # no further attenuation beyond this (far clamp)
    air_absorption: bool = True
    temperature_c: float = 20.0
    relative_humidity_pct: float = 50.0
    pressure_kpa: float = 101.325
    # Diffuse field: a constant reverberant level, so the wet share rises as the direct sound falls with distance
    diffuse: bool = True
    # Where direct and reverberant energy are equal. The default, 300 m, is an open exterior with few reflections:
    # the diffuse field stays 20 dB or more under the direct sound out to 30 m, so an object at the frame edge keeps
    # over 10 dB of level difference between the channels and the image keeps the picture's width; distance is
    # heard through level and air absorption. A large hall or a built-up street is nearer 20 m (preset "wet":
    # more reverberation the further the object, but at 30 m the edge's level difference falls under 1 dB), a
    # room 2–5 m (preset "indoor"). The README (Spatial settings) measures the trade-off.
    critical_distance_m: float = 300.0
    impulse_response_path: str | None = None  # stereo IR; None: pyo's hall IR if installed, else a generated one
    # Optional effects (off by default)
    itd: bool = False
    max_itd_ms: float = 0.7
    doppler: bool = False
    # Automation and output
    smoothing_ms: float = 10.0  # box smoothing of every automation curve at audio rate
    limiter_ceiling_dbfs: float = -1.0
    output_subtype: str = "PCM_24"

    def __post_init__(self) -> None:
        _check_choice("pan_law", self.pan_law, PAN_LAWS)
        _check_choice("output_subtype", self.output_subtype, OUTPUT_SUBTYPES)
        _check_range("hfov_deg", self.hfov_deg, 1.0, 179.0, "degrees")
        _check_range("stereo_width", self.stereo_width, 0.0, 1.0, "")
        _check_range("reference_distance_m", self.reference_distance_m, 0.01, 1000.0, "m")
        _check_range("max_distance_m", self.max_distance_m, self.reference_distance_m, 100_000.0, "m")
        _check_range("temperature_c", self.temperature_c, -20.0, 50.0, "°C")
        _check_range("relative_humidity_pct", self.relative_humidity_pct, 10.0, 100.0, "%")
        _check_range("pressure_kpa", self.pressure_kpa, 50.0, 110.0, "kPa")
        _check_range("critical_distance_m", self.critical_distance_m, 0.1, 1000.0, "m")
        _check_range("max_itd_ms", self.max_itd_ms, 0.0, 0.7, "ms")
        _check_range("smoothing_ms", self.smoothing_ms, 0.0, 200.0, "ms")
        _check_range("limiter_ceiling_dbfs", self.limiter_ceiling_dbfs, -60.0, 0.0, "dBFS")

    @property
    def speed_of_sound_m_s(self) -> float:
        return 331.3 * math.sqrt(1.0 + self.temperature_c / 273.15)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidParameter(f"{name}={value!r} is not allowed; choose one of {', '.join(allowed)}")


def _check_range(name: str, value: float, low: float, high: float, unit: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise InvalidParameter(f"{name}={value!r} is outside [{low}, {high}] {unit}".rstrip())


PRESETS: dict[str, SpatialSettings] = {
    "natural": SpatialSettings(),
    # Free field: distance gain and panning only. The physics tests use it.
    "dry": SpatialSettings(air_absorption=False, diffuse=False),
    "wide": SpatialSettings(hfov_deg=50.0, itd=True),
    "cinematic": SpatialSettings(itd=True, doppler=True),
    "indoor": SpatialSettings(critical_distance_m=4.0),
    # The physically wetter exterior: reverberant energy equals the direct sound at 20 m (see critical_distance_m).
    "wet": SpatialSettings(critical_distance_m=20.0),
    "narrow": SpatialSettings(stereo_width=0.5),
}


def preset(name: str) -> SpatialSettings:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPreset(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None


# ------------------------------------------------------------------------------------------------ user folders
def user_cache_dir(kind: str) -> Path:
    """Where the engine caches `kind` (vision, library-index, ...): $STEREOFOLEY_CACHE/kind, else
    $XDG_CACHE_HOME/stereofoley/kind, else ~/.cache/stereofoley/kind."""
    if os.environ.get("STEREOFOLEY_CACHE"):
        return Path(os.environ["STEREOFOLEY_CACHE"]) / kind
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stereofoley" / kind


def user_config_dir() -> Path:
    """The engine's own settings (and the ultralytics settings it keeps apart from the user's): $STEREOFOLEY_CONFIG,
    else $XDG_CONFIG_HOME/stereofoley, else ~/.config/stereofoley."""
    if os.environ.get("STEREOFOLEY_CONFIG"):
        return Path(os.environ["STEREOFOLEY_CONFIG"])
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "stereofoley"
