"""Which tracked objects to sonify, and when: merge fragments of one object, then give voices moment by moment.

`allocate_voices` is the pipeline's choice: like a synthesizer's polyphony, at most N objects sound at once, and
the voices go to whoever is on screen at each moment (so a clip where people walk through one after another is
heard all along, not only while the clip's four most salient objects are). Voices are reassigned with short
crossfades and with hysteresis, so they do not flap: a holder keeps its voice while it is on screen unless, after
holding it at least `HOLD_S`, a newcomer is `STEAL_RATIO` times as salient at that moment. `select_objects` (the
N most salient objects for the whole clip) remains for callers that want one object per clip.

A tracker can lose an object for a moment (occlusion, a missed detection) and start a new identity when it comes
back; `merge_fragments` joins such pieces when they are of the same class, close in time and where the first
piece was heading, and not separated by a hard cut. Ranking uses `ObjectTrack.salience` (size × motion × whether
the class makes sound × time on screen), recomputed for merged tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..config import SpatialSettings
from ..errors import InvalidParameter
from ..vocabulary import Vocabulary, builtin_vocabulary
from ..spatial.trajectory import Trajectory
from .placement import placed_with, track_salience
from .tracks import FADE_S, SILENT_GAIN_DB, ObjectTrack

MAX_GAP_S = 1.0  # a fragment must start within this of the previous one's end
MAX_JUMP = 0.15  # ... and within this (of frame width) of where the previous one was heading

DEFAULT_VOICES = 4
STEP_S = 0.05  # the allocation decides every 50 ms
VOICE_FADE_S = 0.2  # a reassigned voice crossfades over this
HOLD_S = 1.0  # a voice is held at least this long while its object is on screen
STEAL_RATIO = 1.5  # ... and after that, lost only to an object this many times as salient at that moment


def select_objects(
    tracks: Sequence[ObjectTrack], max_objects: int = 4, *, cuts_s: Iterable[float] = (), sounding_only: bool = False
) -> tuple[ObjectTrack, ...]:
    """The `max_objects` most salient objects after merging fragments, most salient first.

    cuts_s: hard cuts on the tracks' clock (seconds from the analysis start); fragments are never merged across one.
    sounding_only: drop classes that make no sound (chairs, TVs, ...) instead of only ranking them lower.
    """
    if not (isinstance(max_objects, int) and max_objects >= 0):
        raise InvalidParameter(f"max_objects={max_objects!r} must be a whole number >= 0")
    merged = merge_fragments(tracks, cuts_s=cuts_s)
    if sounding_only:
        merged = [t for t in merged if t.sounding]
    ranked = sorted(merged, key=lambda t: (-t.salience, t.track_id))
    return tuple(ranked[:max_objects])


def merge_fragments(tracks: Sequence[ObjectTrack], *, cuts_s: Iterable[float] = ()) -> list[ObjectTrack]:
    cuts = np.asarray(sorted(cuts_s), dtype=np.float64)
    out: list[ObjectTrack] = []
    for track in sorted(tracks, key=lambda t: (t.start_s, t.track_id)):
        target = next((i for i, prev in enumerate(out) if _continues(prev, track, cuts)), None)
        if target is None:
            out.append(track)
        else:
            out[target] = _join(out[target], track)
    return out


def _continues(prev: ObjectTrack, nxt: ObjectTrack, cuts: np.ndarray) -> bool:
    gap = nxt.start_s - prev.end_s
    if prev.class_name != nxt.class_name or not (0.0 < gap <= MAX_GAP_S):
        return False
    if np.any((cuts > prev.end_s) & (cuts <= nxt.start_s)):
        return False
    k = min(4, prev.times_s.size - 1)
    velocity = (prev.x_norm[-1] - prev.x_norm[-1 - k]) / (prev.times_s[-1] - prev.times_s[-1 - k]) if k else 0.0
    expected = prev.x_norm[-1] + velocity * gap
    return abs(nxt.x_norm[0] - expected) <= MAX_JUMP


def _join(a: ObjectTrack, b: ObjectTrack) -> ObjectTrack:
    cat = {name: np.concatenate([getattr(a, name), getattr(b, name)]) for name in
           ("times_s", "xyxy_norm", "confidence", "x_norm", "azimuth_deg", "distance_m")}
    return ObjectTrack(
        track_id=a.track_id, class_name=a.class_name, sounding=a.sounding, salience=track_salience(cat["times_s"], cat["xyxy_norm"], a.sounding),
        hfov_deg=a.hfov_deg, aspect=a.aspect, **cat,
    )


# ------------------------------------------------------------------------------------------ voice allocation
@dataclass(frozen=True, eq=False)
class VoicedObject:
    """One object that sounds at some moment, with its voice gain (0..1) over the clip: `gain` at `times_s`,
    linear in between, held outside. 1 while the object holds a voice, 0 while it does not, ramps between."""

    track: ObjectTrack
    times_s: np.ndarray
    gain: np.ndarray
    end_s: float | None = None  # the clip's end: the trajectory stops there

    def gain_at(self, times_s: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(times_s, dtype=np.float64), self.times_s, self.gain)

    def trajectory(self, settings: SpatialSettings = SpatialSettings()) -> Trajectory:
        """The track's trajectory with the voice gain applied: silent where the object holds no voice."""
        base = self.track.to_trajectory(settings)
        times = np.union1d(base.times_s, self.times_s)
        if self.end_s is not None and times[-1] > self.end_s:
            times = np.union1d(times[times < self.end_s], [self.end_s])
        level = np.interp(times, base.times_s, 10.0 ** (base.gain_db / 20.0)) * self.gain_at(times)
        floor = 10.0 ** (SILENT_GAIN_DB / 20.0)
        gain_db = 20.0 * np.log10(np.maximum(level, floor))
        return Trajectory(times_s=times, pan=np.interp(times, base.times_s, base.pan),
                          distance_m=np.interp(times, base.times_s, base.distance_m), gain_db=gain_db)


@dataclass(frozen=True, eq=False)
class VoicePlan:
    objects: tuple[VoicedObject, ...]  # most salient first
    n_voices: int
    unheard: tuple[ObjectTrack, ...]  # objects that never got a voice


def allocate_voices(
    tracks: Sequence[ObjectTrack],
    n_voices: int = DEFAULT_VOICES,
    *,
    duration_s: float | None = None,
    cuts_s: Iterable[float] = (),
    vocabulary: Vocabulary | None = None,
    step_s: float = STEP_S,
    fade_s: float = VOICE_FADE_S,
    hold_s: float = HOLD_S,
    steal_ratio: float = STEAL_RATIO,
) -> VoicePlan:
    """Give N voices to the objects on screen, moment by moment (a pure function of the tracks).

    Fragments are merged first (`merge_fragments`); with a vocabulary (a user --class-map), each track's
    distance, `sounding` and salience are re-derived from it. Classes the vocabulary does not know are named in
    one logged warning. At each step (every step_s on the tracks' clock,
    0..duration_s) the candidates are the objects within their track span; their score is the track's salience
    times its size at that moment against its median size (clipped to 0.5..2). Free voices go to the best
    candidates; a holder that has held its voice for hold_s loses it to a candidate steal_ratio times its score.
    While at most n_voices objects are on screen, every one of them is voiced all the time.
    """
    if not (isinstance(n_voices, int) and n_voices >= 0):
        raise InvalidParameter(f"voices={n_voices!r} must be a whole number >= 0")
    for name, value in (("step_s", step_s), ("hold_s", hold_s), ("steal_ratio", steal_ratio)):
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameter(f"{name}={value!r} must be > 0")
    if not (np.isfinite(fade_s) and fade_s >= 0):
        raise InvalidParameter(f"fade_s={fade_s!r} must be >= 0")
    merged = merge_fragments(tracks, cuts_s=cuts_s)
    (vocabulary or builtin_vocabulary()).notice_unmapped(t.class_name for t in merged)  # once per class and run
    if vocabulary is not None:
        merged = [placed_with(t, vocabulary) for t in merged]
    merged = sorted(merged, key=lambda t: (-t.salience, t.track_id))
    if not merged or n_voices == 0:
        return VoicePlan((), n_voices, tuple(merged))
    end = max(t.end_s for t in merged) if duration_s is None else float(duration_s)
    grid = np.arange(int(np.floor(max(end, 0.0) / step_s + 1e-9)) + 1) * step_s
    scores = np.stack([_scores(t, grid) for t in merged])  # (objects, steps); -inf where not in the span
    active = _assign(scores, n_voices, hold_steps=int(round(hold_s / step_s)), steal_ratio=steal_ratio)
    voiced, unheard = [], []
    for i, track in enumerate(merged):
        if not active[i].any():
            unheard.append(track)
            continue
        gain = _crossfade(active[i], np.isfinite(scores[i]), int(round(fade_s / step_s)))
        keep = _knots(gain)
        voiced.append(VoicedObject(track, grid[keep], gain[keep], None if duration_s is None else float(duration_s)))
    return VoicePlan(tuple(voiced), n_voices, tuple(unheard))


def _scores(track: ObjectTrack, grid: np.ndarray) -> np.ndarray:
    visible = np.clip(track.xyxy_norm, 0.0, 1.0)
    area = (visible[:, 2] - visible[:, 0]) * (visible[:, 3] - visible[:, 1])
    median = float(np.median(area)) or 1e-6
    size = np.clip(np.sqrt(np.interp(grid, track.times_s, area) / median), 0.5, 2.0)
    # the span the object is audible in: its track, and the fades into and out of it (ObjectTrack.to_trajectory)
    inside = (grid >= track.start_s - FADE_S - 1e-9) & (grid <= track.end_s + FADE_S + 1e-9)
    return np.where(inside, max(track.salience, 1e-9) * size, -np.inf)


def _assign(scores: np.ndarray, n_voices: int, *, hold_steps: int, steal_ratio: float) -> np.ndarray:
    n_obj, n_steps = scores.shape
    active = np.zeros((n_obj, n_steps), dtype=bool)
    held_since: dict[int, int] = {}  # object -> step it got its voice
    for k in range(n_steps):
        s = scores[:, k]
        held_since = {i: since for i, since in held_since.items() if np.isfinite(s[i])}  # left the screen
        waiting = [i for i in np.argsort(-s, kind="stable") if np.isfinite(s[i]) and i not in held_since]
        while waiting and len(held_since) < n_voices:
            held_since[int(waiting.pop(0))] = k
        for challenger in list(waiting):
            stealable = [i for i, since in held_since.items() if k - since >= hold_steps]
            if not stealable:
                break
            weakest = min(stealable, key=lambda i: s[i])
            if s[challenger] < steal_ratio * s[weakest]:
                break
            del held_since[weakest]
            held_since[int(challenger)] = k
        for i in held_since:
            active[i, k] = True
    return active


def _crossfade(active: np.ndarray, inside: np.ndarray, fade_steps: int) -> np.ndarray:
    """0/1 voice activity to a gain with linear ramps of fade_steps starting at each change: a voice handed from
    one object to another fades out of the first while it fades into the second, so the gains of one voice sum
    to 1 and no more than N voices ever sound. Outside the track span the activity at the span's edge is held
    (the track's own fade-in/out ends it), so a voice given at an object's first appearance sounds at once."""
    a = active.astype(np.float64)
    idx = np.flatnonzero(inside)
    if idx.size:
        a[: idx[0]] = a[idx[0]]
        a[idx[-1] + 1 :] = a[idx[-1]]
    if fade_steps < 1:
        return a
    kernel = np.ones(fade_steps) / fade_steps
    padded = np.pad(a, (fade_steps - 1, 0), mode="edge")
    return np.convolve(padded, kernel, mode="valid")[: a.size]


def _knots(gain: np.ndarray) -> np.ndarray:
    """Indices where the piecewise-linear gain changes slope, plus the ends (the curve is exact through them)."""
    if gain.size <= 2:
        return np.arange(gain.size)
    bend = np.flatnonzero(np.abs(np.diff(gain, 2)) > 1e-9) + 1
    return np.unique(np.concatenate([[0], bend, [gain.size - 1]]))
