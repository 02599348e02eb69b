"""Fixtures for the sources tests: simple track objects, WAV files with BWF/iXML chunks, a mini UCS library,
and the test generator plug-in 'installed' by putting its distribution (dist-info + module) on sys.path."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 48_000
PLUGINS = Path(__file__).parent / "plugins"


@dataclass(frozen=True, eq=False)
class FakeTrack:
    """The docs/contracts.md §1 fields of vision's ObjectTrack that sources use."""

    track_id: int
    class_name: str
    times_s: np.ndarray
    x_norm: np.ndarray
    distance_m: np.ndarray
    salience: float = 1.0
    sounding: bool = True

    @property
    def xyxy_norm(self) -> np.ndarray:
        return np.stack([self.x_norm - 0.05, np.full_like(self.x_norm, 0.4), self.x_norm + 0.05, np.full_like(self.x_norm, 0.6)], axis=1)


def make_track(class_name="car", *, track_id=1, duration_s=2.0, x=(0.5, 0.5), distance_m=(10.0, 10.0), salience=1.0, start_s=0.0):
    times = np.linspace(start_s, start_s + duration_s, 21)
    return FakeTrack(track_id, class_name, times, np.linspace(*x, times.size), np.linspace(*distance_m, times.size), salience)


def tone(freq_hz, duration_s=1.0, rate=SR, amplitude=0.3):
    t = np.arange(int(round(duration_s * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def dominant_hz(x, rate=SR):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


def write_wav_with_chunks(path, audio, rate=SR, *, description=None, ixml=None):
    """A WAV written by soundfile with a BWF 'bext' chunk (description) and/or an 'iXML' chunk inserted."""
    path = Path(path)
    sf.write(str(path), np.asarray(audio).T if np.ndim(audio) == 2 else audio, rate, subtype="PCM_16", format="WAV")
    data = path.read_bytes()
    extra = b""
    if description is not None:
        bext = description.encode("latin-1")[:256].ljust(256, b"\0") + b"\0" * (602 - 256)
        extra += b"bext" + struct.pack("<I", len(bext)) + bext
    if ixml is not None:
        body = ixml.encode("utf-8")
        body += b"\0" * (len(body) & 1)
        extra += b"iXML" + struct.pack("<I", len(body)) + body
    riff = data[:12] + extra + data[12:]
    path.write_bytes(riff[:4] + struct.pack("<I", len(riff) - 8) + riff[8:])
    return path


# The mini library: each file a pure tone, so the chosen file can be recognised in any output by its pitch.
MINI_LIBRARY = {
    "VEHCar_Sedan Pass By Fast_JD_TestLib.wav": 300.0,
    "VEHTruck_Diesel Idle_JD_TestLib.wav": 200.0,
    "DOGBark_Small Dog Barks_JD_TestLib.wav": 700.0,
    "FEETHmn_Walk Concrete Shoes_JD_TestLib.wav": 1100.0,
    "BIRDSong_Robin Morning_JD_TestLib.wav": 3000.0,
    "AMBTraf_City Cars Distant_JD_TestLib.wav": 150.0,
}


@pytest.fixture
def mini_library(tmp_path):
    root = tmp_path / "library"
    (root / "vehicles").mkdir(parents=True)
    for name, freq in MINI_LIBRARY.items():
        folder = root / "vehicles" if name.startswith("VEH") else root
        sf.write(str(folder / name), tone(freq, 0.5), SR, subtype="PCM_16")
    return root


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def test_generators(monkeypatch):
    """Install the test generator distribution for this test (sys.path entry holding dist-info + module)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    yield
