"""Detector options (DetectorOptions, analyze_video, `stereofoley analyze`), sparse detection with optical flow,
and the CLI progress output."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import tiny_yolo
from vision_scoring import score

from stereofoley.evaluation import synthetic
from stereofoley.cli import main
from stereofoley.commands.progress import progress
from stereofoley.errors import InvalidParameter
from stereofoley.vision import DetectorOptions, YoloDetector, analyze_video, auto_imgsz, make_detector
from stereofoley.vision.detect import Detections
from stereofoley.vision.propagate import SparseDetection, propagate

SPRITES = str(tiny_yolo.COMMITTED)


@pytest.fixture(scope="module")
def car_and_person(tmp_path_factory):
    """A car driving left to right and a person walking right to left, 3 s at 320x180 (the sprite model's classes)."""
    car = synthetic.Sprite("car", ((0.0, 0.1, 0.62, 0.22), (3.0, 0.9, 0.62, 0.22)), shape="car", class_name="car")
    person = synthetic.Sprite("person", ((0.0, 0.8, 0.5, 0.35), (3.0, 0.3, 0.5, 0.35)), shape="person", class_name="person",
                              aspect=0.45, color_bgr=(200, 120, 30), height_m=1.7)
    path = tmp_path_factory.mktemp("options") / "car-and-person.mp4"
    truth = synthetic.write_video(synthetic.Scene(sprites=(car, person), duration_s=3.0), path)
    return path, truth


# ------------------------------------------------------------------------------------------ DetectorOptions
def test_options_defaults_and_round_trip():
    o = DetectorOptions()
    assert (o.detector, o.weights, o.imgsz, o.conf, o.iou, o.classes, o.analysis_fps, o.detect_fps) == \
        ("auto", None, None, 0.1, 0.7, None, 10.0, 1.25)
    assert o.detect_every == 8 and DetectorOptions(detect_fps=2.5).detect_every == 4
    custom = DetectorOptions.from_mapping({"detector": "yolo", "weights": "m.pt", "imgsz": 480, "conf": 0.3, "iou": 0.5,
                                           "classes": "car, person,2", "analysis_fps": 12, "detect_fps": None})
    assert custom.classes == ("car", "person", 2) and custom.detect_every == 1 and custom.analysis_fps == 12.0
    assert DetectorOptions.from_mapping(json.loads(json.dumps(custom.to_mapping()))) == custom
    assert DetectorOptions.from_mapping(None) == DetectorOptions()
    assert DetectorOptions(classes="").classes is None  # "" is every class
    assert DetectorOptions(analysis_fps=1.0).detect_every == 1  # detect_fps above the analysis rate: every frame


@pytest.mark.parametrize("mapping, message", [
    ({"imgsz": 100}, "imgsz=100 must be a multiple of 32"),
    ({"imgsz": 4096}, "imgsz=4096 must be a multiple of 32 between 64 and 1920"),
    ({"imgsz": 320.5}, "imgsz=320.5 must be a whole number"),
    ({"imgsz": "640"}, "imgsz='640' must be a whole number"),
    ({"conf": 1.0}, r"conf=1.0 is outside \[0, 1\)"),
    ({"conf": -0.1}, r"conf=-0.1 is outside"),
    ({"conf": float("nan")}, "conf=nan must be a number"),
    ({"iou": 0}, r"iou=0 is outside \(0, 1\]"),
    ({"iou": True}, "iou=True must be a number"),
    ({"classes": []}, r"classes=\[\] lists no class"),
    ({"classes": [1.5]}, "classes: 1.5 is neither a class name nor a class id"),
    ({"classes": "car,-3"}, "classes: class id -3 is negative"),
    ({"analysis_fps": 0}, r"analysis_fps=0 is outside \[0.1, 240\]"),
    ({"detect_fps": 0}, "detect_fps=0 must be a positive number"),
    ({"detector": "sam"}, "detector='sam' is not allowed; choose one of auto, yolo, motion"),
    ({"weights": 3}, "weights=3 must be a file path"),
    ({"imgsize": 640, "confidence": 0.2}, "unknown option\\(s\\) confidence, imgsize; known: analysis_fps"),
])
def test_options_errors_name_the_option(mapping, message):
    with pytest.raises(InvalidParameter, match=f"^job 3 detector: {message}"):
        DetectorOptions.from_mapping(mapping, where="job 3 detector")


def test_options_not_a_mapping():
    with pytest.raises(InvalidParameter, match="must be a mapping.*not list"):
        DetectorOptions.from_mapping([("imgsz", 320)])


@pytest.mark.parametrize("width, imgsz", [(160, 160), (320, 320), (330, 352), (768, 640), (1920, 640), (40, 64)])
def test_input_size_from_the_frame_width(width, imgsz):
    assert auto_imgsz(width) == imgsz


def test_make_detector_options():
    yolo = make_detector("yolo", SPRITES, imgsz=224, conf=0.3, iou=0.5, classes=("car", 2))
    assert (yolo.imgsz, yolo.input_width, yolo.conf, yolo.iou, yolo.class_ids) == (224, 224, 0.3, 0.5, [0, 2])
    assert make_detector("yolo", SPRITES, frame_width=320).imgsz == 320  # chosen from the frame
    assert make_detector("yolo", SPRITES, frame_width=1920).imgsz == 640
    with pytest.raises(InvalidParameter, match=r"class 'dog' is not one of the classes of .*sprites_yolo.pt \(0:car, 1:person, 2:box\)"):
        YoloDetector(SPRITES, classes=["dog"])
    with pytest.raises(InvalidParameter, match="class 7 is not one of"):
        YoloDetector(SPRITES, classes=[7])
    with pytest.raises(InvalidParameter, match="motion detector finds only 'object'"):
        make_detector("motion", classes=("car",))
    assert make_detector("motion", classes=("object",)).name == "motion"


# ------------------------------------------------------------------------------------------ analyze_video
def test_analyze_video_takes_the_options(car_and_person):
    video, truth = car_and_person
    every = analyze_video(video, options=DetectorOptions(detector="yolo", weights=SPRITES, detect_fps=None))
    assert every.settings_key["detector"]["imgsz"] == 320  # the frame is 320 px wide
    assert {"car", "person"} <= {t.class_name for t in every.tracks}
    cars = analyze_video(video, options={"detector": "yolo", "weights": SPRITES, "classes": ["car"], "imgsz": 256,
                                         "conf": 0.3, "iou": 0.5, "detect_fps": None})
    key = cars.settings_key["detector"]
    assert (key["imgsz"], key["min_confidence"], key["iou"], key["classes"]) == (256, 0.3, 0.5, ["car"])
    assert cars.tracks and {t.class_name for t in cars.tracks} == {"car"}
    assert min(c for t in cars.tracks for c in t.confidence if c > 0) >= 0.3  # nothing below conf was kept
    # keyword arguments override the options' fields
    person = analyze_video(video, options=DetectorOptions(detector="yolo", weights=SPRITES), classes="person", detect_fps=None)
    assert {t.class_name for t in person.tracks} == {"person"}
    s_every, s_person = score(every, truth, "person"), score(person, truth, "person")
    assert abs(s_every.mae - s_person.mae) < 0.01


def test_sparse_detection_follows_every_frame_detection(analysed, scene_video):
    """detect_fps 2.5 of 10 analysed: the detector runs on about one frame in four, positions as every frame."""
    video, truth = scene_video("passing_vehicle", noise_std=4.0)
    calls = []
    detector = YoloDetector(SPRITES, imgsz=320)
    real = detector.detect_batch
    detector.detect_batch = lambda images: calls.append(len(images)) or real(images)
    sparse = analyze_video(video, detector=detector, detect_fps=2.5)
    n_frames = sparse.frame_times_s.size
    assert sparse.settings_key["detect_every"] == 4
    assert sum(calls) <= 0.45 * n_frames, (sum(calls), n_frames)
    every = analyze_video(video, detector=YoloDetector(SPRITES, imgsz=320), detect_fps=None)
    s_sparse, s_every = score(sparse, truth, "car"), score(every, truth, "car")
    assert s_sparse.recall >= s_every.recall - 0.05 and s_sparse.recall >= 0.8, (s_sparse.recall, s_every.recall)
    assert s_sparse.mae <= 0.02 and abs(s_sparse.mae - s_every.mae) <= 0.01, (s_sparse.mae, s_every.mae)
    assert s_sparse.id_switches == 0


def _texture(h=180, w=320, seed=1):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.uint8), (5, 5), 1.5)


def test_propagate_moves_a_box_with_the_picture():
    base = _texture()
    shifted = np.roll(base, (3, 7), axis=(0, 1))  # 7 px right, 3 px down
    box = np.array([[100, 50, 180, 120]], dtype=np.float64) / [320, 180, 320, 180]
    moved, carried = propagate(base, shifted, Detections(box, np.array([0.9]), np.array([1])))
    assert carried.tolist() == [True]
    np.testing.assert_allclose(moved.xyxy_norm[0] * [320, 180, 320, 180], [107, 53, 187, 123], atol=0.3)
    assert moved.confidence.tolist() == [0.9] and moved.class_id.tolist() == [1]
    flat = np.full_like(base, 128)  # nothing to follow: the box is lost
    lost, carried = propagate(flat, flat, Detections(box, np.array([0.9]), np.array([1])))
    assert carried.tolist() == [False] and len(lost) == 0


class _Scripted:
    """A frame-independent detector that finds a box from frame `appears` on, at x = 10 + 4 px per frame."""

    name, frames_independent, input_width, warmup_frames, class_names = "scripted", True, 320, 0, {0: "thing"}

    def __init__(self, appears: int):
        self.appears, self.seen = appears, []

    def detect(self, image):
        i = int(image[0, 0, 0])  # the frame index is written into the first pixel
        self.seen.append(i)
        if i < self.appears:
            return Detections.empty()
        x = (10 + 4 * i) / 320
        return Detections(np.array([[x, 0.3, x + 0.2, 0.6]]), np.array([0.9]), np.array([0]))


def test_an_object_entering_between_detections_is_found_from_its_first_frame():
    det = _Scripted(appears=6)
    sparse = SparseDetection(det, every=4)
    base = _texture()
    settled = []
    for i in range(12):
        image = np.repeat(np.roll(base, 4 * i, axis=1)[:, :, None], 3, axis=2)
        image[0, 0, 0] = i
        settled += sparse.push(i, image)
    settled += sparse.end_shot()
    assert [s[0] for s in settled] == list(range(12))  # every frame once, in order
    first = next(i for i, _, d, _ in settled if len(d))
    assert first == 6  # found on its first frame, not at the next scheduled detection (8)
    assert sorted(det.seen) == [0, 4, 5, 6, 7, 8]  # 0, 4, 8 scheduled; 5-7 re-run when it entered at 8
    assert sparse.detected == len(det.seen) and sparse.detected + sparse.carried == 12


class _Blinking(_Scripted):
    """Finds the box on every frame but those in `blinks` (a detector missing a small object once)."""

    def __init__(self, blinks, start_px: float = 10.0):
        super().__init__(appears=0)
        self.blinks, self.start_px = set(blinks), start_px

    def detect(self, image):
        i = int(image[0, 0, 0])
        self.seen.append(i)
        if i in self.blinks:
            return Detections.empty()
        x = (self.start_px + 4 * i) / 320
        return Detections(np.array([[max(0.0, x), 0.3, x + 0.2, 0.6]]), np.array([0.9]), np.array([0]))


def _push_moving_texture(sparse, n):
    base, settled = _texture(), []
    for i in range(n):
        image = np.repeat(np.roll(base, 4 * i, axis=1)[:, :, None], 3, axis=2)
        image[0, 0, 0] = i
        settled += sparse.push(i, image)
    return settled + sparse.end_shot()


def test_a_detector_blink_keeps_the_carried_box_and_its_link():
    settled = _push_moving_texture(SparseDetection(_Blinking(blinks={4}), every=4), 12)
    index, _, kept, parent = settled[4]
    assert index == 4 and len(kept) == 1  # the detector missed it at 4: the carried box stays, once
    assert abs(kept.xyxy_norm[0, 0] - 26 / 320) < 2 / 320  # where the object is (x = 10 + 4 * 4 px)
    assert parent.tolist() == [0]  # linked to the box of frame 3
    assert all(len(d) == 1 and p.tolist() == [0] for _, _, d, p in settled[1:])  # one chain of links, frames 1-11
    twice = _push_moving_texture(SparseDetection(_Blinking(blinks={4, 8}), every=4), 10)
    assert len(twice[8][2]) == 0  # missed at two detections in a row: gone (an object that left is not kept)


def test_entering_at_the_side_edge_runs_no_extra_detection():
    det = _Blinking(blinks=set(range(6)), start_px=-40.0)  # appears at frame 6 cut by the left edge (x1 = 0)
    settled = _push_moving_texture(SparseDetection(det, every=4), 12)
    assert sorted(det.seen) == [0, 4, 8]  # not re-run on 5-7: placement extends an edge track back to the edge
    assert next(i for i, _, d, _ in settled if len(d)) == 8


def test_carried_boxes_keep_the_walking_person_in_one_track(tmp_path):
    """The demo scene: a small, slowly walking person the tiny model finds at 0.1-0.5 confidence, and a car
    passing in front of it. With YOLO on 2.5 of 10 frames per second the person stays one track (before the
    flow links and the blink rule it split in two, 1.0-2.6 s apart: tests/sources/test_demo.py failed)."""
    from stereofoley.demo import demo_scene

    video = tmp_path / "demo.mp4"
    truth = synthetic.write_video(demo_scene(), video)
    sparse = analyze_video(video, detector=YoloDetector(SPRITES, imgsz=320), detect_fps=2.5)
    assert sorted(t.class_name for t in sparse.tracks) == ["car", "person"]
    person = score(sparse, truth, "person")
    assert person.recall >= 0.95 and person.id_switches == 0 and person.mae <= 0.01, (person.recall, person.mae)


# ------------------------------------------------------------------------------------------ CLI
def test_analyze_cli_detector_options(car_and_person, tmp_path, capsys):
    video, _ = car_and_person
    out = tmp_path / "t.json"
    assert main(["analyze", str(video), "-o", str(out), "--weights", SPRITES, "--imgsz", "256", "--conf", "0.3",
                 "--iou", "0.6", "--classes", "car", "--detect-fps", "all", "--no-cache", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["detector_settings"]["imgsz"] == 256 and summary["detector_settings"]["min_confidence"] == 0.3
    assert summary["detector_settings"]["iou"] == 0.6 and summary["detector_settings"]["classes"] == ["car"]
    assert summary["tracks"] and {t["class"] for t in summary["tracks"]} == {"car"}


@pytest.mark.parametrize("argv, message", [
    (["--imgsz", "100"], "imgsz=100 must be a multiple of 32"),
    (["--imgsz", "big"], "'big' is not a whole number of pixels"),
    (["--classes", "car,-1"], "class id -1 is negative"),
    (["--detect-fps", "fast"], "'fast' is not a number of detections per second"),
])
def test_analyze_cli_rejects_bad_options_at_parse_time(scene_video, tmp_path, capsys, argv, message):
    video, _ = scene_video("crossing")
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(video), "-o", str(tmp_path / "t.json"), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--conf", "1.5"], "--conf 1.5 is outside [0, 1)"),
    (["--iou", "0"], "--iou 0.0 is outside (0, 1]"),
    (["--weights", SPRITES, "--classes", "dog"], "class 'dog' is not one of the classes of"),
    (["--detector", "motion", "--classes", "car"], "the motion detector finds only 'object'"),
])
def test_analyze_cli_bad_values_are_one_line_errors(scene_video, tmp_path, capsys, argv, message):
    video, _ = scene_video("crossing")
    assert main(["analyze", str(video), "-o", str(tmp_path / "t.json"), "--no-cache", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "t.json").exists()


def test_progress_line_per_clip_and_quiet(scene_video, tmp_path, capsys):
    video, _ = scene_video("crossing")
    assert main(["analyze", str(video), "-o", str(tmp_path / "a.json"), "--detector", "motion", "--no-cache"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"analyse {video.name}: done in ") and err[0].endswith(" s")
    assert main(["analyze", str(video), "-o", str(tmp_path / "b.json"), "--detector", "motion", "--no-cache", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    with progress("analyse x.mp4", stream=stream, tty=True, redraw_s=0.0) as update:
        for k in range(11):
            update(k / 10)
    text = stream.getvalue()
    assert "analyse x.mp4" in text and "100%" in text and "\r" in text  # redrawn in place
    quiet = io.StringIO()
    with progress("analyse x.mp4", stream=quiet, tty=True, quiet=True) as update:
        update(0.5)
    assert quiet.getvalue() == ""
    line = io.StringIO()
    with progress("clip y.mov", stream=line, tty=False) as update:
        update(0.3), update(1.0)
    assert line.getvalue().count("\n") == 1 and line.getvalue().startswith("clip y.mov: done in ")
