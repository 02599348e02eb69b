"""No traceback reaches a user (issue 17): each hostile input ends with one line on stderr naming the file, clip
or value, and exit 1 (or 3 when some clips rendered). Clip mixing is a recording fake where media is not the
point; the frame-rate and name checks happen before any mixing."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from stereofoley import cli
from stereofoley.spatial.mix import SoundObject
from stereofoley.spatial.trajectory import Trajectory
from stereofoley.usecases.clip import ClipMix


def fake_mix(request, options=None, progress=None):
    n = request.n_samples
    source = np.full(n, 0.1, np.float32)
    trajectory = Trajectory(times_s=np.array([0.0, n / 48000]), pan=np.zeros(2), distance_m=np.full(2, 2.0),
                            gain_db=np.zeros(2))
    return ClipMix(stereo=np.stack([source, source]), objects=(SoundObject("thing", source, trajectory, class_name="thing"),))


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", fake_mix)


def media(folder: Path) -> Path:
    path = folder / "media.wav"
    sf.write(str(path), np.zeros(4800, np.float32), 48000)
    return path


def timeline(path: Path, media_path: Path, clips: list[dict], rate: float = 24.0) -> Path:
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for spec in clips:
        clip = otio.schema.Clip(name=spec["name"], media_reference=otio.schema.ExternalReference(target_url=str(media_path)),
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                                     otio.opentime.RationalTime(spec["frames"], rate)))
        if spec.get("freeze"):
            clip.effects.append(otio.schema.FreezeFrame())
        track.append(clip)
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(path))
    return path


def one_line(capsys) -> str:
    """The one error line (progress lines may come before it), with no traceback anywhere."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert "Traceback" not in err and len(errors) == 1 and err.rstrip().endswith(errors[0]), err
    return errors[0]


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    from stereofoley.evaluation import synthetic

    path = tmp_path_factory.mktemp("video") / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=0.5, width=64, height=48, fps=12), path)
    return path


@pytest.mark.parametrize("rate", [0.0, 1e-300])
def test_frame_rate_0_or_1e_300_is_one_line_naming_it(tmp_path, capsys, fake, rate):
    path = timeline(tmp_path / "rate.otio", media(tmp_path), [{"name": "c1", "frames": 12}], rate=rate)
    assert cli.main(["render", str(path), "-o", str(tmp_path / "out")]) == 1
    line = one_line(capsys)
    assert f"frame rate {rate!r}" in line and "clip 'c1'" in line and "1..1000 fps" in line


def test_a_1000_hour_freeze_frame_is_skipped_and_the_rest_renders(tmp_path, capsys, fake):
    frames_1000_h = 1000 * 3600 * 24
    path = timeline(tmp_path / "freeze.otio", media(tmp_path),
                    [{"name": "ok", "frames": 24}, {"name": "frozen", "frames": frames_1000_h, "freeze": True}])
    assert cli.main(["render", str(path), "-o", str(tmp_path / "out"), "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["clips"]] == ["ok"]
    (skip,) = report["skipped"]
    assert skip["name"] == "frozen" and "1000.0 h" in skip["reason"] and "MAX_CLIP_S" in skip["reason"]
    assert Path(report["timeline_out"]).is_file()


def test_full_disk_while_writing_the_otio_is_one_line(tmp_path, capsys, fake, monkeypatch):
    def no_space(timeline, path, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("stereofoley.usecases.timeline.write_otio", no_space)
    path = timeline(tmp_path / "disk.otio", media(tmp_path), [{"name": "c1", "frames": 12}])
    assert cli.main(["render", str(path), "-o", str(tmp_path / "out")]) == 1
    line = one_line(capsys)
    assert "No space left on device" in line and "disk.stereofoley.otio" in line


def test_clip_to_an_existing_folder_with_overwrite_is_refused_before_work(tmp_path, capsys, fake, video):
    (tmp_path / "existing").mkdir()
    assert cli.main(["clip", str(video), "-o", str(tmp_path / "existing"), "--overwrite"]) == 1
    assert "existing is a folder" in one_line(capsys)
    assert list((tmp_path / "existing").iterdir()) == []


def test_a_300_character_output_name_is_refused_before_work(tmp_path, capsys, fake, video):
    out = tmp_path / ("x" * 300 + ".wav")
    assert cli.main(["clip", str(video), "-o", str(out)]) == 1
    line = one_line(capsys)
    assert "304 bytes" in line and "MAX_NAME_BYTES" in line
    assert list(tmp_path.iterdir()) == []


def test_an_engine_bug_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    def broken(args):
        return 1 // 0

    monkeypatch.setattr("stereofoley.commands.report.run", broken)
    parser_args = ["report", str(tmp_path)]
    import stereofoley.commands.report as report_cmd

    monkeypatch.setattr(cli, "build_parser", _parser_with(report_cmd, broken))
    assert cli.main(parser_args) == 1
    line = one_line(capsys)
    assert "internal error: ZeroDivisionError" in line


def _parser_with(module, run):
    real = cli.build_parser

    def build():
        parser = real()
        for action in parser._subparsers._group_actions:
            action.choices[module.__name__.rsplit(".", 1)[1]].set_defaults(run=run)
        return parser

    return build


def test_negative_and_zero_duration_clips_are_reported_under_skipped(tmp_path, capsys, fake):
    """Defect 12d: such clips were dropped silently; each is now skipped with its name and duration."""
    path = timeline(tmp_path / "neg.otio", media(tmp_path), [{"name": "ok", "frames": 24}, {"name": "neg", "frames": -12},
                                                             {"name": "zero", "frames": 0}, {"name": "ok2", "frames": 24}])
    assert cli.main(["render", str(path), "-o", str(tmp_path / "out"), "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["clips"]] == ["ok", "ok2"]
    reasons = {s["name"]: (s["id"], s["reason"]) for s in report["skipped"]}
    assert sorted(reasons) == ["neg", "zero"]
    assert reasons["neg"][0] == "0.1" and "clip 'neg' has a negative duration (-12 frames @24 fps = -0.500 s)" in reasons["neg"][1]
    assert reasons["zero"][0] == "0.2" and "clip 'zero' has zero duration (0 frames" in reasons["zero"][1]


def test_a_timeline_of_only_empty_clips_says_why_in_one_line(tmp_path, capsys, fake):
    path = timeline(tmp_path / "neg.otio", media(tmp_path), [{"name": "neg", "frames": -12}])
    assert cli.main(["render", str(path), "-o", str(tmp_path / "out")]) == 1
    assert "clip 'neg' has a negative duration" in one_line(capsys)
