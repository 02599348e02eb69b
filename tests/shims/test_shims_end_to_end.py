"""End to end on this machine: fake REAPER → the real engine (`stereofoley send`, a child process started by the
script's ExecProcess command line through a shell) → status file → the script places the results, frame-exact.

The job is a `spatialize` job (no vision needed); the Send script's `clips` jobs take the same path through
`send_job` and differ only in what the engine renders.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

from stereofoley import SAMPLE_RATE_HZ, cli
from stereofoley.audio import write_wav
from stereofoley.install import install

from .fake_reaper import PLUGIN_REAPER, FakeReaper

POINTS = [{"t": 0.0, "pan": -0.9, "distance_m": 1.5}, {"t": 0.6, "pan": 0.0, "distance_m": 4.0}, {"t": 1.25, "pan": 0.8, "distance_m": 9.0}]


def test_reaper_script_to_real_engine_and_back_frame_exact(tmp_path):
    n = int(1.25 * SAMPLE_RATE_HZ)
    source = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE_HZ)).astype(np.float32)
    write_wav(tmp_path / "source.wav", source[None, :], subtype="FLOAT")
    (tmp_path / "trajectory.json").write_text(json.dumps(POINTS))

    host = FakeReaper(tmp_path / "project", run_processes=True)
    host.extstate[("StereoFoley", "engine")] = f'"{sys.executable}" -m stereofoley.cli'
    video = host.add_track("Picture")
    a = host.add_media_item(video, str(tmp_path / "a.mp4"), position_s=2.5, length_s=1.25, name="door")
    b = host.add_media_item(video, str(tmp_path / "b.mp4"), position_s=7.0, length_s=0.625, playrate=2.0, name="steps")
    host.script_path = str(PLUGIN_REAPER / "StereoFoley_lib.lua")
    host.lua.execute(f"""
        local sf = dofile("{PLUGIN_REAPER / 'StereoFoley_lib.lua'}")
        local items = sf.selected_items()
        local work_dir, sep = sf.work_dir()
        local job = {{ version = 1, kind = "spatialize", out_dir = work_dir .. sep .. "render", items = sf.array(),
                       options = {{ preset = "dry" }} }}
        for i, it in ipairs(items) do
          job.items[i] = {{ id = it.id, source = "{tmp_path / 'source.wav'}", trajectory = "{tmp_path / 'trajectory.json'}", name = it.name }}
        end
        sf.send_job(job, items, "stereo", work_dir, sep, function(m) reaper.ShowConsoleMsg(m) end)
    """)
    deadline = time.monotonic() + 45
    host.run_deferred(between=lambda: time.sleep(0.01) if time.monotonic() < deadline else None, tick_s=0.01, max_ticks=20_000)
    (process,) = host.processes
    assert process.wait(timeout=30) == 0, process.stderr.read().decode()
    log = "".join(host.console)
    assert "placed 2 of 2 result(s) (done)" in log, log

    # What the engine wrote is exactly what `stereofoley spatialize` makes of the same input.
    cli.main(["spatialize", str(tmp_path / "source.wav"), "-t", str(tmp_path / "trajectory.json"), "-o", str(tmp_path / "ref.wav"), "--preset", "dry"])
    reference, _ = soundfile.read(str(tmp_path / "ref.wav"), dtype="float32")

    placed = sorted(host.track_named("StereoFoley").items, key=lambda i: i.info["D_POSITION"])
    assert len(placed) == 2
    for item, src in zip(placed, (a, b)):
        rate = src.takes[0].info["D_PLAYRATE"]
        wav = Path(item.takes[0].source.filename)
        audio, sr = soundfile.read(str(wav), dtype="float32")
        assert sr == SAMPLE_RATE_HZ and audio.shape == (n, 2)
        np.testing.assert_array_equal(audio, reference)
        # Frame-exact: starts on the picture item's first sample, fills it to the sample at its play rate.
        assert item.info["D_POSITION"] == src.info["D_POSITION"]
        assert round(item.info["D_POSITION"] * SAMPLE_RATE_HZ) == item.info["D_POSITION"] * SAMPLE_RATE_HZ
        assert item.info["D_LENGTH"] * rate * SAMPLE_RATE_HZ == n
        assert item.info["D_LENGTH"] == src.info["D_LENGTH"]
        assert item.takes[0].info["D_PLAYRATE"] == rate and item.takes[0].info["D_STARTOFFS"] == 0.0


def test_send_selected_items_with_a_real_clips_job(tmp_path):
    """The installed Send script, unchanged: a generated video of a car passing left to right, the real engine
    (vision with the motion detector), results placed under the item; object tracks per the stems' format."""
    from stereofoley.evaluation import synthetic

    video = tmp_path / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=12), video)
    # Installed as a user would (`stereofoley install reaper`): the engine command comes from its config file.
    root, _ = install("reaper", os_name="linux", prefix=tmp_path / "home")
    script = root / "Scripts" / "StereoFoley" / "StereoFoley_Send_selected_items.lua"
    host = FakeReaper(tmp_path / "project", run_processes=True)
    host.extstate.update({("StereoFoley", "detector"): "motion", ("StereoFoley", "placement"): "objects"})
    item = host.add_media_item(host.add_track("Picture"), str(video), position_s=4.0, length_s=1.0, offset_s=0.5, name="car")
    host.script_path = str(script)
    host.lua.execute(script.read_text())
    assert shlex.split(host.exec_commands[0])[:3] == [sys.executable, "-m", "stereofoley.cli"]
    deadline = time.monotonic() + 120
    host.run_deferred(between=lambda: time.sleep(0.01) if time.monotonic() < deadline else None, tick_s=0.01, max_ticks=100_000)
    (process,) = host.processes
    assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    log = "".join(host.console)
    assert "placed 1 of 1 result(s) (done)" in log, log

    (placed,) = host.track_named("StereoFoley").items
    assert placed.info["D_POSITION"] == 4.0 and placed.info["D_LENGTH"] == 1.0
    assert soundfile.info(placed.takes[0].source.filename).frames == SAMPLE_RATE_HZ  # 1.0 s, to the sample
    status = json.loads(next((tmp_path / "project" / "StereoFoley").glob("status-*.json")).read_text())
    (result,) = status["results"]
    assert result["id"] == item.guid and result["objects"]
    for obj in result["objects"]:
        track = host.track_named(f"StereoFoley: {obj['name']}")
        (stem_item,) = track.items
        assert stem_item.info["D_POSITION"] == 4.0 and stem_item.takes[0].source.filename == obj["source_wav"]
        # The engine's object files are the mono sources, so the script writes editable envelopes on them.
        assert soundfile.info(obj["source_wav"]).channels == 1
        pan = np.array(obj["curves"]["pan"])
        np.testing.assert_allclose([p[1] for p in track.envelopes["PANENV2"].points], -pan[:, 1], atol=1e-12)
