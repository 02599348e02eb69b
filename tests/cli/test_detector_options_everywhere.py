"""The detector options (imgsz, conf, iou, classes, detect_fps) reach the analysis from every entry point:
`stereofoley clip`, `stereofoley render` and an OSC-style clips job, through the one options schema."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from stereofoley.cli import main
from stereofoley.errors import InvalidMedia, InvalidParameter
from stereofoley.evaluation import synthetic
from stereofoley.jobs import parse_job, run_job
from stereofoley.options import RenderOptions
from stereofoley.usecases import clip as clip_usecase

FLAGS = ["--detector", "yolo", "--imgsz", "416", "--conf", "0.3", "--iou", "0.5", "--classes", "car,person",
         "--detect-fps", "5", "--no-cache"]
EXPECTED = {"detector": "yolo", "imgsz": 416, "conf": 0.3, "iou": 0.5, "classes": ("car", "person"), "detect_fps": 5.0}


@pytest.fixture
def seen(monkeypatch):
    calls = []

    def recording_analyze(path, **kwargs):
        calls.append(kwargs["options"])
        raise InvalidMedia("stop after recording the options")

    monkeypatch.setattr(clip_usecase, "analyze_video", recording_analyze)
    return calls


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("opts") / "car.mp4"
    synthetic.write_video(synthetic.passing_vehicle(duration_s=1.0, width=64, height=36, fps=Fraction(25)), path)
    return path


def options_seen(calls):
    (options,) = calls
    return {k: getattr(options, k) for k in EXPECTED}


def test_clip_command(seen, video, tmp_path):
    assert main(["clip", str(video), "-o", str(tmp_path / "a.wav"), *FLAGS]) == 1
    assert options_seen(seen) == EXPECTED


def test_render_command(seen, video, tmp_path):
    span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(25, 25))
    clip = otio.schema.Clip(name="car", source_range=span, media_reference=otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(video)), available_range=span))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(clip)
    path = tmp_path / "t.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(path))
    assert main(["render", str(path), "-o", str(tmp_path / "out"), *FLAGS]) == 1
    assert options_seen(seen) == EXPECTED


def test_clips_job(seen, video, tmp_path):
    job = parse_job({"version": 1, "kind": "clips", "out_dir": str(tmp_path / "out"),
                     "clips": [{"id": "c", "media": str(video), "start_s": 0.0, "end_s": 1.0}],
                     "options": {"detector": "yolo", "imgsz": 416, "conf": 0.3, "iou": 0.5, "classes": ["car", "person"],
                                 "detect_fps": 5, "cache": False}})
    status = run_job(job)
    assert status["state"] == "failed" and "stop after recording" in status["skipped"][0]["reason"]
    assert options_seen(seen) == EXPECTED


@pytest.mark.parametrize("field, value, message", [("imgsz", 100, "multiple of 32"), ("conf", 1.5, "conf=1.5"),
                                                   ("iou", 0, "iou=0"), ("detect_fps", -1, "detect_fps=-1")])
def test_bad_detector_options_are_refused_by_the_schema(field, value, message):
    with pytest.raises(InvalidParameter, match=message):
        RenderOptions(**{field: value})
    with pytest.raises(InvalidParameter, match=message):
        RenderOptions.from_mapping({field: value})
