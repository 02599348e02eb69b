"""Relinking as editors do it: recursive media roots indexed once, file name, stem with another video
extension, clip / reel name, regex remaps, ambiguity reported, missing references relinked."""

from fractions import Fraction as F

import opentimelineio as otio
import pytest

from stereofoley.errors import InvalidParameter
from stereofoley.timeline.media import MediaSearch
from stereofoley.timeline.plan import read_timeline
from stereofoley.timeline.relink import MediaIndex, parse_remap, relink_clip

from conftest import DATA, make_video

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
FORMATS = DATA / "formats"


def _clip(name, url=None, **metadata):
    ref = otio.schema.ExternalReference(target_url=url) if url else otio.schema.MissingReference()
    clip = otio.schema.Clip(name, ref, TR(RT(0, 25), RT(10, 25)))
    clip.metadata.update(metadata)
    return clip


@pytest.fixture
def root(tmp_path):
    for rel in ("a/A001.mov", "b/c/B002_proxy.mp4", "b/c/C003.mxf", "x/dup.mov", "y/dup.mov", "z/shots/dup.mov"):
        p = tmp_path / "media" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"not decoded here")
    return tmp_path / "media"


def _relink(clip, root, remaps=()):
    search = MediaSearch(roots=(root,), remaps=remaps)
    return relink_clip(clip, search, MediaIndex.build(search.roots))


def test_rules_in_order_and_each_named(root):
    found = _relink(_clip("x", "file:///D%3a/proj/media/A001.mov"), root)
    assert (found.path.name, found.rule) == ("A001.mov", "file name")
    found = _relink(_clip("x", "file:///Volumes/cam/C003.mov"), root)  # proxy/transcode with another extension
    assert (found.path.name, found.rule) == ("C003.mxf", "stem")
    found = _relink(_clip("B002_proxy"), root)  # offline: the clip's name
    assert (found.path.name, found.rule) == ("B002_proxy.mp4", "clip name")
    found = _relink(_clip("sh010 v2", cmx_3600={"reel": "A001"}), root)  # EDL reel name
    assert (found.path.name, found.rule) == ("A001.mov", "reel name")
    assert _relink(_clip("nothing"), root).path is None
    assert "names tried: 'nothing'" in _relink(_clip("nothing"), root).reason


def test_ambiguous_matches_are_named_and_parent_folders_break_ties(root):
    found = _relink(_clip("x", "file:///old/elsewhere/dup.mov"), root)
    assert found.path == root / "x" / "dup.mov"
    assert found.ambiguous == (root / "y" / "dup.mov", root / "z" / "shots" / "dup.mov")
    assert found.to_report() == {"rule": "file name", "ambiguous": [str(root / "y" / "dup.mov"), str(root / "z" / "shots" / "dup.mov")]}
    found = _relink(_clip("x", "file:///old/shots/dup.mov"), root)  # the parent folder matches: not ambiguous
    assert (found.path, found.ambiguous) == (root / "z" / "shots" / "dup.mov", ())


def test_remap_takes_regular_expressions(root, tmp_path):
    clip = _clip("x", "file:///D%3a/Projects/Show_2024/cam/A001.mov")
    found = _relink(clip, tmp_path, remaps=(parse_remap(r"^d:/projects/show_\d+/cam=" + str(root) + "/a"),))
    assert (found.path, found.rule) == ((root / "a" / "A001.mov").resolve(), "remap")
    assert otio.url_utils.filepath_from_url(clip.media_reference.target_url) == str(found.path)  # relinked
    assert parse_remap("D:/media=/mnt/media") == ("D:/media", "/mnt/media")  # a plain prefix still works
    with pytest.raises(InvalidParameter, match=r"'\(unclosed' is not a regular expression"):
        parse_remap("(unclosed=/x")


def test_missing_reference_becomes_the_file_with_its_timecode_and_length(tmp_path):
    import av

    path = make_video(tmp_path / "m" / "offline.mov", F(25), 30)
    with av.open(str(path)) as c:
        pass
    clip = _clip("offline")
    found = _relink(clip, tmp_path / "m")
    assert found.rule == "clip name"
    ref = clip.media_reference
    assert isinstance(ref, otio.schema.ExternalReference)
    assert ref.available_range.start_time == RT(0, 25)
    assert ref.available_range.duration.value == pytest.approx(30, abs=1)


def test_edl_clips_relink_by_clip_name(tmp_path):
    timeline = read_timeline(FORMATS / "edl_25fps.edl")
    for name in ("sq001_s001", "sq001_s002"):
        (tmp_path / name).with_suffix(".mov").write_bytes(b"x")
    clips = list(timeline.find_clips())
    results = [_relink(c, tmp_path) for c in clips]
    assert [r.rule for r in results] == ["clip name", "clip name", "", ""]
    assert isinstance(clips[0].media_reference, otio.schema.ExternalReference)
