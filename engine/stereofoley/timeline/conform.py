"""A timeline on the sequence frame grid, for writers that store whole frames (FCP 7 XML, AAF).

OTIO keeps every item at its own rate: a 29.97 fps clip of 60 frames in a 25 fps sequence lasts 2.002 s and
the next clip starts 1/20 frame after a sequence frame. An editor's sequence cannot hold that; its writer
puts each edge on a sequence frame. `frame_conformed` does it once, for every top-level track alike, with
`timemap.frame_index` on the exact edge times: picture and Foley edges that coincide in OTIO land on the same
frame, durations are differences of rounded edges (no drift), and a track's items keep their order.

Rates a writer cannot state (a VFR average such as 29.87 fps in FCP XML) are replaced by the sequence rate
for that clip's media times; each such choice is returned as a one-line note naming the clip.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import opentimelineio as otio

from .timemap import child_ranges_s, frame_index, rate_fraction, seconds

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@dataclass(frozen=True)
class Conformed:
    timeline: otio.schema.Timeline
    rate: float  # the sequence rate every record edge is on
    notes: tuple[str, ...] = ()


def frame_conformed(timeline: otio.schema.Timeline, rate: float, *, writer: str,
                    expressible: Callable[[float], bool]) -> Conformed:
    """A copy of `timeline` whose top-level items all start and end on whole frames of `rate` (edges rounded
    half up, once) and whose clips' media times are whole frames of their own rate, or of `rate` where
    `expressible(own rate)` is false."""
    result = copy.deepcopy(timeline)
    notes: list[str] = []
    if result.global_start_time is not None:
        g0 = seconds(result.global_start_time)
        result.global_start_time = RT(frame_index(g0, rate), rate)
    for track in result.tracks:
        if isinstance(track, otio.schema.Track):
            _conform_track(track, rate, writer, expressible, notes)
    return Conformed(result, rate, tuple(notes))


def _conform_track(track: otio.schema.Track, rate: float, writer: str, expressible, notes: list[str]) -> None:
    ranges = child_ranges_s(track)
    if track.source_range is not None:
        s = track.source_range
        f0 = frame_index(seconds(s.start_time), rate)
        track.source_range = TR(RT(f0, rate), RT(frame_index(seconds(s.end_time_exclusive()), rate) - f0, rate))
    for child in list(track):
        if isinstance(child, otio.schema.Transition):
            child.in_offset = RT(frame_index(seconds(child.in_offset), rate), rate)
            child.out_offset = RT(frame_index(seconds(child.out_offset), rate), rate)
            continue
        start_s, end_s = ranges[child]
        f0, f1 = frame_index(start_s, rate), frame_index(end_s, rate)
        duration = RT(f1 - f0, rate)
        if isinstance(child, otio.schema.Gap):
            child.source_range = TR(RT(0, rate), duration)
            continue
        own = child.trimmed_range().start_time.rate
        media_rate = own if expressible(own) else rate
        if media_rate != own:
            notes.append(f"{writer}: clip {child.name!r}: its rate {own:g} fps cannot be written; "
                         f"its media times are at the sequence rate {rate:g} fps")
        start = child.trimmed_range().start_time
        child.source_range = TR(RT(frame_index(seconds(start), media_rate), media_rate), duration)
        reference = getattr(child, "media_reference", None)
        available = getattr(reference, "available_range", None)
        if available is not None:
            a_rate = available.start_time.rate if expressible(available.start_time.rate) else media_rate
            a0 = frame_index(seconds(available.start_time), a_rate)
            a1 = frame_index(seconds(available.end_time_exclusive()), a_rate)
            reference.available_range = TR(RT(a0, a_rate), RT(a1 - a0, a_rate))


def on_grid(t_s: Fraction, rate: float) -> bool:
    """Whether t_s is a whole frame at rate."""
    return (Fraction(t_s) * rate_fraction(rate)).denominator == 1
