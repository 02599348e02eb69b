"""Decoding: exact frame timestamps at any media rate (constant or variable), ranges, and clear errors."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile

from stereofoley.evaluation import synthetic
from stereofoley.errors import InvalidMedia, InvalidParameter, MediaNotFound
from stereofoley.vision import analyze_video
from stereofoley.vision import decode
from stereofoley.vision.decode import iter_frames, prefetched, probe, resolve_range


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


STRUCTURES = {  # x264 settings giving each kind of stream whose frames the decoder can spare
    "b-frames": "bframes=3:b-adapt=0:b-pyramid=none:scenecut=0:keyint=48",  # I B B B P: nothing refers to a B
    "ippp-gop5": "bframes=0:scenecut=0:keyint=5:min-keyint=5",  # no reordering, a random-access point every 5
    "all-intra": "keyint=1",  # every frame a keyframe (like ProRes, DNxHR, MJPEG)
}


def _encoded(path, fps, n_frames, structure):
    """A moving texture as H.264 of the given structure; returns (every media time, keyframe times, full-decode
    images by time)."""
    base = np.random.default_rng(1).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 128, 72, "yuv420p"
        stream.options = {"preset": "veryfast", "x264-params": STRUCTURES[structure]}
        for i in range(n_frames):
            image = np.roll(base, 2 * i, axis=1)  # every frame differs
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keyframes = np.array(sorted(float(p.pts * stream.time_base) for p in container.demux(stream) if p.size and p.is_keyframe))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = {float(f.pts * stream.time_base): f.to_ndarray(format="bgr24", width=64, height=36, interpolation="AREA")
                  for f in container.decode(stream)}  # every frame, decoded with no skipping
    return np.array(sorted(frames)), keyframes, frames


@pytest.mark.parametrize("structure", sorted(STRUCTURES))
@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25)])
@pytest.mark.parametrize("start_s, end_s, analysis_fps", [(0.0, 3.0, 10.0), (0.55, 2.45, 10.0), (0.3, 2.8, 4.0)])
def test_skipped_frames_change_no_analysed_frame(tmp_path, monkeypatch, structure, fps, start_s, end_s, analysis_fps):
    path = tmp_path / "v.mp4"
    media_times, keyframes, reference = _encoded(path, fps, int(3 * fps) + 1, structure)
    decoded, real = [], decode._decoded

    def counting(*args, **kwargs):
        for item in real(*args, **kwargs):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(decode, "_decoded", counting)
    frames = list(iter_frames(path, start_s=start_s, end_s=end_s, analysis_fps=analysis_fps, max_width=64))
    times = np.array([f.time_s for f in frames])
    step, period = 1.0 / analysis_fps, 1.0 / float(fps)
    # the analysed frames are exactly the media frames nearest the grid, one per grid point, in the range
    grid = start_s + np.arange(times.size) * step
    distance = np.round(np.abs(media_times[None, :] - grid[:, None]), 9)
    nearest = media_times[distance.shape[1] - 1 - np.argmin(distance[:, ::-1], axis=1)]  # a tie: the later frame
    np.testing.assert_allclose(times, nearest, atol=1e-9)
    assert np.abs(times - grid).max() <= min(step / 2, period / 2) + 1e-9
    assert times[0] >= start_s - period / 2 and times[-1] < end_s - period / 2
    assert times.size == int(np.ceil((end_s - start_s) * analysis_fps - 1e-9))
    # their pixels are those of a full decode
    for frame in frames:
        np.testing.assert_array_equal(frame.image, reference[frame.time_s])
    # and libavcodec decoded only what they need
    if structure == "b-frames":  # the B-frames no grid point needs are skipped (3 in 4 frames are B-frames)
        in_span = np.count_nonzero((media_times >= min(decoded) - 1e-6) & (media_times <= max(decoded) + 1e-6))
        assert len(decoded) <= 0.8 * in_span
    else:  # no reordering: from the keyframe before each needed frame up to it, nothing else
        half = period / 2
        grid_all = start_s + np.arange(int(end_s * analysis_fps) + 2) * step
        in_range = media_times[(media_times >= start_s - half) & (media_times < end_s - half)]
        needed = in_range[np.abs(in_range[:, None] - grid_all[None, :]).min(axis=1) <= half + 1e-6]
        expected = {t for n in needed for t in media_times if keyframes[keyframes <= n + 1e-9].max() - 1e-9 <= t <= n + 1e-9}
        assert sorted(decoded) == sorted(expected)
        if structure == "all-intra":  # just the frames at the grid (both, where a grid point falls between two)
            assert len(decoded) <= 1.5 * times.size


def test_prefetched_passes_items_errors_and_stops_its_source():
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise InvalidMedia("broken at 0.04 s")

    with pytest.raises(InvalidMedia, match="broken"):
        list(prefetched(failing()))
    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    stream = prefetched(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # the consumer stops early: the worker ends and closes the source
    assert closed == [True]


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
