"""`stereofoley spatialize` and `stereofoley demo` end to end, including bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stereofoley.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stereofoley.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def source(tmp_path, rng) -> Path:
    path = tmp_path / "src.wav"
    sf.write(path, (0.2 * rng.standard_normal(44100)).astype(np.float32), 44100)
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_spatialize_writes_48k_stereo_of_the_source_duration(tmp_path, source, capsys):
    traj = write_json(tmp_path / "t.json", [{"t": 0, "x": 0.1, "distance_m": 2}, {"t": 1, "x": 0.9, "distance_m": 4}])
    out = tmp_path / "out.wav"
    assert main(["spatialize", str(source), "--trajectory", str(traj), "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    data, rate = sf.read(out, always_2d=True)
    assert rate == 48000 and data.shape == (48000, 2) == (summary["samples"], summary["channels"])
    assert summary["latency_samples"] == 0
    first, last = data[:4800], data[-4800:]
    assert np.mean(first[:, 0] ** 2) > 4 * np.mean(first[:, 1] ** 2)  # starts left
    assert np.mean(last[:, 1] ** 2) > 4 * np.mean(last[:, 0] ** 2)  # ends right
    assert np.max(np.abs(data)) <= 10 ** (-1 / 20)


BAD_TRAJECTORIES = {
    "empty": ([], "empty"),
    "not increasing": ([{"t": 0, "pan": 0}, {"t": 0, "pan": 0.5}], "times must increase"),
    "pan out of range": ([{"t": 0, "pan": 1.5}], "pan=1.5 is outside"),
    "x out of range": ([{"t": 0, "x": -0.2}], "x=-0.2 is outside"),
    "negative distance": ([{"t": 0, "pan": 0, "distance_m": -1}], "distance_m"),
    "no position": ([{"t": 0}], "needs 'pan'"),
    "not a number": ([{"t": "soon", "pan": 0}], "not a finite number"),
}


@pytest.mark.parametrize("case", list(BAD_TRAJECTORIES))
def test_bad_trajectory_is_a_clear_error_and_writes_nothing(tmp_path, source, case):
    points, message = BAD_TRAJECTORIES[case]
    traj = write_json(tmp_path / "t.json", points)
    out = tmp_path / "out.wav"
    result = run_cli("spatialize", str(source), "-t", str(traj), "-o", str(out))
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


def test_bad_sources_and_presets_are_clear_errors(tmp_path, source):
    traj = write_json(tmp_path / "t.json", [{"t": 0, "pan": 0}])
    (tmp_path / "text.wav").write_text("hello")
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.inf, 0.0], dtype=np.float32), 48000, subtype="FLOAT")
    cases = [
        ((str(tmp_path / "missing.wav"), "-t", str(traj)), "not found"),
        ((str(tmp_path / "text.wav"), "-t", str(traj)), "not a readable audio file"),
        ((str(tmp_path / "nan.wav"), "-t", str(traj)), "NaN/inf"),
        ((str(source), "-t", str(tmp_path / "nope.json")), "trajectory file not found"),
        ((str(source), "-t", str(traj), "--preset", "loud"), "unknown preset 'loud'"),
        ((str(source), "-t", str(traj), "--hfov-deg", "400"), "hfov_deg=400.0 is outside"),
    ]
    for args, message in cases:
        out = tmp_path / "out.wav"
        result = run_cli("spatialize", *args, "-o", str(out))
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr, (message, result.stderr)
        assert not out.exists()


def test_existing_output_is_never_overwritten_without_the_flag(tmp_path, source):
    traj = write_json(tmp_path / "t.json", [{"t": 0, "pan": 0}])
    out = tmp_path / "mine.wav"
    out.write_bytes(b"the user's file")
    result = run_cli("spatialize", str(source), "-t", str(traj), "-o", str(out))
    assert result.returncode == 1 and "already exists" in result.stderr
    assert out.read_bytes() == b"the user's file"
    assert run_cli("spatialize", str(source), "-t", str(traj), "-o", str(out), "--overwrite").returncode == 0
    assert sf.info(out).samplerate == 48000


def test_every_subcommand_has_help():
    from stereofoley.cli import COMMANDS

    for name in COMMANDS:
        result = run_cli(name, "--help")
        assert result.returncode == 0 and "usage: stereofoley" in result.stdout, name


def test_usage_errors_exit_2():
    assert run_cli("spatialize").returncode == 2
    assert run_cli("no-such-command").returncode == 2


def test_demo_writes_48k_stereo_files(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path / "demo"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    mix = sf.info(summary["mix"])
    assert (mix.samplerate, mix.channels) == (48000, 2) and mix.frames == summary["samples"] > 0
    for path in summary["files"]:
        assert Path(path).is_file()
    data, _ = sf.read(summary["mix"])
    assert 0 < np.max(np.abs(data)) <= 10 ** (-1 / 20)
