"""Loudness: BS.1770 integrated loudness against EBU Tech 3341 cases, normalisation to target under a true-peak ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley.config import SpatialSettings
from stereofoley.errors import InvalidAudio, InvalidParameter
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.sources import integrated_lufs, make_source_for, normalize, synth, true_peak_level
from stereofoley.spatial.loudness import limit_true_peak
from stereofoley.spatial.trajectory import Trajectory

from .conftest import SR, make_track


def sine(freq_hz, dbfs, seconds=5.0, phase=0.0):
    t = np.arange(int(seconds * SR)) / SR
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def test_meter_matches_ebu_tech_3341_case_1():
    # Tech 3341 test 1: a 1 kHz sine at -23 dBFS in both channels reads -23.0 ± 0.1 LUFS.
    x = sine(1000.0, -23.0, 20.0)
    assert integrated_lufs(np.stack([x, x])) == pytest.approx(-23.0, abs=0.1)
    # Test 2: at -33 dBFS it reads -33.0.
    y = sine(1000.0, -33.0, 20.0)
    assert integrated_lufs(np.stack([y, y])) == pytest.approx(-33.0, abs=0.1)


def test_true_peak_sees_inter_sample_peaks():
    # fs/4 at 45° phase: every sample is at ±0.707 of the peak, so the sample peak reads -3 dB low.
    x = sine(SR / 4, -6.0, 1.0, phase=np.pi / 4)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-9.01, abs=0.05)
    assert true_peak_level(np.stack([x, x])) == pytest.approx(-6.0, abs=0.2)


def rendered_clip(seconds=4.0):
    """A clip as render_clip would make it: synth sources for a car and a person, spatialised and mixed."""
    n = int(seconds * SR)
    source_for = make_source_for("synth", seed=3)
    car = make_track("car", track_id=1, duration_s=seconds, x=(0.1, 0.9), distance_m=(12.0, 8.0))
    person = make_track("person", track_id=2, duration_s=seconds, x=(0.7, 0.6), distance_m=(6.0, 4.0))
    objects = []
    for track in (car, person):
        traj = Trajectory(times_s=track.times_s, pan=2 * track.x_norm - 1, distance_m=track.distance_m, gain_db=np.zeros_like(track.times_s))
        objects.append(SoundObject(track.class_name, source_for(track, n), traj))
    return render_mix(objects, SpatialSettings(), n)


@pytest.mark.parametrize("target_lufs", [-23.0, -16.0, -31.0])
def test_rendered_clip_lands_on_target(target_lufs):
    mix = rendered_clip()
    out = normalize(mix, target_lufs)
    assert out.shape == mix.shape and out.dtype == np.float32
    assert integrated_lufs(out) == pytest.approx(target_lufs, abs=1.0)
    assert true_peak_level(out) <= -1.0 + 0.05


# At -14 LUFS these footsteps need over 20 dB of limiting at their peaks: the ceiling wins by up to 1.5 LU there.
@pytest.mark.parametrize("target_lufs, tolerance_lu", [(-23.0, 1.0), (-16.0, 1.0), (-14.0, 1.5)])
def test_peaky_footsteps_reach_the_target_under_the_true_peak_ceiling(target_lufs, tolerance_lu):
    x = synth.footsteps(np.full(4 * SR, 1.4, dtype=np.float32), np.random.default_rng(0))
    stereo = np.stack([x, 0.8 * x])
    out = normalize(stereo, target_lufs, -1.0)
    assert -1.5 <= true_peak_level(out) <= -1.0 + 0.05  # at the ceiling, not under it by what was over
    assert integrated_lufs(out) == pytest.approx(target_lufs, abs=tolerance_lu)
    if target_lufs > -20:  # gain alone would have broken the ceiling by 5 dB or more: the limiter did work here
        assert true_peak_level(stereo * 10 ** ((target_lufs - integrated_lufs(stereo)) / 20)) > 4.0


@pytest.mark.parametrize("over_db", [0.5, 3.0, 10.9])
def test_the_true_peak_limiter_lands_just_under_the_ceiling_not_under_it_by_the_excess(over_db):
    """5 ms clicks (a sample peak of +over_db - 1 dBFS) under noise: after limiting, the true peak is at the
    ceiling within 0.5 dB, and the noise between the clicks is untouched."""
    n = 3 * SR
    x = (10 ** (-40 / 20) * np.random.default_rng(7).standard_normal(n)).astype(np.float32)
    click = np.sin(np.linspace(0, 6 * np.pi, 240)) * np.hanning(240)
    for start in range(0, n - 240, SR // 4):
        x[start:start + 240] = click * 10 ** ((over_db - 1.0) / 20) / np.max(np.abs(click))
    stereo = np.stack([x, 0.8 * x])
    before = true_peak_level(stereo)
    assert before > -1.0 + over_db - 0.2
    out = limit_true_peak(stereo, -1.0)
    assert -1.5 <= true_peak_level(out) <= -1.0 + 1e-6, (before, true_peak_level(out))
    quiet = slice(SR // 8 - 1000, SR // 8 + 1000)  # 1.3 ms from any click (the limiter ramps over 5 ms)
    np.testing.assert_array_equal(out[:, quiet], stereo[:, quiet])


def test_true_peak_ceiling_wins_over_an_unreachable_target():
    # Sparse 2 ms clicks at -10 LUFS would need ~+20 dBTP; the ceiling holds and loudness falls short.
    x = np.zeros(4 * SR, dtype=np.float32)
    rng = np.random.default_rng(0)
    for start in range(0, x.size - 2400, 2400):
        x[start : start + 600] += (rng.standard_normal(600) * np.exp(-np.arange(600) / 100)).astype(np.float32)
    out = normalize(np.stack([x, 0.8 * x]), -10.0, -1.0)
    assert true_peak_level(out) <= -1.0 + 0.05
    assert -20.0 < integrated_lufs(out) < -10.0


def test_silence_and_bad_input():
    silence = np.zeros((2, SR), dtype=np.float32)
    np.testing.assert_array_equal(normalize(silence), silence)
    short = np.stack([sine(500.0, -20.0, 0.2)] * 2)  # shorter than one 400 ms gating block
    assert integrated_lufs(normalize(short)) == pytest.approx(-23.0, abs=0.2)
    with pytest.raises(InvalidParameter, match="target_lufs"):
        normalize(short, target_lufs=5.0)
    with pytest.raises(InvalidParameter, match="true_peak_dbtp"):
        normalize(short, true_peak_dbtp=3.0)
    bad = short.copy()
    bad[0, 10] = np.nan
    with pytest.raises(InvalidAudio, match="1 NaN/inf samples .*channel 0, sample 10"):
        normalize(bad)
