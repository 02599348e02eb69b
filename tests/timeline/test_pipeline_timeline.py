"""The timeline renderer with the real vision pipeline (motion detector) on a generated video with a known
trajectory: normal speed, a 2x LinearTimeWarp and a FreezeFrame of the same shot."""

from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from stereofoley.evaluation import synthetic
from stereofoley.config import preset
from stereofoley.options import RenderOptions
from stereofoley.usecases.timeline import render_timeline

RATE = 25


def _clip(name, url, start, frames, effect=None):
    clip = otio.schema.Clip(
        name=name,
        media_reference=otio.schema.ExternalReference(
            target_url=url, available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(50, RATE))),
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(frames, RATE)),
    )
    if effect is not None:
        clip.effects.append(effect)
    return clip


def _zero_crossing_s(points):
    t, v = np.asarray(points).T
    k = int(np.flatnonzero((v[:-1] < 0) & (v[1:] >= 0))[0])
    return t[k] + (0 - v[k]) * (t[k + 1] - t[k]) / (v[k + 1] - v[k])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    # a car crossing left to right: x = -0.15 + 0.65 t, centre of frame at t = 1.0 s
    scene = synthetic.passing_vehicle(duration_s=2.0, width=160, height=90, fps=Fraction(RATE))
    video = folder / "car.mp4"
    synthetic.write_video(scene, video)
    url = otio.url_utils.url_from_filepath(str(video))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(_clip("normal", url, 0, 50))
    track.append(_clip("double speed", url, 0, 25, otio.schema.LinearTimeWarp(time_scalar=2.0)))
    track.append(_clip("freeze", url, 40, 5, otio.schema.FreezeFrame()))
    timeline = otio.schema.Timeline(name="car", tracks=[track])
    path = folder / "car.otio"
    otio.adapters.write_to_file(timeline, str(path))
    options = RenderOptions(detector="motion", settings=preset("dry"))  # free field: level differences are the pan law
    return render_timeline(path, folder / "out", options=options)


def test_normal_speed_follows_the_car(rendered):
    clip = next(c for c in rendered["clips"] if c["name"] == "normal")
    assert (clip["media_start_s"], clip["media_end_s"]) == (0.0, 2.0)
    assert sf.info(clip["wav"]).frames == 96000
    pan = clip["objects"][0]["curves"]["pan"]
    assert pan[0][1] < -0.5 and pan[-1][1] > 0.5
    assert _zero_crossing_s(pan) == pytest.approx(1.0, abs=0.1)


def test_time_warp_analyses_the_media_shown_and_fills_the_record_range(rendered):
    clip = next(c for c in rendered["clips"] if c["name"] == "double speed")
    assert (clip["media_start_s"], clip["media_end_s"], clip["speed"]) == (0.0, 2.0, 2.0)  # 2 s of media ...
    assert sf.info(clip["wav"]).frames == 48000  # ... in 1 s of record time
    pan = clip["objects"][0]["curves"]["pan"]
    assert pan[-1][0] == pytest.approx(1.0)
    assert _zero_crossing_s(pan) == pytest.approx(0.5, abs=0.06)  # the car crosses twice as fast


def test_freeze_frame_holds_the_frozen_placement(rendered):
    clip = next(c for c in rendered["clips"] if c["name"] == "freeze")
    assert clip["media_start_s"] == pytest.approx(1.6) and clip["media_end_s"] == pytest.approx(1.64)
    assert sf.info(clip["wav"]).frames == 5 * 1920
    pans = [np.asarray(o["curves"]["pan"])[:, 1] for o in clip["objects"]]
    assert all(np.ptp(p) == 0 and p[0] > 0.5 for p in pans)  # held; x = 0.89 at 1.6 s is right of centre
    data, _ = sf.read(clip["wav"], always_2d=True)
    left, right = np.sqrt(np.mean(data**2, axis=0))
    # Constant-power law: each object has R/L = tan((pan + 1) pi / 4); the mix of uncorrelated sources has an
    # energy ratio between the smallest and the largest of them.
    ratios = [np.tan((p[0] + 1) * np.pi / 4) for p in pans]
    assert 0.95 * min(ratios) <= right / left <= 1.05 * max(ratios)
