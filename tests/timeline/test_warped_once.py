"""Warped and frozen clips go through each step once: one analysis, one sound per object at the record length."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from stereofoley.evaluation import synthetic
from stereofoley.options import RenderOptions
from stereofoley.timeline import ClipRequest
from stereofoley.usecases import clip as clip_usecase


@pytest.fixture(scope="module")
def car_video(tmp_path_factory) -> Path:
    video = tmp_path_factory.mktemp("warp") / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=Fraction(25)), video)
    return video


@pytest.mark.parametrize("speed, media_s, record_samples", [(2.0, (0.0, 2.0), 48000), (0.0, (1.6, 1.64), 24000)])
def test_sources_are_made_once_at_the_record_length(car_video, monkeypatch, speed, media_s, record_samples):
    analyses, calls = [], []
    real_analyze = clip_usecase.analyze_video

    def counting_analyze(*args, **kwargs):
        analyses.append(kwargs.get("start_s"))
        return real_analyze(*args, **kwargs)

    def source_for(track, n):
        calls.append((track.track_id, n))
        return np.full(n, 0.01, dtype=np.float32)

    monkeypatch.setattr(clip_usecase, "analyze_video", counting_analyze)
    request = ClipRequest(clip_id="c", name="car", media_path=car_video, media_start_s=media_s[0],
                          media_end_s=media_s[1], n_samples=record_samples, speed=speed)
    mix = clip_usecase.mix_clip(request, RenderOptions(detector="motion", cache=False), source_for=source_for)
    assert len(analyses) == 1
    assert mix.objects and len(calls) == len(mix.objects)  # one sound per object, never a second pass
    assert {n for _, n in calls} == {record_samples} and mix.stereo.shape == (2, record_samples)
    assert mix.analysis is None  # its clock is the media's, not the record's: no tracks.json beside the WAV
    for obj in mix.objects:
        if speed == 0:  # a freeze holds the placement of the frozen instant
            assert np.ptp(obj.trajectory.pan) == 0.0
        else:  # 2 s of media in 1 s of record: the trajectory is compressed to the record clock
            assert obj.trajectory.times_s[-1] <= 1.0 + 0.4
