"""The audio image follows a known trajectory, measured with a windowed ILD estimate."""

from __future__ import annotations

import numpy as np

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.config import preset
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.spatial.dsp import pan_gains
from stereofoley.spatial.trajectory import Trajectory, pan_from_x

SR = SAMPLE_RATE_HZ


def windowed_ild_db(stereo: np.ndarray, window_s: float = 0.1) -> np.ndarray:
    w = int(window_s * SR)
    n = stereo.shape[1] // w
    frames = stereo[:, : n * w].reshape(2, n, w).astype(np.float64)
    energy = np.mean(frames**2, axis=2) + 1e-20
    return 10 * np.log10(energy[1] / energy[0])  # right over left, dB


def test_noise_along_left_to_right_trajectory_is_heard_moving(rng):
    duration_s = 4.0
    noise = (0.2 * rng.standard_normal(int(duration_s * SR))).astype(np.float32)
    # An object crossing the frame from x = 0.05 to 0.95 at 12 m: the default renderer with reverb and air.
    times = np.linspace(0, duration_s, 41)
    settings = preset("natural")
    traj = Trajectory(times_s=times, pan=pan_from_x(np.linspace(0.05, 0.95, times.size), settings), distance_m=np.full(times.size, 12.0), gain_db=np.zeros(times.size))
    out = render_mix([SoundObject("noise", noise, traj)], settings, noise.size)

    measured_ild = windowed_ild_db(out)
    # Invert the constant-power law: R/L = tan θ, pan = 4θ/π − 1. The diffuse field pulls estimates to the centre.
    estimated_pan = 4 / np.pi * np.arctan(10 ** (measured_ild / 20)) - 1
    centres = (np.arange(measured_ild.size) + 0.5) * 0.1
    true_pan = np.interp(centres, traj.times_s, traj.pan)
    corr = np.corrcoef(estimated_pan, true_pan)[0, 1]
    assert corr >= 0.98, corr
    assert measured_ild[:5].mean() < -6 and measured_ild[-5:].mean() > 6  # starts left, ends right
    # Where the dry path alone says it should be, the ILD is there (dry preset: no reverb, within 0.5 dB).
    dry = render_mix([SoundObject("noise", noise, traj)], preset("dry"), noise.size)
    left, right = pan_gains(true_pan)
    np.testing.assert_allclose(windowed_ild_db(dry)[1:-1], (20 * np.log10(right / left))[1:-1], atol=0.5)
