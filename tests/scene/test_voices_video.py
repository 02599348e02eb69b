"""Voices per moment on a generated video through the real detector path: people walking through a shot one after
another (never more than 3 at once) are each heard while on screen, with the default 4 voices."""

from __future__ import annotations

import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ as SR
from stereofoley.evaluation import synthetic
from stereofoley.config import preset
from stereofoley.options import RenderOptions
from stereofoley.usecases.clip import render_media
from stereofoley.demo import DEMO_WEIGHTS as WEIGHTS  # the shipped sprite YOLO (tests/vision/tiny_yolo.py)
from stereofoley.spatial.trajectory import pan_from_x
SECONDS = 12.0
SPANS = ((0.0, 5.0), (2.0, 7.0), (4.0, 9.0), (6.5, 11.5), (7.5, 12.0))


@pytest.fixture(scope="module")
def walkers(tmp_path_factory):
    people = []
    for i, (a, b) in enumerate(SPANS):
        people.append(synthetic.Sprite(
            f"p{i}", ((a, -0.1, 0.5 + 0.04 * (i % 3), 0.42 + 0.03 * i), (b, 1.1, 0.5 + 0.04 * (i % 3), 0.42 + 0.03 * i)),
            shape="person", class_name="person", aspect=0.45, color_bgr=(200 - 30 * i, 120, 30 + 40 * i), height_m=1.7))
    scene = synthetic.Scene(sprites=tuple(people), duration_s=SECONDS)
    path = tmp_path_factory.mktemp("walkers") / "walkers.mp4"
    return path, synthetic.write_video(scene, path)


def test_each_person_is_heard_while_on_screen(walkers):
    video, truth = walkers
    on = np.stack([o.on_screen for o in truth.objects])
    assert on.sum(axis=0).max() <= 3
    result = render_media(video, options=RenderOptions(detector="yolo", weights=str(WEIGHTS), settings=preset("dry"),
                                                       sources="neutral", cache=False))
    frames = truth.frame_times_s
    settings = preset("dry")
    for obj in truth.objects:
        seen = obj.fully_visible  # the detector's job is judged where the whole figure is in frame
        heard = np.zeros(frames.size, dtype=bool)
        for ro in result.objects:
            gain = np.interp(frames, ro.trajectory.times_s, 10 ** (ro.trajectory.gain_db / 20))
            pan_x = np.interp(frames, ro.trajectory.times_s, ro.trajectory.pan)  # pan follows x through the lens
            true_pan = pan_from_x(np.nan_to_num(obj.x_norm, nan=9.0), settings)
            heard |= (gain >= 0.5) & (np.abs(pan_x - true_pan) < 0.35)
        assert seen.sum() / 25 >= 1.0  # at least 1 s fully in frame (25 fps)
        assert heard[seen].mean() >= 0.9, (obj.name, heard[seen].mean())
    # and the mix is audible wherever someone is in frame
    win = SR // 10
    level = 10 * np.log10(np.mean(result.stereo.astype(np.float64).reshape(2, -1, win) ** 2, axis=(0, 2)) + 1e-20)
    centres = (np.arange(level.size) + 0.5) * 0.1
    anyone = np.interp(centres, frames, on.any(axis=0).astype(float)) > 0.5
    assert np.mean(level[anyone] > np.median(level[anyone]) - 20.0) >= 0.95
