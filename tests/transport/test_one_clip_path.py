"""One clip, one path: `stereofoley clip`, a one-clip `stereofoley render` and an OSC clips job give byte-identical
WAVs (mix and stems) for the same clip and options, because all three call the same use case."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile as sf

from stereofoley.cli import main
from stereofoley.evaluation import synthetic
from stereofoley.transport.client import OscClient

from .test_server import collect, submit

OPTIONS = ["--detector", "motion", "--no-cache", "--sources", "synth", "--seed", "3"]


def one_clip_timeline(video: Path, path: Path, frames: int = 50, rate: int = 25) -> Path:
    span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate))
    clip = otio.schema.Clip(name="car", media_reference=otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(video)), available_range=span), source_range=span)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    otio.adapters.write_to_file(otio.schema.Timeline(name="one", tracks=[track]), str(path))
    return path


def test_clip_render_and_osc_job_write_the_same_bytes(server, root, capsys):
    video = root / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=Fraction(25)), video)

    assert main(["clip", str(video), "--start", "0", "--end", "2", "-o", str(root / "cli" / "car.wav"), *OPTIONS,
                 "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)

    timeline = one_clip_timeline(video, root / "one.otio")
    assert main(["render", str(timeline), "-o", str(root / "render"), *OPTIONS, "--json"]) == 0
    (rendered,) = json.loads(capsys.readouterr().out)["clips"]

    job = {"version": 1, "kind": "clips", "out_dir": str(root / "job"),
           "clips": [{"id": "car", "media": str(video), "start_s": 0.0, "end_s": 2.0, "name": "car"}],
           "options": {"detector": "motion", "cache": False, "sources": "synth", "seed": 3}}
    with OscClient(*server.address) as client:
        job_id = submit(client, job)
        collect(client, {job_id}, timeout_s=180)
        status = client.results(job_id)
    assert status["state"] == "done", status
    (from_job,) = status["results"]

    wavs = [Path(r["wav"]) for r in (cli, rendered, from_job)]
    assert len({p.read_bytes() for p in wavs}) == 1, [p.stat().st_size for p in wavs]
    audio, rate = sf.read(str(wavs[0]), always_2d=True)
    assert rate == 48000 and audio.shape == (96000, 2) and np.abs(audio).max() > 1e-3  # a real render, not silence
    stems = [[Path(o["source_wav"]).read_bytes() for o in r["objects"]] for r in (cli, rendered, from_job)]
    assert stems[0] and stems[0] == stems[1] == stems[2]
    curves = [[o["curves"] for o in r["objects"]] for r in (cli, rendered, from_job)]
    assert curves[0] == curves[1] == curves[2]
