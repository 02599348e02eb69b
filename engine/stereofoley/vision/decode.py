"""Streaming video decoding with PyAV (FFmpeg): probe a file, check a range, yield downscaled frames.

Media time is seconds since the first frame of the video stream (a stream whose timestamps start at 10 s still
starts at media time 0). Frames are chosen on their own timestamps, so 23.976, 29.97, 60 fps and variable frame
rates all work: the analysis takes the frame nearest each point of the grid start_s + k / analysis_fps and reports
its exact media time. Frames that no analysed frame needs are not decoded (unreferenced B-frames; without
reordering, everything after the last needed frame before the next keyframe). At most two decoded frames are
alive at a time (the nearest-frame choice looks one frame ahead); `prefetched` runs decoding ahead in a thread.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, TypeVar

import av
import numpy as np

from ..errors import InvalidMedia, InvalidParameter, MediaNotFound
from ..files import check_read


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
    duration_s: float = 0.0  # how long the frame is shown, from its own timestamps (0: unknown)


def _open(path: Path) -> av.container.InputContainer:
    check_read(path, "video file")
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
    """Yield frames in [start_s, end_s) at about analysis_fps, downscaled to at most max_width, one at a time.

    For each point of the grid start_s + k / analysis_fps the nearest media frame is analysed (once; a grid
    point with no frame within half a step, in a VFR gap, gets none). Frames near no grid point are decoded only
    when an analysed frame refers to them (see _decoded): the same frames and pixels as decoding everything.
    """
    if not (math.isfinite(analysis_fps) and 0.1 <= analysis_fps <= 240):
        raise InvalidParameter(f"analysis_fps={analysis_fps} is outside [0.1, 240] frames per second")
    path = Path(path)
    step = 1.0 / analysis_fps
    with _open(path) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"  # frame + slice threads, thread_count 0 = one per core
        offset = _stream_start_s(stream)
        half_frame = 0.5 / float(stream.average_rate) if stream.average_rate else 1e-3
        out_w, out_h = scaled_size(ctx.width, ctx.height, max_width)
        if start_s > 0:
            container.seek(int((start_s + offset) / stream.time_base), stream=stream, backward=True, any_frame=False)
        grid = _Grid(start_s, step)
        prev: tuple[float, av.VideoFrame] | None = None  # the latest decoded frame, not yet known to be unneeded
        emitted_t = last_t = -math.inf

        def emit(candidates: tuple[tuple[float, av.VideoFrame] | None, ...], until_t: float) -> Iterator[Frame]:
            """Frames for the grid points before until_t, each the nearest of the candidates."""
            nonlocal emitted_t
            present = [c for c in candidates if c is not None]
            while grid.t < until_t:
                # nearest; on a tie (a grid point halfway between two frames) the later one
                best = min(present, key=lambda c: (round(abs(c[0] - grid.t), 9), -c[0]), default=None)
                if best is not None and best[0] > emitted_t and abs(best[0] - grid.t) <= step / 2:
                    emitted_t = best[0]
                    image = best[1].to_ndarray(format="bgr24", width=out_w, height=out_h, interpolation="AREA")
                    yield Frame(best[0], image, _frame_duration_s(best[1], stream))
                elif best is None or abs(best[0] - grid.t) > step:
                    # no frame near this grid point (a VFR gap, up to 1000 hours): jump to the point before the
                    # next candidate (or until_t) instead of walking the gap point by point
                    ahead = [c[0] for c in present if c[0] > grid.t]
                    if grid.skip_to(min(ahead + [until_t]) - step):
                        continue
                grid.advance()

        try:
            # A frame within half a media frame of a grid point is decoded in full: at a constant rate that is
            # the nearest frame, so the choice is the one decoding everything would make.
            needed = lambda t: grid.distance(t) <= half_frame + 1e-6  # noqa: E731
            for t, frame in _decoded(container, stream, offset, needed, end_s=end_s - half_frame):
                if t < start_s - half_frame or t <= last_t:
                    continue  # before the range (after a backward seek), or a duplicate timestamp
                if t >= end_s - half_frame:
                    break
                last_t = t
                yield from emit((prev, (t, frame)), until_t=t)
                prev = (t, frame)
        except av.error.FFmpegError as exc:
            if prev is None:
                raise InvalidMedia(f"{path}: decoding failed near {max(last_t, start_s):.3f} s (corrupt or truncated): {exc}") from None
            # damaged from here on: keep what decoded; the analysis reports the fraction of the range it covers
        yield from emit((prev,), until_t=end_s if prev is None else min(end_s, prev[0] + step))


def _decoded(container, stream, offset: float, needed, end_s: float) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decoded frames (output order) with their media times, decoding as little as the needed frames allow.

    - A packet whose time `needed` rejects is sent with skip_frame=NONREF: libavcodec drops it unless other
      frames refer to it (B-frames). libavcodec reads skip_frame when the packet is sent (frame threads copy it
      then), so the setting applies per packet.
    - While packets come in presentation order (no B-frames: all-intra codecs, IPPP, ...), a frame is only ever
      referred to by later packets, so the packets after the last needed one up to the next random-access
      point (keyframe) are never sent; the decoder restarts at that keyframe as after a seek. Packets from
      end_s on are not even read. With reordering (B-frames) every packet is sent.
    """
    ctx = stream.codec_context
    pending: list[tuple[av.Packet, float | None]] = []  # read, not yet known to be needed by a needed frame
    in_order, restart, latest_t = True, False, -math.inf

    def send(packet: av.Packet | None, t: float | None) -> Iterator[tuple[float, av.VideoFrame]]:
        ctx.skip_frame = "DEFAULT" if t is None or needed(t) else "NONREF"
        for frame in ctx.decode(packet):
            if frame.pts is not None:
                yield float(frame.pts * stream.time_base) - offset, frame

    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the demuxer's end marker; the decoder is drained below
        t = None if packet.pts is None else float(packet.pts * stream.time_base) - offset
        in_order = in_order and t is not None and t >= latest_t
        if in_order:
            latest_t = t
            if t >= end_s:
                break  # every later packet is later still
            if packet.is_keyframe and pending:
                pending.clear()  # nothing needed depends on them: skip to this random-access point
                restart = True
        pending.append((packet, t))
        if not in_order or t is None or needed(t):
            if restart:  # as after a seek: take out what the decoder holds, then reset it
                yield from send(None, None)
                ctx.flush_buffers()
                restart = False
            for p, pt in pending:
                yield from send(p, pt)
            pending.clear()
    yield from send(None, None)


def _frame_duration_s(frame: av.VideoFrame, stream) -> float:
    duration = getattr(frame, "duration", None)
    return float(duration * stream.time_base) if duration and stream.time_base is not None else 0.0


class _Grid:
    """The analysis grid start_s + k * step_s, walked forward; k is an integer so it never drifts."""

    def __init__(self, start_s: float, step_s: float) -> None:
        self.start_s, self.step_s, self.k = start_s, step_s, 0

    @property
    def t(self) -> float:
        return self.start_s + self.k * self.step_s

    def advance(self) -> None:
        self.k += 1

    def skip_to(self, t: float) -> bool:
        """Forward to the first grid point at or after t, in one step; False (and no move) if that is not ahead."""
        k = math.ceil((t - self.start_s) / self.step_s) if math.isfinite(t) else self.k
        if k <= self.k:
            return False
        self.k = k
        return True

    def distance(self, t: float) -> float:
        """From t to the nearest grid point at or after start_s."""
        k = max(0.0, round((t - self.start_s) / self.step_s))
        return abs(t - (self.start_s + k * self.step_s))


T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T], depth: int = 3) -> Iterator[T]:
    """Yield items produced by a background thread, up to depth ahead.

    libavcodec and swscale release the GIL, so the next frames decode while the caller runs the detector on
    this one (decoding every 1080p frame costs as much as detecting on the analysed ones). Errors are re-raised
    here; closing this generator stops the thread, which closes items (and with it the media file).
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            put((_END, exc))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    worker = threading.Thread(target=work, name="stereofoley-decode", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()
