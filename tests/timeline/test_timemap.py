"""The one time -> sample conversion: exact, rounding half up, no drift over an hour at 29.97 fps."""

from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest

from stereofoley.errors import UnsupportedTimeline
from stereofoley.timeline.timemap import (Mapping, effect_speed, rate_fraction, rational, sample_index, sample_span,
                                          seconds, snap_to_frame)

NTSC = 30000 / 1001


def test_rates_become_exact_fractions():
    assert rate_fraction(24.0) == 24
    assert rate_fraction(NTSC) == Fraction(30000, 1001)
    assert rate_fraction(24000 / 1001) == Fraction(24000, 1001)
    assert rate_fraction(60000 / 1001) == Fraction(60000, 1001)
    # NTSC rates as editors label them (Resolve's timelineFrameRate, hand-written OTIO) are the same rates.
    for label, n in ((29.97, 30), (23.976, 24), (23.98, 24), (59.94, 60), (47.952, 48), (119.88, 120), (14.985, 15)):
        assert rate_fraction(label) == Fraction(n * 1000, 1001), label
    # Other non-integer rates stay as stated.
    assert rate_fraction(12.5) == Fraction(25, 2) and rate_fraction(7.5) == Fraction(15, 2)
    with pytest.raises(UnsupportedTimeline, match="frame rate"):
        rate_fraction(0.0)


def test_seconds_and_sample_index_are_exact():
    t = otio.opentime.RationalTime(1001, NTSC)  # exactly 33.3666... s
    assert seconds(t) == Fraction(1001 * 1001, 30000)
    # 1 frame at 29.97 is 1601.6 samples: frames 1..5 start at 1602, 3203, 4805, 6406, 8008 (half up)
    frame = Fraction(1001, 30000)
    assert [sample_index(k * frame) for k in range(1, 6)] == [1602, 3203, 4805, 6406, 8008]
    assert sample_index(Fraction(1, 96000)) == 1  # exactly half a sample rounds up


def test_hour_long_timeline_has_no_drift():
    """Abutting clips of random lengths at 29.97 fps over more than an hour: each clip's samples computed
    from its own start/end add up exactly to the timeline end, and every start is the exact rational time
    rounded (|error| <= 0.5 sample). Summing float durations instead drifts."""
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 400, size=1200)
    frame = Fraction(1001, 30000)
    position, total, float_pos, worst_float = Fraction(0), 0, 0.0, 0.0
    for n_frames in lengths:
        start, end = position, position + int(n_frames) * frame
        first, n = sample_span(start, end)
        assert first == total  # abutting clips share their edge sample
        assert abs(first - start * 48000) <= Fraction(1, 2)
        total += n
        float_pos += round(float(n_frames) / NTSC * 48000)  # naive: round each duration, then add
        worst_float = max(worst_float, abs(float_pos - float(end * 48000)))
        position = end
    assert position > 3600
    assert total == sample_index(position)
    assert worst_float > 10  # the naive sum is tens of samples off by the end; ours is exact


def test_rational_round_trip_and_frame_snap():
    assert rational(Fraction(536, 30), 30.0) == otio.opentime.RationalTime(536, 30)
    assert rational(Fraction(536, 30), 30.0).value == 536
    assert snap_to_frame(Fraction(281, 10) / 24, 24.0) == Fraction(28, 24)


def test_mapping_composes_speed_and_freeze():
    top = Mapping(record_origin_s=Fraction(0), local_at_origin_s=Fraction(0), speed=Fraction(1))
    warped = top.into_child(Fraction(10), Fraction(100), Fraction(2))
    assert warped.local(Fraction(10)) == 100 and warped.local(Fraction(13)) == 106
    assert warped.record(Fraction(106)) == 13
    frozen = warped.into_child(Fraction(0), Fraction(5), Fraction(0))
    assert frozen.speed == 0 and frozen.local(Fraction(10)) == frozen.local(Fraction(99)) == 5


def test_effect_speed_reads_time_warps():
    clip = otio.schema.Clip(name="c")
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=0.5))
    assert effect_speed(clip) == 1
    clip.effects.append(otio.schema.FreezeFrame())
    assert effect_speed(clip) == 0
    reverse = otio.schema.Clip(name="r")
    reverse.effects.append(otio.schema.LinearTimeWarp(time_scalar=-1.0))
    with pytest.raises(UnsupportedTimeline, match="time scalar -1"):
        effect_speed(reverse)
