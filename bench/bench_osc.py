"""OSC bridge benchmarks on loopback, each against a baseline measured in the same run:
1. live-preview automation: message rate and jitter of the interval between pan messages (p50/p99), vs the
   requested period;
2. audio stream throughput as a multiple of real time (encode + send + jitter buffer + decode), vs raw sendto/recv
   of the same datagrams;
3. job round trip for a 5 s clip (submit over OSC -> done message), vs running the same job in-process.

Run: .venv/bin/python bench/bench_osc.py
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from stereofoley.jobs import parse_job, run_job  # noqa: E402
from stereofoley.transport.client import OscClient  # noqa: E402
from stereofoley.transport.codec import decode_message, encode_message, PREFIX  # noqa: E402
from stereofoley.transport.server import ServerConfig, ServerThread  # noqa: E402
from stereofoley.transport.stream import receive_stream, send_stream, stream_datagrams  # noqa: E402

RATE = 48000


def kernel_recv(sock):
    data, anc, _, _ = sock.recvmsg(65536, 64)
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == getattr(socket, "SCM_TIMESTAMP", 29):
            sec, usec = struct.unpack("ll", payload[:16])
            return data, sec + usec / 1e6
    return data, time.time()


def bench_preview(root: Path, seconds: float = 3.0, rate_hz: float = 100.0) -> None:
    reaper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reaper.bind(("127.0.0.1", 0))
    reaper.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMP", 29), 1)
    reaper.settimeout(0.2)
    preview = {"clips": [{"id": "c", "record_start_s": 0.0, "duration_s": 60.0, "tracks": [
        {"track": 1, "name": "a", "curves": {"pan": [[0, -1], [60, 1]], "gain_db": [[0, 0]]}}]}]}
    times = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                data, t = kernel_recv(reaper)
            except (socket.timeout, OSError):
                continue
            if decode_message(data).address == "/track/1/pan":
                times.append(t)

    config = ServerConfig(port=0, roots=(root,), reaper_port=reaper.getsockname()[1], reaper_listen_port=0,
                          preview_rate_hz=rate_hz)
    with ServerThread(config) as srv, OscClient(*srv.address) as control:
        control.request(f"{PREFIX}/preview/load", json.dumps(preview), expect=f"{PREFIX}/preview/loaded")
        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        t0 = time.time()
        reaper.sendto(encode_message("/play", [1.0]), srv.reaper_listen_address)
        while time.time() - t0 < seconds:
            reaper.sendto(encode_message("/time", [time.time() - t0]), srv.reaper_listen_address)
            time.sleep(1 / 30)
        reaper.sendto(encode_message("/stop", [1.0]), srv.reaper_listen_address)
        stop.set()
        thread.join(1)
    reaper.close()
    intervals = np.diff(np.array(times[5:])) * 1000
    period = 1000 / rate_hz
    jitter = np.abs(intervals - period)
    rate = len(intervals) / (intervals.sum() / 1000)
    print(f"preview automation: {rate:.1f} msg/s (requested {rate_hz:.0f}; ratio {rate / rate_hz:.3f}); "
          f"interval jitter p50 {np.percentile(jitter, 50):.2f} ms, p99 {np.percentile(jitter, 99):.2f} ms "
          f"(period {period:.1f} ms; REAPER's own /time feedback here: 33.3 ms)")


def bench_stream(seconds: float = 10.0) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 330 * t)]).astype(np.float32) * 0.5

    def pair():
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        rx.bind(("127.0.0.1", 0))
        return rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    # ours: encode + send (paced at 50x real time so the receive buffer never overflows) + receive + jitter buffer
    rx, tx = pair()
    start = time.perf_counter()
    sender = threading.Thread(target=send_stream, args=(tx, rx.getsockname(), audio), kwargs={"pace": 50.0})
    sender.start()
    got = receive_stream(rx, idle_timeout_s=2.0)
    ours = time.perf_counter() - start
    sender.join()
    rx.close(), tx.close()
    exact = got.audio.shape == audio.shape and np.array_equal(got.audio, audio)
    # unpaced: as fast as the sockets take it (losses concealed)
    rx, tx = pair()
    start = time.perf_counter()
    sender = threading.Thread(target=send_stream, args=(tx, rx.getsockname(), audio), kwargs={"pace": 0.0})
    sender.start()
    fast = receive_stream(rx, idle_timeout_s=1.0)
    unpaced = time.perf_counter() - start - (1.0 if not fast.complete else 0.0)
    sender.join()
    rx.close(), tx.close()
    # baseline: the same datagrams, raw sendto/recv, no encoding or buffering
    dgrams = stream_datagrams(audio, stream_id=1)
    rx, tx = pair()
    rx.settimeout(1.0)
    start = time.perf_counter()
    n = 0
    for d in dgrams:
        tx.sendto(d, rx.getsockname())
        rx.recv(65536)
        n += 1
    raw = time.perf_counter() - start
    rx.close(), tx.close()
    print(f"audio stream, {seconds:.0f} s stereo float32 in {len(dgrams) - 1} datagrams of <= 8192 bytes: "
          f"paced 50x: {seconds / ours:.1f}x real time, bit-exact={exact}; unpaced: {seconds / unpaced:.1f}x real time "
          f"({fast.stats.lost_packets} packets concealed); raw sendto/recv baseline: {seconds / raw:.1f}x; "
          f"ours/raw time ratio (unpaced) {unpaced / raw:.2f}")


def bench_job(root: Path, seconds: float = 5.0, repeats: int = 3) -> None:
    src = root / "src.wav"
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(str(src), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE, subtype="FLOAT")
    traj = root / "traj.json"
    traj.write_text(json.dumps([{"t": 0, "pan": -0.8, "distance_m": 2}, {"t": seconds, "pan": 0.8, "distance_m": 6}]))

    def job(out):
        return {"version": 1, "kind": "spatialize", "out_dir": str(root / out),
                "items": [{"id": "clip", "source": str(src), "trajectory": str(traj)}]}

    local, remote = [], []
    with ServerThread(ServerConfig(port=0, roots=(root,))) as srv, OscClient(*srv.address) as client:
        def over_osc(r):
            start = time.perf_counter()
            job_id = client.request(f"{PREFIX}/job/submit", json.dumps(job(f"remote{r}")), expect=f"{PREFIX}/job/accepted").args[0]
            while True:
                msg = client.receive(60)
                if msg is None or (msg.address == f"{PREFIX}/job/done" and msg.args[0] == job_id):
                    break
            remote.append(time.perf_counter() - start)

        def in_process(r):
            start = time.perf_counter()
            run_job(parse_job(job(f"local{r}")))
            local.append(time.perf_counter() - start)

        run_job(parse_job(job("warmup")))  # imports and caches (the IR, soxr) warm for both
        for r in range(repeats):  # alternate which goes first
            for step in ((in_process, over_osc) if r % 2 == 0 else (over_osc, in_process)):
                step(r)
    lo, re_ = float(np.median(local)), float(np.median(remote))
    print(f"job round trip, {seconds:.0f} s clip (spatialize kind): over OSC {1000 * re_:.0f} ms vs in-process "
          f"{1000 * lo:.0f} ms (median of {repeats}); ratio {re_ / lo:.2f}, OSC overhead {1000 * (re_ - lo):.0f} ms")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        bench_preview(root)
        bench_stream()
        bench_job(root)
