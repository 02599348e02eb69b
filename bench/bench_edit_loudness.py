"""What edit-wide loudness costs: one timeline render with loudness_scope "clip" (each clip normalised while in
memory) against "edit" (clips written without gain, their BS.1770 gating blocks kept, then one gain applied to
every mix, stem and diffuse stem: one read and one write per file, no second render).

Prints, from one run on the same timeline (N_CLIPS clips of CLIP_S seconds, two moving objects each, natural
preset, the pipeline's pink-noise sources, the engine's own mixer): both totals, their ratio, the post-pass's
share, and what the edit scope keeps in memory between clips (gating blocks, bytes per clip-second).
Run: PYTHONPATH=engine:adapters .venv/bin/python bench/bench_edit_loudness.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio

from stereofoley.options import RenderOptions
from stereofoley.spatial.mix import SoundObject, render_parts
from stereofoley.spatial.trajectory import Trajectory
from stereofoley.usecases import resume, timeline as timeline_usecase
from stereofoley.usecases.clip import ClipMix, neutral_source

N_CLIPS = 12
CLIP_S = 5.0
RATE = 24


def make_video(path: Path, frames: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), k % 256, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def build(folder: Path) -> Path:
    frames = int(CLIP_S * RATE)
    video = make_video(folder / "shot.mp4", frames + RATE)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for k in range(N_CLIPS):
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(video)),
                                            available_range=otio.opentime.TimeRange(
                                                otio.opentime.RationalTime(0, RATE),
                                                otio.opentime.RationalTime(frames + RATE, RATE)))
        track.append(otio.schema.Clip(name=f"shot{k}", media_reference=ref, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(frames, RATE))))
    path = folder / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="bench", tracks=[track]), str(path))
    return path


def mixer(request, options, progress=None):
    k = int(request.clip_id.split(".")[-1])
    t = np.linspace(0.0, request.n_samples / 48000, 9)
    objects = []
    for j in range(2):
        fake = type("T", (), {"track_id": 10 * k + j, "class_name": "car"})()
        trajectory = Trajectory(times_s=t, pan=np.linspace(-0.8, 0.8, 9) * (1 - 2 * j),
                                distance_m=np.linspace(2 + 3 * k, 20, 9), gain_db=np.zeros(9))
        objects.append(SoundObject(f"car-{fake.track_id}", neutral_source(fake, request.n_samples), trajectory,
                                   class_name="car", track_id=fake.track_id))
    parts = render_parts(objects, options.settings, request.n_samples)
    return ClipMix(parts.stereo, tuple(objects), None, "bench", stems=parts.stems, diffuse=parts.diffuse)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp))
        totals = {}
        post = {"s": 0.0}
        original = resume.apply_edit_loudness  # what render_timeline reaches (through usecases/resume.py)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                post["s"] += time.perf_counter() - t0

        resume.apply_edit_loudness = timed
        try:
            for scope in ("clip", "edit"):
                t0 = time.perf_counter()
                report = timeline_usecase.render_timeline(path, Path(tmp) / scope,
                                                          options=RenderOptions(loudness_scope=scope),
                                                          mixer=mixer, write_xml=False)
                totals[scope] = time.perf_counter() - t0
                assert len(report["clips"]) == N_CLIPS
        finally:
            resume.apply_edit_loudness = original
        if post["s"] <= 0.0:
            raise SystemExit("the edit-loudness step was not timed: render_timeline no longer reaches it this way")
    audio_s = N_CLIPS * CLIP_S
    print(f"{N_CLIPS} clips x {CLIP_S:g} s, 2 objects + diffuse stem each (audio {audio_s:g} s)")
    print(f"  loudness_scope=clip : {totals['clip']:.2f} s")
    print(f"  loudness_scope=edit : {totals['edit']:.2f} s  (ratio edit/clip {totals['edit'] / totals['clip']:.2f})")
    print(f"  edit post-pass      : {post['s']:.2f} s = {post['s'] / audio_s * 1000:.1f} ms per clip-second "
          f"({post['s'] / totals['edit'] * 100:.0f} % of the edit render)")
    print(f"  kept between clips  : gating blocks, {10 * 8} bytes per clip-second (the mix itself: "
          f"{2 * 48000 * 4} bytes per second)")


if __name__ == "__main__":
    main()
