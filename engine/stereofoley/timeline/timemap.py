"""The one place that converts time: OTIO RationalTime -> exact seconds -> 48 kHz sample index.

Everything stays rational (`fractions.Fraction` seconds) until `sample_index`, so positions on an hour-long
timeline at 29.97 fps land on the same sample whether they are computed from the start of the timeline or by
adding clip durations (no drift). Float seconds appear only in reports.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from .. import SAMPLE_RATE_HZ
from ..errors import UnsupportedTimeline

# NTSC-style rates arrive as floats (29.97002997...); 1001 is the largest denominator editors use.
_MAX_RATE_DENOMINATOR = 1001
# They also arrive rounded, as editors label them (29.97, 23.976, 23.98, 59.94: Resolve's timelineFrameRate
# setting, hand-written timelines). No editor runs at exactly 2997/100 fps, so a rate within this much of
# n·1000/1001 is that NTSC rate (reading 29.97 as 2997/100 puts a 01:00:00;00 start 173 samples off).
_NTSC_TOLERANCE_FPS = 0.005


@functools.lru_cache(maxsize=1024)
def rate_fraction(rate: float) -> Fraction:
    """A frame rate as an exact fraction: 24.0 -> 24, 29.97002997 and 29.97 -> 30000/1001, 23.98 -> 24000/1001.
    (Cached: a long timeline asks for the same few rates hundreds of thousands of times.)"""
    if not (isinstance(rate, (int, float, Fraction)) and math.isfinite(rate) and rate > 0):
        raise UnsupportedTimeline(f"frame rate {rate!r} is not a positive number")
    exact = Fraction(rate).limit_denominator(_MAX_RATE_DENOMINATOR)
    if exact.denominator != 1:
        ntsc = Fraction(round(exact * Fraction(1001, 1000)) * 1000, 1001)
        if ntsc > 0 and abs(exact - ntsc) <= _NTSC_TOLERANCE_FPS:
            return ntsc
    return exact


def seconds(t: otio.opentime.RationalTime) -> Fraction:
    """Exact seconds of a RationalTime (its value is a float holding an integer frame count in practice)."""
    if not math.isfinite(t.value):
        raise UnsupportedTimeline(f"time value {t.value!r} is not finite")
    return Fraction(t.value) / rate_fraction(t.rate)


def rational(t_s: Fraction, rate: float) -> otio.opentime.RationalTime:
    """Seconds back to a RationalTime at `rate` (frame counts stay integers when t_s is on the frame grid)."""
    value = t_s * rate_fraction(rate)
    return otio.opentime.RationalTime(int(value) if value.denominator == 1 else float(value), rate)


def time_range(start_s: Fraction, end_s: Fraction, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rational(start_s, rate), rational(end_s - start_s, rate))


def snap_to_frame(t_s: Fraction, rate: float) -> Fraction:
    """Nearest frame boundary at `rate` (half up), as exact seconds."""
    r = rate_fraction(rate)
    return Fraction(math.floor(t_s * r + Fraction(1, 2))) / r


def record_boundary(t_s: Fraction, rate: float, *, warped: bool) -> Fraction:
    """A clip edge on the record timeline. Edges that OTIO itself places (sums of item durations, at whatever
    rate each item runs: a 29.97 fps clip in a 25 fps sequence ends at 2.002 s) are kept exact, so every
    Foley clip's range_in_parent equals its picture clip's. Only edges found by inverting a time warp
    (speed changes, freezes) land between frames; those snap to the sequence frame grid."""
    return snap_to_frame(t_s, rate) if warped else t_s


def frame_index(t_s: Fraction, rate: float) -> int:
    """The sequence frame at exact time t_s, rounding half up: the only seconds -> frame rounding for writers
    that store integer frames (FCP XML, AAF). Durations are differences of rounded edges, never rounded
    themselves, so nothing drifts."""
    return math.floor(Fraction(t_s) * rate_fraction(rate) + Fraction(1, 2))


def is_timecode_rate(rate: float) -> bool:
    """Whether SMPTE timecode (OTIO's to_timecode) exists at this rate: 23.976, 24, 25, 29.97, 30, 48, 50,
    59.94, 60. 10, 12 and 15 fps media (and VFR averages) have none."""
    r = rate_fraction(rate)
    return r in _TIMECODE_RATES


_TIMECODE_RATES = frozenset({Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                             Fraction(48000, 1001), Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60)})


def is_xml_rate(rate: float) -> bool:
    """Whether FCP 7 XML can state this rate: <timebase> is an integer and <ntsc> means x 1000/1001, so 10, 12,
    15, 24, 25, 30, 60 and 23.976, 29.97, 59.94 are; a VFR average such as 29.87 is not (it would read back
    as 29.97)."""
    r = rate_fraction(rate)
    return r.denominator == 1 or r == Fraction(math.ceil(r) * 1000, 1001)


def sample_index(t_s: Fraction, rate_hz: int = SAMPLE_RATE_HZ) -> int:
    """The sample at exact time t_s, rounding half up. The only time -> sample conversion in the engine's
    timeline code: clip boundaries computed from anywhere agree, so abutting clips share their edge sample."""
    return math.floor(Fraction(t_s) * rate_hz + Fraction(1, 2))


def sample_span(start_s: Fraction, end_s: Fraction, rate_hz: int = SAMPLE_RATE_HZ) -> tuple[int, int]:
    """(first sample, number of samples) of [start_s, end_s): n = index(end) - index(start), never drifting."""
    first = sample_index(start_s, rate_hz)
    return first, sample_index(end_s, rate_hz) - first


@dataclass(frozen=True)
class Mapping:
    """An affine map from record time (seconds on the top-level timeline, without global_start_time) to the
    local time of an item: local = local_at_origin + (record - record_origin) * speed. speed 0 is a freeze."""

    record_origin_s: Fraction
    local_at_origin_s: Fraction
    speed: Fraction

    def local(self, record_s: Fraction) -> Fraction:
        return self.local_at_origin_s + (record_s - self.record_origin_s) * self.speed

    def record(self, local_s: Fraction) -> Fraction:
        """Inverse map (speed must not be 0)."""
        return self.record_origin_s + (local_s - self.local_at_origin_s) / self.speed

    def into_child(self, child_start_in_parent_s: Fraction, child_local_start_s: Fraction, child_speed: Fraction) -> "Mapping":
        """Compose with a child placed at child_start_in_parent_s whose own time starts at child_local_start_s
        and runs at child_speed (product of its LinearTimeWarp scalars; 0 for a FreezeFrame)."""
        # local_child = child_local_start + (local_parent - child_start_in_parent) * child_speed
        return Mapping(
            record_origin_s=self.record_origin_s,
            local_at_origin_s=child_local_start_s + (self.local_at_origin_s - child_start_in_parent_s) * child_speed,
            speed=self.speed * child_speed,
        )


def child_ranges_s(composition: otio.core.Composition) -> dict:
    """Exact (start, end) seconds of each child in its parent's time, as OTIO's range_of_all_children places
    them but without its float sums (20 frames @10 + 60 @29.97 + 48 @23.976 is 6.004 s, not 6.0040000000000004):
    in a track items follow one another and transitions overlap their neighbours without taking time; in a
    stack every child starts at the stack's 0."""
    found = {}
    if isinstance(composition, otio.schema.Track):
        position = Fraction(0)
        for child in composition:
            if isinstance(child, otio.schema.Transition):
                found[child] = (position - seconds(child.in_offset), position + seconds(child.out_offset))
                continue
            duration = seconds(child.trimmed_range().duration)
            found[child] = (position, position + duration)
            position += duration
    else:
        for child in composition:
            found[child] = (Fraction(0), seconds(child.trimmed_range().duration))
    return found


def effect_speed(item: otio.core.Item) -> Fraction:
    """Media seconds per parent second from an item's time effects (LinearTimeWarp scalars multiply;
    FreezeFrame is scalar 0). Other effects do not change time."""
    speed = Fraction(1)
    for effect in getattr(item, "effects", ()):
        if isinstance(effect, otio.schema.LinearTimeWarp):  # FreezeFrame subclasses it with time_scalar 0
            scalar = effect.time_scalar
            if not math.isfinite(scalar) or scalar < 0:
                raise UnsupportedTimeline(
                    f"{item.name!r}: time scalar {scalar!r} is not supported (reverse or non-finite speed)"
                )
            speed *= Fraction(scalar).limit_denominator(1_000_000)
    return speed
