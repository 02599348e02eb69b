"""`stereofoley render`: exit codes (0 ok, 3 partial, 1 error), --json report on stdout, selection options."""

import json

import pytest

from stereofoley import cli
from stereofoley.commands.render import parse_range
from stereofoley.errors import InvalidParameter
from stereofoley.timeline import read_timeline

from conftest import DATA, RecordingRenderer, make_video, media_for


@pytest.fixture
def recording(monkeypatch):
    renderer = RecordingRenderer()
    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", renderer)
    return renderer


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_media")
    media_for(read_timeline(DATA / "premiere_example.otio"), folder)
    return folder


def test_partial_run_prints_the_report_and_exits_3(tmp_path, media, recording, capsys):
    code = cli.main(["render", str(DATA / "premiere_example.xml"), "-o", str(tmp_path / "out"),
                     "--media-root", str(media), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_PARTIAL == 3
    assert report["status"] == "partial" and len(report["clips"]) == 6
    assert report["skipped"][0]["reason"].startswith("generator reference")


def test_selected_clips_only_exit_0(tmp_path, media, recording, capsys):
    code = cli.main(["render", str(DATA / "premiere_example.otio"), "-o", str(tmp_path / "out"),
                     "--media-root", str(media), "--track", "V2", "--range", "5-11", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "ok"
    assert [c["id"] for c in report["clips"]] == ["1.3", "1.4"] == [r.clip_id for r in recording.requests]


@pytest.mark.parametrize("args, message", [
    (["missing.otio"], "timeline not found"),
    ([str(DATA / "README.md")], "no installed timeline adapter reads .md"),
    ([str(DATA / "premiere_example.otio"), "--clip", "nothing-like-this"], "no clips selected"),
    ([str(DATA / "premiere_example.otio")], "none of the 7 selected clips can be rendered"),
    ([str(DATA / "premiere_example.otio"), "--remap", "no-equals"], "OLD_PREFIX=NEW_PREFIX"),
])
def test_bad_input_exits_1_with_a_clear_message(tmp_path, recording, capsys, args, message):
    code = cli.main(["render", *args, "-o", str(tmp_path / "out")])
    assert code == cli.EXIT_ERROR == 1
    assert message in capsys.readouterr().err
    assert not recording.requests


def test_existing_outputs_need_overwrite(tmp_path, media, recording, capsys):
    argv = ["render", str(DATA / "premiere_example.otio"), "-o", str(tmp_path / "out"), "--media-root", str(media)]
    assert cli.main(argv) == 3
    n = len(recording.requests)
    assert cli.main(argv) == 1 and "--overwrite" in capsys.readouterr().err
    assert len(recording.requests) == n  # refused before rendering anything
    assert cli.main(argv + ["--overwrite"]) == 3


def test_range_in_seconds_or_timecode():
    assert parse_range("12.5-20", "unused") == (12.5, 20.0)
    hiero = str(DATA / "hiero_xml_export.xml")  # global start 01:00:00:00 at 24 fps
    assert parse_range("01:00:00:12-01:00:01:00", hiero) == (0.5, 1.0)
    with pytest.raises(InvalidParameter, match="START-END"):
        parse_range("12", "unused")


def test_offline_clips_of_a_real_timeline_relink_by_name_exit_0(tmp_path, recording, capsys):
    """nested_example.otio has no media references at all (MissingReference): an editor relinks by clip name."""
    from fractions import Fraction

    from stereofoley.timeline import picture_clips

    timeline = read_timeline(DATA / "nested_example.otio")
    for c in picture_clips(timeline):  # in sub-folders of the media root, as proxies (.mp4)
        make_video(tmp_path / "media" / "day1" / f"{c.name}.mp4", Fraction(24), 200)
    code = cli.main(["render", str(DATA / "nested_example.otio"), "-o", str(tmp_path / "out"),
                     "--media-root", str(tmp_path / "media"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["skipped"] == []
    assert {c["relink"]["rule"] for c in report["clips"]} == {"clip name"}
    assert len(report["clips"]) == len(picture_clips(timeline)) == 7
