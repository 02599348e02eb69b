"""A 1,000-hour gap in an MKV (issue 17, defect 7c): frames at 0..2 s, then one frame 1,000 hours later.

Before the fix the analysis walked the gap one grid point at a time (36 million points at 10 fps: 197 s, then a
MemoryError). Now the grid jumps to the next frame: the walk is counted (a wrapper on `_Grid.advance` stops a
walk of more than 10,000 steps, so the old code fails instead of hanging), memory is bounded with tracemalloc, and
no frame is invented in the gap.
"""

from __future__ import annotations

import json
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from stereofoley import cli
from stereofoley.vision import analyze_video
from stereofoley.vision import decode
from stereofoley.vision.decode import iter_frames, probe

FPS = 24
GAP_PTS = 1000 * 3600 * FPS  # the last frame's pts: 1,000 hours
MAX_STEPS = 10_000


def write_gap_mkv(path: Path) -> list[float]:
    """Frames at 0, 1/24, ..., 2 s, then one at 1,000 h; returns their times."""
    rng = np.random.default_rng(2)
    pts = list(range(2 * FPS + 1)) + [GAP_PTS]
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        for p in pts:
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), format="bgr24")
            frame.pts, frame.time_base = p, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return [p / FPS for p in pts]


@pytest.fixture(scope="module")
def gap_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("gap") / "gap.mkv"
    return path, write_gap_mkv(path)


@pytest.fixture
def counted_grid(monkeypatch):
    """Counts grid steps; a walk through the gap point by point is stopped (and fails the test)."""
    steps = {"n": 0}
    real = decode._Grid.advance

    def advance(self):
        steps["n"] += 1
        if steps["n"] > MAX_STEPS:
            raise AssertionError(f"the analysis grid walked more than {MAX_STEPS} steps")
        real(self)

    monkeypatch.setattr(decode._Grid, "advance", advance)
    return steps


def test_the_gap_is_jumped_not_walked_and_no_frame_is_invented(gap_video, counted_grid):
    path, times = gap_video
    info = probe(path)
    assert info.duration_s >= 1000 * 3600
    tracemalloc.start()
    try:
        frames = [f.time_s for f in iter_frames(path, start_s=0.0, end_s=info.duration_s, analysis_fps=10)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counted_grid["n"] < 100 and peak < 20e6
    real = {round(t, 3) for t in times}
    assert all(round(t, 3) in real for t in frames)  # every frame analysed is a frame of the file
    assert frames[-1] == pytest.approx(GAP_PTS / FPS) and frames[-2] <= 2.0 + 1e-6  # nothing in the gap
    assert len(frames) == 22  # 0, 0.1, ..., 2.0 at 10 fps, then the one frame after the gap


def test_a_range_reaching_into_the_gap_is_partial_and_one_wholly_past_the_picture_refused(gap_video, counted_grid):
    path, _ = gap_video
    partial = analyze_video(path, detector="motion", start_s=0.0, end_s=3.0)
    assert abs(partial.analysed_fraction - 2.04 / 3.0) <= 0.1  # picture from 0 to 2 s + one frame
    with pytest.raises(Exception, match="MIN_ANALYSED_FRACTION") as refused:
        analyze_video(path, detector="motion", start_s=1.0, end_s=3600.0)
    assert "gap.mkv" in str(refused.value) and "0.0 %" in str(refused.value)
    assert counted_grid["n"] < MAX_STEPS


def test_timeline_clips_over_and_inside_the_gap_are_refused_quickly_in_one_line(gap_video, tmp_path, capsys,
                                                                             counted_grid):
    path, _ = gap_video
    tl = otio.schema.Timeline(name="gap")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    ranges = {"picture": (0, 2 * FPS), "inside": (10 * FPS, 10 * FPS), "hour": (FPS, 3600 * FPS),
              "whole": (0, GAP_PTS + 1)}
    for name, (start, frames) in ranges.items():
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=str(path)),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, FPS),
                                                 otio.opentime.RationalTime(frames, FPS))))
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(tmp_path / "gap.otio"))
    tracemalloc.start()
    try:
        code = cli.main(["render", str(tmp_path / "gap.otio"), "-o", str(tmp_path / "out"), "--no-cache",
                         "--detector", "motion", "--sources", "neutral", "--json"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 3
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["clips"]] == ["picture"]
    reasons = {s["name"]: s["reason"] for s in report["skipped"]}
    assert "no video frames in [10.000, 20.000)" in reasons["inside"]
    assert "MIN_ANALYSED_FRACTION" in reasons["hour"] and "gap.mkv" in reasons["hour"]
    assert "MAX_CLIP_S" in reasons["whole"] and "1000.0 h" in reasons["whole"]
    assert peak < 200e6  # no hour of audio was made for a clip with no picture
