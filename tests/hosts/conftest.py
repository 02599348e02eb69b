"""A rendered edit as the engine reports it (timeline render report with stems), and helpers to run the real
Ardour (Debian's ardour 7: ardour7-export, ardour7-lua). Tests that need Ardour skip only when it is not
installed; `.ci/run` installs it."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from stereofoley import SAMPLE_RATE_HZ
from stereofoley.audio import write_wav
from stereofoley.spatial.automation import GAIN_DB_MAX_ERROR, PAN_MAX_ERROR, curves_for
from stereofoley.config import preset
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.spatial.trajectory import Trajectory

ARDOUR_EXPORT = shutil.which("ardour7-export")
ARDOUR_LUA = shutil.which("ardour7-lua")
needs_ardour = pytest.mark.skipif(ARDOUR_EXPORT is None or ARDOUR_LUA is None,
                                  reason="Ardour 7 is not installed (apt-get install ardour; .ci/run does it)")

# Two clips of an edit: (record start sample, duration s, objects as (pan, distance_m) key points over the clip)
CLIPS = [
    (24_007, 2.0, [[(0.0, -0.9, 2.0), (2.0, 0.8, 4.0)], [(0.0, 0.6, 3.0), (1.0, -0.2, 1.5), (2.0, -0.7, 6.0)]]),
    (3 * SAMPLE_RATE_HZ + 13, 1.5, [[(0.0, 0.7, 5.0), (1.5, -0.5, 1.2)]]),
]
TRACKER_STEP_S = 0.04  # trajectories sampled per video frame at 25 fps, as the vision pipeline gives them


@dataclass(frozen=True)
class RenderedEdit:
    report: Path
    mixes: list[np.ndarray]  # (2, n) per clip, as written (24-bit)
    starts: list[int]


def render_edit(folder: Path, preset_name: str) -> RenderedEdit:
    settings = preset(preset_name)
    rng = np.random.default_rng(11)
    entries, mixes, starts = [], [], []
    for c, (start, duration_s, objects) in enumerate(CLIPS):
        n = int(round(duration_s * SAMPLE_RATE_HZ))
        sound_objects, object_entries = [], []
        for k, keys in enumerate(objects):
            t = np.arange(0.0, duration_s + 1e-9, TRACKER_STEP_S)
            kt = [p[0] for p in keys]
            points = [{"t": float(x), "pan": float(np.interp(x, kt, [p[1] for p in keys])),
                       "distance_m": float(np.interp(x, kt, [p[2] for p in keys]))} for x in t]
            trajectory = Trajectory.from_points(points, settings)
            source = (0.1 * rng.standard_normal(n)).astype(np.float32)
            stem = write_wav(folder / f"clip{c}.obj{k + 1}.wav", source[None, :], subtype=settings.output_subtype)
            sound_objects.append(SoundObject(f"object {k + 1}", source, trajectory))
            curves = curves_for(trajectory, settings)
            object_entries.append({"name": f"object {k + 1}", "class": "car", "source_wav": str(stem),
                                   "curves": {"pan": curves["pan"].simplified(PAN_MAX_ERROR).to_json(),
                                              "gain_db": curves["gain_db"].simplified(GAIN_DB_MAX_ERROR).to_json()}})
        wav = write_wav(folder / f"clip{c}.wav", render_mix(sound_objects, settings, n), subtype=settings.output_subtype)
        mixes.append(soundfile.read(str(wav), always_2d=True, dtype="float64")[0].T)
        starts.append(start)
        entries.append({"id": f"c{c}", "name": f"clip {c}", "wav": wav.name, "record_start_sample": start,
                        "record_start_s": start / SAMPLE_RATE_HZ, "samples": n, "objects": object_entries})
    report = folder / "render.json"
    report.write_text(json.dumps({"version": 1, "clips": entries}))
    return RenderedEdit(report, mixes, starts)


def ardour_export(session_dir: Path, name: str, out: Path) -> np.ndarray:
    """The session's range rendered by the real Ardour through the master bus: (2, n) float64."""
    proc = subprocess.run([ARDOUR_EXPORT, "-s", str(SAMPLE_RATE_HZ), "-b", "24", "-o", str(out), str(session_dir), name],
                          capture_output=True, text=True, timeout=180, check=False)
    assert out.is_file(), f"ardour7-export wrote nothing (rc {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    data, rate = soundfile.read(str(out), always_2d=True, dtype="float64")
    assert rate == SAMPLE_RATE_HZ
    return data.T
