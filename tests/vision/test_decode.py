"""Decoding: exact frame timestamps at any media rate (constant or variable), ranges, and clear errors."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile

from stereofoley import synthetic
from stereofoley.errors import InvalidMedia, InvalidParameter, MediaNotFound
from stereofoley.vision import analyze_video
from stereofoley.vision.decode import iter_frames, probe, resolve_range


def _tiny(tmp_path, fps, duration_s=2.0):
    scene = synthetic.passing_vehicle(width=96, height=54, fps=fps, duration_s=duration_s, background="flat")
    path = tmp_path / f"v{float(Fraction(fps)):.3f}.mp4"
    return path, synthetic.write_video(scene, path)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(60)])
@pytest.mark.parametrize("start_s, end_s", [(0.0, 2.0), (0.55, 1.45)])
def test_frames_carry_their_exact_media_times(tmp_path, fps, start_s, end_s):
    path, truth = _tiny(tmp_path, fps)
    info = probe(path)
    assert info.fps == fps and (info.width, info.height) == (96, 54)
    assert info.duration_s == pytest.approx(truth.frame_times_s.size / float(fps), abs=1e-3)
    times = np.array([f.time_s for f in iter_frames(path, start_s=start_s, end_s=end_s, analysis_fps=10.0)])
    period = 1.0 / float(fps)
    # every analysed time is one of the media's frame times, inside the range
    nearest = np.abs(times[:, None] - truth.frame_times_s[None, :]).min(axis=1)
    assert nearest.max() < 1e-3
    assert times[0] >= start_s - period / 2 and times[-1] < end_s - period / 2
    # and they follow the 10 fps grid to within one media frame, without drift
    grid = start_s + np.arange(times.size) * 0.1
    assert np.abs(times - grid).max() <= period + 1e-6
    assert times.size == pytest.approx((end_s - start_s) * 10, abs=1)


def test_variable_frame_rate_uses_timestamps(tmp_path):
    pts_ms = np.cumsum([0, 40, 40, 20, 60, 33, 100, 40, 40, 17, 17, 17, 50, 40, 200, 40, 40, 40])
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, pts in enumerate(pts_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 10, np.uint8), format="bgr24")
            frame.pts, frame.time_base = int(pts), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    every = [f.time_s for f in iter_frames(path, start_s=0.0, end_s=1.0, analysis_fps=240.0)]
    np.testing.assert_allclose(every, pts_ms / 1000.0, atol=1e-9)
    sparse = np.array([f.time_s for f in iter_frames(path, start_s=0.0, end_s=1.0, analysis_fps=10.0)])
    assert set(np.round(sparse, 3)) <= set(np.round(pts_ms / 1000.0, 3))
    assert np.all(np.diff(sparse) >= 0.07)  # about 0.1 s apart, never two frames for one grid step


def test_frames_are_downscaled(tmp_path):
    path, _ = _tiny(tmp_path, 25, duration_s=0.5)
    frame = next(iter_frames(path, start_s=0.0, end_s=0.5, analysis_fps=10.0, max_width=48))
    assert frame.image.shape == (28, 48, 3) and frame.image.dtype == np.uint8


# ----------------------------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def good_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.mp4"
    synthetic.write_video(synthetic.passing_vehicle(width=96, height=54, duration_s=2.0), path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(MediaNotFound, match="nope.mp4"):
        analyze_video(tmp_path / "nope.mp4", detector="motion")


def test_not_media(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(InvalidMedia, match="noise.mp4"):
        analyze_video(path, detector="motion")


def test_truncated_file(tmp_path, good_video):
    data = good_video.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidMedia, match="truncated.mp4"):
        analyze_video(path, detector="motion")


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.wav"
    soundfile.write(path, np.zeros(4800, dtype=np.float32), 48000)
    with pytest.raises(InvalidMedia, match="sound.wav.*no video stream"):
        analyze_video(path, detector="motion")


@pytest.mark.parametrize(
    "start_s, end_s, message",
    [
        (1.0, 1.0, "empty"),
        (1.5, 0.5, "empty"),
        (-0.5, 1.0, "before the start"),
        (2.5, None, "past the end"),
        (0.5, 3.0, "runs past the end"),
        (float("nan"), 1.0, "not finite"),
    ],
)
def test_bad_ranges_name_file_and_range(good_video, start_s, end_s, message):
    with pytest.raises(InvalidParameter, match=message) as info:
        analyze_video(good_video, start_s=start_s, end_s=end_s, detector="motion")
    assert "good.mp4" in str(info.value)


def test_range_may_end_one_frame_late(good_video):
    info = probe(good_video)
    assert resolve_range(info, 0.0, info.duration_s + 0.02) == (0.0, info.duration_s + 0.02)
