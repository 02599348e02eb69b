"""The clips job kind with the real vision pipeline (branch `vision`): a generated video with a known trajectory,
submitted over OSC, gives the same WAV bytes as calling render_clip directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stereofoley.audio import write_wav
from stereofoley.config import preset
from stereofoley.transport.osc import PREFIX, OscClient

from .test_server import collect, submit

from stereofoley import pipeline
from stereofoley.evaluation import synthetic


def test_clips_job_over_osc_equals_render_clip(server, root):
    video = root / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=12), video)
    job = {"version": 1, "kind": "clips", "out_dir": str(root / "out"),
           "clips": [{"id": "car", "media": str(video), "start_s": 0.5, "end_s": 1.5, "name": "Car"}],
           "options": {"detector": "motion", "preset": "natural", "sources": "synth", "stems": True}}
    with OscClient(*server.address) as client:
        job_id = submit(client, job)
        messages = collect(client, {job_id}, timeout_s=120)
        status = client.results(job_id)
    assert status["state"] == "done", status
    progress = [m.args[2] for m in messages if m.address.endswith("progress")]
    assert progress == sorted(progress) and progress[-1] == 1.0
    result = status["results"][0]
    assert result["duration_s"] == pytest.approx(1.0)

    # The same clip through render_clip directly (with the same source provider the job used) gives the same bytes.
    from stereofoley.jobs import _source_for, parse_job

    item = parse_job(job).items[0]
    direct = pipeline.render_clip(video, start_s=0.5, end_s=1.5, detector="motion", settings=preset("natural"),
                                  source_for=_source_for(parse_job(job).options, item))
    ref = write_wav(root / "direct.wav", direct.stereo)
    assert Path(result["wav"]).read_bytes() == ref.read_bytes()
    assert direct.stereo.shape[1] == 48000

    # The car moves left to right: its pan curve rises, and its stem exists.
    objects = result["objects"]
    assert objects and all(Path(o["source_wav"]).is_file() for o in objects)
    pan = np.array(objects[0]["curves"]["pan"])
    assert pan[0, 0] >= 0 and pan[-1, 0] <= 1.0 + 1e-9
    assert pan[-1, 1] > pan[0, 1] + 0.2, pan
