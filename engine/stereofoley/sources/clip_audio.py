"""The clip's own production audio: a mono mixdown of the media's first audio stream through PyAV.

`extract_clip_audio(media, start_s, n_samples)` returns exactly n_samples at 48 kHz whose sample k is the media's
sound at time start_s + k/48000 (media time = the stream's presentation time in seconds). Decoded frames are
placed by their timestamps (or, in containers whose timestamps are coarser than a sample, by counting from the
stream's start), so a seek that lands early or a stream that starts late is still aligned; time outside the
stream is silence. At other rates the decoded span starts on a time that lies on both
sample grids (a multiple of 1/gcd(rate, 48000) s), so resampling keeps the alignment exact.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE_HZ
from ..errors import InvalidAudio, InvalidParameter, MediaNotFound, SourceUnavailable
from ..audio import resample
from ..files import check_read

PAD_S = 0.05  # decoded on each side of the range so the resampler's edges fall outside it
_SCALE = {"u8": None, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0, "flt": 1.0, "dbl": 1.0}


def _frame_samples(frame) -> np.ndarray:
    """A decoded audio frame as float64 (channels, n), whatever its sample format."""
    fmt = frame.format.name.rstrip("p")
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    if fmt == "u8":
        return (data.astype(np.float64) - 128.0) / 128.0
    if fmt not in _SCALE:
        raise InvalidAudio(f"unsupported audio sample format {frame.format.name!r}")
    return data.astype(np.float64) / _SCALE[fmt]


def _open_media(path: Path):
    """The media as a PyAV container (MediaNotFound / InvalidAudio when it cannot be opened)."""
    import av  # the vision extra; imported here so the rest of the sources work without it

    check_read(path, "media file")
    if not path.is_file():
        raise MediaNotFound(f"media file not found: {path}")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise InvalidAudio(f"{path} cannot be opened as media ({exc})") from None


def audio_stream_count(media_path: str | os.PathLike) -> int:
    """How many audio streams the media has (MediaNotFound / InvalidAudio when it cannot be opened)."""
    with _open_media(Path(media_path)) as container:
        return len(container.streams.audio)


def extract_clip_audio(media_path: str | os.PathLike, start_s: float, n_samples: int, *, stream_index: int = 0) -> np.ndarray:
    """Mono float32 (n_samples,) at 48 kHz: the media's audio from start_s on, channels averaged."""
    path = Path(media_path)
    if not path.is_file():
        raise MediaNotFound(f"media file not found: {path}")
    if n_samples < 0 or not math.isfinite(start_s) or start_s < 0:
        raise InvalidParameter(f"clip audio range start_s={start_s} s, n_samples={n_samples} must be finite and >= 0")
    with _open_media(path) as container:
        if len(container.streams.audio) <= stream_index:
            raise SourceUnavailable(f"{path} has no audio stream #{stream_index} (it has {len(container.streams.audio)})")
        stream = container.streams.audio[stream_index]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        # The decoded span [a0, a1) in native samples; a0 lies on the common grid of both rates.
        grid = rate // math.gcd(rate, SAMPLE_RATE_HZ)
        a0 = math.floor((start_s - PAD_S) * rate / grid) * grid
        a1 = math.ceil((start_s + n_samples / SAMPLE_RATE_HZ + PAD_S) * rate) + 1
        span = np.zeros(a1 - a0)
        # One timestamp tick in samples. Where a tick is coarser than a sample (Matroska's 1 ms), a timestamp
        # cannot place a frame exactly, so decoding starts at the stream's beginning and frames are counted;
        # timestamps then only mark real gaps. Where ticks are samples (QuickTime/MP4), seeking is exact.
        tick = max(1, math.ceil(stream.time_base * rate))
        if tick == 1 and a0 / rate > 1.0:
            container.seek(int((a0 / rate - 0.5) / stream.time_base), stream=stream, backward=True, any_frame=False)
        expected = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            stamped = int(round(Fraction(frame.pts) * stream.time_base * rate))
            first = expected if expected is not None and abs(stamped - expected) <= tick else stamped
            expected = first + frame.samples
            if first >= a1:
                break
            mono = _frame_samples(frame).mean(axis=0)
            lo, hi = max(first, a0), min(first + mono.size, a1)
            if hi > lo:
                span[lo - a0 : hi - a0] = mono[lo - first : hi - first]
    at_48k = resample(span.astype(np.float32), rate) if rate != SAMPLE_RATE_HZ else span
    offset = int(round((Fraction(start_s).limit_denominator(10**9) - Fraction(a0, rate)) * SAMPLE_RATE_HZ))
    out = np.asarray(at_48k[offset : offset + n_samples], dtype=np.float32)
    if out.size < n_samples:
        out = np.pad(out, (0, n_samples - out.size))
    return out
