"""The motion detector on moving cameras and hard cases, on generated videos with exact ground truth.

Scenes (stereofoley.synthetic, 320x180 at 25 fps, analysed at 10 fps): a car passing filmed hand-held (shake ±2 %
of the width, 1° roll, slow drift), a large box (20 % of the width) receding slowly from the first frame on, two
people crossing in front of a pole filmed hand-held, and a hand-held shot where nothing moves but grass and water.
Position errors are |x_track - x_true| in fractions of the frame width over the analysed frames where at least
half of the object is on screen (vision_scoring.score).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from vision_scoring import score

from stereofoley.evaluation import synthetic
from stereofoley.vision.motion import global_motion

MAX_MEAN_ERROR = 0.02  # the target, fraction of the frame width


def errors(analysis, truth, name):
    s = score(analysis, truth, name)
    return s, float(np.mean(s.errors)), float(np.percentile(s.errors, 95))


def test_global_motion_follows_the_handheld_camera():
    scene = synthetic.handheld_pass()
    shifts, rolls = [], []
    for i in range(0, 60, 4):  # frame pairs 0.16 s apart (every fourth analysed step at 25 fps)
        a, b = synthetic.render_frame(scene, i), synthetic.render_frame(scene, i + 4)
        m = global_motion(*(np.ascontiguousarray(x[..., 1]) for x in (a, b)))
        ta, tb = (np.vstack([synthetic._camera_matrix(scene, i / 25.0 + k * 0.16), [0, 0, 1]]) for k in (0, 1))
        true = (tb @ np.linalg.inv(ta))[:2]
        centre = np.array([scene.width / 2, scene.height / 2, 1.0])
        shifts.append(np.hypot(*(m @ centre - true @ centre)))
        rolls.append(abs(math.degrees(math.atan2(m[1, 0], m[0, 0]) - math.atan2(true[1, 0], true[0, 0]))))
    assert max(shifts) <= 0.5, shifts  # pixels of a 320 px frame, at its centre
    assert max(rolls) <= 0.1, rolls  # degrees


def test_handheld_pass_is_followed(analysed):
    analysis, truth = analysed("handheld_pass")
    s, mean, p95 = errors(analysis, truth, "car")
    assert s.recall >= 0.95 and s.id_switches == 0, s.track_ids
    assert mean <= MAX_MEAN_ERROR and p95 <= 0.025, (mean, p95)  # measured: 0.0064, 0.014
    main = max(analysis.tracks, key=lambda t: t.times_s.size)
    assert main.x_norm[-1] - main.x_norm[0] > 0.8  # one track across the frame, not fragments


def test_large_slow_receding_object_leaves_no_ghost(analysed):
    analysis, truth = analysed("receding")
    s, mean, p95 = errors(analysis, truth, "box")
    assert s.recall >= 0.95 and s.id_switches == 0, s.track_ids
    assert mean <= MAX_MEAN_ERROR and p95 <= 0.025, (mean, p95)  # measured: 0.0102, 0.017
    # The box the track reports is the object's, not its old and new positions together.
    (track,) = [t for t in analysis.tracks if t.track_id in set(s.track_ids)]
    true = truth.at(track.times_s + analysis.start_s, "box")
    widths = (track.xyxy_norm[:, 2] - track.xyxy_norm[:, 0]) / (true[:, 2] - true[:, 0])
    assert np.median(widths) <= 1.3 and widths.max() <= 1.5, widths  # measured 1.25, 1.39


def test_two_crossing_in_front_of_a_pole(analysed):
    analysis, truth = analysed("crossing_pole")
    scores = {}
    for name in ("a", "b"):
        s, mean, p95 = errors(analysis, truth, name)
        scores[name] = s
        assert s.recall >= 0.9, (name, s.track_ids)
        assert mean <= MAX_MEAN_ERROR and p95 <= 0.02, (name, mean, p95)  # measured: a 0.0030/0.0065, b 0.0040/0.0093
    assert sum(s.id_switches for s in scores.values()) <= 1
    ids = [{t for t in s.track_ids if t is not None} for s in scores.values()]
    assert not ids[0] & ids[1], "one track must not follow both people"
    # the pole is never an object: no track other than the two people's
    assert {t.track_id for t in analysis.tracks} <= ids[0] | ids[1], [(t.track_id, t.x_norm[:3]) for t in analysis.tracks]


@pytest.mark.parametrize("camera", ["handheld", "locked-off"])
def test_static_scene_with_flicker_has_no_lasting_track(analysed, camera):
    overrides = {} if camera == "handheld" else {"camera": None}
    analysis, _ = analysed("static_only", **overrides)
    longest = max((t.times_s[-1] - t.times_s[0] for t in analysis.tracks), default=0.0)
    assert longest <= 0.5, [(t.track_id, t.times_s[0], t.times_s[-1]) for t in analysis.tracks]
