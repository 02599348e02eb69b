"""Which tracked objects to sonify: merge fragments of one object, rank by salience, keep the top N.

A tracker can lose an object for a moment (occlusion, a missed detection) and start a new identity when it comes
back; `merge_fragments` joins such pieces when they are of the same class, close in time and where the first
piece was heading, and not separated by a hard cut. Ranking uses `ObjectTrack.salience` (size × motion × whether
the class makes sound × time on screen), recomputed for merged tracks.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import InvalidParameter
from .tracks import ObjectTrack
from .placement import track_salience

MAX_GAP_S = 1.0  # a fragment must start within this of the previous one's end
MAX_JUMP = 0.15  # ... and within this (of frame width) of where the previous one was heading


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
