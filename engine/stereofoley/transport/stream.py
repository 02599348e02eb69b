"""Audio over OSC: float32 blobs with stream id, sequence number, sample offset, rate and channel count, and a
jitter buffer that reorders, detects loss and conceals gaps without clicks.

Packet: `/stereofoley/audio ,iihiib stream_id seq sample_offset(int64) rate_hz channels payload`, where the
payload is little-endian float32, frames interleaved (L R L R ...). Its size is chosen so the whole datagram stays
under `max_datagram_bytes` (8192 on loopback, 1400 elsewhere: see security.max_datagram_for).
End of stream: `/stereofoley/audio/end ,iihi stream_id n_packets total_frames rate_hz`, sent three times.

Concealment (stated bound): a missing stretch is filled by ramping the last good sample to 0 over `fade_frames`,
then silence; the audio after it is cross-faded in from the value the fill ended on over `fade_frames`. Inside
a concealed region and its fade-in, no sample-to-sample step exceeds max|Δx| + 2·peak/fade_frames, where max|Δx|
and peak are those of the received signal; with the default 96 frames (2 ms at 48 kHz) that is < 0.021·peak above
the signal's own largest step. Plain zero-filling would step by up to the peak.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

import numpy as np

from pythonosc.osc_message_builder import OscMessageBuilder

from .. import SAMPLE_RATE_HZ
from ..errors import InvalidOscMessage
from .codec import MAX_DATAGRAM_LOOPBACK, decode_message, encode_message

AUDIO_ADDRESS = "/stereofoley/audio"
END_ADDRESS = "/stereofoley/audio/end"
MAX_CHANNELS = 64
DEFAULT_FADE_FRAMES = 96


@dataclass(frozen=True, eq=False)
class AudioPacket:
    stream_id: int
    seq: int
    sample_offset: int
    rate_hz: int
    samples: np.ndarray  # (channels, n) float32

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def frames(self) -> int:
        return self.samples.shape[1]


@dataclass(frozen=True)
class StreamEnd:
    stream_id: int
    n_packets: int
    total_frames: int
    rate_hz: int


def encode_packet(stream_id: int, seq: int, sample_offset: int, rate_hz: int, samples: np.ndarray) -> bytes:
    samples = np.asarray(samples, dtype=np.float32)
    payload = np.ascontiguousarray(samples.T).astype("<f4", copy=False).tobytes()
    builder = OscMessageBuilder(AUDIO_ADDRESS)
    for value, kind in ((stream_id, "i"), (seq, "i"), (sample_offset, "h"), (rate_hz, "i"), (samples.shape[0], "i")):
        builder.add_arg(int(value), kind)  # the offset is always int64: 32 bits run out after 12 h at 48 kHz
    builder.add_arg(payload, "b")
    return builder.build().dgram


def frames_per_packet(channels: int, max_datagram_bytes: int = MAX_DATAGRAM_LOOPBACK) -> int:
    """The most frames whose packet (header included) fits in max_datagram_bytes."""
    one_frame = encode_packet(2**30, 2**30, 2**40, SAMPLE_RATE_HZ, np.zeros((channels, 1), np.float32))
    header = len(one_frame) - 4 * channels  # float32 payloads need no blob padding
    frames = (max_datagram_bytes - header) // (4 * channels)
    if frames < 1:
        raise InvalidOscMessage(f"{max_datagram_bytes} bytes cannot carry one frame of {channels} channels")
    return int(frames)


def stream_datagrams(audio: np.ndarray, *, stream_id: int, rate_hz: int = SAMPLE_RATE_HZ,
                     max_datagram_bytes: int = MAX_DATAGRAM_LOOPBACK) -> list[bytes]:
    """Audio (channels, n) as packets, then one end marker (the last datagram)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or not 1 <= audio.shape[0] <= MAX_CHANNELS:
        raise InvalidOscMessage(f"audio to stream has shape (channels ≤ {MAX_CHANNELS}, n), got {audio.shape}")
    step = frames_per_packet(audio.shape[0], max_datagram_bytes)
    out = [encode_packet(stream_id, seq, start, rate_hz, audio[:, start:start + step])
           for seq, start in enumerate(range(0, audio.shape[1], step))]
    out.append(encode_message(END_ADDRESS, [int(stream_id), len(out), int(audio.shape[1]), int(rate_hz)]))
    for dgram in out:
        if len(dgram) > max_datagram_bytes:  # pragma: no cover - frames_per_packet guarantees it
            raise AssertionError("packet over the datagram limit")
    return out


def file_datagram_blocks(audio_file, *, stream_id: int, max_datagram_bytes: int = MAX_DATAGRAM_LOOPBACK,
                         block_packets: int = 256):
    """Stream an open soundfile.SoundFile without reading it whole: yields (first_frame, n_frames, datagrams) for
    each block of `block_packets` packets, then (total_frames, 0, [end marker]). The datagrams are exactly those
    of `stream_datagrams` on the whole file. Non-finite samples are sent as 0 (a receiver refuses them)."""
    channels = int(audio_file.channels)
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidOscMessage(f"audio to stream has {channels} channels; at most {MAX_CHANNELS}")
    step = frames_per_packet(channels, max_datagram_bytes)
    rate_hz = int(audio_file.samplerate)
    seq = frame = 0
    while True:
        block = audio_file.read(step * block_packets, dtype="float32", always_2d=True)
        if block.shape[0] == 0:
            break
        samples = np.nan_to_num(np.ascontiguousarray(block.T), nan=0.0, posinf=0.0, neginf=0.0)
        datagrams = []
        for start in range(0, samples.shape[1], step):
            datagrams.append(encode_packet(stream_id, seq, frame + start, rate_hz, samples[:, start:start + step]))
            seq += 1
        yield frame, samples.shape[1], datagrams
        frame += samples.shape[1]
    yield frame, 0, [encode_message(END_ADDRESS, [int(stream_id), seq, int(frame), rate_hz])]


def decode_stream_message(datagram: bytes) -> AudioPacket | StreamEnd:
    """Parse and validate an audio packet or an end marker. Raises InvalidOscMessage otherwise."""
    msg = decode_message(datagram, max_bytes=65507)
    a = msg.args
    ints = lambda values: all(isinstance(v, int) and not isinstance(v, bool) for v in values)  # noqa: E731
    if msg.address == END_ADDRESS:
        if len(a) != 4 or not ints(a) or a[1] < 0 or a[2] < 0 or not 1 <= a[3] <= 768_000:
            raise InvalidOscMessage("end marker must be: stream_id n_packets total_frames rate_hz")
        return StreamEnd(*(int(v) for v in a))
    if msg.address != AUDIO_ADDRESS or len(a) != 6 or not ints(a[:5]) or not isinstance(a[5], bytes):
        raise InvalidOscMessage("audio packet must be: stream_id seq sample_offset rate_hz channels float32-blob")
    stream_id, seq, offset, rate, channels, payload = a
    if not 1 <= channels <= MAX_CHANNELS or not 1 <= rate <= 768_000 or offset < 0 or seq < 0:
        raise InvalidOscMessage(f"audio packet fields out of range (channels={channels}, rate={rate}, offset={offset})")
    if len(payload) % (4 * channels):
        raise InvalidOscMessage(f"payload of {len(payload)} bytes is not whole frames of {channels} float32 channels")
    samples = np.frombuffer(payload, dtype="<f4").reshape(-1, channels).T.astype(np.float32)
    if not np.isfinite(samples).all():
        raise InvalidOscMessage("audio packet holds NaN or inf samples")
    return AudioPacket(int(stream_id), int(seq), int(offset), int(rate), samples)


@dataclass
class JitterStats:
    received: int = 0
    duplicates: int = 0
    late: int = 0  # arrived after their place had been concealed
    reordered: int = 0  # arrived after a packet with a higher sequence number
    lost_packets: int = 0  # estimated from concealed frames
    concealed_frames: int = 0
    gaps: int = 0
    invalid: int = 0
    emitted_frames: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class JitterBuffer:
    """Packets in, contiguous audio out. Holds at most `depth_packets` packets waiting for a missing one before it
    declares that one lost and conceals it. `pop_ready()` returns what can be played now; `finish(total)` ends."""

    channels: int
    depth_packets: int = 8
    fade_frames: int = DEFAULT_FADE_FRAMES
    stats: JitterStats = field(default_factory=JitterStats)

    def __post_init__(self) -> None:
        self._pending: dict[int, AudioPacket] = {}
        self._expected = 0  # next frame to emit
        self._max_seq = -1
        self._last = np.zeros(self.channels, np.float32)  # last emitted frame
        self._fade_from: np.ndarray | None = None  # value the concealment ended on
        self._fade_pos = 0
        self._frames_per_packet = 0

    def push(self, packet: AudioPacket) -> None:
        if packet.channels != self.channels:
            self.stats.invalid += 1
            return
        self.stats.received += 1
        self._frames_per_packet = max(self._frames_per_packet, packet.frames)
        if packet.seq < self._max_seq:
            self.stats.reordered += 1
        self._max_seq = max(self._max_seq, packet.seq)
        if packet.sample_offset < self._expected:
            self.stats.late += 1
        elif packet.sample_offset in self._pending:
            self.stats.duplicates += 1
        else:
            self._pending[packet.sample_offset] = packet

    def pop_ready(self, *, flush: bool = False) -> np.ndarray:
        """Audio (channels, n) that is ready in order; conceals a gap once `depth_packets` are waiting behind it
        (or at once with flush=True)."""
        parts: list[np.ndarray] = []
        while self._pending:
            packet = self._pending.pop(self._expected, None)
            if packet is not None:
                parts.append(self._emit(packet.samples))
                continue
            if flush or len(self._pending) > self.depth_packets:
                parts.append(self._conceal(min(self._pending) - self._expected))
                continue
            break
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.channels, 0), np.float32)

    def finish(self, total_frames: int) -> np.ndarray:
        """Everything left, concealing missing stretches, cut or concealed to exactly `total_frames` in all."""
        out = [self.pop_ready(flush=True)]
        if self._expected < total_frames:
            out.append(self._conceal(total_frames - self._expected))
        audio = np.concatenate(out, axis=1)
        excess = self._expected - total_frames
        if excess > 0:
            audio = audio[:, : audio.shape[1] - excess]
            self.stats.emitted_frames -= excess
            self._expected = total_frames
        return audio

    def _emit(self, samples: np.ndarray) -> np.ndarray:
        samples = samples.astype(np.float32, copy=True)
        if self._fade_from is not None:  # cross-fade in from where the concealment left off
            n = min(samples.shape[1], self.fade_frames - self._fade_pos)
            w = (np.arange(self._fade_pos, self._fade_pos + n, dtype=np.float32) + 1.0) / self.fade_frames
            samples[:, :n] = self._fade_from[:, None] * (1.0 - w) + samples[:, :n] * w
            self._fade_pos += n
            if self._fade_pos >= self.fade_frames:
                self._fade_from, self._fade_pos = None, 0
        self._advance(samples)
        return samples

    def _conceal(self, n: int) -> np.ndarray:
        start = self._last.astype(np.float32)
        k = np.arange(1, n + 1, dtype=np.float32)
        ramp = np.clip(1.0 - k / self.fade_frames, 0.0, 1.0)
        fill = start[:, None] * ramp[None, :]
        self.stats.gaps += 1
        self.stats.concealed_frames += n
        if self._frames_per_packet:
            self.stats.lost_packets += max(1, round(n / self._frames_per_packet))
        self._fade_from, self._fade_pos = fill[:, -1].copy(), 0
        self._advance(fill)
        return fill

    def _advance(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self._last = block[:, -1].copy()
        self._expected += block.shape[1]
        self.stats.emitted_frames += block.shape[1]


def send_stream(sock: socket.socket, dest: tuple[str, int], audio: np.ndarray, *, stream_id: int = 1,
                rate_hz: int = SAMPLE_RATE_HZ, max_datagram_bytes: int = MAX_DATAGRAM_LOOPBACK,
                pace: float = 1.0) -> int:
    """Send audio as blobs, paced at `pace` times real time (0: unpaced). Returns the number of datagrams."""
    datagrams = stream_datagrams(audio, stream_id=stream_id, rate_hz=rate_hz, max_datagram_bytes=max_datagram_bytes)
    n_audio = len(datagrams) - 1
    duration_s = audio.shape[1] / rate_hz
    start = time.monotonic()
    for i, dgram in enumerate(datagrams[:-1]):
        if pace > 0:
            delay = start + duration_s * (i / max(1, n_audio)) / pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sock.sendto(dgram, dest)
    for _ in range(3):
        sock.sendto(datagrams[-1], dest)
        time.sleep(0.002)
    return len(datagrams)


@dataclass(frozen=True, eq=False)
class ReceivedStream:
    audio: np.ndarray  # (channels, total_frames) float32
    rate_hz: int
    stream_id: int
    complete: bool  # an end marker arrived (else the idle timeout ended it)
    stats: JitterStats


_MALFORMED = object()  # what _next_item returns for a datagram that is not a stream message


def _next_item(sock: socket.socket, timeout_s: float):
    """The next decoded stream message, _MALFORMED for a bad datagram, or None when nothing came in time."""
    sock.settimeout(timeout_s)
    try:
        data, _ = sock.recvfrom(65536)
    except (socket.timeout, BlockingIOError):
        return None
    try:
        return decode_stream_message(data)
    except InvalidOscMessage:
        return _MALFORMED


MAX_STREAM_S = 4 * 3600.0  # the longest stream a receiver accepts, in seconds of audio
MAX_GAP_S = 10.0  # the furthest a packet may jump ahead of what was received, in seconds


def _within_caps(packet: AudioPacket, buffer: "JitterBuffer | None", max_stream_s: float, max_gap_s: float) -> bool:
    end = packet.sample_offset + packet.frames
    if end > max_stream_s * packet.rate_hz:
        return False
    expected = buffer._expected if buffer is not None else 0
    return packet.sample_offset - expected <= max_gap_s * packet.rate_hz


def receive_stream(sock: socket.socket, *, idle_timeout_s: float = 2.0, max_duration_s: float = 3600.0,
                   depth_packets: int = 8, on_audio=None, max_stream_s: float = MAX_STREAM_S,
                   max_gap_s: float = MAX_GAP_S) -> ReceivedStream:
    """Receive the first stream that arrives on `sock` until its end marker (or `idle_timeout_s` of silence).
    `on_audio(block, rate_hz)` gets audio as soon as it is ready (a real-time player); the whole stream is returned
    too. Bounded: a packet more than `max_gap_s` ahead of the stream, or past `max_stream_s`, is dropped (counted
    as invalid); an end marker claiming more than `max_stream_s` raises InvalidOscMessage naming the cap."""
    buffer: JitterBuffer | None = None
    stream_id, rate_hz = None, SAMPLE_RATE_HZ
    blocks: list[np.ndarray] = []
    invalid = 0
    end: StreamEnd | None = None
    deadline = time.monotonic() + max_duration_s
    while time.monotonic() < deadline:
        item = _next_item(sock, idle_timeout_s)
        if item is None:
            break
        if item is _MALFORMED:
            invalid += 1
            continue
        if stream_id is not None and item.stream_id != stream_id:
            continue  # one stream at a time
        if isinstance(item, StreamEnd):
            if item.total_frames > max_stream_s * item.rate_hz:
                raise InvalidOscMessage(f"stream end marker claims {item.total_frames} frames "
                                        f"({item.total_frames / item.rate_hz:.0f} s at {item.rate_hz} Hz); the cap is "
                                        f"max_stream_s={max_stream_s:g} s")
            if buffer is None:
                buffer = JitterBuffer(1, depth_packets=depth_packets)  # nothing arrived: silence of that length
                stream_id, rate_hz = item.stream_id, item.rate_hz
            end = item
            break
        if not _within_caps(item, buffer, max_stream_s, max_gap_s):
            invalid += 1
            continue
        if buffer is None:
            stream_id, rate_hz = item.stream_id, item.rate_hz
            buffer = JitterBuffer(item.channels, depth_packets=depth_packets)
        elif item.channels != buffer.channels:
            invalid += 1
            continue
        buffer.push(item)
        block = buffer.pop_ready()
        if block.shape[1]:
            blocks.append(block)
            if on_audio is not None:
                on_audio(block, rate_hz)
    if buffer is None:
        raise InvalidOscMessage(f"no audio stream arrived within {idle_timeout_s} s")
    # Drain datagrams already queued behind the end marker (reordered packets), without waiting.
    while end is not None:
        item = _next_item(sock, 0.05)
        if item is None:
            break
        if (isinstance(item, AudioPacket) and item.stream_id == stream_id and item.channels == buffer.channels
                and _within_caps(item, buffer, max_stream_s, max_gap_s)):
            buffer.push(item)
    received_end = max([buffer._expected] + [p.sample_offset + p.frames for p in buffer._pending.values()])
    total = end.total_frames if end is not None else buffer._expected + sum(p.frames for p in buffer._pending.values())
    if total - received_end > max_gap_s * rate_hz:
        raise InvalidOscMessage(f"stream end marker claims {total} frames but audio arrived up to frame {received_end}: "
                                f"{(total - received_end) / rate_hz:.1f} s missing, above the cap max_gap_s={max_gap_s:g} s")
    tail = buffer.finish(total)
    if tail.shape[1]:
        blocks.append(tail)
        if on_audio is not None:
            on_audio(tail, rate_hz)
    buffer.stats.invalid += invalid
    audio = np.concatenate(blocks, axis=1) if blocks else np.zeros((buffer.channels, 0), np.float32)
    return ReceivedStream(audio, rate_hz, stream_id, end is not None, buffer.stats)
