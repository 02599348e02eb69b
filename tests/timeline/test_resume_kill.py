"""Kill and resume (issue 17): `stereofoley render` in a subprocess, on a three-clip edit of a real (tiny) video
with the real pipeline (motion detector, neutral sources), is SIGKILLed or SIGTERMed after its first clip is
finished; `render --resume` then keeps that clip (not rendered again: its progress line never shows, and in clip
scope its WAV keeps its inode and mtime), renders the other two, and every WAV equals a clean render's bytes.

The child is held at the start of its second clip (a wrapper around the real mixer that waits), so the signal
lands mid-render on every machine, however loaded; the resumed run is the plain CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from stereofoley import cli
from stereofoley.usecases.resume import record_path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'engine'}{os.pathsep}{ROOT / 'adapters'}"}
NAMES = ("one", "two", "three")

# The CLI, with the mixer held before every clip but the first: the held one touches GATE and waits.
HELD = """
import sys, time
from pathlib import Path
import stereofoley.usecases.clip as clip
real = clip.mix_clip
def held(request, options, progress=None):
    if request.name != "one":
        Path(sys.argv[1]).touch()
        time.sleep(300)
    return real(request, options, progress)
clip.mix_clip = held
from stereofoley.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def edit(tmp_path_factory) -> Path:
    from stereofoley.evaluation import synthetic

    folder = tmp_path_factory.mktemp("kill")
    video = folder / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=1.5, width=64, height=48, fps=Fraction(24)), video)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for k, name in enumerate(NAMES):  # three 0.5 s clips, each a different part of the car's pass
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=str(video)),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(12 * k, 24),
                                                 otio.opentime.RationalTime(12, 24))))
    path = folder / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(path))
    return path


def wavs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.wav"))}


@pytest.mark.parametrize("sig, scope", [(signal.SIGKILL, "clip"), (signal.SIGTERM, "edit")])
def test_a_killed_render_resumes_without_rendering_its_finished_clip_again(tmp_path, edit, sig, scope):
    argv = ["render", str(edit), "--detector", "motion", "--sources", "neutral", "--no-cache", "--no-aaf",
            "--loudness-scope", scope]
    assert cli.main([*argv, "-o", str(tmp_path / "clean")]) == 0
    clean = wavs(tmp_path / "clean")
    assert sum(1 for n in clean if "." not in n[:-4]) == 3  # three mixes (and their stems)

    out, gate = tmp_path / "out", tmp_path / "gate"
    child = subprocess.Popen([sys.executable, "-c", HELD, str(gate), *argv, "-o", str(out)], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not gate.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.exists(), child.stderr.read() if child.poll() is not None else "the child never reached clip 2"
        child.send_signal(sig)
        assert child.wait(30) == -sig
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    first = out / "one_0-0.wav"
    assert first.is_file() and record_path(first).is_file() and not (out / "two_0-1.wav").exists()
    assert not (out / "edit.stereofoley.otio").exists()
    before = os.stat(first)

    resumed = subprocess.run([sys.executable, "-m", "stereofoley.cli", *argv, "-o", str(out), "--resume"],
                             env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((out / "edit.stereofoley.json").read_text())
    assert report["resumed"] == ["0.0"] and report["rendered"] == ["0.1", "0.2"]
    progress = [line for line in resumed.stderr.splitlines() if ": " in line and "clip " in line]
    assert progress and not any(line.endswith(": one") for line in progress), resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert wavs(out) == clean
    if scope == "clip":
        after = os.stat(first)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (out / "edit.stereofoley.otio").is_file()
