"""The built-in demo scene: a vehicle passing left to right and a walker approaching, rendered to demo-out/.

Needs no input and no network. The sources here are small placeholder signals, deterministic per seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE_HZ
from .audio import write_wav
from .config import SpatialSettings
from .files import write_text_atomic
from .render import SoundObject, peak_dbfs, render_mix
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


def run_demo(out_dir: str | Path = "demo-out", *, settings: SpatialSettings | None = None, seed: int = 0) -> DemoResult:
    """Render the demo scene. Outputs in out_dir are the demo's own and are replaced on each run."""
    out = Path(out_dir)
    settings = settings or SpatialSettings()
    rng = np.random.default_rng(seed)
    n = int(DEMO_DURATION_S * SAMPLE_RATE_HZ)
    objects = [
        SoundObject("vehicle", engine_tone(DEMO_DURATION_S, rng), vehicle_pass_trajectory()),
        SoundObject("walker", footsteps(DEMO_DURATION_S, rng), approach_trajectory()),
    ]
    mix = render_mix(objects, settings, n)
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
        "objects": [obj.name for obj in objects],
    }
    return DemoResult(mix_path=written[0], written=tuple(written), summary=summary)
