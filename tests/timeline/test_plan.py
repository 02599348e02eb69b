"""Reading the real timelines and planning their clips: record windows, media ranges, visibility, selection."""

from fractions import Fraction as F

import opentimelineio as otio
import pytest

from stereofoley.errors import InvalidParameter, TimelineNotFound, UnsupportedTimeline
from stereofoley.timeline import Selection, picture_clips, read_timeline, select, timeline_rate
from stereofoley.timeline.plan import global_start_s

from conftest import DATA


def by_id(path):
    return {c.id: c for c in picture_clips(read_timeline(DATA / path))}


def test_every_installed_format_reads_the_same_edit():
    otio_clips = by_id("premiere_example.otio")
    xml_clips = by_id("premiere_example.xml")  # FCP 7 XML through otio-fcp-adapter
    assert otio_clips.keys() == xml_clips.keys()
    for key, c in otio_clips.items():
        assert (c.record_start_s, c.record_end_s, c.media_start_s) == (
            xml_clips[key].record_start_s, xml_clips[key].record_end_s, xml_clips[key].media_start_s)


def test_top_level_clips_match_range_in_parent():
    tl = read_timeline(DATA / "premiere_example.otio")
    for c in picture_clips(tl):
        if not c.nested:
            r = c.clip.range_in_parent()
            assert c.record_start_s == F(int(r.start_time.value), int(r.start_time.rate))
            assert c.record_duration_s * F(30) == F(r.duration.to_frames(30.0))


def test_15fps_clip_in_30fps_sequence():
    c = by_id("premiere_example.otio")["0.1"]
    assert timeline_rate(read_timeline(DATA / "premiere_example.otio")) == 30
    assert c.clip.source_range.duration.rate == 15
    assert (c.record_start_s, c.record_end_s) == (F(536, 30), F(636, 30))  # 50 frames @15 = 100 @30
    assert c.media_range_s() == (F(0), F(10, 3))  # the whole 3.33 s shown, nothing more
    assert c.media_frame_s == F(1, 15)


def test_transition_handles_come_from_the_transition_offsets():
    clips = by_id("transition.otio")
    out, incoming = clips["0.1"], clips["0.3"]  # Clip-002 -> Transition(in 2, out 3) -> Clip-003
    assert (out.head_s, out.tail_s) == (0, F(3, 24))
    assert (incoming.head_s, incoming.tail_s) == (F(2, 24), 0)
    assert out.media_range_s() == (F(2, 24), F(8, 24))
    assert out.media_range_s(with_handles=True) == (F(2, 24), F(11, 24))
    assert incoming.media_range_s(with_handles=True) == (F(1, 24), F(7, 24))
    assert incoming.record_start_s == out.record_end_s == F(9, 24)  # transitions take no record time


def test_source_range_none_uses_available_range():
    c = by_id("simple_cut.otio")["0.3"]  # Clip-004: no source_range; available 100..106 @24
    assert c.clip.source_range is None
    assert c.media_range_s() == (F(100, 24), F(106, 24))


def test_nested_stacks_warp_and_freeze():
    clips = by_id("nested_example.otio")
    stack1 = clips["0.1.0"]  # 37-frame clip in a 31-frame stack: trimmed by the stack
    assert (stack1.record_start_s * 24, stack1.record_end_s * 24) == (238, 269)
    assert stack1.media_range_s() == (F(373, 24), F(404, 24)) and stack1.nested

    warped = clips["0.3.0"]  # stack with LinearTimeWarp 0.8545..: 29 record frames, child only 24 media frames
    scalar = F(0.8545454551724138).limit_denominator(1_000_000)
    assert warped.speed == scalar
    assert warped.record_start_s * 24 == 302
    assert warped.record_end_s * 24 == 330  # the child runs out after 24/0.8545 = 28.09 frames (snapped)
    start, end = warped.media_range_s()
    assert start == F(429, 24)
    assert end == F(429, 24) + F(28, 24) * scalar  # the media actually shown, not the record duration

    frozen = clips["0.5.0"]  # FreezeFrame on a 4-frame track holding a 1-frame clip at 471
    assert frozen.speed == 0
    assert (frozen.record_start_s * 24, frozen.record_end_s * 24) == (394, 398)
    assert frozen.media_range_s(with_handles=True) == (F(471, 24), F(472, 24))

    after = clips["0.6"]  # items after the nested ones keep their places
    assert (after.record_start_s * 24, after.record_end_s * 24) == (398, 636)


def test_global_start_time_is_kept_apart_from_record_times():
    tl = read_timeline(DATA / "hiero_xml_export.xml")
    assert global_start_s(tl) == 3600  # 86400 @ 24 = 01:00:00:00
    first = picture_clips(tl)[0]
    assert first.record_start_s == F(14, 24)  # relative to the timeline start


def test_visibility_top_track_wins_and_titles_are_transparent():
    clips = by_id("premiere_example.otio")
    assert clips["0.1"].visible_s == F(636 - 557, 30)  # V1 clip partly under V2's sh030 (322..557)
    assert clips["1.1"].visible_s == clips["1.1"].record_duration_s  # under the title generator: still visible
    assert clips["2.1"].visible_s == clips["2.1"].record_duration_s


def test_default_selection_is_visible_clips_in_record_order():
    tl = read_timeline(DATA / "premiere_example.otio")
    chosen = select(tl, picture_clips(tl), Selection())
    assert [c.id for c in chosen] == ["1.1", "2.1", "1.3", "1.4", "0.1", "3.1", "3.3"]


def test_selection_criteria_compose():
    tl = read_timeline(DATA / "premiere_example.otio")
    clips = picture_clips(tl)
    ids = lambda s: [c.id for c in select(tl, clips, s)]
    assert ids(Selection(clips=("sc01_sh020_anim.mov", "3.3"))) == ["1.3", "3.3"]
    assert ids(Selection(tracks=("V4",))) == ["3.1", "3.3"]
    assert ids(Selection(tracks=("1",))) == ["0.1"]
    # timeline markers at frames 113 ("My MArker 1"), 298 (""), 492 ("dsf"), all RED; one on sh030 itself
    assert ids(Selection(markers=("red",))) == ["2.1", "1.3", "1.4"]
    assert ids(Selection(markers=("My MArker 1",))) == ["2.1"]  # 113 is where 1.1 ends (exclusive)
    assert ids(Selection(markers=("dsf",))) == ["2.1", "1.4"]
    assert ids(Selection(markers=("red",), tracks=("V2",))) == ["1.3", "1.4"]
    assert ids(Selection(range_s=(5.0, 11.0))) == ["2.1", "1.3", "1.4"]
    assert ids(Selection(tracks=("V2",), range_s=(5.0, 11.0))) == ["1.3", "1.4"]
    assert ids(Selection(clips=("nope",))) == []


def test_timeline_markers_over_a_clip_and_clip_colour():
    tl = read_timeline(DATA / "simple_cut.otio")
    tl.tracks.markers.append(otio.schema.Marker(name="boom", color="GREEN", marked_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(10, 24), otio.opentime.RationalTime(0, 24))))
    tl.find_clips()[0].color = otio.core.Color.RED  # OTIO 0.18 clip colour
    clips = picture_clips(tl)
    assert [c.id for c in select(tl, clips, Selection(markers=("boom",)))] == ["0.2"]
    assert [c.id for c in select(tl, clips, Selection(markers=("green",)))] == ["0.2"]
    assert [c.id for c in select(tl, clips, Selection(colors=("red",)))] == ["0.0"]
    tl.find_clips()[1].metadata["Resolve_OTIO"] = {"Clip Color": "Orange"}
    assert [c.id for c in select(tl, picture_clips(tl), Selection(colors=("orange",)))] == ["0.1"]


def test_disabled_tracks_and_clips_are_ignored():
    tl = read_timeline(DATA / "premiere_example.otio")
    tl.tracks[3].enabled = False
    tl.tracks[1][3].enabled = False
    ids = {c.id for c in picture_clips(tl)}
    assert not any(i.startswith("3.") for i in ids) and "1.3" not in ids and "1.4" in ids


def test_bad_timelines_give_clear_errors(tmp_path):
    with pytest.raises(TimelineNotFound, match="timeline not found"):
        read_timeline(tmp_path / "missing.otio")
    (tmp_path / "x.mp3").write_text("not a timeline")
    with pytest.raises(UnsupportedTimeline, match=r"\.mp3 .*readable: .*\.otio.*\.rpp"):
        read_timeline(tmp_path / "x.mp3")
    (tmp_path / "broken.otio").write_text("{ not json")
    with pytest.raises(UnsupportedTimeline, match="could not be read"):
        read_timeline(tmp_path / "broken.otio")
    with pytest.raises(InvalidParameter, match="end > start"):
        Selection(range_s=(5.0, 1.0))
