"""End to end on this machine: fake Resolve → the real engine (`stereofoley send JOB --local`, a child process the
installed Scripts-menu script starts) → `timeline` job on the OTIO the fake exported → status file → the script
places the result on a new stereo audio track, frame-exact. Nothing on the engine side is faked.
"""

from __future__ import annotations

import json
import math
import runpy
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.evaluation import synthetic
from stereofoley.install import install
from stereofoley.audio import read_bwf_time_reference

from . import fake_resolve as fr
from .resolve_lua import LuaScript

# The real engine CLI, run in the child process exactly as the script's argv asks, plus --local: in process, so a
# `stereofoley serve` another program left on the default port cannot take the job.
LOCAL_ENGINE = [sys.executable, "-c", "import sys; from stereofoley import cli; sys.exit(cli.main(sys.argv[1:] + ['--local']))"]


@pytest.mark.parametrize("language", ["py", "lua"])
@pytest.mark.parametrize("rate, fps, start", [
    (25, Fraction(25), 90000),  # 01:00:00:00
    (29.97, Fraction(30000, 1001), 107892),  # 01:00:00;00 drop-frame: Resolve states the rate as "29.97"
])
def test_resolve_script_to_real_engine_timeline_job_and_back_frame_exact(tmp_path, monkeypatch, rate, fps, start, language):
    video = tmp_path / "media" / "street.mp4"
    video.parent.mkdir()
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=fps), video)

    # V1: a 13-frame gap, "street" (not selected), then "car" (selected): media frames 10..40 of the same file.
    street = fr.TimelineItem("street", start + 13, 25, str(video))
    car = fr.TimelineItem("car", start + 38, 30, str(video), offset=10)
    timeline = fr.Timeline("Edit 1", rate, start, [[street, car]], selected=[car])
    resolve = fr.Resolve(fr.Project(timeline))

    # Installed as a user would (`stereofoley install resolve`), then the config edited as a user may.
    root, _ = install("resolve", os_name="linux", prefix=tmp_path / "home", engine=LOCAL_ENGINE)
    script = root / "Utility" / f"StereoFoley_Send_selected_clips.{language}"
    config_path = root / "Utility" / "stereofoley_config.json"
    config = json.loads(config_path.read_text())
    assert config == {"engine": LOCAL_ENGINE}
    config.update(detector="motion", work_dir=str(tmp_path / "work"), poll_interval_s=0.05, timeout_s=120.0)
    config_path.write_text(json.dumps(config))

    monkeypatch.delenv("STEREOFOLEY_ENGINE", raising=False)
    if language == "py":
        monkeypatch.setitem(sys.modules, "DaVinciResolveScript", fr.module_for(resolve))
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(script), run_name="__main__")
        code = exit_info.value.code
    else:  # the installed Lua file as Resolve's Scripts menu runs it: its main, with the global Resolve()
        lua = LuaScript(script)
        lua.set_resolve(resolve)
        code = lua.main(script_dir=script.parent)
    (work,) = (tmp_path / "work").glob("send-*")
    status = json.loads((work / "status.json").read_text())
    assert code == 0, status

    # The export and the job the script wrote.
    assert [c for c in timeline.calls if c[0] == "Export"] == [("Export", str(work / "timeline.otio"), resolve.EXPORT_OTIO, resolve.EXPORT_NONE)]
    exported = otio.adapters.read_from_file(str(work / "timeline.otio"))
    assert exported.global_start_time.to_frames() == start
    job = json.loads((work / "job.json").read_text())
    assert job == {
        "version": 1, "kind": "timeline", "timeline": str(work / "timeline.otio"), "out_dir": str(work / "render"),
        "select": {"clips": ["car"], "tracks": ["V1"], "range_s": [38 / float(fps), 68 / float(fps)]},
        "options": {"sources": "synth", "detector": "motion", "preset": "natural", "stems": False},
    }

    # The engine rendered the selected clip only, at the timeline's times.
    assert status["state"] == "done" and not status.get("skipped")
    report = status["report"]
    (clip,) = report["clips"]
    (result,) = status["results"]
    assert clip["name"] == "car" and result["id"] == clip["id"] and result["wav"] == clip["wav"]
    assert clip["record_start_s"] == pytest.approx(float(38 / fps), abs=1e-12)
    assert clip["record_start_frame"] == start + 38 and clip["record_duration_frames"] == 30 and clip["rate"] == rate  # as the timeline states it
    assert clip["media"] == str(video) and (clip["media_start_s"], clip["media_end_s"]) == pytest.approx((float(10 / fps), float(40 / fps)), abs=1e-9)
    assert result["record_start_frame"] == start + 38 and result["duration_s"] == pytest.approx(float(30 / fps), abs=1e-12)
    assert clip["objects"], "the motion detector found no object in the passing car"
    assert sorted(p.name for p in (work / "render").glob("*.wav")) == [Path(clip["wav"]).name]

    # The WAV: 48 kHz stereo, exactly the clip's record duration (30 frames: 57 600 samples at 25 fps, 48 048 at 29.97).
    info = soundfile.info(clip["wav"])
    assert (info.samplerate, info.channels, info.frames) == (SAMPLE_RATE_HZ, 2, 30 * SAMPLE_RATE_HZ / fps)
    audio, _ = soundfile.read(clip["wav"], dtype="float32", always_2d=True)
    # Its Broadcast Wave time reference is the record timecode (global start included) in samples since midnight.
    assert read_bwf_time_reference(clip["wav"]) == math.floor((start + 38) / fps * SAMPLE_RATE_HZ + Fraction(1, 2))
    assert 20 * np.log10(np.max(np.abs(audio))) > -40.0
    # The car drives left to right (its centre from x = 0.07-0.11 to 0.72-0.89 of the frame over the clip): the left
    # channel dominates the first quarter, the right the last, and the balance swings by several dB.
    quarter = len(audio) // 4
    balance_db = [10 * np.log10(np.sum(a[:, 1] ** 2) / np.sum(a[:, 0] ** 2)) for a in (audio[:quarter], audio[-quarter:])]
    assert balance_db[0] < -1.0 and balance_db[1] > 0.0 and balance_db[1] - balance_db[0] > 4.0, balance_db

    # Placement: a new stereo audio track, the WAV appended at the picture clip's absolute record frame.
    assert ("AddTrack", "audio", "stereo") in timeline.calls and timeline.audio_tracks == 2
    pool = resolve.project.media_pool
    assert [i.path for i in pool.imported] == [clip["wav"]]
    (infos,) = pool.appended
    assert infos == [{"mediaPoolItem": pool.imported[0], "startFrame": 0, "endFrame": 29, "mediaType": 2, "trackIndex": 2,
                      "recordFrame": start + 38}]
    (placed,) = infos
    assert placed["recordFrame"] == timeline.GetStartFrame() + round(clip["record_start_s"] * float(fps)) == car.GetStart()
    # endFrame is inclusive: frames startFrame..endFrame cover the WAV to the sample, and the picture clip exactly.
    frames = placed["endFrame"] - placed["startFrame"] + 1
    assert frames == car.GetDuration() and frames * SAMPLE_RATE_HZ == info.frames * fps
