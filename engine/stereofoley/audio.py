"""Audio file I/O at the edges of the engine: read anything soundfile reads, write 48 kHz WAV atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from . import SAMPLE_RATE_HZ
from .errors import InvalidAudio, InvalidParameter, MediaNotFound
from .files import atomic_output
from .spatial.dsp import check_mono, resample


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as float32 (channels, n) at its own rate. Clear errors for missing, non-audio, empty or NaN."""
    path = Path(path)
    if not path.is_file():
        raise MediaNotFound(f"audio file not found: {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise InvalidAudio(f"{path} is not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise InvalidAudio(f"{path} holds no samples")
    data = np.ascontiguousarray(data.T)
    bad = np.flatnonzero(~np.isfinite(data).all(axis=0))
    if bad.size:
        raise InvalidAudio(f"{path} has NaN/inf samples (first at frame {bad[0]})")
    return data, int(rate)


def read_mono(path: str | os.PathLike) -> np.ndarray:
    """A file as a mono float32 source at 48 kHz (channels averaged, then resampled with soxr)."""
    data, rate = read_audio(path)
    return check_mono(resample(data.mean(axis=0), rate))


def write_wav(path: str | os.PathLike, audio: np.ndarray, *, subtype: str = "PCM_24", overwrite: bool = False) -> Path:
    """Write (channels, n) float audio at 48 kHz as WAV, atomically (temp file + rename)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise InvalidParameter(f"audio to write has shape (channels, n), got {audio.shape}")
    if not np.isfinite(audio).all():
        raise InvalidAudio("refusing to write audio with NaN/inf samples")
    with atomic_output(path, overwrite=overwrite) as tmp:
        sf.write(str(tmp), audio.T, SAMPLE_RATE_HZ, subtype=subtype, format="WAV")
    return Path(path)
