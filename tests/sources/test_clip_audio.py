"""Clip audio: the media's own sound, sample-aligned to the clip's source range, through PyAV."""

from __future__ import annotations

import av
import numpy as np
import pytest

from stereofoley.errors import InvalidParameter, MediaNotFound, SourceUnavailable
from stereofoley.sources import make_source_for
from stereofoley.sources.clip_audio import extract_clip_audio
from stereofoley.audio import resample

from .conftest import SR, make_track


def write_media(path, left, right, rate, *, video=True, codec="pcm_s16le"):
    """A container with a tiny video stream and a stereo audio stream holding exactly left/right."""
    with av.open(str(path), "w") as out:
        if video:
            vstream = out.add_stream("mpeg4", rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 32, 32, "yuv420p"
        astream = out.add_stream(codec, rate=rate)
        astream.layout = "stereo"
        interleaved = np.round(np.stack([left, right], axis=1) * 32767).astype(np.int16)
        block = 1024
        for start in range(0, interleaved.shape[0], block):
            chunk = np.ascontiguousarray(interleaved[start : start + block]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for packet in astream.encode(frame):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
        if video:
            for i in range(int(len(left) / rate * 10)):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 7 % 255, np.uint8), format="rgb24")
                frame.pts = i
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
    return path


def program(rate, seconds=3.0, seed=5):
    """Distinct noise in each channel, quantised to 16 bits like the file will hold."""
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, (2, int(seconds * rate)))
    return np.round(noise * 32767) / 32767


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])  # 1 ms timestamps (counted) and sample timestamps (seeked)
def test_extraction_is_sample_aligned_at_48k(tmp_path, suffix):
    left, right = program(SR)
    media = write_media(tmp_path / f"clip{suffix}", left, right, SR)
    start = 60_013  # 1.2503 s: not on a frame boundary of either stream
    n = int(0.6 * SR)
    got = extract_clip_audio(media, start / SR, n)
    want = ((left + right) / 2)[start : start + n]
    assert got.shape == (n,)
    assert np.max(np.abs(got - want)) < 1e-4  # identical up to float32 rounding: not one sample off
    shifted = ((left + right) / 2)[start + 1 : start + 1 + n]
    assert np.max(np.abs(got - shifted)) > 0.1  # and the test can tell a one-sample slip


def test_extraction_is_aligned_at_44k1(tmp_path):
    rate = 44_100
    left, right = program(rate, seconds=3.0)
    media = write_media(tmp_path / "clip.mov", left, right, rate)
    start_s, n = 1.5, int(0.8 * SR)
    got = extract_clip_audio(media, start_s, n)
    reference = resample(((left + right) / 2).astype(np.float32), rate)  # the whole file at 48 kHz
    want = reference[int(start_s * SR) : int(start_s * SR) + n]
    lags = np.arange(-5, 6)
    corr = [np.dot(got[10:-10], np.roll(want, lag)[10:-10]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0
    assert np.max(np.abs(got - want)) < 2e-3


def test_range_past_the_end_is_padded_with_silence(tmp_path):
    left, right = program(SR, seconds=1.0)
    media = write_media(tmp_path / "short.mkv", left, right, SR, video=False)
    got = extract_clip_audio(media, 0.5, SR)
    np.testing.assert_allclose(got[: SR // 2], ((left + right) / 2)[SR // 2 :], atol=1e-4)
    assert np.all(got[SR // 2 :] == 0.0)


def test_bad_media(tmp_path):
    with pytest.raises(MediaNotFound):
        extract_clip_audio(tmp_path / "missing.mov", 0.0, 100)
    silent_video = tmp_path / "video_only.mkv"
    with av.open(str(silent_video), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(SourceUnavailable, match="no audio stream"):
        extract_clip_audio(silent_video, 0.0, 100)
    with pytest.raises(InvalidParameter):
        make_source_for("clip-audio")


def test_clip_audio_follows_the_most_salient_object(tmp_path):
    left, right = program(SR, seconds=2.0)
    media = write_media(tmp_path / "clip.mkv", left, right, SR, video=False)
    quiet = make_track("dog", track_id=1, salience=0.2, duration_s=1.0)
    loud = make_track("car", track_id=2, salience=0.9, duration_s=1.0)
    want = ((left + right) / 2)[SR // 2 : SR // 2 + SR]
    source_for = make_source_for("clip-audio", media_path=media, media_start_s=0.5, tracks=[quiet, loud])
    np.testing.assert_allclose(source_for(loud, SR), want, atol=1e-4)
    assert np.all(source_for(quiet, SR) == 0.0)  # placed once; the other object is silent
    by_id = make_source_for("clip-audio", media_path=media, media_start_s=0.5, follow=1)
    np.testing.assert_allclose(by_id(quiet, SR), want, atol=1e-4)
    # With a fallback, the objects the production audio does not follow get synth voices.
    chained = make_source_for("clip-audio,synth", media_path=media, media_start_s=0.5, follow="car")
    chained(loud, SR), chained(quiet, SR)
    assert chained.choices == {2: "clip-audio", 1: "synth"}
