"""`stereofoley preview on FILE | off` against a real engine server on loopback (what the REAPER toggle runs)."""

from __future__ import annotations

import json
import os
import signal
import socket

from stereofoley import cli
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import PREFIX

PREVIEW = {"clips": [{"id": "a", "record_start_s": 2.5, "duration_s": 1.5, "tracks": [
    {"track": 3, "name": "car", "curves": {"pan": [[0.0, -0.5], [1.5, 0.5]], "gain_db": [[0.0, -6.0], [1.5, -12.0]]}}]}]}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(capsys, *args: str) -> tuple[int, dict]:
    code = cli.main(["preview", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_preview_on_starts_a_server_loads_the_file_and_off_clears_it(tmp_path, capsys):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(PREVIEW))
    port, reaper_listen, reaper_port = free_udp_port(), free_udp_port(), free_udp_port()
    common = ["--port", str(port), "--reaper-listen", str(reaper_listen), "--reaper-port", str(reaper_port)]

    code = cli.main(["preview", "on", str(path), "--no-start", *common])
    assert code == 1 and "no engine server answers" in capsys.readouterr().err

    code, summary = run_cli(capsys, "on", str(path), *common)
    pid = summary["server_pid"]
    try:
        assert code == 0 and summary["clips"] == 1 and isinstance(pid, int)
        with OscClient("127.0.0.1", port) as client:
            assert client.ping(timeout_s=2.0) is not None  # the started server outlives the command
        code, summary = run_cli(capsys, "on", str(path), *common)  # a second `on` reuses it
        assert code == 0 and summary["server_pid"] is None and summary["clips"] == 1
        code, summary = run_cli(capsys, "off", *common)
        assert code == 0 and summary == {"ok": True, "state": "off", "server": True}
        with OscClient("127.0.0.1", port) as client:  # cleared: loading nothing reports 0 clips
            assert client.request(f"{PREFIX}/preview/clear", expect=f"{PREFIX}/preview/loaded").args[0] == 0
    finally:
        os.kill(pid, signal.SIGTERM)


def test_preview_errors(tmp_path, capsys):
    assert cli.main(["preview", "on"]) == 1 and "needs the preview data file" in capsys.readouterr().err
    assert cli.main(["preview", "on", str(tmp_path / "missing.json")]) == 1
    assert "not found" in capsys.readouterr().err
    code, summary = run_cli(capsys, "off", "--port", str(free_udp_port()))
    assert code == 0 and summary["server"] is False  # nothing running: nothing to do
