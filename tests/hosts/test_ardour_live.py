"""Live preview against the real headless Ardour 7 on loopback: the engine (`stereofoley preview play RESULT
--to ardour://127.0.0.1:3819`, a separate process) follows Ardour's transport and drives the object strips' pan
and gain over Ardour's OSC surface; an observer registered as a second OSC surface records what Ardour reports."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from stereofoley import SAMPLE_RATE_HZ, cli
from stereofoley.transport.codec import encode_message
from stereofoley.transport.targets import ardour_osc_pan, iter_messages

from .conftest import ARDOUR_LUA, needs_ardour, render_edit

ARDOUR_OSC = ("127.0.0.1", 3819)
PLAY_S = 4.8  # Ardour rolls from 0 through both clips (0.5-2.5 s and 3.0-4.5 s)
REFERENCE_S = 0.6  # half-width of the window of Ardour's position reports that gives its playhead at a moment
TIMING_S = 0.015  # playhead agreement between the engine's follower and the observer's fit of Ardour's reports
EDGE_S = 0.1  # strip values near a clip's ends are not compared (the engine moves to the next clip's values)
ROOT = Path(__file__).resolve().parents[2]


WALL_TO_MONOTONIC_S = time.monotonic() - time.time()


def _recv_all(sock: socket.socket, seconds: float, into: list) -> None:
    """Datagrams with the kernel's receive time (SO_TIMESTAMP) on the monotonic clock the engine logs with, so
    the observer's own scheduling delays on a loaded machine do not count."""
    sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMP", 29), 1)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data, anc, _, _ = sock.recvmsg(65536, 64)
        except TimeoutError:
            continue
        now = time.monotonic()
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == getattr(socket, "SCM_TIMESTAMP", 29):
                sec, usec = struct.unpack("ll", payload[:16])
                now = sec + usec / 1e6 + WALL_TO_MONOTONIC_S
        into += [(now, address, args) for address, args in iter_messages(data)]


@pytest.fixture
def ardour(tmp_path):
    edit = render_edit(tmp_path, "dry")
    session = tmp_path / "live"
    assert cli.main(["ardour-session", str(edit.report), "--out", str(session), "--name", "live", "--live"]) == 0
    proc = subprocess.Popen([ARDOUR_LUA, str(ROOT / "tests" / "hosts" / "ardour_session.lua"), str(session), "live", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.startswith(("READY", "LOADFAIL")) or time.monotonic() > deadline:
                break
        assert line.startswith("READY"), f"Ardour did not load the session: {line!r}"
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(0.2)
        names: list = []
        for _ in range(25):  # the OSC surface answers /strip/list once it runs
            probe.sendto(encode_message("/strip/list"), ARDOUR_OSC)
            replies: list = []
            _recv_all(probe, 0.4, replies)
            names = [a[1] for _, address, a in replies if address == "#reply" and a and a[0] == "AT"]
            if names:
                break
        probe.close()
        assert names[:1] == ["StereoFoley mix"], f"Ardour's OSC surface on {ARDOUR_OSC} did not list our session: {names}"
        yield edit, names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


@needs_ardour
def test_engine_follows_ardour_and_drives_the_strips(ardour, tmp_path):
    """Two takes at most: the timing figures are asserted on the first take that meets them, else on the
    second. This machine's 2 cores are shared by several sessions (load average 8-10 while these figures were
    taken), and a take during which Ardour's OSC thread is starved shows it in every figure at once."""
    edit, names = ardour
    assert names == ["StereoFoley mix", "clip 0 1 object 1", "clip 0 2 object 2", "clip 1 1 object 1"]
    first = _take(edit, tmp_path / "take1.jsonl")
    if _meets(first):
        return
    second = _take(edit, tmp_path / "take2.jsonl")
    print("FIGURES take 1", json.dumps(first), "take 2", json.dumps(second))
    assert _meets(second, strict=True)


def _meets(figures: dict, strict: bool = False) -> bool:
    checks = {
        # Ardour's strip value follows the engine's curve (Ardour's OSC pan units, 0..1). Ardour reports its
        # playhead quantised to its 1024-sample period, late on a loaded machine: the tail is timing noise, so the
        # 0.01 figure is asserted for 95 % of reports and the tail bounded (docs/hosts.md has the measured spread).
        "pan_p95_error <= 0.01": figures["pan_p95_error"] <= 0.01,
        "pan_p99_error <= 0.02": figures["pan_p99_error"] <= 0.02,
        "sent_pan_p99_error <= 0.015": figures["sent_pan_p99_error"] <= 0.015,
        "gain_p95_outside_range_db <= 0.05": figures["gain_p95_outside_range_db"] <= 0.05,
        "latency_p99_ms < 50": figures["latency_p99_ms"] < 50.0,
    }
    if strict:
        failed = [name for name, ok in checks.items() if not ok]
        assert not failed, f"{failed}: {figures}"
    return all(checks.values())


def _take(edit, log: Path) -> dict:
    """Ardour rolls from 0 with the engine following; returns the measured figures (asserting the basics)."""
    report = json.loads(edit.report.read_text())
    adm = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an ADM-OSC target in the same run: read afterwards
    adm.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    adm.bind(("127.0.0.1", 0))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "engine"), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")]))
    engine = subprocess.Popen([sys.executable, "-m", "stereofoley.cli", "preview", "play", str(edit.report),
                               "--to", "ardour://127.0.0.1:3819", "--to", f"adm-osc://127.0.0.1:{adm.getsockname()[1]}", "--duration", str(PLAY_S + 1.5), "--rate", "100",
                               "--log", str(log)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    observer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    observer.bind(("127.0.0.1", 0))
    observer.settimeout(0.05)
    seen: list = []
    try:
        observer.sendto(encode_message("/set_surface", [0, 1, 1 | 2 | 16 | 1024, 0, 0, 0]), ARDOUR_OSC)  # strip values, transport, position
        started = engine.stderr.readline()  # printed once the engine is about to register with Ardour
        assert "following ardour://127.0.0.1:3819" in started, started
        observer.sendto(encode_message("/goto_start"), ARDOUR_OSC)
        _recv_all(observer, 0.5, seen)
        seen.clear()
        observer.sendto(encode_message("/transport_play"), ARDOUR_OSC)
        _recv_all(observer, PLAY_S, seen)
        observer.sendto(encode_message("/transport_stop"), ARDOUR_OSC)
        _, err = engine.communicate(timeout=30)
    finally:
        observer.close()
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, err
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert sent, "the engine sent nothing: it did not see Ardour roll"
    adm.setblocking(False)
    adm_messages = []
    while True:
        try:
            adm_messages += iter_messages(adm.recv(65536))
        except BlockingIOError:
            break
    adm.close()
    # the ADM-OSC target follows Ardour's transport too: what it got is exactly what the engine logged for it
    assert [(a, list(x)) for a, x in adm_messages] == [(a, [pytest.approx(v, rel=1e-6) if isinstance(v, float) else v for v in x[:-1]])
                                                      for _, a, x in sent if a.startswith("/adm/")]
    assert [x for a, x in adm_messages if a == "/adm/obj/1/name"] == [["object 1"], ["object 1"]]  # clip 0, then clip 1

    # Ardour's playhead against the observer's clock, from its /position/samples reports while rolling
    pos = np.array([(t, float(a[0])) for t, address, a in seen if address == "/position/samples"])
    rolling = pos[pos[:, 1] > 0]
    assert len(rolling) >= 20
    slope, _ = np.polyfit(rolling[:, 0], rolling[:, 1] / SAMPLE_RATE_HZ, 1)
    assert 0.9 < slope < 1.1  # Ardour's dummy backend runs near real time (0.97-0.98 of the wall clock here)

    def playhead(t: float) -> float:
        """Ardour's playhead at time t: a line through its reports within ±REFERENCE_S of t (its rate drifts
        on a loaded machine, so one line through the whole run is not the playhead)."""
        near = rolling[np.abs(rolling[:, 0] - t) <= REFERENCE_S]
        _, c = np.polyfit(near[:, 0] - t, near[:, 1] / SAMPLE_RATE_HZ, 1)
        return float(c)

    objects = [(c, o) for c in report["clips"] for o in c["objects"]]
    pan_errors, gain_errors, gain_excess, latencies = [], [], [], []
    for ssid, (clip, obj) in enumerate(objects, start=2):
        pan_t, pan_v = np.array(obj["curves"]["pan"]).T
        gain_t, gain_v = np.array(obj["curves"]["gain_db"]).T
        start, length = clip["record_start_s"], clip["samples"] / SAMPLE_RATE_HZ
        sends = {"/strip/pan_stereo_position": [(t, a[1]) for t, address, a in sent if address == "/strip/pan_stereo_position" and a[0] == ssid],
                 "/strip/gain": [(t, a[1]) for t, address, a in sent if address == "/strip/gain" and a[0] == ssid]}
        assert len(sends["/strip/pan_stereo_position"]) > 0.8 * 100 * (length - 0.2)
        for t, address, a in seen:
            if address not in sends or a[0] != ssid:
                continue
            clip_t = playhead(t) - start
            if EDGE_S < clip_t < length - EDGE_S:
                if address == "/strip/pan_stereo_position":
                    pan_errors.append(a[1] - ardour_osc_pan(float(np.interp(clip_t, pan_t, pan_v))))
                else:  # gain moves fast near a close object: the value must lie in the curve's range within ±TIMING_S
                    expected = float(np.interp(clip_t, gain_t, gain_v))
                    window = np.interp(clip_t + np.linspace(-TIMING_S, TIMING_S, 31), gain_t, gain_v)
                    gain_errors.append(a[1] - expected)
                    gain_excess.append(max(window.min() - a[1], a[1] - window.max(), 0.0))
            matches = [ts for ts, v in sends[address] if abs(v - a[1]) < 1e-4 and ts <= t]
            if matches:
                latencies.append(t - matches[-1])
    # the engine's own tracking: each pan value it sent against the curve at Ardour's playhead at that moment
    track = []
    for ssid, (clip, obj) in enumerate(objects, start=2):
        pan_t, pan_v = np.array(obj["curves"]["pan"]).T
        start, length = clip["record_start_s"], clip["samples"] / SAMPLE_RATE_HZ
        for t, address, a in sent:
            if address == "/strip/pan_stereo_position" and a[0] == ssid and EDGE_S < playhead(t) - start < length - EDGE_S:
                track.append(a[1] - ardour_osc_pan(float(np.interp(playhead(t) - start, pan_t, pan_v))))
    pan_errors, gain_errors, latencies = map(np.abs, map(np.array, (pan_errors, gain_errors, latencies)))
    track = np.abs(np.array(track))
    figures = {"pan_reports": len(pan_errors), "pan_p95_error": float(np.percentile(pan_errors, 95)),
               "pan_p99_error": float(np.percentile(pan_errors, 99)), "pan_max_error": float(pan_errors.max()),
               "sent_pan_p99_error": float(np.percentile(track, 99)), "gain_max_error_db": float(gain_errors.max()),
               "gain_p95_outside_range_db": float(np.percentile(gain_excess, 95)),
               "latency_p50_ms": 1e3 * float(np.median(latencies)), "latency_p99_ms": 1e3 * float(np.percentile(latencies, 99)),
               "latency_n": len(latencies)}
    print("FIGURES", json.dumps(figures))
    assert len(pan_errors) > 100 and len(latencies) > 100
    return figures
