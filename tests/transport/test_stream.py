"""Audio over OSC: packet limits, bit-exact loopback, loss and reordering with click-free concealment, monitor."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import soundfile as sf

from stereofoley.cli import main
from stereofoley.errors import InvalidOscMessage, NoAudioDevice
from stereofoley.transport import stream
from stereofoley.transport.security import max_datagram_for
from stereofoley.transport.server import ServerConfig, ServerThread
from stereofoley.transport.stream import (DEFAULT_FADE_FRAMES, JitterBuffer, decode_stream_message, receive_stream,
                                          send_stream, stream_datagrams)

RATE = 48000


def sine_stereo(seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([amp * np.sin(2 * np.pi * 440 * t), amp * np.cos(2 * np.pi * 330 * t)]).astype(np.float32)


def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.7"])
def test_packets_fit_the_datagram_limit_and_carry_their_fields(channels, host):
    audio = np.random.default_rng(channels).standard_normal((channels, 5000)).astype(np.float32)
    limit = max_datagram_for(host)
    dgrams = stream_datagrams(audio, stream_id=7, max_datagram_bytes=limit)
    assert max(len(d) for d in dgrams) <= limit
    assert len(dgrams[0]) > limit - 4 * channels  # full packets use the room they have
    packets = [decode_stream_message(d) for d in dgrams[:-1]]
    assert [p.seq for p in packets] == list(range(len(packets)))
    assert all(p.stream_id == 7 and p.rate_hz == RATE and p.channels == channels for p in packets)
    assert np.array_equal(np.concatenate([p.samples for p in packets], axis=1), audio)
    offsets = np.cumsum([0] + [p.frames for p in packets[:-1]])
    assert [p.sample_offset for p in packets] == offsets.tolist()
    end = decode_stream_message(dgrams[-1])
    assert (end.total_frames, end.n_packets) == (5000, len(packets))


def test_bad_packets_are_refused():
    good = stream_datagrams(np.zeros((2, 10), np.float32), stream_id=1)[0]
    with pytest.raises(InvalidOscMessage):
        decode_stream_message(good[:-4])  # a payload that is not whole frames (or a truncated blob)
    nan = stream.encode_packet(1, 0, 0, RATE, np.full((1, 4), np.nan, np.float32))
    with pytest.raises(InvalidOscMessage, match="NaN"):
        decode_stream_message(nan)


def test_bit_exact_over_loopback():
    audio = sine_stereo(1.0) + np.float32(1e-7) * np.arange(RATE, dtype=np.float32)[None, :] / RATE
    rx = receiver()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        thread = threading.Thread(target=send_stream, args=(tx, rx.getsockname(), audio), kwargs={"pace": 20.0})
        thread.start()
        got = receive_stream(rx, idle_timeout_s=3.0)
        thread.join(10)
    finally:
        rx.close()
        tx.close()
    assert got.complete and got.stats.gaps == 0
    assert got.audio.dtype == np.float32 and np.array_equal(got.audio, audio)


def test_on_audio_hears_the_whole_stream_at_the_stream_rate():
    audio = sine_stereo(0.5)
    heard: list = []
    rx = receiver()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        kwargs = {"pace": 20.0, "rate_hz": 44_100}
        thread = threading.Thread(target=send_stream, args=(tx, rx.getsockname(), audio), kwargs=kwargs)
        thread.start()
        got = receive_stream(rx, idle_timeout_s=3.0, on_audio=lambda block, rate: heard.append((block, rate)))
        thread.join(10)
    finally:
        rx.close()
        tx.close()
    assert got.rate_hz == 44_100 and {rate for _, rate in heard} == {44_100}
    assert np.array_equal(np.concatenate([block for block, _ in heard], axis=1), got.audio)


def max_step(x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x, axis=1))))


def test_loss_and_reordering_are_concealed_without_clicks():
    audio = sine_stereo(2.0)
    dgrams = stream_datagrams(audio, stream_id=2)
    body, end = dgrams[:-1], dgrams[-1]
    rng = np.random.default_rng(5)
    kept = [d for d in body if rng.random() >= 0.05]  # 5 % loss
    order = np.argsort(np.arange(len(kept)) + rng.uniform(0, 4, len(kept)))  # reordering within ~4 packets
    sent = [kept[i] for i in order] + [end] * 3
    lost = len(body) - len(kept)
    assert lost >= 3
    rx = receiver()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for d in sent:
            tx.sendto(d, rx.getsockname())
        got = receive_stream(rx, idle_timeout_s=2.0)
    finally:
        rx.close()
        tx.close()
    out = got.audio
    assert out.shape == audio.shape and np.isfinite(out).all()
    assert got.stats.lost_packets == lost and got.stats.reordered > 0 and got.stats.late == 0
    # The stated bound (module docstring): steps ≤ signal's max step + 2·peak/fade_frames.
    bound = max_step(audio) + 2 * 0.5 / DEFAULT_FADE_FRAMES
    assert max_step(out) <= bound + 1e-6, (max_step(out), bound)
    print(f"stream: {lost}/{len(body)} packets lost, {got.stats.reordered} reordered, max step {max_step(out):.4f} "
          f"(signal {max_step(audio):.4f}, bound {bound:.4f})")
    # The bound means something: plain zero-filling of the same gaps would click far above it.
    zero_filled = audio.copy()
    zero_filled[:, np.all(out == 0, axis=0)] = 0
    assert max_step(zero_filled) > 3 * bound
    # Audio that arrived is passed through unchanged outside the fades.
    same = np.all(out == audio, axis=0).mean()
    assert same > 0.90


def test_jitter_buffer_counts_duplicates_and_late_packets():
    audio = sine_stereo(0.2)
    packets = [decode_stream_message(d) for d in stream_datagrams(audio, stream_id=1)[:-1]]
    buf = JitterBuffer(2, depth_packets=2)
    buf.push(packets[0])
    buf.push(packets[0])  # duplicate
    for p in packets[2:]:
        buf.push(p)
    out = buf.pop_ready()  # packet 1 missing with more than 2 waiting: concealed
    buf.push(packets[1])  # arrives too late
    out = np.concatenate([out, buf.finish(audio.shape[1])], axis=1)
    assert out.shape == audio.shape
    assert (buf.stats.duplicates, buf.stats.late, buf.stats.gaps, buf.stats.lost_packets) == (1, 1, 1, 1)


def test_monitor_to_file_receives_a_stream_from_the_server(root):
    audio = sine_stereo(0.5)
    src = root / "render.wav"
    sf.write(str(src), audio.T, RATE, subtype="FLOAT")
    out = root / "monitor.wav"
    with ServerThread(ServerConfig(port=0, roots=(root,))) as srv:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        code = main(["monitor", "--port", str(port), "--to-file", str(out), "--request", str(src),
                     "--server-port", str(srv.address[1]), "--pace", "10", "--idle-timeout", "3"])
    assert code == 0
    data, rate = sf.read(str(out), dtype="float32", always_2d=True)
    assert rate == RATE and np.array_equal(data.T, audio)


def test_monitor_refuses_clearly_when_the_device_probe_crashes(monkeypatch, capsys):
    from stereofoley.commands import monitor

    monkeypatch.setattr(monitor, "PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(NoAudioDevice, match="crashed.*--to-file"):
        monitor.probe_output_devices()
    assert main(["monitor", "--port", "0", "--idle-timeout", "0.1"]) == 1
    assert "--to-file" in capsys.readouterr().err


def test_real_device_probe_never_crashes_this_process():
    from stereofoley.commands import monitor

    try:
        info = monitor.probe_output_devices()
    except NoAudioDevice as exc:
        assert "--to-file" in str(exc)
    else:
        assert info["outputs"]
