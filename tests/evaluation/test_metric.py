"""The metric: formulas pinned by values computed by hand on tiny inputs, then the acceptance cases on our renders."""

import math

import numpy as np
import pytest

from stereofoley.config import preset
from stereofoley.errors import InvalidAudio, InvalidParameter
from stereofoley.evaluation.metric import (
    AudioAnalysis,
    ExpectedObject,
    ExpectedPosition,
    MetricSettings,
    analyze_audio,
    direction_scores,
    expected_position,
    gcc_phat_lag_s,
    level_scores,
    pan_from_ild,
    pan_from_panning_index,
    pearson,
    score,
    score_audio,
    window_panning_index,
)
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.spatial.trajectory import Trajectory

ATAN2_PAN = 4.0 / math.pi * math.atan(2.0) - 1.0  # 0.40966552...: constant-power pan with R/L = 2


# ------------------------------------------------------------------ hand-computed values on tiny inputs
def test_pan_law_inversions_by_hand():
    # R/L = 2 -> ILD = 20·log10 2 = 6.0206 dB -> θ = atan 2 -> pan = (4/π)·1.1071487 − 1
    assert pan_from_ild(20 * math.log10(2.0)) == pytest.approx(0.4096655, abs=1e-7)
    assert pan_from_ild(0.0) == pytest.approx(0.0, abs=1e-12)
    assert pan_from_ild(-np.inf) == pytest.approx(-1.0)
    # Γ = 0.2 means ψ = 0.8 = cos(p·π/2) -> p = (2/π)·arccos 0.8 = 0.4096655 (same point, two routes)
    assert pan_from_panning_index(0.2) == pytest.approx(ATAN2_PAN, abs=1e-12)
    assert pan_from_panning_index(-1.0) == pytest.approx(-1.0)


def test_panning_index_of_an_amplitude_ratio():
    # Every bin has |S_R| = 2|S_L|: ψ = 2·1·2/(1 + 4) = 0.8, D = +1, Γ = 0.2 whatever the signal.
    s = np.random.default_rng(1).standard_normal(4096)
    gamma, pan, primary = window_panning_index(s, 2.0 * s, 1024)
    assert gamma == pytest.approx(0.2, abs=1e-12)
    assert pan == pytest.approx(ATAN2_PAN, abs=1e-12)
    # Primary component: q = (4 − 1)/2 = 1.5 -> r = (1.5 + √(2.25 + 4))/2 = 2 -> the same pan.
    assert primary == pytest.approx(ATAN2_PAN, abs=1e-12)
    gamma, pan, primary = window_panning_index(2.0 * s, s, 1024)
    assert (gamma, pan, primary) == (pytest.approx(-0.2, abs=1e-12), pytest.approx(-ATAN2_PAN, abs=1e-12), pytest.approx(-ATAN2_PAN, abs=1e-12))
    # Hard-panned: Φ_LR = 0, so the primary direction is the louder channel itself.
    assert window_panning_index(s, 0.0 * s, 1024) == (pytest.approx(-1.0), pytest.approx(-1.0), pytest.approx(-1.0))


def test_primary_component_ignores_an_equal_power_diffuse_field():
    rng = np.random.default_rng(5)
    s = rng.standard_normal(48000)
    diffuse = rng.standard_normal((2, 48000))  # uncorrelated between channels, as loud as the direct sound
    left, right = s + diffuse[0], 2.0 * s + diffuse[1]
    _, index_pan, primary = window_panning_index(left, right, 1024)
    assert primary == pytest.approx(ATAN2_PAN, abs=0.03)  # the direct sound's position
    assert abs(index_pan) < primary - 0.05  # per-bin magnitudes are pulled towards the centre


def test_analyze_audio_on_eight_samples_by_hand():
    # 8 Hz, 0.5 s windows -> two windows of 4 samples.
    left = [1, -1, 1, -1, 0, 1, 0, 0]
    right = [0.5, -0.5, 0.5, -0.5, 0, 0, 1, 0]
    a = analyze_audio(np.array([left, right]), 8, MetricSettings(window_s=0.5))
    np.testing.assert_allclose(a.times_s, [0.25, 0.75])
    # Window 1: E_L = 4, E_R = 1. Window 2: E_L = E_R = 1.
    np.testing.assert_allclose(a.ild_db, [10 * math.log10(1 / 4), 0.0], atol=1e-9)
    np.testing.assert_allclose(a.pan_ild, [-ATAN2_PAN, 0.0], atol=1e-9)
    np.testing.assert_allclose(a.level_db, [10 * math.log10(5 / 4), 10 * math.log10(2 / 4)], atol=1e-9)
    np.testing.assert_allclose(a.correlation, [2 / math.sqrt(4 * 1), 0.0], atol=1e-12)
    # One 4-sample Hann frame [0, .5, 1, .5] per window. W1: R = L/2 in every bin -> Γ = −0.2.
    # W2: windowed L = [0, .5, 0, 0], R = [0, 0, 1, 0]: flat spectra, |S_R| = 2|S_L| -> Γ = +0.2.
    np.testing.assert_allclose(a.panning_index, [-0.2, 0.2], atol=1e-12)
    np.testing.assert_allclose(a.pan_index, [-ATAN2_PAN, ATAN2_PAN], atol=1e-12)
    np.testing.assert_allclose(a.pan_primary, [-ATAN2_PAN, ATAN2_PAN], atol=1e-12)  # one frame: rank one
    # Whole signal: ΣLR = 2, ΣL² = 5, ΣR² = 2; mid energy 2.25 + 0.5, side energy 0.25 + 0.5.
    assert a.inter_channel_correlation == pytest.approx(2 / math.sqrt(10))
    assert a.side_to_mid_db == pytest.approx(10 * math.log10(0.75 / 2.75))
    assert a.is_near_mono is False


def test_pearson_and_level_scores_by_hand():
    # deviations (-1, 0, 1) and (-1, 1, 0): dot 1, norms √2·√2 -> 0.5
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([0, 0, 0], [1, 2, 3]) == 0.0  # a constant series carries no position: defined as 0
    corr, slope = level_scores([-10, -16, -22], [0, -6, -12], 3.0)
    assert (corr, slope) == (pytest.approx(1.0), pytest.approx(1.0))
    corr, slope = level_scores([-10, -13, -16], [0, -6, -12], 3.0)
    assert slope == pytest.approx(0.5)
    assert level_scores([-10, -10.5, -11], [0, -1, -2], 3.0) == (None, None)  # 2 dB range < 3 dB


def test_direction_agreement_and_exact_chance_by_hand():
    # judged windows (|e| >= 0.3): 0 (−), 1 (−), 3 (+). Audio signs: −, undecided, +, −.
    audio = np.array([-0.3, 0.005, 0.1, -0.3])
    expected = np.array([-0.6, -0.5, 0.1, 0.6])
    agreement, chance, n = direction_scores(audio, expected, 0.3, 0.01)
    assert n == 3
    assert agreement == pytest.approx((1 + 0.5 + 0) / 3)
    # share(−) = (2 + ½·1)/4 = 0.625, share(+) = (1 + ½)/4 = 0.375 -> (0.625 + 0.625 + 0.375)/3
    assert chance == pytest.approx(1.625 / 3)
    # The closed form equals the mean over random shuffles of the audio windows.
    rng = np.random.default_rng(0)
    shuffled = np.mean([direction_scores(rng.permutation(audio), expected, 0.3, 0.01)[0] for _ in range(4000)])
    assert shuffled == pytest.approx(chance, abs=0.01)
    assert direction_scores(audio, np.zeros(4), 0.3, 0.01) == (None, None, 0)


def test_expected_position_weights_by_energy_by_hand():
    near = ExpectedObject(Trajectory.constant(pan=-0.5, distance_m=1.0))
    far = ExpectedObject(Trajectory.constant(pan=1.0, distance_m=2.0))  # 1/r law: a quarter of the energy
    e = expected_position([near, far], np.array([0.05, 0.15]), 0.1)
    # θ = (pan + 1)·π/4: near θ = π/8 -> E_L = cos²(π/8) = 0.853553, E_R = sin²(π/8) = 0.146447; far θ = π/2 -> E_R += 0.25.
    pan = 4 / math.pi * math.atan(math.sqrt((0.1464466 + 0.25) / 0.8535534)) - 1  # = -0.2386
    np.testing.assert_allclose(e.pan, pan, atol=1e-6)
    np.testing.assert_allclose(e.level_db, 10 * math.log10(1.25))
    # One object alone gives its own pan; two equal objects at ±p give the centre.
    assert expected_position([far], np.array([0.05]), 0.1).pan[0] == pytest.approx(1.0)
    left = ExpectedObject(Trajectory.constant(pan=-0.7, distance_m=2.0, gain_db=20 * math.log10(2.0)))
    right = ExpectedObject(Trajectory.constant(pan=0.7, distance_m=1.0))
    assert expected_position([left, right], np.array([0.05]), 0.1).pan[0] == pytest.approx(0.0, abs=1e-12)
    # Outside its presence interval an object does not count; with nothing present the window is not scored.
    late = ExpectedObject(Trajectory.constant(pan=1.0), present_from_s=1.0)
    e = expected_position([late], np.array([0.05, 2.0]), 0.1)
    assert e.present.tolist() == [False, True]


def test_score_mae_in_pan_and_degrees_by_hand():
    t = np.array([0.05, 0.15, 0.25, 0.35])
    audio = AudioAnalysis(
        times_s=t, level_db=np.zeros(4), ild_db=np.zeros(4), pan_ild=np.array([-0.3, -0.1, 0.1, 0.3]),
        panning_index=np.zeros(4), pan_index=np.zeros(4), pan_primary=np.array([-0.3, -0.1, 0.1, 0.3]), correlation=np.ones(4), itd_ms=None,
        inter_channel_correlation=0.5, side_to_mid_db=-6.0, is_near_mono=False,
    )
    expected = ExpectedPosition(times_s=t, pan=np.array([-0.6, -0.2, 0.2, 0.6]), level_db=np.zeros(4), present=np.ones(4, bool))
    s = score(audio, expected, MetricSettings(off_centre_pan=0.3, hfov_deg=60.0))
    assert s.position_correlation == pytest.approx(1.0)  # audio = expected / 2
    assert s.position_mae_pan == pytest.approx(0.2)  # mean of 0.3, 0.1, 0.1, 0.3
    assert s.position_mae_deg == pytest.approx(6.0)  # 0.2 of the 30° half field of view
    assert (s.direction_agreement, s.direction_chance, s.direction_windows) == (1.0, 0.5, 2)
    assert s.level_distance_correlation is None  # the expected level does not vary


def test_gcc_phat_finds_a_delay():
    s = np.random.default_rng(2).standard_normal(4800)
    left = np.concatenate([np.zeros(5), s[:-5]])  # the left channel lags by 5 samples: source to the right
    assert gcc_phat_lag_s(left, s, 48000, 0.001) == pytest.approx(5 / 48000)
    assert gcc_phat_lag_s(s, left, 48000, 0.001) == pytest.approx(-5 / 48000)


def test_bad_input_is_named():
    with pytest.raises(InvalidAudio, match="shape"):
        analyze_audio(np.zeros((3, 100)), 48000)
    with pytest.raises(InvalidAudio, match="finite"):
        analyze_audio(np.full((2, 10), np.nan), 48000)
    with pytest.raises(InvalidParameter, match="window_s"):
        MetricSettings(window_s=0.0)


# ------------------------------------------------------------------------- acceptance on our renders
N = 4 * 48000
T = np.linspace(0.0, 4.0, 41)
CASES = {
    "pass_by": [Trajectory(times_s=T, pan=np.clip(np.degrees(np.arctan2(2 * (T - 2), 2.5)) / 30, -1, 1),
                           distance_m=np.hypot(2 * (T - 2), 2.5), gain_db=np.zeros_like(T))],
    "swing": [Trajectory(times_s=T, pan=0.9 * np.sin(2 * np.pi * T / 4), distance_m=2.5 + 1.5 * np.cos(2 * np.pi * T / 4),
                         gain_db=np.zeros_like(T))],
    "two_objects": [
        Trajectory(times_s=T, pan=np.linspace(-0.9, 0.9, T.size), distance_m=np.full_like(T, 2.0), gain_db=np.zeros_like(T)),
        Trajectory(times_s=T, pan=np.full_like(T, -0.6), distance_m=np.full_like(T, 8.0), gain_db=np.zeros_like(T)),
    ],
}


def _render(case, preset_name):
    rng = np.random.default_rng(3)
    settings = preset(preset_name)
    sources = [(0.2 * rng.standard_normal(N)).astype(np.float32) for _ in CASES[case]]
    mix = render_mix([SoundObject(f"o{i}", s, tr) for i, (s, tr) in enumerate(zip(sources, CASES[case]))], settings, N)
    objects = [ExpectedObject(tr, source=s) for s, tr in zip(sources, CASES[case])]
    return mix, objects, settings


@pytest.mark.parametrize("preset_name", ["natural", "dry", "wide", "cinematic"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_renders_score_high_mono_at_chance_swapped_negative(case, preset_name):
    mix, objects, settings = _render(case, preset_name)
    ours = score_audio(mix, 48000, objects, spatial=settings)
    assert ours.position_correlation >= 0.95
    assert ours.direction_agreement >= 0.95
    assert ours.direction_chance < 0.8
    assert not ours.is_near_mono

    mono = np.vstack([mix.mean(axis=0)] * 2)
    summed = score_audio(mono, 48000, objects, spatial=settings)
    assert abs(summed.position_correlation) <= 0.1
    assert summed.is_near_mono
    assert summed.direction_agreement == pytest.approx(summed.direction_chance, abs=0.05)

    swapped = score_audio(mix[::-1], 48000, objects, spatial=settings)
    assert swapped.position_correlation < -0.9
    assert swapped.direction_agreement <= 0.05


def test_near_mono_with_independent_dither_is_still_at_chance():
    # With independent dither the per-window position is noise: one draw over ~40 windows scatters by about
    # 1/√40 ≈ 0.16, so "at chance" is judged on the mean over several dither draws (no systematic correlation).
    mix, objects, settings = _render("swing", "natural")
    correlations = []
    for seed in range(8):
        mono = np.vstack([mix.mean(axis=0)] * 2) + 1e-4 * np.random.default_rng(seed).standard_normal((2, N))
        s = score_audio(mono, 48000, objects, spatial=settings)
        assert s.is_near_mono
        correlations.append(s.position_correlation)
    assert abs(float(np.mean(correlations))) <= 0.1, correlations


def test_level_follows_distance_in_a_dry_render():
    mix, objects, settings = _render("swing", "dry")
    s = score_audio(mix, 48000, objects, spatial=settings)
    assert s.level_distance_correlation >= 0.99
    assert s.level_distance_slope == pytest.approx(1.0, abs=0.05)  # free field: audio dB follows 1/r exactly
    assert s.position_mae_pan <= 0.02


def test_itd_render_shows_a_time_difference_on_the_right_side():
    settings = preset("wide")  # ITD on
    rng = np.random.default_rng(4)
    src = (0.2 * rng.standard_normal(48000)).astype(np.float32)
    mix = render_mix([SoundObject("r", src, Trajectory.constant(pan=0.8, distance_m=1.0))], settings, 48000)
    a = analyze_audio(mix, 48000, MetricSettings(itd=True))
    expected_ms = 0.8 * settings.max_itd_ms  # the renderer delays the far (left) ear by pan · max ITD
    assert np.median(a.itd_ms) == pytest.approx(expected_ms, abs=1.5 / 48)  # within 1.5 samples
