"""Reading render results for hosts: both result shapes, positions, and one-line errors naming the file."""

from __future__ import annotations

import json

import pytest
from stereofoley import SAMPLE_RATE_HZ, cli
from stereofoley.errors import InvalidJob, MediaNotFound
from stereofoley.results import load_result

from .conftest import render_edit


def test_report_and_job_status(tmp_path):
    edit = render_edit(tmp_path, "dry")
    clips = load_result(edit.report)
    assert [c.record_start_sample for c in clips] == edit.starts
    assert [c.samples for c in clips] == [m.shape[1] for m in edit.mixes]
    assert [len(c.objects) for c in clips] == [2, 1] and all(o.source_wav.is_file() for c in clips for o in c.objects)
    report = json.loads(edit.report.read_text())
    status = {"state": "done", "results": [{"id": "a", "wav": report["clips"][0]["wav"], "objects": report["clips"][0]["objects"]}]}
    (tmp_path / "status.json").write_text(json.dumps(status))
    assert load_result(tmp_path / "status.json")[0].record_start_sample == 0  # a job result has no position
    assert load_result(tmp_path / "status.json", record_start_s=2.5)[0].record_start_sample == int(2.5 * SAMPLE_RATE_HZ)


def test_errors_name_the_file(tmp_path, capsys):
    with pytest.raises(MediaNotFound, match="result file not found"):
        load_result(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InvalidJob, match="bad.json is not valid JSON"):
        load_result(bad)
    bad.write_text(json.dumps({"clips": [{"wav": "missing.wav"}]}))
    with pytest.raises(MediaNotFound, match=r"bad.json clip 0: mix WAV not found"):
        load_result(bad)
    assert cli.main(["ardour-session", str(bad), "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json clip 0" in err[0] and "Traceback" not in err[0]
