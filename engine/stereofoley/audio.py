"""Audio file I/O at the edges of the engine: read anything soundfile reads, write 48 kHz WAV atomically."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from . import SAMPLE_RATE_HZ
from .errors import InvalidAudio, InvalidParameter, MediaNotFound
from .files import atomic_output, check_read


def resample(x: np.ndarray, rate_hz: int) -> np.ndarray:
    """Resample (channels, n) or (n,) to 48 kHz with soxr (VHQ); length is round(n · 48000 / rate)."""
    if rate_hz <= 0:
        raise InvalidAudio(f"sample rate {rate_hz} Hz is not positive")
    x = np.asarray(x, dtype=np.float32)
    if rate_hz == SAMPLE_RATE_HZ:
        return x
    target = int(round(x.shape[-1] * SAMPLE_RATE_HZ / rate_hz))
    # soxr wants (frames, channels)
    y = soxr.resample(np.ascontiguousarray(np.atleast_2d(x).T), rate_hz, SAMPLE_RATE_HZ, quality="VHQ").T
    y = y[:, :target] if y.shape[1] >= target else np.pad(y, ((0, 0), (0, target - y.shape[1])))
    return (y[0] if x.ndim == 1 else y).astype(np.float32)


def check_mono(source: np.ndarray) -> np.ndarray:
    x = np.asarray(source)
    if x.ndim != 1:
        raise InvalidAudio(f"a mono source has shape (n,), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidAudio(f"audio samples must be numbers, got {x.dtype}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InvalidAudio(f"source has {bad.size} NaN/inf samples (first at sample {bad[0]})")
    return x.astype(np.float32, copy=False)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as float32 (channels, n) at its own rate. Clear errors for missing, non-audio, empty or NaN."""
    path = check_read(path, "audio file")
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


# ------------------------------------------------------------------------------------ Broadcast Wave (BWF)
_BEXT_FIXED = struct.Struct("<256s32s32s10s8sIIH64s190s")  # EBU Tech 3285 v1: 602 bytes before CodingHistory


def write_bwf(path: str | os.PathLike, audio: np.ndarray, *, time_reference_samples: int, description: str = "",
              subtype: str = "PCM_24", overwrite: bool = False) -> Path:
    """A 48 kHz WAV with a Broadcast Wave `bext` chunk whose TimeReference (samples since midnight) places
    it at its record timecode in hosts that spot by timecode. Written atomically."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise InvalidParameter(f"audio to write has shape (channels, n), got {audio.shape}")
    if not np.isfinite(audio).all():
        raise InvalidAudio("refusing to write audio with NaN/inf samples")
    if time_reference_samples < 0:
        raise InvalidParameter(f"time_reference_samples={time_reference_samples} must not be negative")
    buffer = io.BytesIO()
    sf.write(buffer, audio.T, SAMPLE_RATE_HZ, subtype=subtype, format="WAV")
    data = _with_bext(buffer.getvalue(), time_reference_samples, description)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _with_bext(wav: bytes, time_reference: int, description: str) -> bytes:
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise InvalidAudio("not a RIFF/WAVE stream")
    bext = _BEXT_FIXED.pack(
        description.encode("ascii", "replace")[:256], b"StereoFoley", b"", b"", b"",
        time_reference & 0xFFFFFFFF, time_reference >> 32, 1, b"", b"",
    )
    chunk = b"bext" + struct.pack("<I", len(bext)) + bext
    # Insert right after the fmt chunk (readers expect fmt first; bext may be anywhere before data). libsndfile's
    # PEAK chunk (float files) holds the time of writing: its timestamp is zeroed, so the same audio gives the
    # same bytes.
    offset, chunks, has_fmt = 12, [], False
    while offset < len(wav):
        cid, size = wav[offset:offset + 4], struct.unpack("<I", wav[offset + 4:offset + 8])[0]
        end = offset + 8 + size + (size & 1)
        if cid == b"PEAK" and size >= 8:  # version (4 bytes), timestamp (4 bytes), then the peaks
            chunks.append(wav[offset:offset + 12] + b"\x00\x00\x00\x00" + wav[offset + 16:end])
        else:
            chunks.append(wav[offset:end])
        if cid == b"fmt ":
            chunks.append(chunk)
            has_fmt = True
        offset = end
    if not has_fmt:
        raise InvalidAudio("WAV stream has no fmt chunk")
    body = b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def read_bwf_time_reference(path: str | os.PathLike) -> int | None:
    """The bext TimeReference of a WAV file in samples, or None if it has no bext chunk."""
    data = Path(path).read_bytes()
    offset = 12
    while offset + 8 <= len(data):
        cid, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if cid == b"bext":
            low, high = struct.unpack("<II", data[offset + 8 + 338: offset + 8 + 346])
            return low | (high << 32)
        offset += 8 + size + (size & 1)
    return None
