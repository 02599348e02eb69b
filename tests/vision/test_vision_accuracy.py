"""Tracking accuracy on generated videos with exact ground truth (motion detector, ByteTrack, trajectories).

Videos are 320x180 at 25 fps, analysed at 10 fps. Horizontal errors are fractions of the frame width, over the
analysed frames where at least half of the object is on screen (so entering and leaving count).
"""

from __future__ import annotations

import numpy as np
import pytest
from vision_scoring import score

from stereofoley.vision.placement import EDGE_EXTRAPOLATION_S

MAX_MAE = 0.03


@pytest.mark.parametrize(
    "background, noise_std",
    [("texture", 0.0), ("texture", 12.0), ("gradient", 6.0), ("flat", 0.0)],
)
def test_passing_vehicle_is_followed_across_the_frame(analysed, background, noise_std):
    analysis, truth = analysed("passing_vehicle", background=background, noise_std=noise_std)
    s = score(analysis, truth, "car")
    assert s.recall >= 0.9, s.track_ids
    assert s.mae <= MAX_MAE, s.errors
    assert s.id_switches == 0
    main = next(t for t in analysis.tracks if t.track_id == s.track_ids[len(s.track_ids) // 2])
    assert np.all(np.diff(main.x_norm) > 0), "a car driving left to right moves right at every step"
    # it enters from the left and leaves to the right: extrapolated off-screen at both ends, then ended
    assert main.x_norm[0] < 0.0 and main.x_norm[-1] > 1.0
    assert main.azimuth_deg[0] < -30.0 < 30.0 < main.azimuth_deg[-1]


def test_approaching_object_gets_nearer(analysed):
    analysis, truth = analysed("approaching", noise_std=4.0)
    s = score(analysis, truth, "person")
    assert s.recall >= 0.9 and s.mae <= MAX_MAE, (s.recall, s.errors)
    track = max(analysis.tracks, key=lambda t: t.times_s.size)
    slope = np.polyfit(track.times_s, np.log(track.distance_m), 1)[0]
    assert slope < 0, "distance must fall as the object grows"
    true_ratio = truth.object("person").distance_m[0] / truth.object("person").distance_m[-1]  # 4.0
    ratio = track.distance_m[0] / track.distance_m[-1]
    assert true_ratio * 0.75 <= ratio <= true_ratio * 1.25, (ratio, true_ratio)


def test_object_leaving_and_reentering(analysed):
    analysis, truth = analysed("leave_reenter")
    s = score(analysis, truth, "box")
    assert s.recall >= 0.9 and s.mae <= MAX_MAE, (s.recall, s.errors)
    box = truth.object("box")
    step = 1.0 / analysis.analysis_fps
    off = ~box.on_screen
    off_times = truth.frame_times_s[off]
    assert off_times.size > 10
    left_at, back_at = off_times[0], off_times[-1]
    for track in analysis.tracks:
        t = track.times_s + analysis.start_s
        during = (t > left_at) & (t < back_at)
        # while the object is off-screen a track may only continue briefly, and only off-screen
        assert np.all(track.x_norm[during] > 1.0), track.x_norm[during]
        assert np.all((t[during] <= left_at + EDGE_EXTRAPOLATION_S + step) | (t[during] >= back_at - EDGE_EXTRAPOLATION_S - step))
    # ... and the object is found again after re-entering
    later = [t for t in analysis.tracks if t.end_s + analysis.start_s > back_at + 0.5]
    assert later and later[0].x_norm[-1] == pytest.approx(box.x_norm[-1], abs=MAX_MAE)


def test_two_objects_crossing_keep_their_identities(analysed):
    analysis, truth = analysed("crossing", noise_std=6.0)
    scores = {name: score(analysis, truth, name) for name in ("a", "b")}
    for name, s in scores.items():
        assert s.recall >= 0.85, (name, s.track_ids)
        assert s.mae <= MAX_MAE, (name, s.errors)
    assert sum(s.id_switches for s in scores.values()) <= 1
    ids_a = {t for t in scores["a"].track_ids if t is not None}
    ids_b = {t for t in scores["b"].track_ids if t is not None}
    assert not ids_a & ids_b, "one track must not follow both objects"


def test_hard_cut_ends_tracks(analysed):
    analysis, truth = analysed("hard_cut", noise_std=4.0)
    (cut,) = truth.cuts_s
    step = 1.0 / analysis.analysis_fps
    assert len(analysis.cuts_s) == 1 and abs(analysis.cuts_s[0] - cut) <= step
    for track in analysis.tracks:
        start, end = track.start_s + analysis.start_s, track.end_s + analysis.start_s
        assert end < cut or start >= cut - 1e-6, f"track {track.track_id} spans the cut: {start}..{end}"
    car, box = score(analysis, truth, "car"), score(analysis, truth, "box")
    assert car.mae <= MAX_MAE and box.mae <= MAX_MAE
    assert car.recall >= 0.85 and box.recall >= 0.85
    assert not {t for t in car.track_ids if t} & {t for t in box.track_ids if t}


def test_botsort_tracker_on_crossing(scene_video):
    from stereofoley.vision import analyze_video

    video, truth = scene_video("crossing", noise_std=6.0)
    analysis = analyze_video(video, detector="motion", tracker="botsort")
    scores = [score(analysis, truth, name) for name in ("a", "b")]
    assert all(s.mae <= MAX_MAE and s.recall >= 0.85 for s in scores), [(s.mae, s.recall) for s in scores]
    assert sum(s.id_switches for s in scores) <= 1


def test_progress_reports_fractions_up_to_one(scene_video):
    from stereofoley.vision import analyze_video

    video, _ = scene_video("crossing")
    seen = []
    analyze_video(video, detector="motion", progress=seen.append)
    assert seen[-1] == 1.0 and all(0.0 <= a <= b <= 1.0 for a, b in zip(seen, seen[1:]))
