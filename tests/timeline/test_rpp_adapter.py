"""The REAPER .rpp adapter as an OTIO plug-in: found through the `opentimelineio.plugins` entry point,
writes projects the third-party `rpp` parser reads, and reads items back as clips."""

from importlib import metadata

import opentimelineio as otio
import pytest
import rpp

from stereofoley_adapters import rpp_adapter

from conftest import DATA


def test_registered_under_the_otio_entry_point_group():
    names = {ep.name: ep.value for ep in metadata.entry_points(group="opentimelineio.plugins")}
    assert names.get("stereofoley_adapters") == "stereofoley_adapters"
    adapter = otio.adapters.from_name("rpp")
    assert list(adapter.suffixes) == ["rpp"] and adapter.module_abs_path().endswith("stereofoley_adapters/rpp_adapter.py")
    assert otio.adapters.from_filepath("x.rpp").name == "rpp"


def test_plain_timeline_round_trip(tmp_path):
    tl = otio.adapters.read_from_file(str(DATA / "simple_cut.otio"))
    path = tmp_path / "cut.rpp"
    otio.adapters.write_to_file(tl, str(path))  # through the registered plug-in
    project = rpp.loads(path.read_text())
    assert project.tag == "REAPER_PROJECT"
    items = project.find("TRACK").findall("ITEM")
    ranges = [c.range_in_parent() for c in tl.find_clips()]
    assert [float(i.find("POSITION")[1]) for i in items] == pytest.approx([r.start_time.to_seconds() for r in ranges])
    assert [float(i.find("LENGTH")[1]) for i in items] == pytest.approx([r.duration.to_seconds() for r in ranges])
    # SOFFS: the source start relative to the media's available range (Clip-004 starts at its first frame)
    assert [float(i.find("SOFFS")[1]) for i in items] == pytest.approx([3 / 24, 2 / 24, 0.0, 0.0])
    back = otio.adapters.read_from_file(str(path))
    assert back.tracks[0].kind == otio.schema.TrackKind.Video
    back_ranges = [c.range_in_parent() for c in back.find_clips()]
    flat = lambda rs: [x for r in rs for x in (r.start_time.to_seconds(), r.duration.to_seconds())]
    assert flat(back_ranges) == pytest.approx(flat(ranges), abs=1e-6)
    assert [c.media_reference.target_url for c in back.find_clips()] == [c.media_reference.target_url for c in tl.find_clips()]


def test_quoting_and_non_timelines():
    assert rpp_adapter._q('say "hi"') == "'say \"hi\"'"
    assert rpp.loads(f"<TRACK\n  NAME {rpp_adapter._q('a b')}\n>").find("NAME")[1] == "a b"
    with pytest.raises(otio.exceptions.NotSupportedError):
        rpp_adapter.write_to_string(otio.schema.Clip())
