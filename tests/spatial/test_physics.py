"""Physics of the renderer: pan laws, distance law, air absorption, smoothing, alignment, length, limiter."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.signal

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.config import SpatialSettings, preset
from stereofoley.spatial.mix import SoundObject, limit, render_mix
from stereofoley.spatial.dsp import (
    air_absorption_db_per_m,
    apply_air_absorption,
    distance_gain,
    generated_impulse_response,
    load_impulse_response,
    pan_gains,
    spatialize,
    wet_share,
)
from stereofoley.spatial.trajectory import Trajectory, azimuth_from_x, pan_from_x
from tests.conftest import rms_db

DRY = preset("dry")
SR = SAMPLE_RATE_HZ


def _channel_levels_db(stereo: np.ndarray) -> tuple[float, float]:
    return rms_db(stereo[0]), rms_db(stereo[1])


# Expected channel gains in dB, from the laws' definitions (θ = (pan+1)·π/4).
def _expected_db(pan: float, law: str) -> tuple[float, float]:
    theta = (pan + 1) * math.pi / 4
    cp = (math.cos(theta), math.sin(theta))
    lin = ((1 - pan) / 2, (1 + pan) / 2)
    gains = {"constant_power": cp, "linear": lin, "-4.5dB": tuple(math.sqrt(a * b) for a, b in zip(cp, lin))}[law]
    return tuple(20 * math.log10(g) if g > 1e-9 else -math.inf for g in gains)


CENTRE_DB = {"constant_power": -3.01, "-4.5dB": -4.52, "linear": -6.02}


@pytest.mark.parametrize("law", ["constant_power", "-4.5dB", "linear"])
def test_centre_attenuation_matches_named_law(law, noise):
    out = spatialize(noise, Trajectory.constant(pan=0.0), dataclasses.replace(DRY, pan_law=law))
    left, right = _channel_levels_db(out)
    source = rms_db(noise)
    assert abs((left - source) - CENTRE_DB[law]) < 0.1
    assert abs((right - source) - CENTRE_DB[law]) < 0.1


@pytest.mark.parametrize("law", ["constant_power", "-4.5dB", "linear"])
@pytest.mark.parametrize("pan", [-1.0, -0.75, -0.5, -0.2, 0.0, 0.3, 0.5, 0.9, 1.0])
def test_ild_follows_pan_law(law, pan, noise):
    out = spatialize(noise, Trajectory.constant(pan=pan), dataclasses.replace(DRY, pan_law=law))
    left, right = _channel_levels_db(out)
    exp_left, exp_right = _expected_db(pan, law)
    source = rms_db(noise)
    for measured, expected in ((left, exp_left), (right, exp_right)):
        if math.isinf(expected):
            assert measured - source < -120.0  # the far channel of a hard pan is silent
        else:
            assert abs(measured - source - expected) < 0.1
    if not math.isinf(exp_left) and not math.isinf(exp_right):
        assert abs((right - left) - (exp_right - exp_left)) < 0.1


def test_constant_power_keeps_summed_power_across_pan(noise):
    source = rms_db(noise)
    for pan in np.linspace(-1, 1, 21):
        out = spatialize(noise, Trajectory.constant(pan=float(pan)), DRY)
        summed = 10 * np.log10(np.mean(out[0].astype(np.float64) ** 2) + np.mean(out[1].astype(np.float64) ** 2))
        assert abs(summed - source) < 0.1, pan


@pytest.mark.parametrize("distance_m", [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
def test_minus_six_db_per_doubling_of_distance(distance_m, noise):
    near = spatialize(noise, Trajectory.constant(distance_m=distance_m), DRY)
    far = spatialize(noise, Trajectory.constant(distance_m=2 * distance_m), DRY)
    step_db = rms_db(far[0]) - rms_db(near[0])
    assert abs(step_db - (-6.02)) < 0.2


def test_distance_gain_is_clamped_near_and_far():
    g = distance_gain(np.array([0.1, 0.5, 1.0, 200.0, 400.0]), 1.0, 200.0)
    assert g[0] == g[1] == g[2] == 1.0  # no boost nearer than the reference distance
    assert g[3] == g[4] == pytest.approx(1 / 200)


# ISO 9613-2:1996 Table 2 (dB/km at octave-band midfrequencies 63 Hz … 8 kHz), computed from ISO 9613-1.
ISO_TABLE = {
    (10.0, 70.0): [0.1, 0.4, 1.0, 1.9, 3.7, 9.7, 32.8, 117.0],
    (20.0, 70.0): [0.1, 0.3, 1.1, 2.8, 5.0, 9.0, 22.9, 76.6],
    (15.0, 20.0): [0.3, 0.6, 1.2, 2.7, 8.2, 28.2, 88.8, 202.0],
}


@pytest.mark.parametrize("conditions", list(ISO_TABLE))
def test_air_absorption_coefficients_match_iso_table(conditions):
    temperature_c, humidity = conditions
    freqs = [63, 125, 250, 500, 1000, 2000, 4000, 8000]
    alpha_db_km = air_absorption_db_per_m(np.array(freqs, float), temperature_c=temperature_c, relative_humidity_pct=humidity) * 1000
    for f, got, want in zip(freqs, alpha_db_km, ISO_TABLE[conditions]):
        # The table rounds to 0.1 and uses exact midband frequencies (e.g. 7943 Hz for "8 kHz").
        assert abs(got - want) <= max(0.06, 0.015 * want), (f, got, want)


def _tone(freq_hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.1 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_attenuation_at_8khz_grows_with_distance_as_iso_9613_says():
    air_only = dataclasses.replace(DRY, air_absorption=True)
    tone = _tone(8000.0)
    distances = [1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0]
    losses = []
    for d in distances:
        with_air = spatialize(tone, Trajectory.constant(distance_m=d), air_only)
        without = spatialize(tone, Trajectory.constant(distance_m=d), DRY)
        losses.append(rms_db(without[0]) - rms_db(with_air[0]))
    assert all(b > a for a, b in zip(losses, losses[1:])), losses
    alpha_8k = float(air_absorption_db_per_m(np.array([8000.0]))[0])  # 0.105 dB/m at 20 °C, 50 % RH
    for d, loss in zip(distances, losses):
        assert abs(loss - alpha_8k * d) < 0.05 + 0.01 * alpha_8k * d, (d, loss)


def test_air_absorption_leaves_low_frequencies_and_is_transparent_at_zero_distance(noise):
    settings = SpatialSettings()
    tone = _tone(200.0)
    far = apply_air_absorption(tone, 100.0, settings)
    alpha_200 = float(air_absorption_db_per_m(np.array([200.0]))[0])  # ~0.9 dB/km
    assert abs(rms_db(tone[2000:-2000]) - rms_db(far[2000:-2000]) - alpha_200 * 100) < 0.02
    same = apply_air_absorption(noise, 0.0, settings)
    np.testing.assert_allclose(same, noise, atol=1e-6)
    varying = apply_air_absorption(noise, np.linspace(0.0, 300.0, noise.size), settings)
    assert varying.shape == noise.shape and np.isfinite(varying).all()


def test_jumping_automation_cannot_click():
    # DC input makes the output the gain curve itself; the trajectory jumps hard left → hard right and 1 m → 0.5 m
    # between two points 1 µs apart. Pan and gain are each smoothed over L = 481 samples (10 ms), so the step of
    # L(pan)·gain per sample is at most max|dL/dpan|·Δpan/L + Δgain/L = (π/4·2 + 0.75)/481 ≈ 0.0048 per unit input.
    dc = np.ones(SR, dtype=np.float32) * 0.5
    traj = Trajectory(times_s=[0.0, 0.5, 0.500001, 1.0], pan=[-1, -1, 1, 1], distance_m=[4, 4, 1, 1], gain_db=[0, 0, 0, 0])
    out = spatialize(dc, traj, DRY)
    max_step = float(np.max(np.abs(np.diff(out, axis=1))))
    assert max_step <= 0.0048 * 0.5 + 1e-6
    assert max_step > 0  # and the jump did happen
    assert out[0, 0] > 0.12 and out[1, -1] > 0.49  # starts left (¼ gain at 4 m), ends right


def test_dry_path_is_sample_aligned_for_every_effect():
    n = SR // 2
    impulse = np.zeros(n, dtype=np.float32)
    impulse[12345] = 1.0
    settings = dataclasses.replace(preset("natural"), diffuse=False, doppler=True, itd=True)
    out = spatialize(impulse, Trajectory.constant(pan=-0.8, distance_m=80.0), settings)
    # The near (left) channel peaks exactly at the impulse; the far one later by the ITD (≤ 0.7 ms).
    assert int(np.argmax(np.abs(out[0]))) == 12345
    lag = int(np.argmax(np.abs(out[1]))) - 12345
    assert 0 < lag <= round(0.0007 * SR)


@pytest.mark.parametrize("n_samples", [0, 1, 47, 48_000, 48_001])
def test_output_length_is_exact(n_samples, noise):
    out = render_mix([SoundObject("n", noise, Trajectory.constant())], preset("natural"), n_samples)
    assert out.shape == (2, n_samples) and out.dtype == np.float32


def test_limiter_keeps_every_sample_below_minus_one_dbfs(rng):
    loud = (rng.standard_normal(SR) * 2.0).astype(np.float32)
    objects = [SoundObject("a", loud, Trajectory.constant(pan=-0.2)), SoundObject("b", loud[::-1].copy(), Trajectory.constant(pan=0.4))]
    out = render_mix(objects, preset("natural"), SR)
    assert float(np.max(np.abs(out))) <= 10 ** (-1 / 20)
    # Quiet material passes untouched.
    quiet = (0.01 * rng.standard_normal((2, 1000))).astype(np.float32)
    np.testing.assert_array_equal(limit(quiet), quiet)


def test_limiter_gain_moves_smoothly():
    x = np.zeros((2, 4800), dtype=np.float32)
    x[:, 2400] = 4.0  # one huge spike over silence and a steady tone around it
    x += 0.5 * np.sin(np.arange(4800) * 0.05).astype(np.float32)
    y = limit(x)
    gain = np.divide(y[0], x[0], out=np.ones(4800, dtype=np.float32), where=np.abs(x[0]) > 0.05)
    assert float(np.max(np.abs(y))) <= 10 ** (-1 / 20)
    assert float(np.max(np.abs(np.diff(gain[np.abs(x[0]) > 0.05])))) < 0.05  # ramps, never a step


def test_itd_and_doppler_are_off_by_default():
    s = SpatialSettings()
    assert not s.itd and not s.doppler and s.pan_law == "constant_power"


def test_doppler_raises_pitch_when_approaching_and_lowers_it_when_receding():
    tone = _tone(1000.0, 2.0)
    settings = dataclasses.replace(DRY, doppler=True)
    approach = spatialize(tone, Trajectory(times_s=[0, 2], pan=[0, 0], distance_m=[60, 20], gain_db=[0, 0]), settings)
    recede = spatialize(tone, Trajectory(times_s=[0, 2], pan=[0, 0], distance_m=[20, 60], gain_db=[0, 0]), settings)

    def peak_hz(x):
        seg = x[SR // 2 : SR // 2 + SR]
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 8 * seg.size))
        return np.argmax(spec) * SR / (8 * seg.size)

    c = settings.speed_of_sound_m_s
    speed = 20.0  # m/s
    assert peak_hz(approach[0]) == pytest.approx(1000 * (1 + speed / c), abs=1.0)
    assert peak_hz(recede[0]) == pytest.approx(1000 * (1 - speed / c), abs=1.0)


def test_horizontal_position_maps_through_field_of_view():
    s = SpatialSettings(hfov_deg=60.0)
    assert azimuth_from_x(np.array([0.0, 0.5, 1.0]), 60.0) == pytest.approx([-30.0, 0.0, 30.0])
    assert pan_from_x(np.array([0.0, 0.5, 1.0]), s) == pytest.approx([-1.0, 0.0, 1.0])
    # A quarter of the frame is not a quarter of the angle: atan(0.5·tan 30°) = 16.1°.
    assert azimuth_from_x(np.array([0.75]), 60.0)[0] == pytest.approx(16.102, abs=1e-3)
    assert pan_from_x(np.array([1.2]), s)[0] == 1.0  # off-screen clamps


def test_wet_share_rises_with_distance(noise):
    settings = dataclasses.replace(preset("natural"), air_absorption=False, critical_distance_m=6.0)
    ratios = []
    for d in [1.0, 3.0, 6.0, 12.0, 24.0]:
        dry_only = spatialize(noise, Trajectory.constant(distance_m=d), dataclasses.replace(settings, diffuse=False))
        full = spatialize(noise, Trajectory.constant(distance_m=d), settings)
        wet = full - dry_only
        ratios.append(rms_db(wet[:, SR // 4 :]) - rms_db(dry_only[:, SR // 4 :]))
    assert all(b > a + 3 for a, b in zip(ratios, ratios[1:])), ratios
    # At the critical distance (6 m) direct and reverberant energy are about equal, and at every distance the
    # measured wet/dry ratio is the model's (wet_share), within the spread of a one-second noise measurement.
    assert abs(ratios[2]) < 1.5
    for d, measured_db in zip([1.0, 3.0, 6.0, 12.0, 24.0], ratios):
        share = float(wet_share(np.array([d]), settings)[0])
        assert abs(measured_db - 10 * np.log10(share / (1 - share))) < 1.5, (d, measured_db)


def test_impulse_responses_are_normalised_and_the_generated_one_decays_by_its_rt60(tmp_path):
    import soundfile as sf

    ir = generated_impulse_response(rt60_s=1.0, predelay_ms=10.0)
    assert not ir[:, :480].any()  # 10 ms predelay
    energy = (ir.astype(np.float64) ** 2).sum(axis=1)
    early, late = ir[:, 480:4800], ir[:, -4800:]
    assert rms_db(early) - rms_db(late) > 45  # about 60 dB down at the end of rt60
    np.testing.assert_array_equal(ir, generated_impulse_response(rt60_s=1.0, predelay_ms=10.0))  # deterministic
    sf.write(tmp_path / "mono_ir.wav", ir[0], 44100)  # any rate, mono: duplicated and resampled to 48 kHz
    loaded = load_impulse_response(str(tmp_path / "mono_ir.wav"))
    assert loaded.shape[0] == 2 and abs(loaded.shape[1] - round(ir.shape[1] * 48000 / 44100)) <= 1
    assert (loaded.astype(np.float64) ** 2).sum() == pytest.approx(1.0, rel=1e-4)  # unit total energy
    assert energy.min() > 0


def test_pan_gains_rejects_unknown_law():
    from stereofoley.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="pan_law"):
        pan_gains(np.zeros(3), "sqrt")


def test_half_rate_diffuse_field_matches_a_48k_convolution(noise):

    from stereofoley.spatial.dsp import convolve_send_half_rate, diffuse_ir, load_impulse_response

    reference = scipy.signal.oaconvolve(noise[None, :], load_impulse_response(None), axes=-1)[:, : noise.size]
    ours = convolve_send_half_rate(noise, diffuse_ir(None))
    assert ours.shape == reference.shape
    settled = slice(SR // 4, None)
    assert abs(rms_db(ours[:, settled]) - rms_db(reference[:, settled])) < 0.2
    for channel in range(2):
        assert np.corrcoef(ours[channel, settled], reference[channel, settled])[0, 1] > 0.99
