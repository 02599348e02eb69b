"""What resumable renders cost and save: one timeline render of N_CLIPS clips (a cheap mixer, so the records'
share is an upper bound: the real pipeline analyses video and is far slower per clip), the time spent writing the
per-clip records (usecases/resume.py: one at each clip's end, two more around the edit's gain), then a `resume`
of the finished render (reads every record, mixes nothing) and a resume after the render stopped half-way.

Prints, from one run: the render's total, the records' share of it, the resume of a finished render against a
clean render, and the half-way resume against a clean render.
Run: PYTHONPATH=engine:adapters .venv/bin/python bench/bench_resume.py
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile as sf

from stereofoley.options import RenderOptions
from stereofoley.spatial.mix import SoundObject
from stereofoley.spatial.trajectory import Trajectory
from stereofoley.usecases import resume, timeline as timeline_usecase
from stereofoley.usecases.clip import ClipMix

N_CLIPS = 60
CLIP_S = 2.0


def mixer(request, options=None, progress=None):
    n = request.n_samples
    t = np.arange(n) / 48000
    source = (0.05 * np.sin(2 * np.pi * (200 + hash(request.clip_id) % 400) * t)).astype(np.float32)
    trajectory = Trajectory(times_s=np.linspace(0, n / 48000, 20), pan=np.linspace(-0.8, 0.8, 20),
                            distance_m=np.linspace(2, 6, 20), gain_db=np.zeros(20))
    return ClipMix(np.stack([source, 0.7 * source]), (SoundObject("thing", source, trajectory, class_name="thing"),))


class Stop(Exception):
    pass


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_resume_"))
    media = folder / "media.wav"
    sf.write(str(media), np.zeros(int(CLIP_S * 48000), np.float32), 48000)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for k in range(N_CLIPS):
        track.append(otio.schema.Clip(name=f"c{k}", media_reference=otio.schema.ExternalReference(target_url=str(media)),
                                      source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                           otio.opentime.RationalTime(int(CLIP_S * 24), 24))))
    edit = folder / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(edit))
    options = RenderOptions(sources="neutral")
    run = lambda out, opts, mix=mixer: timeline_usecase.render_timeline(edit, out, options=opts, mixer=mix,
                                                                       write_aaf=False)

    spent = [0.0]
    real_write = resume.write_record

    def timed_write(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real_write(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    resume.write_record = timed_write
    t0 = time.perf_counter()
    run(folder / "clean", options)
    clean_s = time.perf_counter() - t0
    resume.write_record = real_write

    t0 = time.perf_counter()
    report = run(folder / "clean", dataclasses.replace(options, resume=True))
    finished_s = time.perf_counter() - t0
    assert len(report["resumed"]) == N_CLIPS

    def half(request, options=None, progress=None):
        if int(request.name[1:]) >= N_CLIPS // 2:
            raise Stop
        return mixer(request, options, progress)

    try:
        run(folder / "half", options, half)
    except Stop:
        pass
    t0 = time.perf_counter()
    report = run(folder / "half", dataclasses.replace(options, resume=True))
    half_s = time.perf_counter() - t0
    assert len(report["resumed"]) == N_CLIPS // 2

    print(f"{N_CLIPS} clips of {CLIP_S} s, edit-scope loudness, cheap mixer")
    print(f"clean render: {clean_s:.2f} s; writing records: {spent[0]:.3f} s = {spent[0] / clean_s:.1%} of it")
    print(f"resume of the finished render: {finished_s:.2f} s = {finished_s / clean_s:.2f}x a clean render")
    print(f"resume after half the clips: {half_s:.2f} s = {half_s / clean_s:.2f}x a clean render")


if __name__ == "__main__":
    main()
