"""Reading sources at any rate and writing 48 kHz WAV."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.audio import read_mono, write_wav
from stereofoley.errors import InvalidAudio, MediaNotFound, OutputExists
from stereofoley.audio import resample


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_sources_at_any_rate_become_48k_with_exact_length(tmp_path, rate):
    t = np.arange(rate) / rate  # one second
    sf.write(tmp_path / "s.wav", np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)]).T * 0.5, rate)
    mono = read_mono(tmp_path / "s.wav")
    assert mono.shape == (SAMPLE_RATE_HZ,) and mono.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(mono[4800:-4800]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE_HZ / (mono.size - 9600) - 440) < 2


def test_resampled_impulse_stays_in_place():
    x = np.zeros(44100, dtype=np.float32)
    x[22050] = 1.0  # at 0.5 s
    y = resample(x, 44100)
    assert abs(int(np.argmax(y)) - 24000) <= 1


def test_write_wav_is_24_bit_48k_and_refuses_to_overwrite(tmp_path):
    stereo = np.zeros((2, 480), dtype=np.float32)
    path = write_wav(tmp_path / "o.wav", stereo)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (48000, 2, "PCM_24", 480)
    with pytest.raises(OutputExists):
        write_wav(path, stereo)
    write_wav(path, stereo, subtype="FLOAT", overwrite=True)
    assert sf.info(path).subtype == "FLOAT"
    assert [p.name for p in tmp_path.iterdir()] == ["o.wav"]  # no temp files left behind


def test_unreadable_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(MediaNotFound, match="missing.wav"):
        read_mono(tmp_path / "missing.wav")
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(InvalidAudio, match="notes.wav"):
        read_mono(tmp_path / "notes.wav")
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan, 0.1], dtype=np.float32), 48000, subtype="FLOAT")
    with pytest.raises(InvalidAudio, match="NaN"):
        read_mono(tmp_path / "nan.wav")
