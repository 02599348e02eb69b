"""The clips job kind with the real vision pipeline: a generated video with a known trajectory, submitted over
OSC, gives the same WAV bytes as calling the clip use case directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereofoley.config import preset
from stereofoley.transport.client import OscClient

from .test_server import collect, submit

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

    # The same clip through the clip use case directly (with the job's options) gives the same bytes.
    from stereofoley.jobs import parse_job
    from stereofoley.usecases.clip import render_clip_files, request_for_media

    parsed = parse_job(job)
    request = request_for_media(video, start_s=0.5, end_s=1.5)
    direct = render_clip_files(request, parsed.options, root / "direct.wav")
    assert Path(result["wav"]).read_bytes() == direct.wav.read_bytes()
    assert request.n_samples == 48000 and parsed.options.settings == preset("natural")

    # The car moves left to right: its pan curve rises, and its stem exists.
    objects = result["objects"]
    assert objects and all(Path(o["source_wav"]).is_file() for o in objects)
    pan = np.array(objects[0]["curves"]["pan"])
    assert pan[0, 0] >= 0 and pan[-1, 0] <= 1.0 + 1e-9
    assert pan[-1, 1] > pan[0, 1] + 0.2, pan
