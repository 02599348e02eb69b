"""Trajectory building, tracks.json, scene selection and the analysis cache, on small exact inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stereofoley.config import SpatialSettings
from stereofoley.errors import InvalidParameter
from stereofoley.vision.scene import merge_fragments, select_objects
from stereofoley.spatial.trajectory import pan_from_x
from stereofoley.vision import analyze, analyze_video, read_tracks, write_tracks
from stereofoley.vision.tracks import FADE_S, SILENT_GAIN_DB, vertical_fov_deg
from stereofoley.vision.placement import EDGE_EXTRAPOLATION_S, build_track, restore_edge_boxes, smooth

STEP = 0.1


def _track(track_id, t0, t1, x0, x1, *, h=0.2, cls="car", y=0.5, frames=None):
    times = np.round(np.arange(t0, t1 + 1e-9, STEP), 6)
    x = np.interp(times, [t0, t1], [x0, x1])
    w = 0.15
    boxes = np.stack([x - w / 2, np.full_like(x, y - h / 2), x + w / 2, np.full_like(x, y + h / 2)], axis=1)
    frames = np.round(np.arange(0.0, 5.0 + 1e-9, STEP), 6) if frames is None else frames
    return build_track(track_id, cls, times, boxes, np.full(times.size, 0.9), frame_times_s=frames,
                       shot_span_s=(0.0, 5.0), aspect=16 / 9)


def test_smoothing_has_no_lag_on_steady_motion():
    t = np.arange(30) * STEP
    line = np.stack([0.1 + 0.02 * t * 10, np.full_like(t, 0.5)], axis=1)
    np.testing.assert_allclose(smooth(line), line, atol=1e-12)
    rng = np.random.default_rng(1)
    noisy = line + rng.normal(0, 0.01, line.shape)
    assert np.std(smooth(noisy) - line) < 0.7 * np.std(noisy - line)


def test_edge_boxes_get_their_width_back():
    boxes = np.array([[0.30, 0.4, 0.50, 0.6], [0.40, 0.4, 0.60, 0.6], [0.0, 0.4, 0.08, 0.6], [0.9, 0.4, 1.0, 0.6]])
    out = restore_edge_boxes(boxes)
    np.testing.assert_allclose(out[:2], boxes[:2])
    np.testing.assert_allclose(out[2], [-0.12, 0.4, 0.08, 0.6])
    np.testing.assert_allclose(out[3], [0.9, 0.4, 1.1, 0.6])


def test_gaps_are_interpolated_and_marked():
    frames = np.round(np.arange(0, 2.0 + 1e-9, STEP), 6)
    times = np.array([0.5, 0.6, 0.7, 1.0, 1.1, 1.2])  # missing 0.8 and 0.9
    x = 0.3 + (times - 0.5) * 0.2
    boxes = np.stack([x - 0.05, np.full(6, 0.4), x + 0.05, np.full(6, 0.6)], axis=1)
    track = build_track(1, "dog", times, boxes, np.full(6, 0.8), frame_times_s=frames, shot_span_s=(0, 2), aspect=2.0)
    np.testing.assert_allclose(track.times_s, np.round(np.arange(0.5, 1.2 + 1e-9, STEP), 6))
    np.testing.assert_allclose(track.x_norm, 0.3 + (track.times_s - 0.5) * 0.2, atol=1e-9)
    np.testing.assert_array_equal(track.confidence == 0, np.isin(track.times_s, [0.8, 0.9]))


def test_track_leaving_the_frame_is_extrapolated_then_ended():
    track = _track(1, 1.0, 2.0, 0.5, 0.95)  # its right side reaches past the edge at the end
    last_seen = 2.0
    assert track.end_s <= last_seen + EDGE_EXTRAPOLATION_S + 1e-9
    assert track.end_s > last_seen and track.x_norm[-1] > track.x_norm[-2]
    assert np.all(track.confidence[track.times_s > last_seen] == 0)
    inner = _track(2, 1.0, 2.0, 0.3, 0.6)  # never touches an edge: no extrapolation
    assert inner.start_s == 1.0 and inner.end_s == 2.0


def test_track_first_seen_inside_the_frame_still_enters_at_the_edge():
    """A detector that picks an object up only once it is in frame (its box 0.04 from the left edge, moving right
    at 0.3 frame widths/s) and loses it just before it leaves: the trajectory starts and ends off-screen."""
    track = _track(1, 1.0, 3.0, 0.115, 0.885)  # box 0.15 wide: left side at 0.04 first, right side at 0.96 last
    assert track.start_s < 1.0 and track.end_s > 3.0
    assert track.xyxy_norm[0, 2] <= 0.0 + 0.3 * STEP + 1e-9  # wholly (or within one step of wholly) off-screen
    assert track.xyxy_norm[-1, 0] >= 1.0 - 0.3 * STEP - 1e-9
    assert pan_from_x(track.x_norm[:1], SpatialSettings())[0] == -1.0
    still = _track(2, 1.0, 3.0, 0.115, 0.115)  # near the edge but not moving: not extrapolated
    assert still.start_s == 1.0 and still.end_s == 3.0
    inward_late = _track(3, 1.0, 3.0, 0.5, 0.115)  # ends near the left edge moving left: leaves there
    assert inward_late.end_s > 3.0 and inward_late.start_s == 1.0


def test_distance_from_box_height_and_class():
    track = _track(1, 0.0, 1.0, 0.5, 0.5, h=0.5, cls="person")
    vfov = math.radians(vertical_fov_deg(60.0, 16 / 9))
    assert track.distance_m == pytest.approx(np.full(track.times_s.size, 1.7 / (0.5 * 2 * math.tan(vfov / 2))))
    assert track.sounding
    unknown = _track(2, 0.0, 1.0, 0.5, 0.5, h=0.5, cls="object")
    assert unknown.distance_m[0] == pytest.approx(track.distance_m[0] / 1.7)
    # a wider lens sees the same box as a nearer object
    assert track.distance_for(90.0)[0] < track.distance_m[0]


def test_to_trajectory_pans_by_settings_and_is_silent_outside():
    track = _track(1, 1.0, 2.0, 0.2, 0.7)
    for settings in (SpatialSettings(), SpatialSettings(hfov_deg=40.0, stereo_width=0.5)):
        traj = track.to_trajectory(settings)
        inside = (traj.times_s >= track.start_s) & (traj.times_s <= track.end_s)
        np.testing.assert_allclose(traj.pan[inside], pan_from_x(track.x_norm, settings))
        assert np.all(traj.gain_db[inside] == 0.0)
        assert traj.times_s[0] == 0.0 and traj.gain_db[0] == SILENT_GAIN_DB
        assert traj.times_s[-1] == pytest.approx(track.end_s + FADE_S) and traj.gain_db[-1] == SILENT_GAIN_DB


def test_tracks_json_round_trip(tmp_path, analysed):
    analysis, _ = analysed("crossing")
    path = write_tracks(analysis, tmp_path / "t.json")
    back = read_tracks(path)
    assert back.to_dict() == analysis.to_dict()
    with pytest.raises(Exception):
        write_tracks(analysis, path)  # no silent overwrite
    (tmp_path / "bad.json").write_text('{"version": 99}')
    with pytest.raises(InvalidParameter, match=r"bad\.json: .*version"):
        read_tracks(tmp_path / "bad.json")


# ------------------------------------------------------------------------------------------------ scene
def test_fragments_of_one_object_are_merged():
    a = _track(1, 0.0, 1.0, 0.2, 0.4)  # 0.2 width/s
    b = _track(2, 1.5, 2.5, 0.5, 0.7)  # where a was heading, 0.5 s later
    other = _track(3, 1.5, 2.5, 0.9, 0.8)  # elsewhere
    merged = merge_fragments([a, b, other])
    assert len(merged) == 2
    whole = next(t for t in merged if t.track_id == 1)
    assert whole.start_s == 0.0 and whole.end_s == 2.5
    assert len(merge_fragments([a, b], cuts_s=[1.2])) == 2  # never across a cut
    assert len(merge_fragments([a, _track(2, 1.5, 2.5, 0.5, 0.7, cls="dog")])) == 2  # nor across classes


def test_selection_ranks_by_salience_and_keeps_top_n():
    big_mover = _track(1, 0.0, 3.0, 0.1, 0.9, h=0.4)
    small_mover = _track(2, 0.0, 3.0, 0.1, 0.9, h=0.1)
    still = _track(3, 0.0, 3.0, 0.5, 0.5, h=0.4)
    silent_class = _track(4, 0.0, 3.0, 0.1, 0.9, h=0.4, cls="chair")
    chosen = select_objects([still, small_mover, silent_class, big_mover], max_objects=3)
    # a moving car beats a small moving car beats a still one beats a moving chair (classes that make no sound)
    assert [t.track_id for t in chosen] == [1, 2, 3]
    assert big_mover.salience > still.salience and big_mover.salience > silent_class.salience
    assert big_mover.salience > small_mover.salience
    assert len(select_objects([still, big_mover], max_objects=1)) == 1
    assert [t.track_id for t in select_objects([silent_class, big_mover], sounding_only=True)] == [1]
    with pytest.raises(InvalidParameter):
        select_objects([big_mover], max_objects=-1)


# ------------------------------------------------------------------------------------------------ cache
def test_cache_makes_the_second_run_free(scene_video, tmp_path, monkeypatch):
    video, _ = scene_video("crossing")
    cache = tmp_path / "cache"
    first = analyze_video(video, detector="motion", cache_dir=cache)
    assert len(list(cache.glob("*.tracks.json"))) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("analysis re-ran despite a cache hit")

    monkeypatch.setattr(analyze, "_analyze", must_not_run)
    second = analyze_video(video, detector="motion", cache_dir=cache)
    assert second.to_dict() == first.to_dict()
    # spatial settings are not part of the analysis: rendering with other settings reuses it
    from stereofoley.options import RenderOptions
    from stereofoley.usecases.clip import render_media

    wide = render_media(video, options=RenderOptions(detector="motion", cache_dir=str(cache), sources="neutral",
                                                     settings=SpatialSettings(hfov_deg=90.0)))
    assert wide.analysis.to_dict() == first.to_dict()
    # a copy under another name is the same content: still a hit
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(video.read_bytes())
    assert analyze_video(copy, detector="motion", cache_dir=cache).tracks[0].to_dict() == first.tracks[0].to_dict()
    # another range or detector setting is a miss
    with pytest.raises(AssertionError, match="re-ran"):
        analyze_video(video, detector="motion", cache_dir=cache, end_s=2.0)
    with pytest.raises(AssertionError, match="re-ran"):
        analyze_video(video, detector="motion", cache_dir=cache, analysis_fps=8.0)
