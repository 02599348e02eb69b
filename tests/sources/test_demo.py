"""`make demo` uses the synth voices and lands on the loudness target with nothing external."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from stereofoley.demo import run_demo
from stereofoley.sources import integrated_lufs, true_peak_level


def test_demo_uses_synth_voices_and_is_loudness_normalised(tmp_path):
    result = run_demo(tmp_path / "demo")
    mix, rate = sf.read(str(result.mix_path), always_2d=True)
    assert rate == 48_000 and mix.shape == (result.summary["samples"], 2)
    assert integrated_lufs(mix.T) == pytest.approx(-23.0, abs=1.0)
    assert true_peak_level(mix.T) <= -1.0 + 0.05
    assert result.summary["loudness_lufs"] == pytest.approx(-23.0, abs=0.2)
    engine, _ = sf.read(str(tmp_path / "demo" / "vehicle.source.wav"))
    steps, _ = sf.read(str(tmp_path / "demo" / "walker.source.wav"))
    # The car at 12 m/s: firing frequency 28 + 2.5·12 = 58 Hz is the strongest line of its source.
    freqs = np.fft.rfftfreq(engine.size, 1 / 48_000)
    assert freqs[np.argmax(np.abs(np.fft.rfft(engine)))] == pytest.approx(58.0, abs=1.0)
    # The walker's source is steps: mostly silence between short bursts.
    assert np.mean(np.abs(steps) < 1e-4) > 0.5 and np.max(np.abs(steps)) > 0.01
