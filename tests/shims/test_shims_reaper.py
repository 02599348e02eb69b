"""The REAPER ReaScripts, run by a real Lua interpreter (lupa) against the fake `reaper` API."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import lupa
import numpy as np
import opentimelineio as otio
import pytest
import rpp

from .conftest import write_status
from .fake_reaper import PLUGIN_REAPER, ApiMisuse, Envelope, FakeReaper, fader_scale

SEND = "StereoFoley_Send_selected_items.lua"


def sent_paths(host: FakeReaper) -> tuple[list[str], Path, Path]:
    """(engine argv prefix, job path, status path) from the one command the script started."""
    assert len(host.exec_commands) == 1
    argv = shlex.split(host.exec_commands[0])
    i = argv.index("send")
    assert argv[i + 2] == "--status-file" and len(argv) == i + 4
    return argv[:i], Path(argv[i + 1]), Path(argv[i + 3])


@pytest.fixture
def host(tmp_path) -> FakeReaper:
    return FakeReaper(tmp_path / "project")


def two_items(host: FakeReaper, tmp_path: Path):
    video = host.add_track("Picture")
    a = host.add_media_item(video, str(tmp_path / "car.mp4"), position_s=3.25, length_s=1.5, offset_s=0.5, name="car")
    # Played at double speed from 2 s into its file: it shows 1.5 s of media in 0.75 s of project time.
    b = host.add_media_item(video, str(tmp_path / "bike.mov"), position_s=10.0, length_s=0.75, offset_s=2.0, playrate=2.0, name="bike")
    host.add_media_item(video, str(tmp_path / "other.mp4"), position_s=20.0, length_s=1.0, selected=False)
    return a, b


def test_send_writes_the_job_and_starts_the_engine_without_blocking(host, tmp_path):
    a, b = two_items(host, tmp_path)
    host.run_script(SEND)

    engine, job_path, status_path = sent_paths(host)
    assert engine == ["stereofoley"]  # no installer config next to the script, no ExtState: the PATH
    assert job_path.parent == status_path.parent == host.project_path / "StereoFoley"
    job = json.loads(job_path.read_text())
    assert job["version"] == 1 and job["kind"] == "clips"
    assert Path(job["out_dir"]).is_absolute() and Path(job["out_dir"]).parent == job_path.parent
    assert job["options"] == {"sources": "synth", "detector": "auto", "preset": "natural", "stems": False}
    assert job["clips"] == [
        {"id": a.guid, "media": str(tmp_path / "car.mp4"), "start_s": 0.5, "end_s": 2.0, "name": "car"},
        {"id": b.guid, "media": str(tmp_path / "bike.mov"), "start_s": 2.0, "end_s": 3.5, "name": "bike"},
    ]
    assert host.called("ExecProcess")[0][1] == -1  # the fake also refuses any blocking timeout
    assert host.deferred, "the script must keep polling in a defer loop"
    assert not [t for t in host.tracks if t.name == "StereoFoley"], "nothing is placed before the engine is done"


def test_stereo_results_land_under_their_items(host, tmp_path, engine_render):
    a, b = two_items(host, tmp_path)
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    steps = iter([
        ("queued", 0.0, []),
        ("running", 0.5, []),
        ("done", 1.0, [engine_render.result(b.guid), engine_render.result(a.guid)]),
    ])

    def engine_step():
        step = next(steps, None)
        if step:
            write_status(status_path, step[0], progress=step[1], results=step[2])

    host.run_deferred(between=engine_step, tick_s=0.3)

    track = host.track_named("StereoFoley")
    placed = sorted(track.items, key=lambda i: i.info["D_POSITION"])
    assert len(placed) == 2
    for item, src in zip(placed, (a, b)):
        take = item.takes[0]
        rate = src.takes[0].info["D_PLAYRATE"]
        assert take.source.filename == str(engine_render.wav)
        assert item.info["D_POSITION"] == pytest.approx(src.info["D_POSITION"], abs=1e-12)
        # The WAV lasts the media range shown; at the picture's rate it fills the item to the sample.
        assert item.info["D_LENGTH"] == pytest.approx(engine_render.duration_s / rate, abs=1e-12)
        assert abs(item.info["D_LENGTH"] - src.info["D_LENGTH"]) <= 1 / 48000
        assert take.info["D_PLAYRATE"] == rate and take.info["D_STARTOFFS"] == 0.0
        assert take.info["B_PPITCH"] == (1.0 if rate != 1 else 0.0)
        assert take.source.peaks == "built"  # drawn at once, not empty until REAPER gets round to it
    log = "".join(host.console)
    assert "running 50%" in log and "placed 2 of 2 result(s) (done)" in log


@pytest.mark.parametrize("scaling_mode", [0, 1])
def test_object_tracks_get_envelopes_equal_to_the_engine_curves(tmp_path, engine_render, scaling_mode):
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = "objects"
    a, b = two_items(host, tmp_path)
    users_point = (0.5, 0.7, 0)  # before both items: must survive
    if scaling_mode == 1:  # the object track is already there, with the user's fader-scaled volume envelope
        host.add_track("StereoFoley: car").envelopes["VOLENV2"] = Envelope("VOLENV2", scaling_mode=1, points=[users_point])
    host.run_script(SEND)
    _, job_path, status_path = sent_paths(host)
    assert json.loads(job_path.read_text())["options"]["stems"] is True
    results = [engine_render.result(a.guid, stems=True, name="car"), engine_render.result(b.guid, stems=True, name="car")]
    write_status(status_path, "done", progress=1.0, results=results)
    host.run_deferred()

    track = host.track_named("StereoFoley: car")
    assert [i.takes[0].source.filename for i in track.items] == [str(engine_render.stem_wav)] * 2
    volume, pan = track.envelopes["VOLENV2"], track.envelopes["PANENV2"]
    assert volume.scaling_mode == scaling_mode
    if scaling_mode == 1:
        assert volume.points[0] == users_point
        volume.points = volume.points[1:]
    gain_db, pan_curve = engine_render.curves["gain_db"], engine_render.curves["pan"]
    per_item = len(volume.points) // 2
    assert len(volume.points) == 2 * per_item and len(pan.points) == 2 * pan_curve.times_s.size
    for k, src in enumerate((a, b)):
        pos, rate = src.info["D_POSITION"], src.takes[0].info["D_PLAYRATE"]
        vol_pts = volume.points[k * per_item:(k + 1) * per_item]
        pan_pts = pan.points[k * pan_curve.times_s.size:(k + 1) * pan_curve.times_s.size]
        # Pan: point by point at the curve's times; REAPER's pan envelope is +1 = left, so negated.
        np.testing.assert_allclose([p[0] for p in pan_pts], pos + pan_curve.times_s / rate, atol=1e-9)
        np.testing.assert_allclose([p[1] for p in pan_pts], -pan_curve.values, atol=1e-12)
        assert {p[2] for p in vol_pts + pan_pts} == {0}  # linear segments
        # Volume: every curve point is there, routed through ScaleToEnvelopeMode with the envelope's mode.
        times = np.array([p[0] for p in vol_pts])
        values = np.array([p[1] for p in vol_pts])
        clip_t = (times - pos) * rate
        expected_linear = 10.0 ** (gain_db.value_at(clip_t) / 20.0)
        expected = np.array([fader_scale(g) for g in expected_linear]) if scaling_mode == 1 else expected_linear
        np.testing.assert_allclose(values, expected, rtol=1e-9)
        for t in gain_db.times_s:
            assert np.min(np.abs(times - (pos + t / rate))) < 1e-9
        if scaling_mode == 0:
            # Between points the (amplitude-linear) envelope stays within 0.02 dB of the engine's curve.
            t = np.linspace(0, engine_render.duration_s, 2001)
            env_db = 20 * np.log10(np.interp(pos + t / rate, times, values))
            assert np.max(np.abs(env_db - gain_db.value_at(t))) < 0.02


def test_reinserting_replaces_envelope_points_in_the_item_span(tmp_path, engine_render):
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = "objects"
    a, _ = two_items(host, tmp_path)
    for _ in range(2):  # send twice: the second placement must not double the points
        host.exec_commands.clear()
        host.run_script(SEND)
        _, _, status_path = sent_paths(host)
        write_status(status_path, "done", progress=1.0, results=[engine_render.result(a.guid, stems=True, name="car")])
        host.run_deferred()
    assert len(host.track_named("StereoFoley: car").envelopes["PANENV2"].points) == engine_render.curves["pan"].times_s.size


def test_failure_is_shown_and_nothing_is_placed(host, tmp_path):
    two_items(host, tmp_path)
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    write_status(status_path, "failed", error="MediaNotFound: /x/car.mp4 does not exist")
    host.run_deferred()
    assert host.message_boxes == ["The engine stopped: MediaNotFound: /x/car.mp4 does not exist"]
    assert not [t for t in host.tracks if t.name.startswith("StereoFoley")]


def test_a_silent_engine_times_out_instead_of_polling_forever(host, tmp_path):
    two_items(host, tmp_path)
    host.run_script(SEND)
    ticks = host.run_deferred(tick_s=10.0)  # no status file ever appears
    assert ticks < 100 and host.message_boxes and "no news from the engine" in host.message_boxes[0]


def test_unknown_results_are_reported_and_unusable_items_skipped(host, tmp_path, engine_render):
    video = host.add_track("Picture")
    good = host.add_media_item(video, str(tmp_path / "car.mp4"), position_s=1.0, length_s=1.5)
    midi = host.add_media_item(video, "", position_s=5.0, length_s=1.0)
    midi.takes[0].source.kind = "MIDI"
    host.run_script(SEND)
    _, job_path, status_path = sent_paths(host)
    assert [c["id"] for c in json.loads(job_path.read_text())["clips"]] == [good.guid]
    write_status(status_path, "partial", progress=1.0, results=[engine_render.result(good.guid), engine_render.result("{nope}")])
    host.run_deferred()
    log = "".join(host.console)
    assert "skipped item 2: no audio/video take" in log
    assert "result for unknown clip {nope}" in log and "placed 1 of 1 result(s) (partial)" in log


def test_no_selection_says_so(host):
    host.run_script(SEND)
    assert host.message_boxes and "Select one or more media items" in host.message_boxes[0]
    assert not host.exec_commands


def test_installed_engine_command_and_quoting(host, tmp_path):
    """The installer's StereoFoley_config.lua names the engine; paths with spaces survive quoting."""
    script_dir = tmp_path / "Scripts dir"
    script_dir.mkdir()
    for name in ("StereoFoley_lib.lua", SEND):
        (script_dir / name).write_bytes((PLUGIN_REAPER / name).read_bytes())
    (script_dir / "StereoFoley_config.lua").write_text('return { engine = { "/opt/my python/bin/python3", "-m", "stereofoley.cli" } }\n')
    host.project_path = tmp_path / "my project"
    two_items(host, tmp_path)
    host.script_path = str(script_dir / SEND)
    host.lua.execute((script_dir / SEND).read_text())
    engine, job_path, _ = sent_paths(host)
    assert engine == ["/opt/my python/bin/python3", "-m", "stereofoley.cli"]
    assert job_path.is_file() and " " in str(job_path)

    host.exec_commands.clear()
    host.project_path = tmp_path / 'bad"name'
    with pytest.raises(Exception, match='contains "'):
        host.lua.execute((script_dir / SEND).read_text())
    assert not host.exec_commands


def test_fake_api_rejects_wrong_argument_types(host):
    host.add_track("x")
    with pytest.raises(ApiMisuse, match="argument 3 must be number"):
        host.lua.execute('reaper.SetMediaItemInfo_Value(reaper.AddMediaItemToTrack(reaper.GetTrack(0, 0)), "D_POSITION", "1.0")')
    with pytest.raises(ApiMisuse, match="must not block"):
        host.lua.execute('reaper.ExecProcess("true", 0)')


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, -3e-7, True, False], "s": 'quote " back \\ slash / tab\t nl\n é ✓ 🎧'},
    {"empty_list": [], "empty_obj": {}, "nested": [[[]], {"x": {"y": [0.1]}}]},
    [1e300, -0.0, 12345678901234, 0.30000000000000004],
    [1, None, 3], [None], [None, None, [None, 1]], {"a": [None, "x", None]},  # nulls in arrays are kept
])
def test_lua_json_round_trips_what_python_writes(host, value):
    # (A null object member decodes to a missing key, as Lua has it; in arrays nulls keep their places.)
    lib = host.lua.execute(f'return dofile("{PLUGIN_REAPER / "StereoFoley_lib.lua"}")')
    text = json.dumps(value, ensure_ascii=False)
    again = lib.json_encode(lib.json_decode(text))
    assert json.loads(again) == value
    escaped = json.dumps(value, ensure_ascii=True)  # \uXXXX escapes, surrogate pairs included
    assert json.loads(lib.json_encode(lib.json_decode(escaped))) == value


def test_live_preview_toggles_state_and_engine(host, tmp_path):
    host.run_script("StereoFoley_Live_preview_toggle.lua")
    assert not host.exec_commands and "Nothing to preview yet" in host.message_boxes[0]

    preview = tmp_path / "preview dir" / "preview.json"
    host.extstate[("StereoFoley", "preview_file")] = str(preview)
    host.run_script("StereoFoley_Live_preview_toggle.lua")
    assert shlex.split(host.exec_commands[-1]) == ["stereofoley", "preview", "on", str(preview)]
    assert host.extstate[("StereoFoley", "preview")] == "1" and host.toggle_states[(0, 54321)] == 1
    host.run_script("StereoFoley_Live_preview_toggle.lua")
    assert shlex.split(host.exec_commands[-1]) == ["stereofoley", "preview", "off"]
    assert host.extstate[("StereoFoley", "preview")] == "0" and host.toggle_states[(0, 54321)] == 0


@pytest.mark.parametrize("placement", ["objects", "live"])
def test_object_placements_write_the_engine_preview_file(tmp_path, engine_render, placement):
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = placement
    a, b = two_items(host, tmp_path)
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    write_status(status_path, "done", progress=1.0, results=[engine_render.result(a.guid, stems=True, name="car"), engine_render.result(b.guid, stems=True, name="car")])
    host.run_deferred()

    mix, car = host.track_named("StereoFoley"), host.track_named("StereoFoley: car")
    assert mix.muted and not car.muted  # the object tracks play; the baked mix stays for comparison
    assert bool(car.envelopes) == (placement == "objects")
    path = Path(host.extstate[("StereoFoley", "preview_file")])
    data = json.loads(path.read_text())
    # The engine's own parser accepts it (the live preview's input format).
    from stereofoley.transport.preview import clips_from_json

    clips = clips_from_json(data)
    assert [c.record_start_s for c in clips] == [a.info["D_POSITION"], b.info["D_POSITION"]]
    assert [c.duration_s for c in clips] == [a.info["D_LENGTH"], b.info["D_LENGTH"]]
    for clip, src in zip(clips, (a, b)):
        (track,) = clip.tracks
        rate = src.takes[0].info["D_PLAYRATE"]
        assert track.track == host.tracks.index(car) + 1 and track.name == "car"
        np.testing.assert_allclose(track.pan.times_s, engine_render.curves["pan"].times_s / rate, atol=1e-12)
        np.testing.assert_allclose(track.pan.values, engine_render.curves["pan"].values, atol=1e-12)
        np.testing.assert_allclose(track.gain_db.values, engine_render.curves["gain_db"].values, atol=1e-12)


def test_stereo_stems_get_no_envelopes(tmp_path, engine_render):
    """A stem that already carries its placement (stereo) must not be panned a second time."""
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = "objects"
    a, _ = two_items(host, tmp_path)
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    result = engine_render.result(a.guid, stems=True, name="car")
    result["objects"][0]["stem_wav"] = str(engine_render.wav)  # the stereo render as the "stem"
    write_status(status_path, "done", progress=1.0, results=[result])
    host.run_deferred()
    assert host.track_named("StereoFoley: car").envelopes == {}
    assert "stem of car is not mono; no envelopes written" in "".join(host.console)


def test_the_mono_source_wav_is_preferred_to_a_stereo_stem(tmp_path, engine_render):
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = "objects"
    a, _ = two_items(host, tmp_path)
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    result = engine_render.result(a.guid, name="car")
    result["objects"][0].update(stem_wav=str(engine_render.wav), source_wav=str(engine_render.stem_wav))
    write_status(status_path, "done", progress=1.0, results=[result])
    host.run_deferred()
    track = host.track_named("StereoFoley: car")
    assert track.items[0].takes[0].source.filename == str(engine_render.stem_wav)
    assert len(track.envelopes["PANENV2"].points) == engine_render.curves["pan"].times_s.size


# ----------------------------------------------------------------------------------------- import result
def _import_module(host: FakeReaper):
    return host.run_script("StereoFoley_Import_result.lua", preamble="STEREOFOLEY_IMPORT_NO_MAIN = true")


def test_import_otio_places_clips_at_timeline_relative_positions(host, tmp_path, engine_render):
    rate = 24
    rt = lambda f: otio.opentime.RationalTime(f, rate)  # noqa: E731
    tl = otio.schema.Timeline(name="edit", global_start_time=rt(86400))  # 01:00:00:00 maps to 0 s
    picture = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    dialog = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    dialog.append(otio.schema.Clip(name="dialog", media_reference=otio.schema.ExternalReference(target_url="/x/d.wav"), source_range=otio.opentime.TimeRange(rt(0), rt(10))))
    foley = otio.schema.Track(name="StereoFoley", kind=otio.schema.TrackKind.Audio)
    wav_url = otio.url_utils.url_from_filepath(str(engine_render.wav))
    ref = lambda: otio.schema.ExternalReference(target_url=wav_url, available_range=otio.opentime.TimeRange(rt(0), rt(36)))  # noqa: E731
    foley.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=rt(30))))
    foley.append(otio.schema.Clip(name="car", media_reference=ref(), source_range=otio.opentime.TimeRange(rt(0), rt(36))))
    foley.append(otio.schema.Transition(in_offset=rt(3), out_offset=rt(3)))
    foley.append(otio.schema.Clip(name="bike", media_reference=ref(), source_range=otio.opentime.TimeRange(rt(6), rt(24))))
    tl.tracks.extend([picture, dialog, foley])
    path = tmp_path / "result.stereofoley.otio"
    otio.adapters.write_to_file(tl, str(path))

    mod = _import_module(host)
    mod.main(str(path))

    track = host.track_named("StereoFoley")
    got = [(i.takes[0].name, i.info["D_POSITION"], i.info["D_LENGTH"], i.takes[0].info["D_STARTOFFS"], i.takes[0].source.filename) for i in track.items]
    expected = []
    for clip in foley.find_clips():
        r = clip.range_in_parent()
        expected.append((clip.name, r.start_time.to_seconds(), r.duration.to_seconds(), clip.source_range.start_time.to_seconds(), str(engine_render.wav)))
    assert got == [(n, pytest.approx(p, abs=1e-12), pytest.approx(ln, abs=1e-12), pytest.approx(o, abs=1e-12), f) for n, p, ln, o, f in expected]
    assert [g[1] for g in got] == pytest.approx([30 / 24, 66 / 24])  # the transition takes no time
    assert not [t for t in host.tracks if t.name == "A1"], "the editor's own audio tracks are not duplicated"


@pytest.mark.parametrize("url, path", [
    ("file:///media/a%20b.wav", "/media/a b.wav"),
    ("file://localhost/D%3a/media/x.mov", "D:/media/x.mov"),
    ("/plain/path.wav", "/plain/path.wav"),
])
def test_import_turns_urls_into_paths(host, url, path):
    assert _import_module(host).path_from_url(url) == path


def test_import_rpp_appends_each_track_chunk(host, tmp_path, engine_render):
    text = f"""<REAPER_PROJECT 0.1 "7.0" 1700000000
  TEMPO 120 4 4
  <TRACK {{A}}
    NAME "StereoFoley"
    <ITEM
      POSITION 3.25
      LENGTH 1.5
      SOFFS 0
      <SOURCE WAVE
        FILE "{engine_render.wav}"
      >
    >
  >
  <TRACK {{B}}
    NAME "car"
    <PANENV2
      ACT 1 -1
      PT 3.25 0.8 0
      PT 4.75 -0.7 0
    >
  >
>
"""
    path = tmp_path / "result.rpp"
    path.write_text(text)
    _import_module(host).main(str(path))
    chunks = [t.chunk for t in host.tracks]
    assert len(chunks) == 2
    parsed = rpp.loads(text)
    for chunk, track in zip(chunks, parsed.findall("TRACK")):
        again = rpp.loads(chunk)
        assert again.tag == "TRACK" and rpp.dumps(again) == rpp.dumps(track)
    assert math.isclose(float(rpp.loads(chunks[0]).find("ITEM").find("POSITION")[1]), 3.25)


def test_json_arrays_with_nulls_keep_their_length(host):
    lib = host.lua.execute(f'return dofile("{PLUGIN_REAPER / "StereoFoley_lib.lua"}")')
    arr = lib.json_decode("[null, 2, null]")
    assert lib.len(arr) == 3 and arr[1] is None and arr[2] == 2 and arr[3] is None


def test_atomic_write_renames_over_the_target_and_never_removes_it(host, tmp_path):
    lib = host.lua.execute(f'return dofile("{PLUGIN_REAPER / "StereoFoley_lib.lua"}")')
    host.lua.execute("removed = {}; local remove = os.remove; os.remove = function(p) removed[#removed + 1] = p; return remove(p) end")
    target = tmp_path / "preview.json"
    target.write_text("old")
    lib.write_file_atomic(str(target), "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["preview.json"]
    assert list(host.lua.eval("removed").values()) == []
    # Where rename cannot replace (Windows' C library): an error naming the file, the target as it was, no temp left.
    host.lua.execute("os.rename = function() return nil, 'File exists' end")
    with pytest.raises(lupa.LuaError, match=f"cannot write {target}: File exists"):
        lib.write_file_atomic(str(target), "newer")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["preview.json"]
    assert list(host.lua.eval("removed").values()) == [str(target) + ".part"]


def test_placing_leaves_the_users_selection_alone_and_runs_no_action(tmp_path, engine_render):
    """Envelopes are found by chunk name (<VOLENV2, <PANENV2: the fake's display names are German) and added
    through the track's state chunk: no toggle action, no change to which tracks or items are selected."""
    host = FakeReaper(tmp_path / "project")
    host.extstate[("StereoFoley", "placement")] = "objects"
    a, b = two_items(host, tmp_path)
    host.tracks[0].selected = True
    before = ([t.selected for t in host.tracks], [i.selected for t in host.tracks for i in t.items])
    host.run_script(SEND)
    _, _, status_path = sent_paths(host)
    write_status(status_path, "done", progress=1.0, results=[engine_render.result(a.guid, stems=True, name="car"), engine_render.result(b.guid, stems=True, name="car")])
    host.run_deferred()

    car = host.track_named("StereoFoley: car")
    assert set(car.envelopes) == {"VOLENV2", "PANENV2"} and all(e.points for e in car.envelopes.values())
    assert not host.called("Main_OnCommand") and not host.called("SetOnlyTrackSelected") and not host.called("GetTrackEnvelopeByName")
    assert {args[1] for args in host.called("GetTrackEnvelopeByChunkName")} == {"<VOLENV2", "<PANENV2"}
    old = host.tracks[:len(before[0])] if host.tracks[0].name == "Picture" else None
    assert old is not None and [t.selected for t in old] == before[0]
    assert [i.selected for i in host.tracks[0].items] == before[1]
    assert not any(t.selected for t in host.tracks[1:]) and not any(i.selected for t in host.tracks[1:] for i in t.items)
    # The state chunk the script wrote kept the track's items (the fake refuses one that drops them).
    assert len(car.items) == 2 and "<VOLENV2" in car.chunk and "<ITEM" in car.chunk


def test_section_offsets_are_added_and_reversed_takes_are_skipped(host, tmp_path):
    video = host.add_track("Picture")
    # A section of a section of the file: 4 s into the file, then 0.5 s into that; the take starts 0.25 s in and
    # plays 1 s of project time at rate 1.5, so it shows file time 4 + 0.5 + 0.25 .. + 1.5.
    nested = host.add_media_item(video, str(tmp_path / "car.mp4"), position_s=1.0, length_s=1.0, offset_s=0.25, playrate=1.5,
                                 name="car", sections=((4.0, 3.0, False), (0.5, 2.0, False)))
    host.add_media_item(video, str(tmp_path / "bike.mov"), position_s=5.0, length_s=1.0, name="bike", sections=((2.0, 3.0, True),))
    host.run_script(SEND)
    _, job_path, _ = sent_paths(host)
    (clip,) = json.loads(job_path.read_text())["clips"]
    assert clip["id"] == nested.guid and clip["media"] == str(tmp_path / "car.mp4")
    assert (clip["start_s"], clip["end_s"]) == (pytest.approx(4.75, abs=1e-12), pytest.approx(6.25, abs=1e-12))
    assert "skipped item 2: its take is reversed" in "".join(host.console)
