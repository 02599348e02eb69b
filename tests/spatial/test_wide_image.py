"""The default preset keeps the picture's width: level differences at the frame edge, and the pan read back from
them, survive the diffuse field at the distances of ordinary shots (issue 12, part 3)."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ as SR
from stereofoley.config import SpatialSettings, preset
from stereofoley.evaluation.metric import analyze_audio, pan_from_ild
from stereofoley.spatial.mix import SoundObject, render_mix
from stereofoley.spatial.trajectory import Trajectory, pan_from_x

EDGE_XS = (0.02, 0.1, 0.14, 0.86, 0.9, 0.98)  # |x - 0.5| > 0.35


def pink(n, seed=3):
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec *= np.where((f > 40) & (f < 16000), 1 / np.sqrt(np.maximum(f, 1)), 0)
    x = np.fft.irfft(spec, n)
    return (0.1 * x / np.std(x)).astype(np.float32)


def ild_db(stereo):
    return 10 * np.log10(np.sum(stereo[1].astype(np.float64) ** 2) / np.sum(stereo[0].astype(np.float64) ** 2))


@pytest.mark.parametrize("distance_m", [2.0, 5.0, 10.0, 20.0, 30.0])
def test_edge_objects_keep_10_db_of_level_difference(distance_m):
    settings = SpatialSettings()
    assert settings == preset("natural")
    source = pink(2 * SR)
    for x in EDGE_XS:
        pan = float(pan_from_x(np.array([x]), settings)[0])
        out = render_mix([SoundObject("o", source, Trajectory.constant(pan=pan, distance_m=distance_m))], settings, source.size)
        ild = ild_db(out[:, SR // 2 :])  # past the diffuse field's build-up
        assert abs(ild) >= 10.0, (x, distance_m, ild)
        assert np.sign(ild) == np.sign(x - 0.5)


@pytest.mark.parametrize("distance_m", [10.0, 30.0])
def test_pan_read_from_level_differences_follows_the_box(distance_m):
    """An object crossing the frame at a fixed distance: per 0.1 s window, the pan the ILD implies (constant-power
    inversion) against the pan of the box: regression slope >= 0.8 and correlation >= 0.98."""
    settings = SpatialSettings()
    seconds = 8.0
    t = np.linspace(0.0, seconds, 81)
    x = np.interp(t, [0.0, seconds], [0.02, 0.98])
    box_pan = pan_from_x(x, settings)
    traj = Trajectory(times_s=t, pan=box_pan, distance_m=np.full(t.size, distance_m), gain_db=np.zeros(t.size))
    source = pink(int(seconds * SR))
    out = render_mix([SoundObject("o", source, traj)], settings, source.size)
    audio = analyze_audio(out, SR)
    expected = np.interp(audio.times_s, t, box_pan)
    slope = np.polyfit(expected, audio.pan_ild, 1)[0]
    assert slope >= 0.8, slope
    assert np.corrcoef(expected, audio.pan_ild)[0, 1] >= 0.98


def test_the_wetter_exterior_stays_available_and_is_narrower():
    """Preset "wet" (critical distance 20 m) is the physically wetter variant: more reverberation, narrower image."""
    wet, default = preset("wet"), SpatialSettings()
    assert wet.critical_distance_m == 20.0 and wet.diffuse
    source = pink(2 * SR)
    pan = float(pan_from_x(np.array([0.9]), default)[0])
    ilds = {}
    for name, settings in (("wet", wet), ("default", default)):
        out = render_mix([SoundObject("o", source, Trajectory.constant(pan=pan, distance_m=30.0))], settings, source.size)
        ilds[name] = ild_db(out[:, SR // 2 :])
    assert ilds["wet"] < 3.0 < 10.0 <= ilds["default"]
    assert pan_from_ild(ilds["default"]) > 2 * pan_from_ild(ilds["wet"])
