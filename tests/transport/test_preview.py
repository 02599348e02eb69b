"""Live preview: pure curve → message mapping, then a fake REAPER on loopback (/time at 30 Hz)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import numpy as np
import pytest

from stereofoley.errors import InvalidOscMessage, InvalidParameter
from stereofoley.spatial.dsp import distance_gain
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import decode_message, encode_message, PREFIX
from stereofoley.transport.server import ServerConfig, ServerThread
from stereofoley.transport.preview import Playhead, PreviewEngine, PreviewParams, clips_from_json, messages_at

RECORD_START_S = 10.0
PAN = [[0.0, -0.8], [4.0, 0.8]]  # 0.4 pan units a second
PREVIEW = {"clips": [{"id": "c1", "record_start_s": RECORD_START_S, "duration_s": 4.0, "tracks": [
    {"track": 3, "name": "car", "curves": {"pan": PAN, "gain_db": [[0.0, -6.0], [4.0, -12.0]],
                                           "distance_m": [[0.0, 2.0], [4.0, 4.0]]}},
    {"track": 4, "name": "dog", "curves": {"pan": [[0.0, 0.5]], "gain_db": [[0.0, -3.0]]}}]}]}


def pan_at(t_clip: float) -> float:
    return float(np.interp(t_clip, [p[0] for p in PAN], [p[1] for p in PAN]))


def test_messages_follow_curves_and_params():
    clips = clips_from_json(PREVIEW)
    msgs = dict(messages_at(clips, RECORD_START_S + 1.0, PreviewParams()))
    assert msgs["/track/3/pan"][0] == pytest.approx((pan_at(1.0) + 1) / 2, abs=1e-12)
    assert msgs["/track/3/volume/db"][0] == pytest.approx(-7.5)
    narrow = dict(messages_at(clips, RECORD_START_S + 1.0, PreviewParams(stereo_width=0.5)))
    assert narrow["/track/3/pan"][0] == pytest.approx((0.5 * pan_at(1.0) + 1) / 2)
    # roll-off 2 doubles the distance law's dB: at 2.5 m with the default 1 m reference that is 20·log10(1/2.5) more
    steep = dict(messages_at(clips, RECORD_START_S + 1.0, PreviewParams(rolloff=2.0)))
    law_db = 20 * np.log10(distance_gain(np.array([2.5]), 1.0, 200.0)[0])
    assert steep["/track/3/volume/db"][0] == pytest.approx(-7.5 + law_db)
    assert law_db == pytest.approx(20 * np.log10(1 / 2.5), abs=1e-9)  # inverse distance law
    assert messages_at(clips, RECORD_START_S - 0.1, PreviewParams()) == []
    assert messages_at(clips, RECORD_START_S + 4.0, PreviewParams()) == []


def test_bad_preview_data_and_params():
    with pytest.raises(InvalidOscMessage):
        clips_from_json({"clips": [{"record_start_s": 0, "tracks": [{"track": 1, "curves": {"pan": [[0, 2.0]], "gain_db": [[0, 0]]}}]}]})
    with pytest.raises(InvalidOscMessage):
        clips_from_json({"clips": [{"tracks": []}]})
    with pytest.raises(InvalidParameter):
        PreviewParams(stereo_width=1.5)
    engine = PreviewEngine()
    engine.load_json(json.dumps(PREVIEW))
    with pytest.raises(InvalidOscMessage):
        engine.set_mute("nobody", True)


def test_playhead_extrapolates_and_seeks():
    head = Playhead()
    head.on_time(5.0, clock_s=100.0)
    assert head.at(101.0) == 5.0  # stopped
    head.on_play(True, clock_s=101.0)
    assert head.at(102.5) == pytest.approx(6.5)
    head.on_time(6.52, clock_s=102.5)  # small jitter: slewed, not jumped
    assert 6.5 < head.at(102.5) < 6.52
    head.on_time(30.0, clock_s=103.0)  # a seek
    assert head.at(103.0) == 30.0


def _recv_with_kernel_time(sock: socket.socket):
    """A datagram and the kernel's receive time (SO_TIMESTAMP, wall clock), so test-thread delays do not count."""
    data, anc, _, _ = sock.recvmsg(65536, 64)
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == getattr(socket, "SCM_TIMESTAMP", 29):
            sec, usec = struct.unpack("ll", payload[:16])
            return data, sec + usec / 1e6
    return data, time.time()


def test_fake_reaper_gets_curve_values_at_the_playhead(root):
    reaper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reaper.bind(("127.0.0.1", 0))
    reaper.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMP", 29), 1)
    reaper.settimeout(0.5)
    config = ServerConfig(port=0, roots=(root,), reaper_port=reaper.getsockname()[1], reaper_listen_port=0)
    received: list[tuple[float, str, float]] = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                data, t = _recv_with_kernel_time(reaper)
            except (socket.timeout, OSError):
                continue
            msg = decode_message(data)
            if msg.args:
                received.append((t, msg.address, msg.args[0]))

    with ServerThread(config) as srv, OscClient(*srv.address) as control:
        assert control.request(f"{PREFIX}/preview/load", json.dumps(PREVIEW), expect=f"{PREFIX}/preview/loaded").args == (1,)
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        feedback = srv.reaper_listen_address
        t0 = time.time()
        playhead = lambda wall: RECORD_START_S + (wall - t0)  # noqa: E731 - REAPER plays from 10 s
        reaper.sendto(encode_message("/play", [1.0]), feedback)
        change_at = None
        n_frames = 0
        while time.time() - t0 < 2.0:  # /time at 30 Hz, like REAPER's feedback
            reaper.sendto(encode_message("/time", [float(playhead(time.time()))]), feedback)
            n_frames += 1
            if change_at is None and time.time() - t0 > 1.2:
                change_at = time.time()
                control.send(f"{PREFIX}/param/set", "stereo_width", 0.5)
            time.sleep(1 / 30)
        reaper.sendto(encode_message("/stop", [1.0]), feedback)
        time.sleep(0.1)
        stop.set()
        listener.join(2)
        reaper.close()

    pans = [(t, v) for t, a, v in received if a == "/track/3/pan"]
    steady = [(t, v) for t, v in pans if t0 + 0.3 < t < change_at]  # skip the first /time's settling
    rate = len(steady) / (steady[-1][0] - steady[0][0])
    assert rate >= 60, f"{rate:.1f} pan messages a second"
    errors = np.array([v - (pan_at(playhead(t) - RECORD_START_S) + 1) / 2 for t, v in steady])
    assert np.max(np.abs(errors)) <= 0.01, f"max error {np.max(np.abs(errors)):.4f} of the 0..1 range"  # 1 %
    # The width change: the first message that matches half width, after the change was sent.
    after = [(t, v) for t, v in pans if t > change_at]
    half = lambda t: (0.5 * pan_at(playhead(t) - RECORD_START_S) + 1) / 2  # noqa: E731
    first = next(t for t, v in after if abs(v - half(t)) <= 0.005)
    assert first - change_at <= 0.050, f"change took {1000 * (first - change_at):.1f} ms"
    assert all(abs(v - half(t)) <= 0.01 for t, v in after if t > first)
    print(f"preview: {rate:.1f} pan msg/s, max error {np.max(np.abs(errors)):.5f} of 0..1, "
          f"width change seen after {1000 * (first - change_at):.1f} ms")
    assert any(a == "/track/3/volume/db" for _, a, _ in received)
    assert any(a == "/track/4/mute" and v == 0 for _, a, v in received)
    assert n_frames >= 50


def test_reaper_pattern_file_covers_what_the_engine_sends_and_reads():
    from pathlib import Path

    from stereofoley.transport.codec import DEFAULT_REAPER_FEEDBACK_PORT, DEFAULT_REAPER_PORT

    path = Path(__file__).resolve().parents[2] / "plugin" / "reaper" / "StereoFoley.ReaperOSC"
    patterns: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, *values = line.split()
            patterns[name] = values
    assert "f/time" in patterns["TIME"] and "b/play" in patterns["PLAY"] and "b/stop" in patterns["STOP"]
    engine = clips_from_json(PREVIEW)
    sent = {a for a, _ in messages_at(engine, RECORD_START_S + 1, PreviewParams()) if a.startswith("/track/3/")}
    sent |= {"/track/3/mute"}
    declared = {v[0] + v[1:].replace("@", "3") for vals in patterns.values() for v in vals if v[1:2] == "/"}
    kinds = {"/track/3/pan": "n", "/track/3/volume/db": "f", "/track/3/mute": "b"}
    for address in sent:
        assert kinds[address] + address in declared, address
    assert int(patterns["DEVICE_TRACK_COUNT"][0]) >= 512  # track numbers are absolute, not bank-relative
    text = path.read_text()
    assert f"Device port: {DEFAULT_REAPER_FEEDBACK_PORT}" in text and f"Local listen port: {DEFAULT_REAPER_PORT}" in text
