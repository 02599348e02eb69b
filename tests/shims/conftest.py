"""Fixtures for the host-shim tests: real engine output to feed the fake hosts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from stereofoley import SAMPLE_RATE_HZ, cli
from stereofoley.audio import write_wav
from stereofoley.spatial.automation import Curve, curves_for
from stereofoley.config import preset
from stereofoley.spatial.trajectory import read_trajectory

TRAJECTORY_POINTS = [
    {"t": 0.0, "pan": -0.8, "distance_m": 2.0},
    {"t": 0.4, "pan": -0.3, "distance_m": 3.0},
    {"t": 0.9, "pan": 0.2, "distance_m": 6.0, "gain_db": -2.0},
    {"t": 1.5, "pan": 0.7, "distance_m": 12.0, "gain_db": -3.0},
]


@dataclass(frozen=True)
class EngineRender:
    """One object rendered by the real engine (`stereofoley spatialize`) and its automation curves."""

    wav: Path  # stereo 48 kHz result
    stem_wav: Path  # the object's mono source
    duration_s: float
    curves: dict[str, Curve]

    def result(self, clip_id: str, *, stems: bool = False, name: str = "object 1") -> dict:
        obj = {"name": name, "class": "car", "curves": {k: self.curves[k].to_json() for k in ("pan", "gain_db")}}
        if stems:
            obj["stem_wav"] = str(self.stem_wav)
        return {"id": clip_id, "wav": str(self.wav), "duration_s": self.duration_s, "objects": [obj]}


@pytest.fixture(scope="session")
def engine_render(tmp_path_factory) -> EngineRender:
    d = tmp_path_factory.mktemp("engine")
    rng = np.random.default_rng(3)
    n = int(1.5 * SAMPLE_RATE_HZ)
    source = (0.1 * rng.standard_normal(n)).astype(np.float32)
    write_wav(d / "stem.wav", source[None, :], subtype="FLOAT")
    (d / "trajectory.json").write_text(json.dumps(TRAJECTORY_POINTS))
    code = cli.main(["spatialize", str(d / "stem.wav"), "-t", str(d / "trajectory.json"), "-o", str(d / "out.wav"), "--preset", "dry"])
    assert code == 0
    settings = preset("dry")
    curves = curves_for(read_trajectory(d / "trajectory.json", settings), settings)
    frames = soundfile.info(str(d / "out.wav")).frames
    return EngineRender(d / "out.wav", d / "stem.wav", frames / SAMPLE_RATE_HZ, curves)


def write_status(path: Path, state: str, *, progress: float = 0.0, results=(), message: str = "", **extra) -> None:
    """A status file as the engine writes it (docs/contracts.md §4), atomically."""
    data = {"version": 1, "job_id": "test", "state": state, "progress": progress, "message": message, "results": list(results), **extra}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
