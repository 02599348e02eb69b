"""Mixed frame rates, frame-exact (issue 14): a 25 fps timeline starting 01:00:00:00 holding 10, 29.97,
23.976 fps, VFR and a relinked offline clip renders; every Foley clip sits at its picture clip's exact record
range in the OTIO, on the same sequence frames in the FCP XML and AAF (read back by their adapters), at the same
seconds in the RPP; every WAV has exactly the samples of its record range."""

import math
import xml.etree.ElementTree as ET
from fractions import Fraction as F
from pathlib import Path

import aaf2
import numpy as np
import opentimelineio as otio
import pytest
import rpp
import soundfile as sf

from stereofoley.audio import read_bwf_time_reference
from stereofoley.options import RenderOptions
from stereofoley.usecases.timeline import render_timeline
from stereofoley.timeline.fcp_xml import write_fcp_xml
from stereofoley.timeline.plan import picture_clips

from conftest import RecordingRenderer, make_video

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
SEQ = 25
G0 = 90000  # 01:00:00:00 @25


def make_vfr(path: Path, times_s, size=(32, 24)) -> Path:
    """A video whose frames sit at the given (uneven) times: variable frame rate."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = F(1, 1000)
        for k, t in enumerate(times_s):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), k % 256, np.uint8), format="rgb24")
            frame.pts = round(t * 1000)
            frame.time_base = F(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _ref(path: Path, rate, start, n):
    return otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(path)),
                                         available_range=TR(RT(start, rate), RT(n, rate)))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The acceptance timeline, its media, and each clip's exact record range [start, end) in seconds."""
    root = tmp_path_factory.mktemp("mixed")
    media = root / "media"
    (media / "deep" / "er").mkdir(parents=True)
    tl = otio.schema.Timeline("mixed", global_start_time=RT(G0, SEQ))
    v1 = otio.schema.Track("V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(v1)
    ntsc = 30000 / 1001
    film = 24000 / 1001
    vfr = 29.87  # a phone clip's average rate: no editor rate, not expressible in FCP XML
    make_video(media / "ten.mov", F(10), 40)
    v1.append(otio.schema.Clip("ten", _ref(media / "ten.mov", 10, 0, 40), TR(RT(3, 10), RT(20, 10))))
    make_video(media / "ntsc.mov", F(30000, 1001), 90)
    v1.append(otio.schema.Clip("ntsc", _ref(media / "ntsc.mov", ntsc, 107892, 90), TR(RT(107897, ntsc), RT(61, ntsc))))
    make_video(media / "film.mov", F(24000, 1001), 60)
    v1.append(otio.schema.Clip("film", _ref(media / "film.mov", film, 0, 60), TR(RT(1, film), RT(47, film))))
    make_vfr(media / "phone.mp4", [0, 0.03, 0.07, 0.1, 0.15, 0.2, 0.23, 0.3, 0.33, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    v1.append(otio.schema.Clip("phone", _ref(media / "phone.mp4", vfr, 0, 44), TR(RT(2, vfr), RT(37, vfr))))
    v1.append(otio.schema.Gap(source_range=TR(RT(0, SEQ), RT(7, SEQ))))
    # offline in the edit; the proxy sits three folders down in the media root, with another extension
    make_video(media / "deep" / "er" / "offline_shot.mp4", F(SEQ), 40)
    v1.append(otio.schema.Clip("offline_shot", otio.schema.MissingReference(), TR(RT(5, SEQ), RT(30, SEQ))))
    v1.append(otio.schema.Clip("after", _ref(media / "ten.mov", 10, 0, 40), TR(RT(0, 10), RT(10, 10))))
    tl.tracks.append(otio.schema.Track("A1", kind=otio.schema.TrackKind.Audio))
    path = root / "mixed.otio"
    otio.adapters.write_to_file(tl, str(path))
    durations = [F(20, 10), F(61 * 1001, 30000), F(47 * 1001, 24000), 37 / F(vfr).limit_denominator(1001), F(7, 25), F(30, 25), F(1)]
    edges, t = [], F(0)
    for d in durations:
        edges.append((t, t + d))
        t += d
    del edges[4]  # the gap
    exact = dict(zip(["ten", "ntsc", "film", "phone", "offline_shot", "after"], edges))
    report = render_timeline(path, root / "out", options=RenderOptions(media_roots=(str(media),), loudness_lufs=None),
                             mixer=RecordingRenderer())
    return report, exact


def _frame(t: F) -> int:
    return math.floor(t * SEQ + F(1, 2))


def test_renders_every_clip_ok_with_notes_for_what_writers_cannot_state(mixed):
    report, exact = mixed
    assert report["status"] == "ok" and report["skipped"] == []
    assert [c["name"] for c in report["clips"]] == list(exact)
    relink = {c["name"]: c["relink"]["rule"] for c in report["clips"]}
    assert relink["offline_shot"] == "clip name" and relink["ten"] == "path"
    assert any(n.startswith(report["outputs"]["xml"] + ": clip 'phone'") and "29.87" in n and "sequence rate 25" in n
               for n in report["notes"])
    assert any("'ten'" in n and "no timecode exists at 10 fps" in n for n in report["notes"])
    # every output (WAVs, stems, OTIO, XML, RPP, AAF, report) has the mode the umask gives new files
    import stat

    from stereofoley.files import current_umask

    files = [Path(p) for p in report["outputs"].values()] + [Path(c["wav"]) for c in report["clips"]]
    files += [Path(o["source_wav"]) for c in report["clips"] for o in c["objects"]]
    assert len(files) == 5 + 2 * len(exact)  # otio, report, xml, rpp, aaf; a mix and a stem per clip
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~current_umask()}


def test_otio_foley_ranges_equal_picture_ranges_and_wavs_are_sample_exact(mixed):
    report, exact = mixed
    result = otio.adapters.read_from_file(report["timeline_out"])
    pictures = {c.name: c.clip for c in picture_clips(result)}
    foley = {c.name.replace(" (StereoFoley)", ""): c for t in result.audio_tracks() for c in t.find_clips()
             if "stereofoley" in c.metadata}
    assert sorted(foley) == sorted(exact)
    for clip in report["clips"]:
        name = clip["name"]
        assert foley[name].range_in_parent() == pictures[name].range_in_parent(), name
        start, end = exact[name]
        first, last = math.floor(start * 48000 + F(1, 2)), math.floor(end * 48000 + F(1, 2))
        data, rate = sf.read(clip["wav"], always_2d=True)
        assert (rate, data.shape[0]) == (48000, last - first) == (48000, clip["samples"]), name
        assert read_bwf_time_reference(clip["wav"]) == 3600 * 48000 + first, name
        # the Foley media time starts at the record timecode, as the BWF header says
        assert foley[name].source_range.start_time.to_seconds() == pytest.approx(float(3600 + start), abs=1e-9)
    # after 61 frames @29.97 the film clip starts 2.002 s + 2 s in: not snapped to a 25 fps frame
    assert exact["film"][0] == F(2) + F(61 * 1001, 30000)
    assert report["clips"][2]["record_start_sample"] == 2 * 48000 + 97_698  # 61 * 1001 / 30000 s = 97697.6 samples


def test_fcp_xml_reads_back_on_the_same_sequence_frames(mixed):
    report, exact = mixed
    text = Path(report["outputs"]["xml"]).read_text()
    root = ET.fromstring(text)
    for element in root.iter():
        assert len([c for c in element if c.tag == "rate"]) <= 1, element.tag  # one <rate> per element
    back = otio.adapters.read_from_string(text, "fcp_xml")
    back = back if isinstance(back, otio.schema.Timeline) else next(back.find_children(descended_from_type=otio.schema.Timeline))
    assert back.global_start_time.to_frames() == G0
    pictures = {c.name: c for c in back.video_tracks()[0].find_clips()}
    foley = {c.name.replace(" (StereoFoley)", ""): c for t in back.audio_tracks() for c in t.find_clips()}
    for name, (start, end) in exact.items():
        for clip in (pictures[name], foley[name]):
            r = clip.range_in_parent()
            assert (round(r.start_time.value_rescaled_to(SEQ)), round(r.end_time_exclusive().value_rescaled_to(SEQ))) \
                == (_frame(start), _frame(end)), (name, clip.name)
    sequence = root.find(".//sequence")
    assert int(sequence.findtext("duration")) == _frame(exact["after"][1]) == 243  # the last edge, not a sum
    for f in root.iter("file"):
        url = f.findtext("pathurl") or ""
        if url.endswith(".wav"):
            wav = otio.url_utils.filepath_from_url(url)
            assert f.findtext("media/audio/channelcount") == "2"
            assert int(f.findtext("timecode/frame")) == _frame(F(read_bwf_time_reference(wav), 48000))
    # the 10 fps clip keeps its own rate for in/out; its file's timecode is at 25
    ten = next(c for c in root.iter("clipitem") if c.findtext("name") == "ten")
    assert (ten.findtext("rate/timebase"), ten.findtext("in"), ten.findtext("out")) == ("10", "3", "23")
    assert ten.findtext("file/timecode/rate/timebase") == "25"


def test_rpp_places_items_at_the_exact_seconds_and_sets_the_project_start(mixed):
    report, exact = mixed
    project = rpp.loads(Path(report["outputs"]["rpp"]).read_text())
    assert project.find("PROJOFFS")[1] == "3600"
    assert project.find("TIMEMODE")[4] == "25"
    tracks = {t.find("NAME")[1]: t for t in project.findall("TRACK")}
    for track_name in ("Picture", "StereoFoley mix", "StereoFoley object 1"):
        positions = sorted(float(i.find("POSITION")[1]) for i in tracks[track_name].findall("ITEM"))
        assert positions == pytest.approx([float(s) for s, _ in exact.values()], abs=1e-9), track_name
    # each clip's envelope points start at its item, also after the NTSC clips (they used to sit 2 ms late)
    points = [float(p[1]) for p in tracks["StereoFoley object 1"].find("PANENV2").findall("PT")]
    for start, end in exact.values():
        assert min(abs(p - float(start)) for p in points) < 2e-6  # exact, or nudged 1 us where clips abut


def test_aaf_reads_back_frame_exact_with_linked_wavs_and_start_timecode(mixed):
    report, exact = mixed
    back = otio.adapters.read_from_file(report["outputs"]["aaf"])
    assert back.global_start_time == RT(G0, SEQ)
    clips = {c.name.replace(" (StereoFoley)", ""): c for c in back.find_clips()}
    assert sorted(clips) == sorted(exact)
    by_name = {c["name"]: c for c in report["clips"]}
    for name, (start, end) in exact.items():
        r = clips[name].range_in_parent()
        assert (r.start_time.value, r.end_time_exclusive().value) == (_frame(start), _frame(end)), name
        assert clips[name].source_range.start_time.value == G0 + _frame(start)
        assert otio.url_utils.filepath_from_url(clips[name].media_reference.target_url) == by_name[name]["wav"]
    with aaf2.open(report["outputs"]["aaf"], "r") as f:
        descriptors = [m.descriptor for m in f.content.sourcemobs() if isinstance(m.descriptor, aaf2.essence.PCMDescriptor)]
        assert sorted(d["Length"].value for d in descriptors) == sorted(c["samples"] for c in report["clips"])
        assert {d["Channels"].value for d in descriptors} == {2}
        (mob,) = list(f.content.toplevel())
        assert [slot.name for slot in mob.slots if slot.segment.media_kind == "Sound"] == ["StereoFoley"]


@pytest.mark.parametrize("sequence_rate", [24, 25, 30000 / 1001, 30])
@pytest.mark.parametrize("source_rate", [10, 12, 15, 24000 / 1001, 24, 25, 30000 / 1001, 30, 50, 60000 / 1001, 60, 29.87])
def test_any_source_rate_in_any_sequence_rate_writes_xml_that_reads_back(tmp_path, source_rate, sequence_rate):
    tl = otio.schema.Timeline("r", global_start_time=RT(3600 * round(sequence_rate), sequence_rate))
    v = otio.schema.Track("V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(v)
    for k in range(3):  # three 37-frame clips of the source rate, then one of the sequence rate
        ref = _ref(tmp_path / f"s{k}.mov", source_rate, 0, 200)
        v.append(otio.schema.Clip(f"s{k}", ref, TR(RT(5 + k, source_rate), RT(37, source_rate))))
    v.append(otio.schema.Clip("seq", _ref(tmp_path / "q.mov", sequence_rate, 0, 100), TR(RT(0, sequence_rate), RT(10, sequence_rate))))
    clips = picture_clips(tl)
    exact = F(37) / F(source_rate).limit_denominator(1001) if source_rate != 29.87 else 37 / F(29.87).limit_denominator(1001)
    assert [c.record_start_s for c in clips] == [0, exact, 2 * exact, 3 * exact]  # no drift, no snapping
    written = write_fcp_xml(tl, clips, tmp_path / "r.xml", overwrite=False)
    assert written.content == "full timeline"
    back = otio.adapters.read_from_file(str(tmp_path / "r.xml"))
    got = [(round(c.range_in_parent().start_time.value_rescaled_to(sequence_rate)),
            round(c.range_in_parent().end_time_exclusive().value_rescaled_to(sequence_rate))) for c in back.find_clips()]
    r = F(sequence_rate).limit_denominator(1001)
    edges = [math.floor(c.record_start_s * r + F(1, 2)) for c in clips] + [math.floor(clips[-1].record_end_s * r + F(1, 2))]
    assert got == list(zip(edges[:-1], edges[1:]))


def test_report_accepts_what_clip_writes(tmp_path):
    """`stereofoley report` on a folder holding `clip`'s WAV and its --json summary saved to a file."""
    import json

    from stereofoley.audio import write_wav
    from stereofoley.evaluation.report import load_results

    write_wav(tmp_path / "shot.wav", np.zeros((2, 4800), np.float32))
    (tmp_path / "shot.json").write_text(json.dumps({"ok": True, "output": str(tmp_path / "shot.wav"),
                                                    "media": str(tmp_path / "shot.mov"), "start_s": 1.5}))
    write_wav(tmp_path / "lone.wav", np.zeros((2, 480), np.float32))
    # a WAV with the tracks.json `clip --tracks-out` wrote beside it: the picture and its range come from there
    from stereofoley.vision import write_tracks
    from stereofoley.vision.tracks import Analysis

    video = make_video(tmp_path / "pic.mov", F(25), 10)
    write_wav(tmp_path / "boxed.wav", np.zeros((2, 480), np.float32))
    write_tracks(Analysis(media_path=video, width=32, height=24, fps=F(25), start_s=0.2, end_s=0.4,
                          frame_times_s=np.array([0.2, 0.24]), tracks=()), tmp_path / "boxed.tracks.json")
    clips = load_results(tmp_path)
    assert [(c.name, c.media_start_s) for c in clips] == [("shot", 1.5), ("boxed", 0.2), ("lone", 0.0)]
    assert clips[0].media == tmp_path / "shot.mov" and clips[1].media == video.resolve() and clips[2].media is None


def test_cli_renders_the_mixed_timeline_with_exit_0_and_xml_stems(mixed, tmp_path, monkeypatch, capsys):
    import json

    from stereofoley import cli

    renderer = RecordingRenderer()
    monkeypatch.setattr("stereofoley.usecases.clip.mix_clip", renderer)
    report, exact = mixed
    timeline = Path(report["timeline"])
    code = cli.main(["render", str(timeline), "-o", str(tmp_path / "out"), "--media-root", str(timeline.parent / "media"),
                     "--xml-stems", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert code == 0 and got["status"] == "ok" and len(got["clips"]) == len(exact)
    root = ET.fromstring(Path(got["outputs"]["xml"]).read_text())
    # each stem clip item: Pan keyframes -50 .. +50 (the renderer's object pans -0.5 .. +0.5 over its audio)
    stems = [c for c in root.iter("clipitem") if (c.findtext("name") or "").endswith(": car 1")]
    assert len(stems) == len(exact)
    curves = {c["name"]: c["objects"][0]["curves"] for c in got["clips"]}
    for item in stems:
        pan = item.find("filter/effect[effectid='audiopan']/parameter")
        keys = [(int(k.findtext("when")), float(k.findtext("value"))) for k in pan.iter("keyframe")]
        n_frames = int(item.findtext("end")) - int(item.findtext("start"))
        assert keys[0] == (int(item.findtext("in")), -50.0) and keys[-1][0] - keys[0][0] in (n_frames - 1, n_frames, n_frames + 1)
        assert keys[-1][1] == pytest.approx(50.0, abs=100.0 / n_frames + 1e-6)
        level = item.find("filter/effect[effectid='audiolevels']/parameter")
        gains = curves[item.findtext("name").split(" (StereoFoley)")[0]]["gain_db"]
        values = [float(k.findtext("value")) for k in level.iter("keyframe")]
        assert values[0] == pytest.approx(10 ** (gains[0][1] / 20), rel=1e-5)  # linear gain, 1 = 0 dB
        assert len(values) >= 2
        linear = np.array([10 ** (g / 20) for _, g in gains])  # each keyframe is a curve point (6 digits)
        assert all(np.min(np.abs(linear - v)) <= 1e-5 * max(v, 1e-3) for v in values)
        assert item.find("file/media/audio/channelcount").text == "1"  # a mono stem


def test_rerendering_one_clip_keeps_the_others_exactly_where_they_were(mixed, tmp_path):
    import shutil

    report, exact = mixed
    out = tmp_path / "out"
    shutil.copytree(Path(report["timeline_out"]).parent, out)
    timeline = Path(report["timeline"])
    from stereofoley.timeline import Selection

    again = render_timeline(timeline, out, selection=Selection(clips=("film",)), options=RenderOptions(
        media_roots=(str(timeline.parent / "media"),), loudness_lufs=None, overwrite=True), mixer=RecordingRenderer())
    assert [c["name"] for c in again["clips"]] == ["film"] and len(again["kept_from_earlier_run"]) == 5
    result = otio.adapters.read_from_file(again["timeline_out"])
    lanes = [t for t in result.audio_tracks() if t.name.startswith("StereoFoley")]
    assert [t.name for t in lanes] == ["StereoFoley"]  # abutting clips still share one lane
    pictures = {c.name: c.clip for c in picture_clips(result)}
    for clip in lanes[0].find_clips():
        name = clip.name.replace(" (StereoFoley)", "")
        assert clip.range_in_parent() == pictures[name].range_in_parent(), name
        assert list(clip.metadata["stereofoley"]["record_range_s"]) == [f"{x.numerator}/{x.denominator}" for x in exact[name]]
