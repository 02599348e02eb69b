"""Streaming video decoding with PyAV (FFmpeg): probe a file, check a range, yield downscaled frames.

Media time is seconds since the first frame of the video stream (a stream whose timestamps start at 10 s still
starts at media time 0). Frames are chosen on their own timestamps, so 23.976, 29.97, 60 fps and variable frame
rates all work: the analysis keeps a frame whenever the analysis grid (start_s + k / analysis_fps) has reached it,
and reports the frame's exact media time. Only one decoded frame is alive at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import InvalidMedia, InvalidParameter, MediaNotFound


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    width: int
    height: int
    fps: Fraction  # the stream's nominal (average) rate; the frames' own timestamps are what counts
    duration_s: float


@dataclass(frozen=True, eq=False)
class Frame:
    time_s: float  # media time of this frame
    image: np.ndarray  # (h, w, 3) uint8, BGR (OpenCV's and ultralytics' order)


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise MediaNotFound(f"video file not found: {path}")
    if not path.is_file():
        raise InvalidMedia(f"{path} is not a file")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidMedia(f"{path} cannot be decoded as media (corrupt, truncated or not a video): {exc}") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        kinds = ", ".join(s.type for s in container.streams) or "none"
        raise InvalidMedia(f"{path} has no video stream (streams: {kinds})")
    return container.streams.video[0]


def _stream_start_s(stream: av.video.stream.VideoStream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def probe(path: str | Path) -> MediaInfo:
    """Size, nominal rate and duration of the first video stream; raises MediaNotFound or InvalidMedia."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = math.nan
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = Fraction(rate) if rate else Fraction(0)
        if not ctx.width or not ctx.height:
            raise InvalidMedia(f"{path}: video stream has no frame size (corrupt header?)")
        if not (duration_s > 0):
            raise InvalidMedia(f"{path}: video stream has no duration (empty or truncated file)")
        return MediaInfo(path=path, width=int(ctx.width), height=int(ctx.height), fps=fps, duration_s=duration_s)


def resolve_range(info: MediaInfo, start_s: float | None, end_s: float | None) -> tuple[float, float]:
    """The analysed range in media seconds; None means the media's start or end.

    A range may end up to one frame past the media's end (timelines round to frames); further is an error.
    """
    start = 0.0 if start_s is None else float(start_s)
    end = info.duration_s if end_s is None else float(end_s)
    where = f"{info.path} (duration {info.duration_s:.3f} s)"
    if not (math.isfinite(start) and math.isfinite(end)):
        raise InvalidParameter(f"range [{start_s}, {end_s}] s of {where} is not finite")
    if start < 0:
        raise InvalidParameter(f"start_s={start} s is before the start of {where}")
    slack = 1.0 / float(info.fps) if info.fps else 0.05
    if start >= info.duration_s:
        raise InvalidParameter(f"start_s={start} s is past the end of {where}")
    if end <= start:
        raise InvalidParameter(f"range [{start}, {end}] s of {where} is empty: end_s must be after start_s")
    if end > info.duration_s + slack + 1e-6:
        raise InvalidParameter(f"range [{start}, {end}] s runs past the end of {where}")
    return start, end


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """Frame size after downscaling to at most max_width pixels wide (even numbers, aspect kept)."""
    if width <= max_width:
        return width, height
    scale = max_width / width
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def iter_frames(
    path: str | Path, *, start_s: float, end_s: float, analysis_fps: float, max_width: int = 640
) -> Iterator[Frame]:
    """Yield frames in [start_s, end_s) at about analysis_fps, downscaled to at most max_width, one at a time."""
    if not (math.isfinite(analysis_fps) and 0.1 <= analysis_fps <= 240):
        raise InvalidParameter(f"analysis_fps={analysis_fps} is outside [0.1, 240] frames per second")
    path = Path(path)
    step = 1.0 / analysis_fps
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the cost when analysis is sparse
        offset = _stream_start_s(stream)
        half_frame = 0.5 / float(stream.average_rate) if stream.average_rate else 1e-3
        out_w, out_h = scaled_size(stream.codec_context.width, stream.codec_context.height, max_width)
        if start_s > 0:
            container.seek(int((start_s + offset) / stream.time_base), stream=stream, backward=True, any_frame=False)
        next_t = start_s
        last_t = -math.inf
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - offset
                if t < start_s - half_frame or t <= last_t:
                    continue  # before the range (after a backward seek), or a duplicate timestamp
                if t >= end_s - half_frame:
                    break
                last_t = t
                if t + half_frame < next_t:
                    continue
                next_t = max(next_t + step, t + step - half_frame)  # catch up after gaps (VFR), never drift
                image = frame.to_ndarray(format="bgr24", width=out_w, height=out_h, interpolation="AREA")
                yield Frame(time_s=t, image=image)
        except av.error.FFmpegError as exc:
            raise InvalidMedia(f"{path}: decoding failed near {max(last_t, start_s):.3f} s (corrupt or truncated): {exc}") from None
