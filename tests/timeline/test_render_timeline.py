"""render_timeline on the real timelines, relinked to generated media, with a recording clip renderer:
placement to the sample, media times requested, read-back of OTIO / FCP XML / RPP, partial failure, re-render."""

import json
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import rpp
import soundfile as sf

from stereofoley.errors import OutputExists, UnsupportedTimeline
from stereofoley.audio import read_bwf_time_reference
from stereofoley.options import RenderOptions
from stereofoley.timeline import FOLEY_TRACK_NAME, Selection, picture_clips, read_timeline
from stereofoley.usecases.timeline import render_timeline
from stereofoley.timeline.output import foley_clips_in
from stereofoley_adapters.rpp_adapter import envelope_pan, envelope_volume

from conftest import DATA, RecordingRenderer, media_for, relink_missing


@pytest.fixture(scope="module")
def premiere_media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    media_for(read_timeline(DATA / "premiere_example.otio"), folder)
    return folder


def render(timeline_path, out, media_root=None, renderer=None, **kw):
    renderer = renderer or RecordingRenderer()
    # loudness off: the recording renderer's samples code their own positions
    fields = {"media_roots": (str(media_root),) if media_root else (), "loudness_lufs": None, **kw.pop("options", {})}
    options = RenderOptions(**fields)
    report = render_timeline(timeline_path, out, options=options, mixer=renderer, **kw)
    return report, renderer


def foley_by_picture(timeline):
    return {c.metadata["stereofoley"]["picture_clip_id"]: c
            for t in timeline.audio_tracks() if t.name.startswith(FOLEY_TRACK_NAME) for c in t.find_clips()}


def test_premiere_every_foley_clip_sits_under_its_picture(tmp_path, premiere_media):
    report, renderer = render(DATA / "premiere_example.otio", tmp_path / "out", premiere_media)
    source = read_timeline(DATA / "premiere_example.otio")
    pictures = {c.id: c for c in picture_clips(source)}
    result = otio.adapters.read_from_file(report["timeline_out"])  # write then read
    foley = foley_by_picture(result)
    rendered = [c["id"] for c in report["clips"]]
    assert sorted(rendered) == sorted(foley) == ["0.1", "1.1", "1.3", "1.4", "3.1", "3.3"]
    assert report["status"] == "partial"
    assert report["skipped"] == [{"id": "2.1", "name": "test_title", "reason": "generator reference (Slug): no media to analyse"}]
    assert [t.name for t in result.audio_tracks()][-2:] == [FOLEY_TRACK_NAME, FOLEY_TRACK_NAME + " 2"]
    for clip_report in report["clips"]:
        picture = pictures[clip_report["id"]].clip
        fclip = foley[clip_report["id"]]
        assert fclip.range_in_parent() == picture.range_in_parent()  # same record range, to the frame
        data, rate = sf.read(clip_report["wav"], dtype="float32", always_2d=True)
        seconds = picture.range_in_parent().duration.to_seconds()
        assert rate == 48000 and data.shape[1] == 2
        assert data.shape[0] == round(seconds * 48000) == clip_report["samples"]  # exactly the record duration
        assert Path(fclip.media_reference.target_url.replace("file://", "")).resolve() == Path(clip_report["wav"])
        meta = fclip.metadata["stereofoley"]
        assert meta["objects"][0]["class"] == "car" and meta["engine_version"] and meta["settings"]["pan_law"]
    # the 15 fps clip in the 30 fps sequence: 50 frames @15 = 100 @30, media 0..3.333 s read
    clip = next(c for c in report["clips"] if c["id"] == "0.1")
    assert (clip["record_start_frame"], clip["record_duration_frames"]) == (536, 100)
    assert (clip["media_start_s"], clip["media_end_s"]) == (0.0, pytest.approx(10 / 3, abs=1e-12))
    assert renderer.by_id()["0.1"].n_samples == 160000


def test_transition_handles_are_analysed_and_trimmed_to_the_sample(tmp_path, premiere_media):
    report, renderer = render(DATA / "premiere_example.otio", tmp_path / "out", premiere_media)
    requests = renderer.by_id()
    outgoing, incoming = requests["3.1"], requests["3.3"]  # Cross Dissolve in 12 / out 13 frames @30
    assert outgoing.tail_samples == 13 * 1600 and outgoing.head_samples == 0
    assert incoming.head_samples == 12 * 1600 and incoming.tail_samples == 0
    assert outgoing.media_start_s == pytest.approx(133 / 30 - 99 / 30)  # source timecode 99 is file second 0
    assert outgoing.media_end_s == pytest.approx((133 + 208 + 13 - 99) / 30)
    assert incoming.media_start_s == pytest.approx((18 - 12) / 30)
    # The written WAV is the record range only: its first sample is request sample head_samples.
    wav = next(c["wav"] for c in report["clips"] if c["id"] == "3.3")
    data, _ = sf.read(wav, dtype="float32", always_2d=True)
    coded = data[:, 0] * 2**20  # RecordingRenderer's left channel codes the request sample index (24-bit PCM)
    assert abs(coded[0] - incoming.head_samples) < 0.6 and abs(coded[-1] - (incoming.n_samples - 1)) < 0.6


def test_nested_warp_and_freeze_ask_for_the_media_actually_shown(tmp_path):
    tl = read_timeline(DATA / "nested_example.otio")
    relink_missing(tl, tmp_path / "media")
    media_for(tl, tmp_path / "media")
    path = tmp_path / "nested.otio"
    otio.adapters.write_to_file(tl, str(path))
    report, renderer = render(path, tmp_path / "out")
    assert report["status"] == "ok" and len(report["clips"]) == 7
    q = renderer.by_id()
    scalar = float(F(0.8545454551724138).limit_denominator(1_000_000))
    assert (q["0.3.0"].media_start_s, q["0.3.0"].media_end_s) == pytest.approx((429 / 24, 429 / 24 + 28 * scalar / 24))
    assert q["0.3.0"].speed == pytest.approx(scalar) and q["0.3.0"].n_samples == 28 * 2000
    assert (q["0.5.0"].media_start_s, q["0.5.0"].media_end_s) == pytest.approx((471 / 24, 472 / 24))  # one frame
    assert q["0.5.0"].speed == 0 and q["0.5.0"].n_samples == 4 * 2000  # audio fills the 4 frozen frames
    assert (q["0.1.0"].media_start_s, q["0.1.0"].media_end_s) == pytest.approx((373 / 24, 404 / 24))
    result = otio.adapters.read_from_file(report["timeline_out"])  # keep it: clips do not own their parents
    foley = foley_by_picture(result)
    for c in report["clips"]:
        r = foley[c["id"]].range_in_parent()
        assert (r.start_time.to_frames(24), r.duration.to_frames(24)) == (round(c["record_start_s"] * 24), c["record_duration_frames"])
        assert sf.info(c["wav"]).frames == c["record_duration_frames"] * 2000


def test_global_start_time_sets_frames_and_bwf_time_reference(tmp_path):
    tl = read_timeline(DATA / "transition.otio")
    tl.global_start_time = otio.opentime.RationalTime(86400, 24)  # 01:00:00:00
    media_for(tl, tmp_path / "media")
    path = tmp_path / "t.otio"
    otio.adapters.write_to_file(tl, str(path))
    report, _ = render(path, tmp_path / "out", options={"remaps": (f"/folder={tmp_path / 'media'}",)})
    first = report["clips"][0]
    assert first["record_start_frame"] == 86400 and report["global_start_s"] == 3600
    for c in report["clips"]:
        assert read_bwf_time_reference(c["wav"]) == round((3600 + c["record_start_s"]) * 48000)
        data, _ = sf.read(c["wav"], always_2d=True)  # libsndfile still reads the BWF
        assert data.shape[0] == c["samples"]


def test_rpp_matches_the_otio_result(tmp_path, premiere_media):
    report, _ = render(DATA / "premiere_example.otio", tmp_path / "out", premiere_media)
    project = rpp.loads(Path(report["outputs"]["rpp"]).read_text())  # the third-party parser
    tracks = {t.find("NAME")[1]: t for t in project.findall("TRACK")}
    assert {"Picture", "StereoFoley mix", "StereoFoley object 1", "StereoFoley 2 mix"} <= set(tracks)
    result = otio.adapters.read_from_file(report["timeline_out"])
    foley = foley_by_picture(result)
    expected = sorted((c.range_in_parent().start_time.to_seconds(), c.range_in_parent().duration.to_seconds(),
                       c.media_reference.target_url) for c in foley.values())
    mix = sorted((float(i.find("POSITION")[1]), float(i.find("LENGTH")[1]),
                  otio.url_utils.url_from_filepath(i.find("SOURCE").find("FILE")[1])) for name in ("StereoFoley mix", "StereoFoley 2 mix") for i in tracks[name].findall("ITEM"))
    assert len(mix) == len(expected)
    for (p, l, f), (ep, el, ef) in zip(mix, expected):
        assert p == pytest.approx(ep, abs=1e-9) and l == pytest.approx(el, abs=1e-9) and f == ef
    pictures = tracks["Picture"].findall("ITEM")
    assert [i.find("SOURCE").attrib[0] for i in pictures] == ["VIDEO"] * len(expected)
    # Envelope points: every automation point of every clip, at record time, in REAPER's units, per lane.
    lanes = {t.name: t for t in result.audio_tracks() if t.name.startswith(FOLEY_TRACK_NAME)}
    assert len(lanes) == 2  # 0.1 (V1) overlaps 1.4 (V2) in time
    for lane_name, lane in lanes.items():
        want_pan, want_vol = [], []
        for c in lane.find_clips():
            start = c.range_in_parent().start_time.to_seconds()
            obj = c.metadata["stereofoley"]["objects"][0]
            assert obj["curves"]["pan"][0][0] == 0 and obj["curves"]["pan"][-1][0] == pytest.approx(c.duration().to_seconds())
            want_pan += [(start + t, envelope_pan(v)) for t, v in obj["curves"]["pan"]]
            want_vol += [(start + t, envelope_volume(v)) for t, v in obj["curves"]["gain_db"]]
        obj_track = tracks[f"{lane_name} object 1"]
        for tag, want in (("PANENV2", want_pan), ("VOLENV2", want_vol)):
            points = [(float(p[1]), float(p[2])) for p in obj_track.find(tag) if isinstance(p, list) and p[0] == "PT"]
            assert len(points) == len(want) >= 2 * len(lane.find_clips())
            got, exp = np.array(points), np.array(want)  # both in record order (clips in order, points in order)
            assert np.allclose(got[:, 1], exp[:, 1], atol=1e-9) and np.allclose(got[:, 0], exp[:, 0], atol=2e-6)
        assert len(obj_track.findall("ITEM")) == len(lane.find_clips())  # the mono sources
    # pan envelope sign: the recording renderer pans -0.5 (left) -> +0.5; REAPER stores left as positive
    assert envelope_pan(-0.5) == 0.5 and envelope_volume(-6.0) == pytest.approx(0.501187, abs=1e-6)


def test_fcp_xml_reads_back_with_the_same_ranges(tmp_path, premiere_media):
    report, _ = render(DATA / "premiere_example.otio", tmp_path / "out", premiere_media)
    assert report["fcp_xml_content"] == "full timeline"
    xml = otio.adapters.read_from_file(report["outputs"]["xml"])  # through otio-fcp-adapter
    result = otio.adapters.read_from_file(report["timeline_out"])
    foley = foley_by_picture(result)
    want = sorted((c.range_in_parent().start_time.to_frames(30), c.range_in_parent().duration.to_frames(30)) for c in foley.values())
    wavs = {Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) for c in foley.values()}
    got = []
    for track in xml.audio_tracks():
        for c in track.find_clips():
            if Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) in wavs:
                r = c.range_in_parent()
                got.append((r.start_time.to_frames(30), r.duration.to_frames(30)))
    assert sorted(got) == want and len(want) == 6


def test_fcp_xml_falls_back_when_the_adapter_cannot_write_the_edit(tmp_path):
    tl = read_timeline(DATA / "nested_example.otio")
    relink_missing(tl, tmp_path / "media")
    media_for(tl, tmp_path / "media")
    path = tmp_path / "nested.otio"
    otio.adapters.write_to_file(tl, str(path))
    report, _ = render(path, tmp_path / "out")
    assert report["fcp_xml_content"].startswith("selected picture clips + Foley")
    reason = report["fcp_xml_content"]  # one line: the adapter's error, its message and the item it stopped at
    assert "\n" not in reason and reason != "selected picture clips + Foley (full timeline not writable: AttributeError)"
    assert "cannot write the full timeline: clip 'Clip Inside A Stack 1' sits directly in stack 'Nested Stack 1'" in reason
    xml = otio.adapters.read_from_file(report["outputs"]["xml"])
    got = sorted((c.range_in_parent().start_time.to_frames(24), c.range_in_parent().duration.to_frames(24))
                 for t in xml.audio_tracks() for c in t.find_clips())
    want = sorted((round(c["record_start_s"] * 24), c["record_duration_frames"]) for c in report["clips"])
    assert got == want


def test_rerendering_one_clip_keeps_the_others(tmp_path, premiere_media):
    out = tmp_path / "out"
    first, _ = render(DATA / "premiere_example.otio", out, premiere_media)
    before = {c["id"]: Path(c["wav"]).read_bytes() for c in first["clips"]}
    with pytest.raises(OutputExists, match="overwrite=True"):
        render(DATA / "premiere_example.otio", out, premiere_media, selection=Selection(clips=("1.3",)))

    class Louder(RecordingRenderer):
        def __call__(self, request, options=None, progress=None):
            audio = super().__call__(request)
            return type(audio)(audio.stereo * 2, audio.objects)

    again, renderer = render(DATA / "premiere_example.otio", out, premiere_media, renderer=Louder(),
                             selection=Selection(clips=("1.3",)), options={"overwrite": True})
    assert [r.clip_id for r in renderer.requests] == ["1.3"]
    assert sorted(again["kept_from_earlier_run"]) == ["0.1", "1.1", "1.4", "3.1", "3.3"]
    for c in first["clips"]:
        changed = Path(c["wav"]).read_bytes() != before[c["id"]]
        assert changed == (c["id"] == "1.3")
    result = otio.adapters.read_from_file(again["timeline_out"])
    foley = foley_by_picture(result)
    pictures = {c.id: c.clip for c in picture_clips(result)}
    assert sorted(foley) == sorted(before)
    for key, clip in foley.items():
        assert clip.range_in_parent() == pictures[key].range_in_parent()
    assert len(foley_clips_in(result)) == 6
    # the result timeline itself can be rendered again: earlier Foley tracks are replaced, not stacked
    assert sum(t.name.startswith(FOLEY_TRACK_NAME) for t in result.audio_tracks()) == 2


def test_partial_failure_lists_reasons_and_all_missing_is_an_error(tmp_path, premiere_media):
    report, _ = render(DATA / "premiere_example.otio", tmp_path / "a", premiere_media, renderer=RecordingRenderer(fail_ids={"1.4"}))
    reasons = {s["id"]: s["reason"] for s in report["skipped"]}
    assert report["status"] == "partial" and "simulated analysis failure" in reasons["1.4"] and "2.1" in reasons
    result = otio.adapters.read_from_file(report["timeline_out"])
    assert "1.4" not in foley_by_picture(result)
    saved = json.loads(Path(report["outputs"]["report"]).read_text())
    assert saved["skipped"] == report["skipped"]
    with pytest.raises(UnsupportedTimeline, match=r"none of the 7 selected clips can be rendered: .*media file not found: D:/media/sc01_sh010_anim.mov"):
        render(DATA / "premiere_example.otio", tmp_path / "b")  # no media root: nothing is found
    with pytest.raises(UnsupportedTimeline, match="no clips selected"):
        render(DATA / "premiere_example.otio", tmp_path / "c", premiere_media, selection=Selection(clips=("nope",)))
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
