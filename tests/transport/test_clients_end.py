"""Clients that end, and a monitor that is bounded (issue 17): `send` against a server killed mid-job, `monitor`
refusing a non-loopback bind without a token, a forged end marker of 2^33 frames and a jump to sample 10^8."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from stereofoley.cli import main
from stereofoley.transport.codec import encode_message
from stereofoley.transport.stream import END_ADDRESS, encode_packet

from .conftest import spatialize_job

ENGINE = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": f"{ENGINE / 'engine'}{os.pathsep}{ENGINE / 'adapters'}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_send_against_a_killed_server_exits_1_naming_the_reason(root):
    """A real `stereofoley serve`, killed with SIGKILL while `send` waits on a long job: send ends within its
    stall timeout, exits 1 with one line naming the reason, and the status file no longer says "running"."""
    port = free_port()
    job = spatialize_job(root, root / "out", n_items=20, seconds=10.0)  # ~10 s of work: it cannot finish first
    job_file = root / "job.json"
    job_file.write_text(json.dumps(job))
    status_path = root / "status.json"
    server = subprocess.Popen([sys.executable, "-m", "stereofoley.cli", "serve", "--port", str(port), "--root",
                               str(root), "--no-preview", "--workers", "1"], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    send = None
    try:
        from stereofoley.transport.client import OscClient

        with OscClient("127.0.0.1", port) as probe:
            assert wait_for(lambda: probe.ping(0.2) is not None, 30), "server did not start"
        send = subprocess.Popen([sys.executable, "-m", "stereofoley.cli", "send", str(job_file), "--port", str(port),
                                 "--status-file", str(status_path), "--stall-timeout", "3"], env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: status_path.exists()
                        and json.loads(status_path.read_text() or "{}").get("state") == "running", 30)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        t_killed = time.monotonic()
        out, err = send.communicate(timeout=30)
        waited_s = time.monotonic() - t_killed
    finally:
        for proc in (send, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert send.returncode == 1, (out, err)
    assert 2.5 <= waited_s <= 10.0, waited_s
    last = err.strip().splitlines()[-1]
    assert "stopped answering" in last and f"127.0.0.1:{port}" in last, err
    assert "Traceback" not in err
    status = json.loads(status_path.read_text())
    assert status["state"] == "failed" and "stopped answering" in status["error"]


def test_send_has_a_finite_default_timeout():
    from stereofoley.cli import build_parser

    args = build_parser().parse_args(["send", "job.json"])
    assert 0 < args.timeout < float("inf") and 0 < args.stall_timeout <= 60


def test_send_names_the_reason_of_a_failed_job(root, capsys):
    job = spatialize_job(root, root / "out")
    job["items"][0]["source"] = str(root / "missing.wav")
    (root / "job.json").write_text(json.dumps(job))
    assert main(["send", str(root / "job.json"), "--local"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "failed: 0 of 1 rendered" in last and "missing.wav" in last, last


# ------------------------------------------------------------------------------------------------ monitor

def test_monitor_refuses_a_remote_bind_without_a_token(root, capsys, monkeypatch):
    monkeypatch.delenv("STEREOFOLEY_TOKEN", raising=False)
    out = root / "m.wav"
    assert main(["monitor", "--host", "0.0.0.0", "--to-file", str(out)]) == 1
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
    assert main(["monitor", "--host", "0.0.0.0", "--allow-remote", "--to-file", str(out)]) == 1
    assert "token" in capsys.readouterr().err
    assert not out.exists()


def _monitor(args: list[str]) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", main(args)), daemon=True)
    thread.start()
    return thread, result


def _send_when_listening(port: int, datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        time.sleep(0.5)  # the monitor binds first
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))
            time.sleep(0.001)


def test_monitor_refuses_a_forged_end_marker_of_2_to_the_33_frames(root, capsys):
    port, out = free_port(), root / "forged.wav"
    thread, result = _monitor(["monitor", "--port", str(port), "--to-file", str(out), "--idle-timeout", "3"])
    block = np.zeros((2, 480), np.float32)
    _send_when_listening(port, [encode_packet(1, 0, 0, 48000, block)] +
                         [encode_message(END_ADDRESS, [1, 1, 2**33, 48000])] * 3)
    thread.join(20)
    assert result.get("rc") == 1
    err = capsys.readouterr().err
    assert "8589934592 frames" in err and "max_stream_s" in err and "Traceback" not in err
    assert not out.exists()


def test_monitor_drops_a_jump_to_sample_1e8(root, capsys):
    port, out = free_port(), root / "jump.wav"
    thread, result = _monitor(["monitor", "--port", str(port), "--to-file", str(out), "--idle-timeout", "1.5",
                               "--json"])
    block = np.full((2, 480), 0.25, np.float32)
    _send_when_listening(port, [encode_packet(1, 0, 0, 48000, block), encode_packet(1, 1, 10**8, 48000, block)])
    thread.join(20)
    assert result.get("rc") == 3  # no end marker: incomplete
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 480 and summary["stats"]["invalid"] == 1
    assert out.stat().st_size < 10_000  # not an 800 MB file
