"""Hostile jobs, timelines and datagrams against a live server on loopback (issue 17).

Every test keeps an `outside` folder next to the server's root and asserts, at the end, that nothing in it was
read into the root or written: each one lists the outside folder's files and bytes before and after. The
breaches these tests reproduce: status files replacing a job's own inputs, timeline media outside the roots
(absolute, file://, ../ and symlinks), a folder or a media file swapped for a symlink between submission and run,
unbounded preview data and audio streams, answers to unauthenticated senders, per-datagram logging, replies to
the server itself, and the per-sender rate limit bypassed by many source ports.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from stereofoley import jobs as jobs_module
from stereofoley.jobs import parse_job, run_job
from stereofoley.transport import server as server_module
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import PREFIX, encode_message
from stereofoley.transport.server import ServerConfig, ServerThread
from stereofoley.transport.stream import receive_stream

from .conftest import spatialize_job, write_source
from .test_server import collect, submit


@pytest.fixture
def outside(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("outside")
    write_source(folder / "secret.wav", 0.5, seed=99)
    (folder / "secret.txt").write_text("secret")
    return folder


OUTSIDE = "outside the allowed roots|is a symlink; refusing to write through it"


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wavs_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.wav"))


# ------------------------------------------------------------------------------------------------ status files

def test_status_path_never_replaces_the_jobs_input_or_job_file(server, root, outside):
    before = snapshot(outside)
    job = spatialize_job(root, root / "out")
    job_file = root / "job.json"
    job_file.write_text(json.dumps(job))
    source = Path(job["items"][0]["source"])
    originals = {p: p.read_bytes() for p in (source, job_file)}
    with OscClient(*server.address) as client:
        for victim in (source, job_file):
            with pytest.raises(Exception, match="not a StereoFoley status file"):
                client.request(f"{PREFIX}/job/submit_file", str(job_file), str(victim), expect=f"{PREFIX}/job/accepted")
        # a folder is refused too
        with pytest.raises(Exception, match="not a regular file"):
            client.request(f"{PREFIX}/job/submit", json.dumps(job), str(root / "out"), expect=f"{PREFIX}/job/accepted")
        # an earlier status file may be replaced (a rerun), and is
        status_path = root / "status.json"
        first = submit(client, job, str(status_path))
        collect(client, {first})
        job["options"]["overwrite"] = True
        second = submit(client, job, str(status_path))
        collect(client, {second})
    assert {p: p.read_bytes() for p in originals} == originals
    assert json.loads(status_path.read_text())["job_id"] == second
    assert snapshot(outside) == before


def test_send_status_file_never_replaces_the_job_file(root, capsys):
    from stereofoley.cli import main

    job_file = root / "job.json"
    job_file.write_text(json.dumps(spatialize_job(root, root / "out")))
    original = job_file.read_bytes()
    assert main(["send", str(job_file), "--local", "--status-file", str(job_file)]) == 1
    err = capsys.readouterr().err
    assert job_file.read_bytes() == original
    assert "not a StereoFoley status file" in err and "Traceback" not in err and err.count("\n") == 1
    assert wavs_under(root / "out") == []


# ------------------------------------------------------------------------------------------------ timelines

def _timeline(path: Path, urls: list[str], rate: float = 24.0) -> Path:
    timeline = otio.schema.Timeline(name="hostile")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for i, url in enumerate(urls):
        clip = otio.schema.Clip(name=f"clip{i}", media_reference=otio.schema.ExternalReference(target_url=url),
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                                     otio.opentime.RationalTime(12, rate)))
        track.append(clip)
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _outside_urls(root: Path, outside: Path) -> list[str]:
    secret = outside / "secret.wav"
    link = root / "link.wav"
    link.symlink_to(secret)
    relative = os.path.relpath(secret, root)  # ../outsideN/secret.wav, relative to the timeline's folder
    assert relative.startswith("..")
    return [str(secret), secret.as_uri(), relative, str(link)]


class _FakeMixer:
    """Records the media of each clip it is asked to mix (the outside file must never be one)."""

    def __init__(self):
        self.media = []

    def __call__(self, request, options=None, progress=None):
        from stereofoley.usecases.clip import ClipMix
        from stereofoley.spatial.trajectory import Trajectory
        from stereofoley.spatial.mix import SoundObject

        self.media.append(Path(request.media_path))
        n = request.n_samples
        source = np.full(n, 0.1, np.float32)
        trajectory = Trajectory(times_s=np.array([0.0, n / 48000]), pan=np.zeros(2), distance_m=np.full(2, 2.0),
                                gain_db=np.zeros(2))
        return ClipMix(stereo=np.stack([source, source]),
                       objects=(SoundObject("thing", source, trajectory, class_name="thing"),))


def test_timeline_media_outside_the_roots_is_never_read(root, outside):
    """Absolute, file://, ../ and symlinked references to a file outside the roots: each clip is skipped with the
    reason; the one clip inside renders, with its OTIO and report."""
    inside = write_source(root / "inside.wav", 1.0)
    urls = _outside_urls(root, outside) + [str(inside)]
    timeline = _timeline(root / "cut.otio", urls)
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(timeline),
                     "options": {"loudness_lufs": None}}, roots=(root,))
    mixer = _FakeMixer()
    status = run_job(job, mixer=mixer)
    assert mixer.media == [inside.resolve()]
    assert status["state"] == "partial", status
    reasons = {s["name"]: s["reason"] for s in status["skipped"]}
    assert sorted(reasons) == ["clip0", "clip1", "clip2", "clip3"]
    assert all("outside the allowed roots" in r for r in reasons.values()), reasons
    report = json.loads((root / "out" / "cut.stereofoley.json").read_text())
    assert [c["id"] for c in report["clips"]] == [c["id"] for c in status["results"]] and len(report["clips"]) == 1
    assert (root / "out" / "cut.stereofoley.otio").is_file()


def test_timeline_job_over_the_server_reads_nothing_outside(server, root, outside):
    before = snapshot(outside)
    timeline = _timeline(root / "cut.otio", _outside_urls(root, outside))
    job = {"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(timeline),
           "options": {"sources": "clip-audio", "detector": "motion"}}
    with OscClient(*server.address) as client:
        job_id = submit(client, job)
        collect(client, {job_id}, timeout_s=60)
        status = client.results(job_id)
        # the outside file cannot be fetched as a stream either
        with pytest.raises(Exception, match="outside the allowed roots"):
            client.request(f"{PREFIX}/audio/request", str(root / "link.wav"), 9, expect="never")
    assert status["state"] == "failed"
    assert status["error"].count("outside the allowed roots") == 4, status["error"]
    assert wavs_under(root / "out") == []
    assert snapshot(outside) == before


# ------------------------------------------------------------------------------------------------ swaps

def test_out_dir_and_media_swapped_for_symlinks_after_submission(root, outside):
    """Paths are checked again when opened: a job validated at submission, then its out_dir swapped for a symlink
    to an outside folder (and its source for a symlink to an outside file), writes and reads nothing outside."""
    before = snapshot(outside)
    data = spatialize_job(root, root / "victim", n_items=2)
    (root / "victim").mkdir()
    job = parse_job(data, roots=(root,))
    (root / "victim").rmdir()
    (root / "victim").symlink_to(outside, target_is_directory=True)
    status = run_job(job)
    assert status["state"] == "failed" and re.search(OUTSIDE, status["error"]), status
    # now the folder is back but a source became a symlink to the outside file
    (root / "victim").unlink()
    (root / "victim").mkdir()
    source0 = Path(data["items"][0]["source"])
    source0.unlink()
    source0.symlink_to(outside / "secret.wav")
    status = run_job(job)
    assert status["state"] == "partial", status
    assert [s["id"] for s in status["skipped"]] == ["item0"]
    assert "outside the allowed roots" in status["skipped"][0]["reason"]
    assert [Path(r["wav"]).name for r in status["results"]] == ["item1.wav"]
    assert snapshot(outside) == before


def test_symlink_swap_between_submission_and_run_on_a_live_server(root, outside, monkeypatch):
    """Over OSC, with one worker: the victim job waits behind a blocker while its out_dir becomes a symlink."""
    before = snapshot(outside)
    release = threading.Event()
    real = jobs_module.spatialize_file

    def blocking_spatialize(source, trajectory, out, **kw):
        if kw.get("name") == "blocker":
            assert release.wait(30)
        return real(source, trajectory, out, **kw)

    monkeypatch.setattr(jobs_module, "spatialize_file", blocking_spatialize)
    blocker = spatialize_job(root, root / "out")
    blocker["items"][0]["name"] = "blocker"
    victim = spatialize_job(root, root / "victim")
    victim["items"][0]["id"] = "v"
    (root / "victim").mkdir()
    with ServerThread(ServerConfig(port=0, roots=(root,), workers=1)) as srv, OscClient(*srv.address) as client:
        first = submit(client, blocker)
        second = submit(client, victim)
        (root / "victim").rmdir()
        (root / "victim").symlink_to(outside, target_is_directory=True)
        release.set()
        collect(client, {first, second})
        status = client.results(second)
    assert status["state"] == "failed" and re.search(OUTSIDE, status["error"]), status
    assert snapshot(outside) == before


# ------------------------------------------------------------------------------------------------ caps

def test_preview_and_stream_caps_are_named(server, root, monkeypatch):
    monkeypatch.setattr(server_module, "MAX_PREVIEW_BYTES", 1000)
    monkeypatch.setattr(server_module, "MAX_STREAM_S", 0.25)
    big = root / "preview.json"
    big.write_text(json.dumps({"clips": [], "pad": "x" * 2000}))
    tracks = [{"track": i + 1, "name": f"o{i}", "curves": {"pan": [[0.0, 0.0]], "gain_db": [[0.0, 0.0]]}}
              for i in range(300)]
    many = json.dumps({"clips": [{"id": "c", "record_start_s": 0.0, "duration_s": 1.0, "tracks": tracks}]})
    (root / "many.json").write_text(many)
    long_wav = write_source(root / "long.wav", 0.5)
    with OscClient(*server.address) as client:
        with pytest.raises(Exception, match="MAX_PREVIEW_BYTES=1000"):
            client.request(f"{PREFIX}/preview/load_file", str(big), expect=f"{PREFIX}/preview/loaded")
        monkeypatch.setattr(server_module, "MAX_PREVIEW_BYTES", 1 << 20)
        with pytest.raises(Exception, match="MAX_PREVIEW_TRACKS=256"):
            client.request(f"{PREFIX}/preview/load_file", str(root / "many.json"), expect=f"{PREFIX}/preview/loaded")
        with pytest.raises(Exception, match="MAX_STREAM_S=0"):
            client.request(f"{PREFIX}/audio/request", str(long_wav), 9, expect="never")
        with pytest.raises(Exception, match="not a regular file"):
            client.request(f"{PREFIX}/audio/request", str(root), 9, expect="never")
        assert client.ping(2.0) is not None


def test_file_handlers_run_off_the_event_loop(server, root, monkeypatch):
    seen = []
    real = server.preview.load_json

    def recording(text, **kw):
        seen.append(threading.current_thread().name)
        return real(text, **kw)

    monkeypatch.setattr(server.preview, "load_json", recording)
    (root / "p.json").write_text('{"clips": []}')
    with OscClient(*server.address) as client:
        assert client.request(f"{PREFIX}/preview/load_file", str(root / "p.json"),
                              expect=f"{PREFIX}/preview/loaded").args == (0,)
    assert len(seen) == 1 and seen[0] != "stereofoley-osc", seen


def test_audio_request_streams_the_file_bit_exact_without_reading_it_whole(server, root):
    rate = 44100
    x = (0.5 * np.sin(np.arange(3 * rate) * 0.01)).astype(np.float32)
    stereo = np.stack([x, -x])
    wav = root / "three_s.wav"
    sf.write(str(wav), stereo.T, rate, subtype="FLOAT")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    try:
        with OscClient(*server.address) as client:
            client.send(f"{PREFIX}/audio/request", str(wav), sock.getsockname()[1], 0.0)
        received = receive_stream(sock, idle_timeout_s=5.0)
    finally:
        sock.close()
    assert received.complete and received.rate_hz == rate
    assert received.stats.concealed_frames == 0
    np.testing.assert_array_equal(received.audio, stereo)
    assert server.counters["streams_running"] == 0


# ------------------------------------------------------------------------------------------------ senders

def test_with_a_token_bad_datagrams_get_no_reply_and_are_logged_once(root, caplog):
    token = "t" * 20
    with ServerThread(ServerConfig(port=0, roots=(root,), token=token)) as srv:
        with caplog.at_level(logging.WARNING, logger="stereofoley.osc"), OscClient(*srv.address) as client:
            for _ in range(200):
                client.sock.sendto(encode_message(f"{PREFIX}/ping", ["wrong" * 4]), srv.address)
                client.sock.sendto(encode_message(f"{PREFIX}/job/status", [token]), srv.address)  # too few args
                client.sock.sendto(encode_message(f"{PREFIX}/nope", [token]), srv.address)
            assert client.receive(0.5) is None  # nothing answered to an unauthenticated or invalid datagram
            assert OscClient(*srv.address, token=token).ping(2.0) is not None
            time.sleep(0.2)  # the server counts a reply just after sending it
        counters = dict(srv.counters)
    assert counters["unauthorized"] >= 50 and counters["invalid"] >= 100  # some of the 600 may be lost (UDP)
    assert counters["unauthorized"] + counters["invalid"] == counters["received"] - 1  # all but the good ping
    assert counters.get("sent", 0) == 1, counters  # the one pong
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2, [r.getMessage() for r in dropped]  # one per kind per interval, not one per datagram


def test_reply_port_equal_to_the_servers_own_port_is_dropped(server):
    with OscClient(*server.address) as client:
        client.send(f"{PREFIX}/ping", server.address[1])
        time.sleep(0.3)
        assert client.ping(2.0) is not None
    deadline = time.monotonic() + 2.0  # the server counts a reply just after sending it: wait for the count
    while server.counters["sent"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert server.counters["sent"] == 1  # only the pong to the last ping: no loop


def test_global_rate_limit_holds_across_many_source_ports(root, monkeypatch):
    monkeypatch.setattr(server_module, "GLOBAL_BURST", 50)
    monkeypatch.setattr(server_module, "GLOBAL_RATE_PER_S", 1.0)
    with ServerThread(ServerConfig(port=0, roots=(root,))) as srv:
        clients = [OscClient(*srv.address) for _ in range(20)]
        try:
            for client in clients:
                for _ in range(10):
                    client.send(f"{PREFIX}/ping")
            time.sleep(0.5)
        finally:
            for client in clients:
                client.close()
        counters = dict(srv.counters)
    assert counters["received"] == 200
    assert counters["rate_limited_global"] >= 145 and counters.get("rate_limited", 0) == 0
    assert counters["handled"] <= 55
