"""Issue 17's sub-bullets that had no test of their own (docs/osc.md "defect → test"): `monitor` taking its token
from $STEREOFOLEY_TOKEN (so no token need show in `ps`), a 4,096-track preview not making `send` run the job
locally, `send` naming the reason of a failed job sent to a server, and `send` saying so when it does run locally."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf

from stereofoley.cli import main
from stereofoley.commands.serve import TOKEN_ENV
from stereofoley.transport.client import OscClient
from stereofoley.transport.codec import PREFIX
from stereofoley.transport.server import ServerConfig, ServerThread

from .conftest import spatialize_job, write_source
from .test_clients_end import free_port

TOKEN = "t0ken-" + "x" * 26
LOCAL = "running the job in this process"


def test_monitor_requests_a_stream_with_the_environments_token(root, capsys, monkeypatch):
    source = write_source(root / "tone.wav", 0.3)
    out = root / "got.wav"
    with ServerThread(ServerConfig(port=0, roots=(root,), token=TOKEN)) as srv:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        rc = main(["monitor", "--port", str(free_port()), "--request", str(source), "--server-port",
                   str(srv.address[1]), "--pace", "0", "--idle-timeout", "2", "--to-file", str(out)])
        assert rc == 0, capsys.readouterr().err
        sent, _ = sf.read(str(source), dtype="float32")
        got, _ = sf.read(str(out), dtype="float32")
        assert np.array_equal(got.reshape(sent.shape), sent)  # bit-exact: the server accepted the env token
        assert srv.counters.get("unauthorized", 0) == 0


def test_a_4096_track_preview_is_refused_and_send_still_uses_the_server(server, root, capsys):
    tracks = [{"track": i + 1, "name": f"o{i}", "curves": {"pan": [[0.0, 0.0]], "gain_db": [[0.0, 0.0]]}}
              for i in range(4096)]
    (root / "preview.json").write_text(json.dumps({"clips": [{"id": "c", "record_start_s": 0.0, "duration_s": 1.0,
                                                              "tracks": tracks}]}))
    with OscClient(*server.address) as client:
        with pytest.raises(Exception, match="MAX_PREVIEW_TRACKS"):
            client.request(f"{PREFIX}/preview/load_file", str(root / "preview.json"), expect=f"{PREFIX}/preview/loaded")
        t0 = time.monotonic()
        assert client.ping(0.5) is not None and time.monotonic() - t0 < 0.5  # within send's ping timeout
    (root / "job.json").write_text(json.dumps(spatialize_job(root, root / "out")))
    handled = server.counters["handled"]
    assert main(["send", str(root / "job.json"), "--port", str(server.address[1]), "--json"]) == 0
    captured = capsys.readouterr()
    assert LOCAL not in captured.err and json.loads(captured.out)["state"] == "done"
    assert server.counters["handled"] >= handled + 2  # ping and submit at least: the server ran it


def test_send_says_when_it_runs_the_job_locally(root, capsys):
    (root / "job.json").write_text(json.dumps(spatialize_job(root, root / "out")))
    port = free_port()  # nothing listens there
    assert main(["send", str(root / "job.json"), "--port", str(port)]) == 0
    err = capsys.readouterr().err
    assert f"no server answered on 127.0.0.1:{port}" in err and LOCAL in err


def test_send_names_the_reason_of_a_job_the_server_failed(server, root, capsys):
    job = spatialize_job(root, root / "out")
    job["items"][0]["source"] = str(root / "missing.wav")
    (root / "job.json").write_text(json.dumps(job))
    assert main(["send", str(root / "job.json"), "--port", str(server.address[1])]) == 1
    captured = capsys.readouterr()
    assert LOCAL not in captured.err
    text = captured.out + captured.err
    assert "missing.wav" in text and "failed" in text, text
