"""Synth voices: non-silent, spectral centroids in the stated bands, envelopes and pitch that follow speed."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley.sources import make_source_for, synth
from stereofoley.sources.motion import Motion, footstep_cadence_hz, motion_of

from .conftest import SR, make_track


def centroid_hz(x):
    power = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64))) ** 2
    return float((power * np.fft.rfftfreq(len(x), 1 / SR)).sum() / power.sum())


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def still(speed_m_s, seconds=3.0):
    return np.full(int(seconds * SR), speed_m_s, dtype=np.float32)


def rng():
    return np.random.default_rng(11)


# The bands stated in synth.py's docstring.
@pytest.mark.parametrize(
    "name, make, low_hz, high_hz",
    [
        ("vehicle at 10 m/s", lambda: synth.vehicle(still(10.0), rng()), 250, 900),
        ("footsteps", lambda: synth.footsteps(still(1.4), rng()), 400, 2500),
        ("dog", lambda: synth.animal(3 * SR, rng(), "dog"), 500, 2000),
        ("birds", lambda: synth.birds(3 * SR, rng()), 2500, 6500),
        ("whoosh still", lambda: synth.whoosh(still(0.0), rng()), 500, 3500),
        ("whoosh fast", lambda: synth.whoosh(still(15.0), rng()), 500, 3500),
        ("room tone", lambda: synth.room_tone(3 * SR, rng()), 0, 300),
    ],
)
def test_voices_are_non_silent_with_centroid_in_band(name, make, low_hz, high_hz):
    x = make()
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert abs(rms_db(x) - synth.NOMINAL_RMS_DBFS) < 0.5 or np.max(np.abs(x)) == pytest.approx(10 ** (synth.NOMINAL_PEAK_DBFS / 20), rel=1e-3)
    assert low_hz <= centroid_hz(x) <= high_hz, f"{name}: centroid {centroid_hz(x):.0f} Hz"


def test_engine_pitch_and_brightness_follow_speed():
    for speed, expected_f0 in ((0.0, 28.0), (10.0, 53.0), (20.0, 78.0)):
        x = synth.engine(still(speed, 2.0), rng())
        spectrum = np.abs(np.fft.rfft(x))
        freqs = np.fft.rfftfreq(x.size, 1 / SR)
        assert freqs[np.argmax(spectrum)] == pytest.approx(expected_f0, abs=1.0)
    centroids = [centroid_hz(synth.vehicle(still(v, 2.0), rng())) for v in (2.0, 10.0, 20.0, 30.0)]
    assert all(a < b for a, b in zip(centroids, centroids[1:])), centroids


def test_vehicle_level_follows_speed():
    # A car at 20 m/s against one at 5 m/s: +12 dB (6 dB per doubling of the typical speed, within ±6 dB).
    n = 2 * SR
    slow, fast = (synth.synth_source("car", Motion(still(v, 2.0), np.ones(n, np.float32)), rng()) for v in (5.0, 20.0))
    assert 11.0 <= rms_db(fast) - rms_db(slow) <= 14.0
    # One car speeding up from 5 to 20 m/s: the moment's speed against its typical speed adds at most ±2 dB, so
    # the rise is 4 dB (the tyre noise adds a little on top), never enough to outweigh distance.
    n = 4 * SR
    speed = np.where(np.arange(n) < n // 2, 5.0, 20.0).astype(np.float32)
    x = synth.synth_source("car", Motion(speed, np.ones(n, np.float32)), rng())
    rise_db = rms_db(x[int(2.5 * SR) : int(3.5 * SR)]) - rms_db(x[int(0.5 * SR) : int(1.5 * SR)])
    assert 3.5 <= rise_db <= 7.0


def onsets(x, min_gap_s=0.15):
    """Times of envelope peaks above a quarter of the loudest (5 ms RMS), at least min_gap_s apart."""
    env = np.sqrt(np.convolve(np.asarray(x, dtype=np.float64) ** 2, np.ones(240) / 240, mode="same"))
    above = np.flatnonzero((env[1:] > 0.25 * env.max()) & (env[:-1] <= 0.25 * env.max())) / SR
    kept = []
    for t in above:
        if not kept or t - kept[-1] >= min_gap_s:
            kept.append(t)
    return np.array(kept)


@pytest.mark.parametrize("speed_m_s", [1.0, 1.4, 2.5, 4.0])
def test_footsteps_are_timed_to_the_gait(speed_m_s):
    seconds = 4.0
    x = synth.footsteps(still(speed_m_s, seconds), rng())
    heard = onsets(x)
    expected = footstep_cadence_hz(speed_m_s) * seconds
    assert abs(len(heard) - expected) <= 1.0, (len(heard), expected)
    assert np.median(np.diff(heard)) == pytest.approx(1 / footstep_cadence_hz(speed_m_s), rel=0.1)


def test_a_standing_person_makes_no_steps():
    assert synth.footstep_times_s(still(0.1)).size == 0
    assert np.max(np.abs(synth.footsteps(still(0.1), rng()))) == 0.0


def test_motion_speed_estimate_and_presence():
    # 0.1 → 0.9 of the frame in 4 s at 10 m with a 60° field of view: 0.2/s × 11.547 m = 2.309 m/s.
    track = make_track("car", duration_s=4.0, x=(0.1, 0.9), distance_m=(10.0, 10.0))
    motion = motion_of(track, 4 * SR, hfov_deg=60.0)
    assert np.median(motion.speed_m_s) == pytest.approx(0.2 * 2 * 10 * np.tan(np.radians(30)), rel=0.02)
    approaching = motion_of(make_track("person", duration_s=4.0, distance_m=(10.0, 4.0)), 4 * SR)
    assert np.median(approaching.speed_m_s) == pytest.approx(1.5, rel=0.02)
    # Tracked from 1 s to 2 s only: silent before 0.9 s and after 2.1 s.
    short = make_track("car", duration_s=1.0, start_s=1.0, x=(0.2, 0.8))
    sound = make_source_for("synth")(short, 3 * SR)
    assert np.max(np.abs(sound[: int(0.9 * SR)])) == 0.0 and np.max(np.abs(sound[int(2.1 * SR) :])) == 0.0
    assert rms_db(sound[int(1.2 * SR) : int(1.8 * SR)]) > -50.0


def test_synth_is_deterministic_per_seed_and_track():
    track = make_track("dog", duration_s=3.0)
    a = make_source_for("synth", seed=1)(track, 3 * SR)
    b = make_source_for("synth", seed=1)(track, 3 * SR)
    c = make_source_for("synth", seed=2)(track, 3 * SR)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("class_name", ["car", "truck", "motorcycle", "person", "dog", "cat", "cow", "bird", "sports ball", "umbrella"])
def test_every_class_gets_finite_sound_of_the_exact_length(class_name):
    n = SR + 17
    sound = make_source_for("synth")(make_track(class_name, duration_s=1.1, x=(0.2, 0.6), distance_m=(8.0, 5.0)), n)
    assert sound.shape == (n,) and sound.dtype == np.float32 and np.isfinite(sound).all()
    assert np.max(np.abs(sound)) > 1e-3
