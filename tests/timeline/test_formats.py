"""Reading real FCPXML, EDL and AAF files (the otio adapters' own test files, Apache-2.0; see
tests/data/timelines/formats/README.md), and the messages for what they cannot give."""

from fractions import Fraction as F

import opentimelineio as otio
import pytest

from stereofoley.errors import UnsupportedTimeline
from stereofoley.options import RenderOptions
from stereofoley.timeline import read_timeline
from stereofoley.usecases.timeline import render_timeline
from stereofoley.timeline.plan import edl_rate, picture_clips

from conftest import DATA, RecordingRenderer, media_for

FORMATS = DATA / "formats"


def _edges(path):
    timeline = read_timeline(path)
    return timeline, [(c.name, c.record_start_s, c.record_end_s) for c in picture_clips(timeline)]


def test_edl_at_25_fps_infers_its_rate():
    assert edl_rate(FORMATS / "edl_25fps.edl") == 25  # frame fields up to 24: not 24 fps
    timeline, edges = _edges(FORMATS / "edl_25fps.edl")
    assert edges == [("sq001_s001", 0, F(161, 25)), ("sq001_s002", F(161, 25), F(361, 25)),
                     ("sq001_s003", F(361, 25), F(447, 25)), ("sq001_s004", F(447, 25), F(496, 25))]
    assert {c.clip.metadata["cmx_3600"]["reel"] for c in picture_clips(timeline)} == {"SC00.JPG"}


def test_avid_edl_record_start_becomes_the_timeline_start():
    timeline, edges = _edges(FORMATS / "edl_avid_example.edl")  # the adapter trims its track to nothing
    assert otio.opentime.to_timecode(timeline.global_start_time) == "00:59:53:11"
    assert edges == [("take_1", 0, F(31, 24)), ("take_2", F(31, 24), F(81, 24))]
    assert picture_clips(timeline)[0].media_start_s == F(86501, 24)  # source timecode 01:00:04:05


def test_fcpxml_project():
    timeline, edges = _edges(FORMATS / "fcpx_project.fcpxml")
    assert len(edges) == 14
    assert edges[0] == ("IMG_0715", 0, 10)
    assert picture_clips(timeline)[0].clip.media_reference.target_url == "file:///Volumes/Media/otio/IMG_0715.MOV"


def test_fcpxml_clip_collection_is_refused_with_a_reason():
    with pytest.raises(UnsupportedTimeline, match=r"fcpx_clips.fcpxml holds no timeline"):
        read_timeline(FORMATS / "fcpx_clips.fcpxml")


@pytest.mark.parametrize("name, start, rate, n_clips", [("aaf_one_clip.aaf", 86400, 24, 1),
                                                        ("aaf_2997fps-DFTC.aaf", 539460, 29.97, 1)])
def test_aaf(name, start, rate, n_clips):
    timeline, edges = _edges(FORMATS / name)
    assert timeline.global_start_time.value == start
    assert timeline.global_start_time.rate == pytest.approx(rate, abs=0.01)
    assert len(edges) == n_clips


def test_a_track_trim_window_that_hides_every_clip_is_named(tmp_path, timelines):
    timeline = read_timeline(timelines / "simple_cut.otio")
    track = timeline.video_tracks()[0]
    track.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(-1000, 24), otio.opentime.RationalTime(10, 24))
    path = tmp_path / "trimmed.otio"
    otio.adapters.write_to_file(timeline, str(path))
    with pytest.raises(UnsupportedTimeline) as err:
        render_timeline(path, tmp_path / "out", options=RenderOptions(loudness_lufs=None), mixer=RecordingRenderer())
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert f"track {track.name!r} holds {len(list(track.find_clips()))} clip(s) but its trim window" in message
    assert "shows 0" in message


def test_a_real_29_97_drop_frame_aaf_renders_frame_exact_through_every_writer(tmp_path):
    timeline = read_timeline(FORMATS / "aaf_2997fps-DFTC.aaf")
    media_for(timeline, tmp_path / "media", rename=lambda clip, raw: raw.rsplit(".", 1)[0] + ".mp4")  # a proxy
    report = render_timeline(FORMATS / "aaf_2997fps-DFTC.aaf", tmp_path / "out", options=RenderOptions(
        media_roots=(str(tmp_path / "media"),), loudness_lufs=None), mixer=RecordingRenderer())
    assert report["status"] == "ok" and [c["relink"]["rule"] for c in report["clips"]] == ["stem"]
    (clip,) = report["clips"]
    assert clip["samples"] == round(F(2989 * 1001, 30000) * 48000)  # 2989 frames @29.97 = 99.733 s
    out = otio.adapters.read_from_file(report["timeline_out"])
    picture = picture_clips(out)[0].clip
    foley = next(c for t in out.audio_tracks() for c in t.find_clips() if "stereofoley" in c.metadata)
    assert foley.range_in_parent() == picture.range_in_parent()
    xml = otio.adapters.read_from_file(report["outputs"]["xml"])
    assert xml.global_start_time.value == 539460 and "05:00:00;00" == otio.opentime.to_timecode(xml.global_start_time)
    xml_foley = [c for t in xml.audio_tracks() for c in t.find_clips() if c.name.endswith("(StereoFoley)")]
    assert [c.range_in_parent().duration.value for c in xml_foley] == [2989]
    aaf = otio.adapters.read_from_file(report["outputs"]["aaf"])
    assert aaf.global_start_time.value == 539460
    assert [c.range_in_parent().duration.value for c in aaf.find_clips()] == [2989]
