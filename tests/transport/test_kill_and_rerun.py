"""Interrupted renders and colliding names (issue 17): a `send --local` job SIGKILLed mid-write leaves hidden
.part files; the next start removes them. Ids that map to one file name (`a/b`, `a_b`) get distinct files, reported.
A folder or /dev/zero as timeline media is named for what it is, not "not found"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stereofoley.files import clean_stale_parts
from stereofoley.jobs import parse_job, run_job

from .conftest import spatialize_job
from .test_clients_end import ENV


def test_a_killed_render_leaves_part_files_that_the_next_start_removes(root):
    out = root / "out"
    job = spatialize_job(root, out, n_items=1)
    (root / "job.json").write_text(json.dumps(job))
    # A child that opens an atomic output, writes into its temp file and is SIGKILLed before the rename.
    script = ("import sys, time\nfrom stereofoley.files import atomic_output\n"
              f"with atomic_output({str(out / 'item0.wav')!r}) as tmp:\n"
              "    tmp.write_bytes(b'RIFF' * 1000); print('writing', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    parts = [p for p in out.iterdir() if ".part" in p.name]
    assert len(parts) == 1 and parts[0].name.startswith(".item0.wav.") and parts[0].stat().st_size == 4000
    assert clean_stale_parts(out) == []  # fresh: it could be a running writer's
    old = time.time() - 120
    os.utime(parts[0], (old, old))
    status = run_job(parse_job(job))
    assert status["state"] == "done", status
    assert status["cleaned_temp_files"] == [str(parts[0])]
    assert sorted(p.name for p in out.iterdir()) == ["item0.wav"]


def test_ids_that_map_to_one_file_name_get_distinct_files(root):
    job = spatialize_job(root, root / "out", n_items=2)
    job["items"][0]["id"], job["items"][1]["id"] = "a/b", "a_b"
    job["options"]["overwrite"] = True
    status = run_job(parse_job(job))
    assert status["state"] == "done"
    wavs = [Path(r["wav"]).name for r in status["results"]]
    assert wavs == ["a_b.wav", "a_b-2.wav"]
    assert status["renamed_outputs"] == [{"id": "a_b", "file_stem": "a_b-2"}]
    assert Path(status["results"][0]["wav"]).read_bytes() != Path(status["results"][1]["wav"]).read_bytes()


def test_a_folder_or_dev_zero_as_media_is_named_not_not_found(tmp_path):
    import opentimelineio as otio

    from stereofoley.timeline.media import MediaSearch, resolve

    folder = tmp_path / "clip.mov"
    folder.mkdir()
    for target, expected in ((folder, "is a folder"), (Path("/dev/zero"), "is not a regular file")):
        found = resolve(otio.schema.ExternalReference(target_url=str(target)), MediaSearch(timeline_dir=tmp_path))
        assert found.path is None and expected in found.reason and "not found" not in found.reason
