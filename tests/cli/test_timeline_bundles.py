""".otiod bundles (issue 17, defect 12c): an OTIO directory bundle (content.otio plus the media it references under
media/) is read by `render` and timeline jobs, its media resolved inside the bundle and confined to a job's roots;
an .otioz (a zipped bundle) names the media it holds rather than "not found". Clip mixing is a recording fake."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from stereofoley import cli
from stereofoley.jobs import parse_job, run_job

from .test_no_traceback import fake_mix


class Recorder:
    def __init__(self):
        self.media: list[Path] = []

    def __call__(self, request, options=None, progress=None):
        self.media.append(Path(request.media_path))
        return fake_mix(request, options, progress)


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    mixer = Recorder()
    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", mixer)
    return mixer


def wav(path: Path, value: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full(9600, value, np.float32), 48000)
    return path


def edit(urls: dict[str, str]) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name="bundle")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name, url in urls.items():
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=url),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(12, 24))))
    tl.tracks.append(track)
    return tl


def test_render_reads_an_otiod_bundle_and_its_media(tmp_path, capsys, recorder):
    source = wav(tmp_path / "shoot" / "take1.wav")
    bundle = tmp_path / "cut.otiod"
    otio.adapters.write_to_file(edit({"c1": str(source)}), str(bundle))  # OTIO's writer copies the media in
    assert (bundle / "media" / "take1.wav").is_file()
    source.unlink()  # only the bundle's copy is left
    assert cli.main(["render", str(bundle), "-o", str(tmp_path / "out"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["clips"]] == ["c1"]
    assert recorder.media == [(bundle / "media" / "take1.wav").resolve()]
    written = otio.adapters.read_from_file(report["timeline_out"])
    urls = [c.media_reference.target_url for c in written.find_clips() if c.name == "c1"]
    assert urls and str((bundle / "media" / "take1.wav").resolve()) in urls[0]  # absolute: valid from out/


def test_a_bundle_in_a_job_is_confined_to_the_roots(tmp_path, recorder):
    root, outside = tmp_path / "root", tmp_path / "outside"
    secret = wav(outside / "secret.wav", 0.5)
    bundle = root / "cut.otiod"
    wav(bundle / "media" / "inside.wav")
    (bundle / "media" / "link.wav").symlink_to(secret)
    otio.adapters.write_to_file(edit({"inside": "media/inside.wav", "link": "media/link.wav",
                                      "climb": "media/../../../outside/secret.wav"}), str(bundle / "content.otio"))
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(bundle),
                     "options": {"loudness_lufs": None}}, roots=(root,))
    status = run_job(job)
    assert status["state"] == "partial", status
    assert recorder.media == [(bundle / "media" / "inside.wav").resolve()]
    reasons = {s["name"]: s["reason"] for s in status["skipped"]}
    assert sorted(reasons) == ["climb", "link"], reasons
    assert all("outside the allowed roots" in r for r in reasons.values()), reasons


def test_a_bundle_whose_content_is_a_symlink_outside_is_refused(tmp_path, recorder):
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    otio.adapters.write_to_file(edit({"c": str(wav(outside / "x.wav"))}), str(outside / "content.otio"))
    bundle = root / "cut.otiod"
    bundle.mkdir(parents=True)
    (bundle / "content.otio").symlink_to(outside / "content.otio")
    job = parse_job({"version": 1, "kind": "timeline", "out_dir": str(root / "out"), "timeline": str(bundle),
                     "options": {}}, roots=(root,))
    status = run_job(job)
    assert status["state"] == "failed" and "outside the allowed roots" in status["error"] and recorder.media == []


def test_a_folder_that_is_not_a_bundle_is_named_as_such(tmp_path, capsys, recorder):
    (tmp_path / "empty.otiod").mkdir()
    (tmp_path / "folder.otio").mkdir()
    assert cli.main(["render", str(tmp_path / "empty.otiod"), "-o", str(tmp_path / "out")]) == 1
    assert "has no content.otio" in capsys.readouterr().err
    assert cli.main(["render", str(tmp_path / "folder.otio"), "-o", str(tmp_path / "out")]) == 1
    assert "is a folder" in capsys.readouterr().err


def test_media_zipped_inside_an_otioz_is_named_not_reported_missing(tmp_path, capsys, recorder):
    source = wav(tmp_path / "take1.wav")
    otio.adapters.write_to_file(edit({"c1": str(source)}), str(tmp_path / "cut.otioz"))
    assert cli.main(["render", str(tmp_path / "cut.otioz"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "media/take1.wav is inside the .otioz bundle cut.otioz" in err and "unzip" in err
