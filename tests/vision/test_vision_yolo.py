"""The YOLO path, offline, with the real ultralytics loading code on models the tests make or the repo ships.

`untrained` is built here from ultralytics' YOLO11 architecture file (random weights): it checks loading, class
names and the fail-fast paths. `sprites_yolo.pt` (engine/stereofoley/data, made by tests/vision/tiny_yolo.py) is the
same network trained briefly on synthetic sprites: its detections go through the same tracker and trajectory
code and are scored against ground truth.
"""

from __future__ import annotations

import logging
import shutil
import socket

import numpy as np
import pytest
import tiny_yolo
from vision_scoring import score

from stereofoley.cli import main
from stereofoley.errors import InvalidParameter, MissingWeights
from stereofoley.vision import MotionDetector, YoloDetector, analyze_video, make_detector


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: YOLO must run offline."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def no_weights_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("STEREOFOLEY_MODELS", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    return tiny_yolo.build_untrained(tmp_path_factory.mktemp("yolo") / "untrained.pt")


def test_missing_weights_fail_fast_naming_the_file(no_weights_anywhere, scene_video, capsys):
    with pytest.raises(MissingWeights, match="yolo11n.pt.*weights=PATH"):  # the library names its parameter
        make_detector("yolo")
    with pytest.raises(MissingWeights, match="elsewhere/mine.pt"):
        make_detector("auto", weights="elsewhere/mine.pt")  # an explicit path is never silently replaced
    video, _ = scene_video("crossing")
    assert main(["analyze", str(video), "--detector", "yolo", "-o", "t.json", "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert "yolo11n.pt" in err and "--weights PATH" in err  # the CLI names its flag
    assert not (no_weights_anywhere / "t.json").exists()


def test_auto_falls_back_to_motion_with_a_notice(no_weights_anywhere, caplog):
    with caplog.at_level(logging.WARNING, logger="stereofoley.vision"):
        detector = make_detector("auto")
    assert isinstance(detector, MotionDetector)
    assert len(caplog.records) == 1 and "yolo11n.pt" in caplog.records[0].getMessage()


def test_auto_uses_yolo_when_weights_are_on_disk(no_weights_anywhere, untrained, monkeypatch):
    models = no_weights_anywhere / "models"
    models.mkdir()
    shutil.copyfile(untrained, models / "yolo11n.pt")
    monkeypatch.setenv("STEREOFOLEY_MODELS", str(models))
    detector = make_detector("auto")
    assert isinstance(detector, YoloDetector)
    assert detector.class_names == tiny_yolo.NAMES  # classes come from the model


def test_untrained_model_loads_and_detects_shapes(untrained):
    detector = YoloDetector(untrained, imgsz=160)
    found = detector.detect(np.zeros((90, 160, 3), dtype=np.uint8))
    assert found.xyxy_norm.shape == (len(found), 4) and found.class_id.dtype == np.int64


def test_corrupt_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint" * 100)
    with pytest.raises(InvalidParameter, match="broken.pt"):
        YoloDetector(bad)


def test_trained_tiny_model_tracks_through_the_same_code(analysed):
    assert tiny_yolo.COMMITTED.is_file(), "run tests/vision/tiny_yolo.py to make the test model"
    analysis, truth = analysed("passing_vehicle", detector="yolo", weights=tiny_yolo.COMMITTED, noise_std=4.0)
    assert analysis.detector == "yolo"
    s = score(analysis, truth, "car")
    assert s.recall >= 0.8 and s.mae <= 0.03, (s.recall, s.errors)
    car = next(t for t in analysis.tracks if t.track_id == s.track_ids[len(s.track_ids) // 2])
    assert car.class_name == "car" and car.sounding
    # class "car" (1.5 m tall, like the sprite) gives distance through the same pinhole model as the truth
    true_d = np.interp(car.times_s, truth.frame_times_s, truth.object("car").distance_m)
    visible = car.confidence > 0
    assert np.median(np.abs(car.distance_m[visible] / true_d[visible] - 1)) < 0.15


def test_yolo_clip_runs_end_to_end(scene_video, tmp_path):
    video, _ = scene_video("hard_cut")
    out = tmp_path / "yolo.wav"
    code = main(["clip", str(video), "-o", str(out), "--detector", "yolo", "--weights", str(tiny_yolo.COMMITTED), "--no-cache"])
    assert code == 0 and out.stat().st_size > 3 * 48000 * 2 * 3
    analysis = analyze_video(video, detector="yolo", weights=tiny_yolo.COMMITTED)
    assert len(analysis.cuts_s) == 1 and {t.class_name for t in analysis.tracks} & {"car", "box"}
