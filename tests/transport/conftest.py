"""Fixtures for the OSC bridge tests: small generated media in a temporary root, a server on a free loopback port."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stereofoley.transport.server import ServerConfig, ServerThread


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path


def write_source(path: Path, seconds: float = 0.5, seed: int = 0, rate: int = 48000) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(str(path), x.astype(np.float32), rate, subtype="FLOAT")
    return path


def write_trajectory(path: Path, seconds: float = 0.5) -> Path:
    points = [{"t": 0.0, "pan": -0.8, "distance_m": 2.0}, {"t": seconds, "pan": 0.7, "distance_m": 5.0}]
    path.write_text(json.dumps(points))
    return path


def spatialize_job(root: Path, out_dir: Path, n_items: int = 1, seconds: float = 0.5) -> dict:
    items = []
    for i in range(n_items):
        src = write_source(root / f"src{i}.wav", seconds, seed=i)
        traj = write_trajectory(root / f"traj{i}.json", seconds)
        items.append({"id": f"item{i}", "source": str(src), "trajectory": str(traj), "name": f"object {i}"})
    return {"version": 1, "kind": "spatialize", "out_dir": str(out_dir), "items": items, "options": {"preset": "natural"}}


@pytest.fixture
def server(root: Path):
    config = ServerConfig(port=0, roots=(root,), workers=2)
    with ServerThread(config) as srv:
        yield srv
