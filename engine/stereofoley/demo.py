"""The built-in demo scene: a vehicle passing left to right and a walker approaching, rendered to demo-out/.

Needs no input and no network. The sources are the procedural voices of `stereofoley.sources.synth` (a car
engine whose pitch and level follow its speed, footsteps timed to the walker's pace), deterministic per seed;
the mix is loudness-normalised to -23 LUFS (EBU R128) under a -1 dBTP true-peak ceiling.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE_HZ
from .audio import write_wav
from .config import SpatialSettings
from .files import write_text_atomic
from .render import SoundObject, peak_dbfs, render_mix
from .sources.loudness import DEFAULT_TARGET_LUFS, integrated_lufs, normalize, true_peak_level
from .sources.motion import Motion
from .sources.synth import synth_source
from .trajectory import Trajectory

DEMO_DURATION_S = 8.0


@dataclass(frozen=True)
class DemoResult:
    mix_path: Path
    written: tuple[Path, ...]
    summary: dict


def vehicle_pass_trajectory(duration_s: float = DEMO_DURATION_S) -> Trajectory:
    """A car 8 m from the camera line driving left to right at 12 m/s, closest at mid-clip."""
    t = np.linspace(0.0, duration_s, 81)
    along_m = 12.0 * (t - duration_s / 2.0)
    lateral_m = 8.0
    azimuth = np.degrees(np.arctan2(along_m, lateral_m))
    pan = np.clip(azimuth / 30.0, -1.0, 1.0)  # ±30° is the frame edge of the default 60° field of view
    return Trajectory(times_s=t, pan=pan, distance_m=np.hypot(along_m, lateral_m), gain_db=np.zeros_like(t))


def approach_trajectory(duration_s: float = DEMO_DURATION_S) -> Trajectory:
    """A walker coming towards the camera from 30 m to 2 m, slightly left of centre."""
    t = np.linspace(0.0, duration_s, 41)
    return Trajectory(times_s=t, pan=np.full_like(t, -0.3), distance_m=np.geomspace(30.0, 2.0, t.size), gain_db=np.zeros_like(t))


# The two placeholder signals the demo used before it had synth voices. The demo no longer uses them;
# they stay (unchanged, so datasets built from them stay reproducible) because `stereofoley.dataset` builds
# its evaluation items from them.
def engine_tone(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonic engine buzz (firing frequency ~55 Hz, slow wobble) with a little road noise."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    f0 = 55.0 * (1.0 + 0.03 * np.sin(2 * np.pi * 0.4 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ
    tone = sum(np.sin(k * phase) / k for k in range(1, 24))
    noise = rng.standard_normal(n) * 0.3
    return (0.25 * (tone + noise)).astype(np.float32)


def footsteps(duration_s: float, rng: np.random.Generator, steps_per_s: float = 1.8) -> np.ndarray:
    """Short filtered noise bursts, one per step."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    out = np.zeros(n, dtype=np.float32)
    burst_n = int(0.08 * SAMPLE_RATE_HZ)
    envelope = np.exp(-np.arange(burst_n) / (0.015 * SAMPLE_RATE_HZ))
    for start_s in np.arange(0.1, duration_s - 0.1, 1.0 / steps_per_s):
        start = int(start_s * SAMPLE_RATE_HZ)
        out[start : start + burst_n] += (rng.standard_normal(burst_n) * envelope).astype(np.float32)[: n - start]
    return 0.5 * out


def speed_along(trajectory: Trajectory, n_samples: int) -> np.ndarray:
    """Audio-rate speed (m/s) of an object moving straight towards or away from the camera."""
    radial = np.abs(np.gradient(trajectory.distance_m, trajectory.times_s))
    return np.interp(np.arange(n_samples) / SAMPLE_RATE_HZ, trajectory.times_s, radial).astype(np.float32)


def demo_source(class_name: str, speed_m_s: np.ndarray, seed: int) -> np.ndarray:
    """The synth voice of a class (sources/synth.py) with its motion level rule, deterministic per seed."""
    motion = Motion(speed_m_s=speed_m_s, presence=np.ones_like(speed_m_s))
    return synth_source(class_name, motion, np.random.default_rng([seed, zlib.crc32(class_name.encode())]))


def run_demo(
    out_dir: str | Path = "demo-out", *, settings: SpatialSettings | None = None, seed: int = 0, target_lufs: float = DEFAULT_TARGET_LUFS
) -> DemoResult:
    """Render the demo scene, loudness-normalised (BS.1770) to target_lufs under a −1 dBTP true peak.

    Outputs in out_dir are the demo's own and are replaced on each run.
    """
    out = Path(out_dir)
    settings = settings or SpatialSettings()
    n = int(DEMO_DURATION_S * SAMPLE_RATE_HZ)
    # The car drives at 12 m/s along the road (its distance change is part of that speed, not extra).
    vehicle, walker = vehicle_pass_trajectory(), approach_trajectory()
    objects = [
        SoundObject("vehicle", demo_source("car", np.full(n, 12.0, dtype=np.float32), seed), vehicle),
        SoundObject("walker", demo_source("person", speed_along(walker, n), seed), walker),
    ]
    mix = normalize(render_mix(objects, settings, n), target_lufs)
    written = [write_wav(out / "demo_mix.wav", mix, subtype=settings.output_subtype, overwrite=True)]
    for obj in objects:
        written.append(write_wav(out / f"{obj.name}.source.wav", obj.source[None, :], overwrite=True))
        written.append(
            write_text_atomic(out / f"{obj.name}.trajectory.json", json.dumps(obj.trajectory.to_points(), indent=1), overwrite=True)
        )
    summary = {
        "ok": True,
        "mix": str(written[0].resolve()),
        "files": [str(p.resolve()) for p in written],
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "samples": n,
        "peak_dbfs": round(peak_dbfs(mix), 2),
        "loudness_lufs": round(integrated_lufs(mix), 2),
        "true_peak_dbtp": round(true_peak_level(mix), 2),
        "objects": [obj.name for obj in objects],
    }
    return DemoResult(mix_path=written[0], written=tuple(written), summary=summary)
