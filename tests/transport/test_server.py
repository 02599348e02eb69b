"""The engine server on loopback: jobs over OSC, progress, concurrency, cancel, roots, token, error replies.
Every wait is bounded (OscClient timeouts, pool waits)."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest

from stereofoley import __version__
from stereofoley.cli import main
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import encode_message, PREFIX
from stereofoley.transport.server import ServerConfig, ServerThread

from .conftest import spatialize_job
from .test_jobs import cli_render

FINAL = ("done", "partial", "failed", "cancelled")


def collect(client: OscClient, job_ids: set, timeout_s: float = 60.0) -> list:
    """Messages about the given jobs until each has sent /job/done."""
    out, done = [], set()
    deadline = time.monotonic() + timeout_s
    while done != job_ids and time.monotonic() < deadline:
        msg = client.receive(deadline - time.monotonic())
        if msg is None:
            break
        if msg.args and msg.args[0] in job_ids:
            out.append(msg)
            if msg.address == f"{PREFIX}/job/done":
                done.add(msg.args[0])
    assert done == job_ids, f"jobs not finished in {timeout_s} s: {job_ids - done}"
    return out


def submit(client: OscClient, job: dict, *extra) -> str:
    return client.request(f"{PREFIX}/job/submit", json.dumps(job), *extra, expect=f"{PREFIX}/job/accepted").args[0]


def test_ping_answers_with_version(server):
    with OscClient(*server.address) as client:
        assert client.ping(2.0) == __version__


def test_reply_port_redirects_replies(server):
    with OscClient(*server.address) as sender, OscClient(*server.address) as listener:
        sender.send(f"{PREFIX}/ping", listener.port)
        msg = listener.receive(2.0)
        assert msg is not None and msg.address == f"{PREFIX}/pong"
        assert sender.receive(0.2) is None


def test_job_over_osc_equals_cli_bytes_with_ordered_progress(server, root):
    job = spatialize_job(root, root / "out", n_items=3)
    status_path = root / "status.json"
    with OscClient(*server.address) as client:
        job_id = submit(client, job, str(status_path))
        messages = collect(client, {job_id})
        status = client.results(job_id)
    progress = [m for m in messages if m.address == f"{PREFIX}/job/progress"]
    seqs = [m.args[1] for m in progress]
    values = [m.args[2] for m in progress]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs  # in order, none repeated
    assert values == sorted(values) and values[-1] == 1.0
    assert progress[-1].args[3] == "done" and len(progress) >= 5
    assert status["state"] == "done" and json.loads(status_path.read_text())["state"] == "done"
    for i, result in enumerate(status["results"]):
        assert Path(result["wav"]).read_bytes() == cli_render(root, job["items"][i], f"cli{i}.wav")


def test_two_concurrent_jobs(server, root, monkeypatch):
    # Each job's first item waits at a two-party barrier: both jobs can only finish if the pool runs them at the
    # same time (a serial pool would break the barrier after 20 s and fail both jobs).
    import threading

    import stereofoley.jobs as jobs

    barrier = threading.Barrier(2, timeout=20.0)
    real_item = jobs._spatialize_item

    def item_meeting_the_other_job(item, job, *rest):
        if item.id.endswith("0"):
            barrier.wait()
        return real_item(item, job, *rest)

    monkeypatch.setattr(jobs, "_spatialize_item", item_meeting_the_other_job)
    a = spatialize_job(root, root / "a", n_items=3, seconds=1.0)
    b = spatialize_job(root, root / "b", n_items=3, seconds=1.0)
    with OscClient(*server.address) as client:
        ids = [submit(client, a), submit(client, b)]
        collect(client, set(ids))
    assert not barrier.broken
    for job_id, job in zip(ids, (a, b)):
        status = server._pool.status(job_id)
        assert status["state"] == "done"
        assert Path(status["results"][0]["wav"]).read_bytes() == cli_render(root, job["items"][0], f"{job_id}.wav")


def test_cancel_over_osc(server, root):
    job = spatialize_job(root, root / "out", n_items=8, seconds=1.0)
    with OscClient(*server.address) as client:
        job_id = submit(client, job)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the first finished item, then cancel
            msg = client.receive(deadline - time.monotonic())
            if msg and msg.address.endswith("progress") and msg.args[2] > 0:
                break
        reply = client.request(f"{PREFIX}/job/cancel", job_id, expect=f"{PREFIX}/job/cancelled")
        assert reply.args == (job_id, 1)
        collect(client, {job_id})
        status = client.results(job_id)
    assert status["state"] == "cancelled"
    wavs = list((root / "out").iterdir())
    assert len(status["results"]) == len(wavs) < 8
    assert not [p for p in wavs if ".part" in p.name]


def test_job_survives_its_submitter(server, root):
    job = spatialize_job(root, root / "out", n_items=2)
    status_path = root / "status.json"
    client = OscClient(*server.address)
    job_id = submit(client, job, str(status_path))
    client.close()  # the submitter goes away; progress pushes now fail silently
    status = server._pool.wait(job_id, 60)
    assert status["state"] == "done" and json.loads(status_path.read_text())["state"] == "done"
    with OscClient(*server.address) as other:
        assert other.ping(2.0) == __version__
        assert other.results(job_id)["state"] == "done"


def test_path_traversal_is_rejected_and_logged(server, root, caplog, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "job.json").write_text(json.dumps(spatialize_job(root, root / "out")))
    (root / "link").symlink_to(outside)
    caplog.set_level(logging.WARNING, logger="stereofoley.osc")
    with OscClient(*server.address) as client:
        for bad in [str(root / ".." / outside.name / "job.json"), str(root / "link" / "job.json"), "/etc/passwd"]:
            with pytest.raises(Exception, match="outside the allowed roots|contains '..'"):
                client.request(f"{PREFIX}/job/submit_file", bad, expect=f"{PREFIX}/job/accepted")
        job = spatialize_job(root, root / "out")
        job["items"][0]["source"] = str(outside / "x.wav")
        with pytest.raises(Exception, match="outside the allowed roots"):
            submit(client, job)
        with pytest.raises(Exception, match="outside the allowed roots"):
            client.request(f"{PREFIX}/audio/request", "/etc/hostname", 9, expect="never")
    assert server.counters["rejected_paths"] == 5
    assert sum("rejected path" in r.getMessage() for r in caplog.records) == 5


def test_errors_are_replied_not_raised(server):
    with OscClient(*server.address) as client:
        with pytest.raises(Exception, match="takes 1..3 arguments"):
            client.request(f"{PREFIX}/job/submit", expect="x")
        with pytest.raises(Exception, match="does not parse"):
            client.request(f"{PREFIX}/job/submit", "{nope", expect="x")
        with pytest.raises(Exception, match="unknown job id"):
            client.request(f"{PREFIX}/job/status", "nope", expect="x")
        with pytest.raises(Exception, match="unknown live parameter"):
            client.request(f"{PREFIX}/param/set", "colour", 1.0, expect="x")
        assert client.ping(2.0) == __version__


def test_preview_file_errors_name_the_file(server, root):
    missing, binary = root / "no-preview.json", root / "preview.bin"
    binary.write_bytes(b"\xff\xfe\x00{")
    with OscClient(*server.address) as client:
        with pytest.raises(Exception, match=re.escape(f"preview data file not found: {missing.resolve()}")):
            client.request(f"{PREFIX}/preview/load_file", str(missing), expect=f"{PREFIX}/preview/loaded")
        with pytest.raises(Exception, match=re.escape(f"preview data file {binary.resolve()} is not UTF-8")):
            client.request(f"{PREFIX}/preview/load_file", str(binary), expect=f"{PREFIX}/preview/loaded")
        stats = json.loads(client.request(f"{PREFIX}/stats", expect=f"{PREFIX}/stats").args[0])
    assert stats.get("internal_errors", 0) == 0 and stats["failed_requests"] == 2


def test_token_required_on_every_message(root):
    token = "s3cret-token-0123456789"
    with ServerThread(ServerConfig(port=0, roots=(root,), token=token)) as srv:
        with OscClient(*srv.address) as anonymous:
            assert anonymous.ping(0.3) is None
        with OscClient(*srv.address, token="wrong-token-0123456789") as wrong:
            assert wrong.ping(0.3) is None
        with OscClient(*srv.address, token=token) as good:
            assert good.ping(2.0) == __version__
        assert srv.counters["unauthorized"] == 2


def test_rate_limit_drops_floods(root):
    with ServerThread(ServerConfig(port=0, roots=(root,), rate_per_s=10.0, burst=20)) as srv:
        with OscClient(*srv.address) as client:
            for _ in range(200):
                client.sock.sendto(encode_message(f"{PREFIX}/stats"), srv.address)
            time.sleep(0.3)
        assert srv.counters["rate_limited"] >= 150
        with OscClient(*srv.address) as fresh:
            assert fresh.ping(2.0) == __version__


def test_send_command_uses_the_server(server, root, capsys):
    job_path = root / "job.json"
    job_path.write_text(json.dumps(spatialize_job(root, root / "out")))
    status_path = root / "status.json"
    code = main(["send", str(job_path), "--port", str(server.address[1]), "--status-file", str(status_path),
                 "--timeout", "60", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["state"] == "done" and printed["job_id"] in server._pool._jobs  # ran on the server
    assert json.loads(status_path.read_text())["job_id"] == printed["job_id"]


def test_send_falls_back_to_local_when_no_server(root, capsys):
    job_path = root / "job.json"
    job_path.write_text(json.dumps(spatialize_job(root, root / "out")))
    assert main(["send", str(job_path), "--port", "9", "--json"]) == 0  # port 9 (discard): nobody answers
    assert json.loads(capsys.readouterr().out)["state"] == "done"


def test_serve_command_runs_as_a_process(root):
    import re
    import select
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "stereofoley.cli", "serve", "--port", "0", "--no-preview",
                             "--root", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "serve printed nothing within 30 s"
        line = proc.stdout.readline()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        with OscClient("127.0.0.1", port) as client:
            assert client.ping(5.0) == __version__
    finally:
        proc.terminate()
        proc.wait(10)
