"""Voices per moment: coverage of a crowd, polyphony limit, hysteresis, and silent stems where not heard."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from stereofoley import SAMPLE_RATE_HZ
from stereofoley.config import preset
from stereofoley.options import RenderOptions
from stereofoley.timeline.request import ClipRequest
from stereofoley.usecases import clip as clip_usecase
from stereofoley.usecases.clip import mix_clip, neutral_source
from stereofoley.errors import InvalidParameter
from stereofoley.vision.scene import HOLD_S, allocate_voices, merge_fragments
from stereofoley.spatial.dsp import spatialize
from stereofoley.vision.tracks import Analysis
from stereofoley.vision.placement import build_track

STEP = 0.1
DURATION_S = 30.0
FRAMES = np.round(np.arange(0.0, DURATION_S + 1e-9, STEP), 6)


def walker(track_id, t0, t1, *, direction=1, h=0.3, cls="person", h_wobble=0.0):
    """A box crossing the frame from one edge to the other over [t0, t1] (first and last boxes cut by the edges)."""
    times = np.round(np.arange(t0, t1 + 1e-9, STEP), 6)
    x = np.interp(times, [t0, t1], [-0.05, 1.05] if direction > 0 else [1.05, -0.05])
    hh = h * (1.0 + h_wobble * np.sin(2 * np.pi * times / 3.0 + track_id))
    w = 0.4 * hh
    boxes = np.stack([x - w / 2, 0.5 - hh / 2, x + w / 2, 0.5 + hh / 2], axis=1)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, 1.0)  # a detector sees only what is in frame
    keep = boxes[:, 2] - boxes[:, 0] > 0.01
    return build_track(track_id, cls, times[keep], boxes[keep], np.full(int(keep.sum()), 0.9),
                       frame_times_s=FRAMES, shot_span_s=(0.0, DURATION_S), aspect=16 / 9)


def crowd():
    """8 people entering and leaving over 30 s, never more than 3 on screen at once."""
    spans = [(0.0, 7.0), (1.5, 9.0), (3.0, 11.0), (8.0, 15.0), (10.0, 17.5), (12.0, 19.0), (16.0, 23.0), (19.5, 29.5)]
    tracks = [walker(i + 1, a, b, h=0.2 + 0.05 * i) for i, (a, b) in enumerate(spans)]
    grid = np.arange(0.0, DURATION_S, 0.05)
    assert max(sum((t.start_s <= g <= t.end_s) for t in tracks) for g in grid) <= 3
    return tracks


def on_screen(track, times):
    """Times at which the object's box overlaps the frame."""
    x0 = np.interp(times, track.times_s, track.xyxy_norm[:, 0])
    x1 = np.interp(times, track.times_s, track.xyxy_norm[:, 2])
    return (times >= track.start_s) & (times <= track.end_s) & (x1 > 0.0) & (x0 < 1.0)


def test_every_object_of_a_crowd_is_heard_while_on_screen():
    tracks = crowd()
    plan = allocate_voices(tracks, 4, duration_s=DURATION_S)
    objects = merge_fragments(tracks)
    assert len(objects) == 8
    assert {v.track.track_id for v in plan.objects} == {t.track_id for t in objects} and not plan.unheard
    grid = np.arange(0.0, DURATION_S, 0.01)
    for voiced in plan.objects:
        seen = on_screen(voiced.track, grid)
        assert seen.sum() * 0.01 >= 1.0
        heard = voiced.gain_at(grid[seen]) >= 0.5
        assert heard.mean() >= 0.9, (voiced.track.track_id, heard.mean())


def test_crowd_coverage_measured_in_the_rendered_stems():
    """From audio: each object's stem (dry preset, pink noise) is within 6 dB of its unvoiced level at least 90 %
    of its on-screen time, and silent (< -60 dB re that level) outside its track."""
    tracks = crowd()
    plan = allocate_voices(tracks, 4, duration_s=DURATION_S)
    settings = preset("dry")
    n = int(DURATION_S * SAMPLE_RATE_HZ)
    win = SAMPLE_RATE_HZ // 20
    centres = (np.arange(n // win) + 0.5) * win / SAMPLE_RATE_HZ
    for voiced in plan.objects:
        source = neutral_source(voiced.track, n)
        stem = spatialize(source, voiced.trajectory(settings), settings, n)
        free = spatialize(source, voiced.track.to_trajectory(settings), settings, n)
        e_stem = np.mean(stem[:, : n // win * win].reshape(2, -1, win) ** 2, axis=(0, 2))
        e_free = np.mean(free[:, : n // win * win].reshape(2, -1, win) ** 2, axis=(0, 2))
        seen = on_screen(voiced.track, centres)
        ratio_db = 10 * np.log10((e_stem[seen] + 1e-20) / (e_free[seen] + 1e-20))
        assert np.mean(ratio_db >= -6.0) >= 0.9
        outside = (centres < voiced.track.start_s - 0.2) | (centres > voiced.track.end_s + 0.2)
        if outside.any():
            assert 10 * np.log10(e_stem[outside].max() + 1e-20) < 10 * np.log10(e_free[seen].mean()) - 60.0


def busy_street():
    """8 people on screen together for most of 30 s, their sizes wobbling (so their rank keeps changing)."""
    return [walker(i + 1, 0.5 * i, 20.0 + 1.0 * i, direction=1 if i % 2 else -1, h=0.25, h_wobble=0.4) for i in range(8)]


def test_polyphony_is_never_exceeded_and_voices_do_not_flap():
    tracks = busy_street()
    plan = allocate_voices(tracks, 4, duration_s=DURATION_S)
    grid = np.arange(0.0, DURATION_S, 0.01)
    total = sum(v.gain_at(grid) for v in plan.objects)
    assert total.max() <= 4.0 + 1e-9
    settings = preset("dry")  # and in what is rendered: the voice gain times the track's own fades
    heard = sum(np.interp(grid, tr.times_s, 10 ** (tr.gain_db / 20)) for tr in (v.trajectory(settings) for v in plan.objects))
    assert heard.max() <= 4.0 + 1e-3
    on = np.stack([on_screen(t, grid) for t in tracks]).sum(axis=0)
    assert np.all(total[on >= 4] >= 4.0 - 1e-9 - 1.0) and np.mean(total[on >= 4] >= 4.0 - 1e-9) > 0.9  # voices busy
    for voiced in plan.objects:  # every stretch with a voice lasts HOLD_S, unless the object leaves the screen
        g = voiced.gain_at(grid) >= 0.5
        edges = np.flatnonzero(np.diff(g.astype(int)))
        starts = [0] if g[0] else []
        starts += [e + 1 for e in edges if not g[e]]
        for s in starts:
            stop = next((e for e in edges if e >= s and g[e]), grid.size - 1)
            lasted = grid[stop] - grid[s]
            assert lasted >= HOLD_S - 0.15 or grid[stop] >= voiced.track.end_s - 0.1 or stop == grid.size - 1


def test_reassignment_crossfades():
    tracks = busy_street()
    plan = allocate_voices(tracks, 2, duration_s=DURATION_S)
    grid = np.arange(0.0, DURATION_S, 0.001)
    for voiced in plan.objects:
        step = np.abs(np.diff(voiced.gain_at(grid)))
        assert step.max() <= 0.001 / 0.2 + 1e-9  # no switch faster than the 0.2 s crossfade


def test_bad_voice_counts_are_rejected():
    with pytest.raises(InvalidParameter, match="voices=-1"):
        allocate_voices(crowd(), -1)
    assert allocate_voices(crowd(), 0).objects == ()


def test_render_clip_gives_voices_per_moment(monkeypatch, tmp_path):
    """The pipeline voices the whole crowd with 2 voices: audible while people are on screen, not only for the two
    most salient ones; each object's stem is silent where it holds no voice."""
    tracks = crowd()
    analysis = Analysis(media_path=Path(tmp_path / "crowd.mp4"), width=320, height=180, fps=Fraction(10), start_s=0.0,
                        end_s=DURATION_S, frame_times_s=FRAMES, tracks=tuple(tracks))
    monkeypatch.setattr(clip_usecase, "analyze_video", lambda *a, **k: analysis)
    request = ClipRequest(clip_id="crowd", name="crowd", media_path=tmp_path / "crowd.mp4", media_start_s=0.0,
                          media_end_s=DURATION_S, speed=1.0, n_samples=int(DURATION_S * SAMPLE_RATE_HZ))
    result = mix_clip(request, RenderOptions(settings=preset("dry"), max_objects=2, sources="neutral", cache=False))
    assert len(result.objects) == len(merge_fragments(tracks))
    win = SAMPLE_RATE_HZ // 10
    n = result.stereo.shape[1] // win * win
    level = 10 * np.log10(np.mean(result.stereo[:, :n].reshape(2, -1, win) ** 2, axis=(0, 2)) + 1e-20)
    centres = (np.arange(n // win) + 0.5) * 0.1
    anyone = np.any(np.stack([on_screen(t, centres) for t in tracks]), axis=0)
    assert np.mean(level[anyone] > np.median(level[anyone]) - 20.0) >= 0.95
