"""End to end: `stereofoley clip` and `render_clip` on generated videos, checked against the ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.cli import main
from stereofoley.config import preset
from stereofoley.errors import InvalidAudio
from stereofoley.options import RenderOptions
from stereofoley.usecases.clip import neutral_source, render_media
from stereofoley.spatial.dsp import pan_gains
from stereofoley.spatial.trajectory import pan_from_x

WINDOW = SAMPLE_RATE_HZ // 10  # 100 ms


def _window_rms(x: np.ndarray) -> np.ndarray:
    n = x.size // WINDOW
    return np.sqrt(np.mean(x[: n * WINDOW].reshape(n, WINDOW).astype(np.float64) ** 2, axis=1))


def test_clip_ild_follows_the_object(scene_video, tmp_path):
    video, truth = scene_video("passing_vehicle", noise_std=4.0)
    out = tmp_path / "car.wav"
    # free field ("dry"): the ILD itself is the pan law's; with the diffuse field on (default preset, below) it is
    # compressed towards the centre, so that test compares positions rather than dB
    assert main(["clip", str(video), "-o", str(out), "--detector", "motion", "--no-cache", "--preset", "dry",
                 "--sources", "neutral", "--no-loudness"]) == 0  # a steady noise source: 100 ms windows measure placement
    audio, rate = soundfile.read(out, always_2d=True)
    assert rate == SAMPLE_RATE_HZ and audio.shape == (round(3.0 * SAMPLE_RATE_HZ), 2)
    left, right = _window_rms(audio[:, 0]), _window_rms(audio[:, 1])
    ild = 20 * np.log10(np.maximum(left, 1e-9) / np.maximum(right, 1e-9))
    # expected ILD from where the car really is (window centres), through the same pan law and field of view
    centres = (np.arange(ild.size) + 0.5) * 0.1
    x_true = np.interp(centres, truth.frame_times_s, truth.object("car").x_norm)
    gl, gr = pan_gains(pan_from_x(x_true, preset("dry")))
    expected = 20 * np.log10(np.maximum(gl, 1e-6) / np.maximum(gr, 1e-6))
    on = (x_true > 0.0) & (x_true < 1.0)
    r = np.corrcoef(np.clip(ild[on], -30, 30), np.clip(expected[on], -30, 30))[0, 1]
    assert on.sum() >= 20 and r >= 0.95, r
    assert ild[on][0] > 6.0 and ild[on][-1] < -6.0  # left, then right


def test_clip_in_the_default_preset_follows_the_object(scene_video, tmp_path):
    video, truth = scene_video("passing_vehicle", noise_std=4.0)
    out = tmp_path / "car.wav"
    assert main(["clip", str(video), "-o", str(out), "--detector", "motion", "--no-cache", "--sources", "neutral",
                 "--no-loudness"]) == 0
    audio, _ = soundfile.read(out, always_2d=True)
    ild = 20 * np.log10(np.maximum(_window_rms(audio[:, 1]), 1e-9) / np.maximum(_window_rms(audio[:, 0]), 1e-9))
    heard_pan = 4 / np.pi * np.arctan(10 ** (ild / 20)) - 1  # the constant-power law inverted
    centres = (np.arange(ild.size) + 0.5) * 0.1
    x_true = np.interp(centres, truth.frame_times_s, truth.object("car").x_norm)
    on = (x_true > 0.0) & (x_true < 1.0)
    r = np.corrcoef(heard_pan[on], pan_from_x(x_true[on], preset("natural")))[0, 1]
    assert on.sum() >= 20 and r >= 0.95, r


def test_clip_level_rises_as_object_approaches(scene_video, tmp_path):
    video, truth = scene_video("approaching", noise_std=4.0)
    out = tmp_path / "near.wav"
    assert main(["clip", str(video), "-o", str(out), "--detector", "motion", "--no-cache", "--preset", "dry",
                 "--sources", "neutral", "--no-loudness"]) == 0  # a steady noise source: 100 ms windows measure placement
    audio, _ = soundfile.read(out, always_2d=True)
    level_db = 20 * np.log10(np.maximum(_window_rms(audio.sum(axis=1)), 1e-9))
    t = (np.arange(level_db.size) + 0.5) * 0.1
    inside = (t > 0.3) & (t < 2.7)  # away from the fades at the track's ends
    assert np.corrcoef(t[inside], level_db[inside])[0, 1] > 0.9
    rise = level_db[inside][-3:].mean() - level_db[inside][:3].mean()
    d = truth.object("person").distance_m
    true_rise = 20 * np.log10(np.interp(0.45, truth.frame_times_s, d) / np.interp(2.55, truth.frame_times_s, d))
    assert rise == pytest.approx(true_rise, abs=3.0), (rise, true_rise)  # inverse-distance law, about 9 dB


@pytest.mark.parametrize("start_s, end_s", [(None, None), (0.37, 2.21), (1.0, 1.04)])
def test_render_clip_is_exactly_as_long_as_the_range(scene_video, start_s, end_s):
    video, _ = scene_video("crossing")
    result = render_media(video, start_s=start_s, end_s=end_s, options=RenderOptions(detector="motion", sources="neutral", cache=False))
    start = 0.0 if start_s is None else start_s
    end = 3.0 if end_s is None else end_s
    assert result.stereo.shape == (2, round((end - start) * SAMPLE_RATE_HZ))
    assert result.stereo.dtype == np.float32 and np.isfinite(result.stereo).all()
    assert (result.analysis.start_s, result.analysis.end_s) == (start, end)
    for obj in result.objects:
        assert obj.source.shape == (result.stereo.shape[1],)
        assert obj.trajectory.times_s[0] >= 0.0


def test_render_clip_uses_the_given_sources(scene_video):
    video, _ = scene_video("crossing")
    calls = []

    def tone(track, n):
        calls.append((track.track_id, n))
        return (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE_HZ)).astype(np.float32)

    result = render_media(video, source_for=tone, options=RenderOptions(detector="motion", max_objects=1, sources="neutral", cache=False))
    assert len(result.objects) == 1 and len(calls) == 1 and calls[0][1] == result.stereo.shape[1]
    spectrum = np.abs(np.fft.rfft(result.stereo[0]))
    assert np.argmax(spectrum) * SAMPLE_RATE_HZ / result.stereo.shape[1] == pytest.approx(440, abs=2)
    with pytest.raises(InvalidAudio, match="expected"):
        render_media(video, options=RenderOptions(detector="motion", sources="neutral", cache=False), source_for=lambda track, n: np.zeros(n + 1))
    with pytest.raises(InvalidAudio, match=r"source for track \d+ .*NaN/inf"):
        render_media(video, options=RenderOptions(detector="motion", sources="neutral", cache=False), source_for=lambda track, n: np.full(n, np.nan))



def test_no_objects_renders_silence(scene_video):
    video, _ = scene_video("crossing")
    result = render_media(video, options=RenderOptions(detector="motion", max_objects=0, sources="neutral", cache=False))
    assert result.objects == () and result.stereo.shape == (2, 3 * SAMPLE_RATE_HZ) and not result.stereo.any()


def test_neutral_source_is_steady_pink_noise():
    class T:
        track_id = 3

    x = neutral_source(T, SAMPLE_RATE_HZ * 2)
    assert 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))) == pytest.approx(-20.0, abs=0.01)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE_HZ)
    band = lambda lo: spectrum[(freqs >= lo) & (freqs < 2 * lo)].sum()  # noqa: E731
    assert 10 * np.log10(band(4000) / band(250)) == pytest.approx(0.0, abs=1.0)  # equal energy per octave
    np.testing.assert_array_equal(x, neutral_source(T, SAMPLE_RATE_HZ * 2))


def test_clip_json_summary_and_tracks(scene_video, tmp_path, capsys):
    video, _ = scene_video("hard_cut")
    out, tracks = tmp_path / "cut.wav", tmp_path / "cut.tracks.json"
    code = main(["clip", str(video), "-o", str(out), "--detector", "motion", "--no-cache", "--json", "--tracks-out", str(tracks)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 3 * SAMPLE_RATE_HZ and len(summary["objects"]) == 2
    assert json.loads(tracks.read_text())["cuts_s"]
