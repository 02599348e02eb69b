"""Resumable renders (issue 17): `render --resume` keeps the clips an interrupted run finished with the same inputs
and settings and renders the rest, to the same bytes as a clean render; a changed input or setting renders that
clip again; the pre-render check covers every output; a full disk while writing the OTIO leaves a render that
`--resume` completes without rendering anything. Clip mixing is a counting fake (usecases/resume.py is the point);
tests/timeline/test_resume_kill.py kills the real pipeline in a subprocess."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from stereofoley import cli
from stereofoley.jobs import parse_job, run_job
from stereofoley.spatial.mix import SoundObject
from stereofoley.spatial.trajectory import Trajectory
from stereofoley.usecases.clip import ClipMix
from stereofoley.usecases.resume import record_path

NAMES = ("alpha", "bravo", "charlie")


class Mixer:
    """A deterministic clip mixer that counts its calls: each clip a sine at its own level (so the edit's one
    gain differs from each clip's own), one object panning across. interrupt_at: raise KeyboardInterrupt for
    that clip (a render stopped mid-way; the clips before it are finished)."""

    def __init__(self, interrupt_at: str | None = None):
        self.calls: list[str] = []
        self.interrupt_at = interrupt_at

    def __call__(self, request, options=None, progress=None):
        if request.name == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(request.name)
        n = request.n_samples
        level = 0.02 * (1 + NAMES.index(request.name))
        t = np.arange(n) / 48000
        source = (level * np.sin(2 * np.pi * (220 + 110 * NAMES.index(request.name)) * t)).astype(np.float32)
        trajectory = Trajectory(times_s=np.array([0.0, n / 48000]), pan=np.array([-0.6, 0.6]),
                                distance_m=np.full(2, 2.0), gain_db=np.zeros(2))
        stereo = np.stack([source * 0.8, source * 0.5])
        return ClipMix(stereo=stereo, objects=(SoundObject("thing", source, trajectory, class_name="thing"),))


@pytest.fixture
def mixer(monkeypatch):
    """Install a Mixer as the pipeline; call it again with interrupt_at to replace it."""
    def install(interrupt_at=None):
        m = Mixer(interrupt_at)
        monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", m)
        return m
    return install


def make_edit(folder: Path) -> Path:
    """Three 0.5 s clips on one track, each from its own media file."""
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name in NAMES:
        media = folder / f"{name}.wav"
        sf.write(str(media), np.zeros(48000, np.float32), 48000)
        track.append(otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=str(media)),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(12, 24))))
    path = folder / "edit.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="edit", tracks=[track]), str(path))
    return path


def render(edit: Path, out: Path, *extra: str) -> int:
    return cli.main(["render", str(edit), "-o", str(out), "--no-aaf", *extra])


def audio_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.wav"))}


def report_of(out: Path) -> dict:
    return json.loads((out / "edit.stereofoley.json").read_text())


@pytest.fixture
def edit(tmp_path):
    return make_edit(tmp_path)


@pytest.mark.parametrize("scope", ["edit", "clip"])
def test_an_interrupted_render_resumes_to_the_bytes_of_a_clean_one(tmp_path, edit, mixer, capsys, scope):
    args = ("--loudness-scope", scope)
    mixer()
    assert render(edit, tmp_path / "clean", *args) == 0
    clean = audio_files(tmp_path / "clean")
    assert len(clean) == 6  # three mixes, three stems

    out = tmp_path / "out"
    mixer("charlie")
    assert render(edit, out, *args) == 130  # interrupted at the third clip
    finished = {n: os.stat(out / n) for n in clean if n.startswith(("alpha", "bravo"))}
    assert len(finished) == 4 and not list(out.glob("charlie*"))
    capsys.readouterr()

    stopped = mixer()
    assert render(edit, out, *args) == 1  # without --resume or --overwrite: refused before any rendering
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and "--resume" in err and stopped.calls == []

    assert render(edit, out, *args, "--resume", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert stopped.calls == ["charlie"]
    assert report["resumed"] == ["0.0", "0.1"] and report["rendered"] == ["0.2"]
    assert [c["name"] for c in report["clips"]] == list(NAMES)
    assert audio_files(out) == clean  # the same bytes as the clean render, edit loudness included
    assert report["loudness"] == report_of(tmp_path / "clean")["loudness"]
    if scope == "clip":  # each clip final as written: not touched again
        for name, st in finished.items():
            now = os.stat(out / name)
            assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), name


def test_a_finished_render_resumed_renders_nothing_and_keeps_every_file(tmp_path, edit, mixer, capsys):
    mixer()
    out = tmp_path / "out"
    assert render(edit, out) == 0
    before = {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in out.glob("*.wav")}
    loudness = report_of(out)["loudness"]
    again = mixer()
    assert render(edit, out, "--resume", "--media-root", str(tmp_path)) == 0  # roots only find media
    assert again.calls == []
    assert {p.name: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in out.glob("*.wav")} == before
    report = report_of(out)
    assert report["resumed"] == ["0.0", "0.1", "0.2"] and report["rendered"] == []
    assert report["loudness"] == loudness and loudness["scope"] == "edit"


def test_a_changed_input_renders_that_clip_again_and_a_changed_setting_every_clip(tmp_path, edit, mixer, capsys):
    args = ("--loudness-scope", "clip")
    mixer()
    out = tmp_path / "out"
    assert render(edit, out, *args) == 0
    media = tmp_path / "bravo.wav"
    st = media.stat()
    os.utime(media, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the media was replaced (same size)
    again = mixer()
    assert render(edit, out, *args, "--resume") == 0
    assert again.calls == ["bravo"] and report_of(out)["resumed"] == ["0.0", "0.2"]

    again = mixer()
    assert render(edit, out, *args, "--resume", "--seed", "7") == 0  # a setting: every clip
    assert again.calls == list(NAMES) and report_of(out)["resumed"] == []

    (out / "alpha_0-0.wav").write_bytes((out / "alpha_0-0.wav").read_bytes())  # the user edited a WAV
    again = mixer()
    assert render(edit, out, *args, "--resume", "--seed", "7") == 0
    assert again.calls == ["alpha"]


def test_in_edit_scope_a_changed_clip_renders_the_edit_again_to_the_clean_bytes(tmp_path, edit, mixer, capsys):
    """One gain covers the edit: a changed clip changes every clip's gain, and a limited file cannot take another
    gain exactly, so the delivered clips are rendered again (the analysis cache makes that cheap)."""
    mixer()
    out = tmp_path / "out"
    assert render(edit, out) == 0
    media = tmp_path / "charlie.wav"
    sf.write(str(media), np.zeros(24000, np.float32), 48000)  # shorter: still long enough for the clip
    again = mixer()
    assert render(edit, out, "--resume") == 0
    assert again.calls == list(NAMES)
    assert render(edit, tmp_path / "clean") == 0
    assert audio_files(out) == audio_files(tmp_path / "clean")


def test_full_disk_while_writing_the_otio_then_resume_renders_nothing(tmp_path, edit, mixer, capsys, monkeypatch):
    import stereofoley.usecases.timeline as timeline_usecase

    real = timeline_usecase.write_otio

    def no_space(timeline, path, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    first = mixer()
    monkeypatch.setattr(timeline_usecase, "write_otio", no_space)
    out = tmp_path / "out"
    assert render(edit, out) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left on device (" in err and "edit.stereofoley.otio" in err
    assert first.calls == list(NAMES) and len(list(out.glob("*.wav"))) == 6
    assert all(json.loads(record_path(w).read_text())["state"] == "final" for w in out.glob("*_0-?.wav"))

    monkeypatch.setattr(timeline_usecase, "write_otio", real)  # space again
    again = mixer()
    assert render(edit, out, "--resume") == 0
    assert again.calls == []
    assert report_of(out)["resumed"] == ["0.0", "0.1", "0.2"] and (out / "edit.stereofoley.otio").is_file()
    assert render(edit, tmp_path / "clean") == 0
    assert audio_files(out) == audio_files(tmp_path / "clean")


OUTPUTS = {
    "stem": "bravo_0-1.01.thing.wav", "diffuse stem": "bravo_0-1.00.diffuse.wav", "mix": "bravo_0-1.wav",
    "tracks": "bravo_0-1.tracks.json", "otio": "edit.stereofoley.otio", "report": "edit.stereofoley.json",
    "xml": "edit.stereofoley.xml", "rpp": "edit.stereofoley.rpp", "aaf": "edit.stereofoley.aaf",
}


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_the_pre_render_check_covers_every_output(tmp_path, edit, mixer, capsys, kind):
    out = tmp_path / "out"
    out.mkdir()
    (out / OUTPUTS[kind]).write_bytes(b"the user's file")
    m = mixer()
    assert cli.main(["render", str(edit), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert OUTPUTS[kind] in err and "--resume" in err
    assert m.calls == [] and [p.name for p in out.iterdir()] == [OUTPUTS[kind]]
    assert (out / OUTPUTS[kind]).read_bytes() == b"the user's file"


def test_a_record_alone_is_ours_and_does_not_block_a_render(tmp_path, edit, mixer):
    out = tmp_path / "out"
    out.mkdir()
    record_path(out / "bravo_0-1.wav").write_text("{}")
    m = mixer()
    assert render(edit, out) == 0 and m.calls == list(NAMES)


def test_a_timeline_job_resumes(tmp_path, edit):
    out = tmp_path / "out"
    job = {"version": 1, "kind": "timeline", "out_dir": str(out), "timeline": str(edit),
           "options": {}}
    with pytest.raises(KeyboardInterrupt):
        run_job(parse_job(job), mixer=Mixer("bravo"))
    job["options"]["resume"] = True
    m = Mixer()
    status = run_job(parse_job(job), mixer=m)
    assert status["state"] == "done", status.get("error")
    assert m.calls == ["bravo", "charlie"] and status["report"]["resumed"] == ["0.0"]


def test_render_removes_the_temp_files_a_killed_render_left(tmp_path, edit, mixer, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".alpha_0-0.wav.k3j9x2ab.part.wav"  # atomic_output's temp name, left by a SIGKILL
    stale.write_bytes(b"")
    os.utime(stale, (1e9, 1e9))
    mixer()
    assert render(edit, out) == 0
    assert not stale.exists() and f"removed {stale.name}" in capsys.readouterr().err


def test_a_record_naming_another_file_is_not_trusted(tmp_path, edit, mixer):
    """A record planted (or left) in OUTDIR that names a file other than the clip's own is ignored: the clip is
    rendered again and the other file is neither gained nor listed."""
    mixer()
    out = tmp_path / "out"
    assert render(edit, out, "--loudness-scope", "clip") == 0
    victim = tmp_path / "victim.wav"
    victim.write_bytes((out / "alpha_0-0.wav").read_bytes())
    record = record_path(out / "alpha_0-0.wav")
    data = json.loads(record.read_text())
    data["result"]["stems"] = [str(victim)]
    data["files"][str(victim)] = [victim.stat().st_size, victim.stat().st_mtime_ns]
    record.write_text(json.dumps(data))
    again = mixer()
    assert render(edit, out, "--loudness-scope", "clip", "--resume") == 0
    assert again.calls == ["alpha"] and str(victim) not in (out / "edit.stereofoley.json").read_text()


def test_resume_in_a_clips_job_is_refused_not_ignored(tmp_path):
    from stereofoley.errors import InvalidJob

    job = {"version": 1, "kind": "clips", "out_dir": str(tmp_path), "options": {"resume": True},
           "clips": [{"id": "a", "media": str(tmp_path / "a.mov")}]}
    with pytest.raises(InvalidJob, match="resume applies to timeline jobs only"):
        parse_job(job)


def test_a_resumed_clip_from_partly_decoded_media_stays_partial(tmp_path, edit, monkeypatch, capsys):
    """Honest media survives --resume: the record keeps the clip's analysed_fraction and warning."""
    def partly(request, options=None, progress=None):
        mix = Mixer()(request, options, progress)
        if request.name != "bravo":
            return mix
        return ClipMix(stereo=mix.stereo, objects=mix.objects, analysed_fraction=0.5,
                       warning=f"{request.media_path}: only 50.0 % of [0.000, 0.500) s decodes")

    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", partly)
    out = tmp_path / "out"
    assert render(edit, out) == 3
    assert [w["name"] for w in report_of(out)["warnings"]] == ["bravo"]
    calls = Mixer()
    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", calls)
    assert render(edit, out, "--resume") == 3 and calls.calls == []
    report = report_of(out)
    assert report["status"] == "partial" and [w["name"] for w in report["warnings"]] == ["bravo"]
    assert {c["name"]: c["analysed_fraction"] for c in report["clips"]} == {"alpha": 1.0, "bravo": 0.5, "charlie": 1.0}
    assert "clip 'bravo'" in capsys.readouterr().err
