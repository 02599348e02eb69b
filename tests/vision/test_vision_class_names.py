"""A detector whose classes are not COCO's: the shipped sprite model with its classes renamed ("vehicle",
"pedestrian"). Through the class vocabulary its objects are sounding, get the engine and footstep voices, and
their distance comes from the right real-world size (issue 12, part 2)."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_yolo

from stereofoley import SAMPLE_RATE_HZ as SR
from stereofoley.evaluation import synthetic
from stereofoley.config import preset
from stereofoley.options import RenderOptions
from stereofoley.usecases.clip import render_media
from stereofoley.sources import make_source_for, synth
from stereofoley.sources.factory import track_rng
from stereofoley.sources.motion import motion_of
from stereofoley.vision import YoloDetector, analyze_video

RENAMED = {0: "vehicle", 1: "pedestrian", 2: "box"}


@pytest.fixture(scope="module")
def renamed_model(tmp_path_factory):
    from ultralytics import YOLO

    model = YOLO(str(tiny_yolo.COMMITTED))
    model.model.names = dict(RENAMED)
    path = tmp_path_factory.mktemp("renamed") / "street.pt"
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    """A car passing left to right in front of a person walking right to left, 3 s."""
    car = synthetic.Sprite("car", ((0.0, -0.15, 0.65, 0.22), (3.0, 1.15, 0.65, 0.22)), shape="car", class_name="car")
    person = synthetic.Sprite("person", ((0.0, 0.8, 0.45, 0.45), (3.0, 0.3, 0.45, 0.45)), shape="person",
                              class_name="person", aspect=0.45, color_bgr=(200, 120, 30), height_m=1.7)
    path = tmp_path_factory.mktemp("street") / "street.mp4"
    truth = synthetic.write_video(synthetic.Scene(sprites=(car, person), duration_s=3.0), path)
    return path, truth


def centroid_hz(x):
    power = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64))) ** 2
    return float((power * np.fft.rfftfreq(len(x), 1 / SR)).sum() / power.sum())


def test_non_coco_names_sound_and_measure_like_their_coco_classes(renamed_model, street):
    video, truth = street
    assert YoloDetector(renamed_model).class_names == RENAMED
    analysis = analyze_video(video, detector="yolo", weights=renamed_model)
    by_class = {t.class_name: t for t in sorted(analysis.tracks, key=lambda t: t.start_s - t.end_s)}
    assert {"vehicle", "pedestrian"} <= set(by_class)
    assert by_class["vehicle"].sounding and by_class["pedestrian"].sounding
    # distance from the real sizes (car 1.5 m, person 1.7 m, as the sprites are drawn), not a 1 m default
    for name, sprite in (("vehicle", "car"), ("pedestrian", "person")):
        track = by_class[name]
        true_d = np.interp(track.times_s, truth.frame_times_s, truth.object(sprite).distance_m)
        seen = track.confidence > 0
        assert np.median(np.abs(track.distance_m[seen] / true_d[seen] - 1)) < 0.15, name

    n = int(round(analysis.duration_s * SR))
    chain = make_source_for("synth")
    for name, coco, band in (("vehicle", "car", (100, 900)), ("pedestrian", "person", (400, 2500))):
        track = by_class[name]
        sound = chain(track, n)
        # the very voice (and tuning) of the COCO class: engine for the vehicle, footsteps for the pedestrian
        same = synth.synth_source(coco, motion_of(track, n), track_rng(0, track))
        np.testing.assert_array_equal(sound, same)
        heard = sound[np.abs(sound) > 0]
        assert band[0] <= centroid_hz(heard) <= band[1], (name, centroid_hz(heard))
        whoosh = synth.synth_source("zzz-unmapped", motion_of(track, n), track_rng(0, track))
        assert not np.array_equal(sound, whoosh)

    result = render_media(video, options=RenderOptions(detector="yolo", weights=str(renamed_model), settings=preset("dry"),
                                                       cache=False), source_for=chain)
    assert {"vehicle", "pedestrian"} <= {o.class_name for o in result.objects}
    assert float(np.sqrt(np.mean(result.stereo**2))) > 10 ** (-50 / 20)
