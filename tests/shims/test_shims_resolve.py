"""The Resolve Scripts-menu scripts, Python and Lua, against a fake DaVinciResolveScript (the documented API subset).

Every test that takes `send` runs twice: on the Python script, and on the Lua script under LuaJIT (lupa) through
resolve_lua.LuaScript, which gives it the Python script's interface and the same fake objects."""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
import textwrap
import types
from pathlib import Path

import opentimelineio as otio
import pytest

from . import fake_resolve as fr
from .conftest import write_status
from .resolve_lua import SCRIPT as LUA_SCRIPT
from .resolve_lua import LuaScript

SCRIPT = Path(__file__).resolve().parents[2] / "plugin" / "resolve" / "StereoFoley_Send_selected_clips.py"
RATE = 24
START = 86400  # 01:00:00:00 at 24 fps, Resolve's default timeline start


def load_script():
    spec = importlib.util.spec_from_file_location("stereofoley_resolve_send", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PythonScript:
    """The Python script's module, plus how a Scripts-menu run gets its `resolve` (a predefined global)."""

    def __init__(self):
        self.module = load_script()

    def __getattr__(self, name):
        return getattr(self.module, name)

    def set_resolve(self, resolve) -> None:
        self.module.resolve = resolve


@pytest.fixture(params=["python", "lua"])
def send(request):
    return PythonScript() if request.param == "python" else LuaScript()


def make_timeline(tmp_path: Path, **kw) -> tuple[fr.Timeline, list[fr.TimelineItem]]:
    items = [
        fr.TimelineItem("car", START + 48, 36, str(tmp_path / "car.mp4")),
        fr.TimelineItem("bike", START + 120, 36, str(tmp_path / "bike.mov"), color="Orange"),
        fr.TimelineItem("title", START + 200, 24, str(tmp_path / "title.mov")),
    ]
    return fr.Timeline("Edit 1", RATE, START, [items[:2], items[2:]], **kw), items


class FinishedEngine:
    """Stands in for the engine process: on start, writes the status a finished `timeline` job would, choosing
    clips as the engine's selection does (name AND track AND overlapping the record range) and reporting them
    as the timeline report does (record_start_s from the timeline start; record_start_frame absolute)."""

    def __init__(self, timeline: fr.Timeline, wav: Path, state: str = "done", **status):
        self.timeline, self.wav, self.state, self.status, self.argv = timeline, wav, state, status, None

    def __call__(self, argv):
        self.argv = argv
        job = json.loads(Path(argv[argv.index("send") + 1]).read_text())
        self.status_path = Path(argv[argv.index("--status-file") + 1])
        sel = job["select"]
        a, b = sel["range_s"]
        chosen = [
            item for n, track in enumerate(self.timeline.video_tracks, start=1) for item in track
            if item.name in sel["clips"] and f"V{n}" in sel["tracks"] and (item.start - START) / RATE < b and (item.start + item.duration - START) / RATE > a
        ]
        out_dir = Path(job["out_dir"])
        out_dir.mkdir(parents=True, exist_ok=True)
        clips = []
        for i, item in enumerate(sorted(chosen, key=lambda x: x.start)):
            wav = out_dir / f"c{i}.wav"
            wav.write_bytes(self.wav.read_bytes())
            clips.append({"id": f"1.{i}", "name": item.name, "wav": str(wav), "record_start_s": (item.start - START) / RATE,
                          "record_start_frame": float(item.start), "record_duration_frames": item.duration, "rate": RATE})
        report = {"ok": True, "status": "ok", "timeline_out": str(out_dir / "Edit 1.stereofoley.otio"), "clips": clips, "skipped": []}
        write_status(self.status_path, self.state, progress=1.0, report=report, **self.status)
        return self

    def poll(self):
        return 0


def run(send, resolve, tmp_path, engine, **config):
    cfg = dict(send.DEFAULTS, poll_interval_s=0.0, **config)
    logs = []
    status = send.send_selected(resolve, config=cfg, work_dir=tmp_path / "work", log=logs.append, start=engine, sleep=lambda s: None)
    return status, logs


def test_export_job_and_exact_append_clip_infos(send, tmp_path, engine_render):
    timeline, items = make_timeline(tmp_path, selected=[])
    timeline.selected = [items[2], items[0], fr.TimelineItem("dialog", START, 10, "/x/d.wav")]  # an audio clip too
    resolve = fr.Resolve(fr.Project(timeline))
    engine = FinishedEngine(timeline, engine_render.wav)
    _, logs = run(send, resolve, tmp_path, engine)

    work = tmp_path / "work"
    export = [c for c in timeline.calls if c[0] == "Export"]
    assert export == [("Export", str(work / "timeline.otio"), resolve.EXPORT_OTIO, resolve.EXPORT_NONE)]
    exported = otio.adapters.read_from_file(str(work / "timeline.otio"))
    assert exported.global_start_time.to_frames() == START

    job = json.loads((work / "job.json").read_text())
    assert job == {
        "version": 1, "kind": "timeline", "timeline": str(work / "timeline.otio"), "out_dir": str(work / "render"),
        "select": {"clips": ["car", "title"], "tracks": ["V1", "V2"], "range_s": [48 / 24, 224 / 24]},
        "options": {"sources": "synth", "detector": "auto", "preset": "natural", "stems": False},
    }
    assert engine.argv == ["stereofoley", "send", str(work / "job.json"), "--status-file", str(work / "status.json"),
                           "--cancel-file", str(work / "cancel")]
    assert ("AddTrack", "audio", "stereo") in timeline.calls
    pool = resolve.project.media_pool
    assert [i.path for i in pool.imported] == [str(work / "render" / "c0.wav"), str(work / "render" / "c1.wav")]
    (infos,) = pool.appended
    assert infos == [
        {"mediaPoolItem": pool.imported[0], "startFrame": 0, "endFrame": 35, "mediaType": 2, "trackIndex": 2, "recordFrame": START + 48},
        {"mediaPoolItem": pool.imported[1], "startFrame": 0, "endFrame": 23, "mediaType": 2, "trackIndex": 2, "recordFrame": START + 200},
    ]
    # Frame-exact: each Foley clip starts on its picture clip's first frame and lasts as many frames.
    for info, item in zip(infos, (items[0], items[2])):
        assert info["recordFrame"] == item.GetStart() and info["endFrame"] - info["startFrame"] + 1 == item.GetDuration()
    assert logs[0] == "StereoFoley: 2 clip(s) (selected)"


@pytest.mark.parametrize("case, expected_how, expected_names", [
    ("selected", "selected", ["title"]),
    ("selected-empty-falls-back-to-colour", "colour", ["bike"]),
    ("colour", "colour", ["bike"]),
    ("flag", "flag", ["car", "title"]),
    ("flag-of-another-colour-falls-back-to-marker", "marker", ["car", "title"]),
    ("marker", "marker", ["car", "title"]),
    ("playhead", "playhead", ["title"]),
    ("nothing", "none", []),
])
def test_selection_fallbacks(send, tmp_path, case, expected_how, expected_names):
    timeline, items = make_timeline(tmp_path)
    if case == "selected":
        timeline.selected = [items[2]]
    elif case == "selected-empty-falls-back-to-colour":
        timeline.selected = []
    if case in ("marker", "playhead", "nothing") or case.startswith("flag"):
        items[1].color = ""
    if case == "flag":
        items[0].flags, items[2].flags = ["Orange"], ["Blue", "Orange"]
    if case.startswith("flag-of"):
        items[0].flags = ["Blue"]
    if case.startswith("marker") or case.startswith("flag-of"):  # marker frames are offsets from the timeline start; two markers, one not ours
        timeline.markers = {60.0: {"name": "Foley", "color": "Blue", "duration": 1.0, "note": "", "customData": ""},
                            190.0: {"name": "foley", "color": "Red", "duration": 20.0, "note": "", "customData": ""},
                            130.0: {"name": "music", "color": "Red", "duration": 1.0, "note": "", "customData": ""}}
    if case == "playhead":
        timeline.playhead_item = items[2]
    how, chosen = send.find_selection(timeline, clip_color="Orange", marker_name="foley")
    assert how == expected_how and [i.GetName() for i in chosen] == expected_names
    assert hasattr(timeline, "GetSelectedClips") == case.startswith("selected")


def test_nothing_selected_is_a_clear_error(send, tmp_path):
    timeline, items = make_timeline(tmp_path)
    items[1].color = ""
    engine = FinishedEngine(timeline, tmp_path / "x.wav")
    with pytest.raises(send.SendError, match="no clips to send"):
        run(send, fr.Resolve(fr.Project(timeline)), tmp_path, engine)
    assert engine.argv is None and not [c for c in timeline.calls if c[0] == "Export"]


def test_timeline_mode_imports_the_result_timeline(send, tmp_path, engine_render):
    timeline, _ = make_timeline(tmp_path)
    resolve = fr.Resolve(fr.Project(timeline))
    run(send, resolve, tmp_path, FinishedEngine(timeline, engine_render.wav), mode="timeline")
    pool = resolve.project.media_pool
    assert pool.imported_timelines == [(str(tmp_path / "work" / "render" / "Edit 1.stereofoley.otio"), {"timelineName": "Edit 1 StereoFoley", "importSourceClips": True})]
    assert not pool.appended and ("AddTrack", "audio", "stereo") not in timeline.calls


def test_placement_frames_from_report_or_results(send, engine_render):
    wav = str(engine_render.wav)
    # Report clips: relative seconds + the timeline's start frame, whatever the OTIO's global start said.
    report = {"report": {"clips": [{"wav": wav, "record_start_s": 2.0, "record_start_frame": 48.0, "record_duration_frames": 36}]}}
    assert send.placements(report, 24.0, START) == [{"wav": wav, "record_frame": START + 48, "record_duration_frames": 36}]
    # Results alone carry the absolute record_start_frame.
    status = {"state": "done", "results": [{"id": "a", "wav": wav, "duration_s": 1.5, "record_start_frame": START + 48.0, "objects": []}]}
    assert send.placements(status, 24.0, START) == [{"wav": wav, "record_frame": START + 48, "record_duration_frames": 36}]
    with pytest.raises(send.SendError, match="no record_start_frame"):
        send.placements({"results": [{"id": "a", "wav": "x", "duration_s": 1.0}]}, 24.0, START)


def test_only_results_under_chosen_clips_are_placed(send, tmp_path, engine_render):
    """Names, tracks and a range can over-select (a same-named clip in between): that one is not placed."""
    timeline, items = make_timeline(tmp_path, selected=[])
    twin = fr.TimelineItem("car", START + 90, 12, str(tmp_path / "car2.mp4"))
    timeline.video_tracks[0].append(twin)
    timeline.selected = [items[0], items[2]]
    resolve = fr.Resolve(fr.Project(timeline))
    _, logs = run(send, resolve, tmp_path, FinishedEngine(timeline, engine_render.wav))
    (infos,) = resolve.project.media_pool.appended
    assert [i["recordFrame"] for i in infos] == [START + 48, START + 200]
    assert any(f"starts at frame {START + 90}" in line for line in logs)


def test_engine_failure_and_crash_are_reported(send, tmp_path, engine_render):
    timeline, _ = make_timeline(tmp_path)
    resolve = fr.Resolve(fr.Project(timeline))
    with pytest.raises(send.SendError, match=r"stopped \(failed\): MediaNotFound"):
        run(send, resolve, tmp_path, FinishedEngine(timeline, engine_render.wav, "failed", error="MediaNotFound: car.mp4"))

    class Crashed:
        stderr = None

        def __call__(self, argv):
            return self

        def poll(self):
            return 1

    with pytest.raises(send.SendError, match="exited with code 1 before finishing"):
        run(send, resolve, tmp_path, Crashed())
    assert not resolve.project.media_pool.appended


def test_runs_from_the_scripts_menu_with_a_real_engine_process(tmp_path, monkeypatch, engine_render):
    """The script file itself, as Resolve runs it: DaVinciResolveScript importable, the engine a child process."""
    timeline, items = make_timeline(tmp_path, selected=None)
    resolve = fr.Resolve(fr.Project(timeline))
    fake_engine = tmp_path / "engine.py"
    fake_engine.write_text(textwrap.dedent(f"""
        import json, sys
        job = json.load(open(sys.argv[2]))
        clip = {{"id": "c0", "wav": {str(engine_render.wav)!r}, "record_start_s": job["select"]["range_s"][0], "record_duration_frames": 36}}
        json.dump({{"version": 1, "job_id": "j", "state": "done", "progress": 1.0, "results": [], "report": {{"clips": [clip]}}}}, open(sys.argv[4], "w"))
    """))
    monkeypatch.setenv("STEREOFOLEY_ENGINE", f"{sys.executable} {fake_engine}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "DaVinciResolveScript", fr.module_for(resolve))
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert exit_info.value.code == 0
    (infos,) = resolve.project.media_pool.appended
    assert [(i["recordFrame"], i["endFrame"]) for i in infos] == [(items[1].GetStart(), 35)]  # the Orange clip


@pytest.mark.parametrize("setting, expected", [
    ("25", 25.0), ("24", 24.0), ("29.97", 30000 / 1001), ("23.976", 24000 / 1001), ("59.94", 60000 / 1001),
    ("29.97 DF", 30000 / 1001), ("12.5", 12.5),
])
def test_timeline_rate_reads_ntsc_labels_as_exact_rates(send, setting, expected):
    """Resolve states NTSC rates rounded; the engine reads them as n·1000/1001, and so must the script's frames."""
    timeline = types.SimpleNamespace(GetSetting=lambda key: setting)
    assert send.timeline_rate(timeline) == expected


def test_unreadable_timeline_rate_is_a_clear_error(send):
    with pytest.raises(send.SendError, match="frame rate ''"):
        send.timeline_rate(types.SimpleNamespace(GetSetting=lambda key: ""))


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_broken_config_file_is_named(send, tmp_path, text):
    """A hand-edited stereofoley_config.json that does not parse as settings is one clear line naming the file."""
    (tmp_path / send.CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(send.SendError, match=r"stereofoley_config\.json is not a JSON object of settings"):
        send.load_config(tmp_path)


def test_clips_are_told_apart_by_unique_id(send, tmp_path, engine_render):
    """Twins (same name, start and duration) on V1 and V2, and an audio clip like them: only the selected V1 clip
    counts. The fake hands out a fresh handle per call, as Resolve does, so only GetUniqueId() can match them."""
    car = fr.TimelineItem("car", START + 48, 36, str(tmp_path / "car.mp4"))
    twin = fr.TimelineItem("car", START + 48, 36, str(tmp_path / "car.mp4"))
    dialog = fr.TimelineItem("car", START + 48, 36, str(tmp_path / "car.wav"))  # on an audio track
    timeline = fr.Timeline("Edit 1", RATE, START, [[car], [twin]], selected=[car, dialog])
    how, chosen = send.find_selection(timeline, clip_color="Orange", marker_name="foley")
    assert how == "selected" and [c.GetUniqueId() for c in chosen] == [car.uid]
    resolve = fr.Resolve(fr.Project(timeline))
    run(send, resolve, tmp_path, FinishedEngine(timeline, engine_render.wav))
    job = json.loads((tmp_path / "work" / "job.json").read_text())
    assert job["select"]["tracks"] == ["V1"] and job["select"]["clips"] == ["car"]


class RunningEngine:
    """An engine that keeps running until its cancel file appears, then writes "cancelled" (as `send
    --cancel-file` does); `on_poll` runs at each poll (a test's user acting meanwhile)."""

    def __init__(self, on_poll=None, confirms=True):
        self.argv, self.polls, self.on_poll, self.confirms = None, 0, on_poll, confirms

    def __call__(self, argv):
        self.argv = argv
        self.status_path = Path(argv[argv.index("--status-file") + 1])
        self.cancel_path = Path(argv[argv.index("--cancel-file") + 1])
        write_status(self.status_path, "running", progress=0.25, message="tracking")
        return self

    def poll(self):
        self.polls += 1
        if self.on_poll:
            self.on_poll(self)
        if self.confirms and self.cancel_path.exists():
            write_status(self.status_path, "cancelled", progress=0.25, message="cancelled")
        return None


def test_the_user_cancels_and_nothing_is_placed(send, tmp_path):
    timeline, _ = make_timeline(tmp_path)
    resolve = fr.Resolve(fr.Project(timeline))
    engine = RunningEngine(on_poll=lambda e: e.polls == 3 and e.cancel_path.write_text(""))  # the user, on the 3rd poll
    with pytest.raises(send.SendError, match="cancelled; nothing placed"):
        run(send, resolve, tmp_path, engine)
    assert engine.cancel_path == tmp_path / "work" / "cancel" and 3 <= engine.polls <= 4
    assert not resolve.project.media_pool.appended and ("AddTrack", "audio", "stereo") not in timeline.calls


def test_a_cancel_the_engine_never_confirms_ends_after_the_grace_period(send, tmp_path):
    timeline, _ = make_timeline(tmp_path)
    resolve = fr.Resolve(fr.Project(timeline))
    now = [1000.0]
    engine = RunningEngine(on_poll=lambda e: e.polls == 2 and e.cancel_path.write_text(""), confirms=False)

    def sleep(s):
        now[0] += 1.0

    cfg = dict(send.DEFAULTS, poll_interval_s=1.0)
    with pytest.raises(send.SendError, match=r"cancelled; the engine did not confirm within 20 s"):
        send.send_selected(resolve, config=cfg, work_dir=tmp_path / "work", log=lambda m: None, start=engine, sleep=sleep, clock=lambda: now[0])
    assert 20 <= now[0] - 1002.0 <= 22  # asked at t = 1002, gave up once 20 s had passed
    assert not resolve.project.media_pool.appended


def test_running_the_script_again_cancels_the_waiting_send(send, tmp_path, engine_render):
    """The whole Scripts-menu flow, twice: the first run holds WORK/send.lock (with a heartbeat) while it waits; a
    second run finds it, writes that send's cancel file and returns; the first then stops and places nothing."""
    timeline, _ = make_timeline(tmp_path)
    resolve = fr.Resolve(fr.Project(timeline))
    send.set_resolve(resolve)
    script_dir = tmp_path / "scripts"
    script_dir.mkdir()
    (script_dir / send.CONFIG_NAME).write_text(json.dumps({"work_dir": str(tmp_path / "sends"), "poll_interval_s": 0}))
    first_log, second_log, second_code = [], [], []
    lock = tmp_path / "sends" / "send.lock"

    def user_runs_it_again(engine):
        if engine.polls == 2:
            assert json.loads(lock.read_text())["work_dir"] == str(engine.cancel_path.parent)
            second_code.append(send.main(script_dir=script_dir, log=second_log.append, start=RunningEngine()))

    first = RunningEngine(on_poll=user_runs_it_again)
    code = send.main(script_dir=script_dir, log=first_log.append, start=first)
    assert second_code == [0] and second_log == [f"StereoFoley: asked the send in {first.cancel_path.parent} to cancel"]
    assert code == 1 and first_log[-1] == "StereoFoley: cancelled; nothing placed"
    assert not resolve.project.media_pool.appended and not lock.exists()  # the lock went with the send

    # A lock left by a send that died (no heartbeat for over 30 s) does not stop the next one.
    lock.write_text(json.dumps({"work_dir": str(tmp_path / "sends" / "old"), "beat": 1.0}))
    third = FinishedEngine(timeline, engine_render.wav)
    assert send.main(script_dir=script_dir, log=lambda m: None, start=third, clock=lambda: 1000.0) == 0
    assert third.argv is not None and len(resolve.project.media_pool.appended) == 1 and not lock.exists()


def test_python_and_lua_share_defaults_and_config(tmp_path):
    python, lua = PythonScript(), LuaScript()
    assert lua.DEFAULTS == python.DEFAULTS and lua.CONFIG_NAME == python.CONFIG_NAME
    settings = {"engine": ["/opt/sf env/bin/python", "-m", "stereofoley.cli"], "clip_color": "Teal", "flag_color": "Green", "mode": "timeline", "timeout_s": 12.5}
    (tmp_path / python.CONFIG_NAME).write_text(json.dumps(settings))
    assert lua.load_config(tmp_path) == python.load_config(tmp_path) == dict(python.DEFAULTS, **settings)


@pytest.mark.parametrize("setting", ["23.976", "23.98", "24", "25", "29.97", "29.97 DF", "30", "47.952", "48", "50", "59.94", "59.94 DF", "60", "12.5", "119.88"])
def test_both_scripts_read_frame_rates_as_the_engine_does(setting):
    """One rule for the rate in the engine (timemap.rate_fraction on the exported OTIO's rate) and both scripts."""
    from stereofoley.timeline.timemap import rate_fraction

    timeline = types.SimpleNamespace(GetSetting=lambda key: setting)
    expected = float(rate_fraction(float(setting.split()[0])))
    assert PythonScript().timeline_rate(timeline) == pytest.approx(expected, rel=1e-15)
    assert LuaScript().timeline_rate(timeline) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("via", ["Resolve", "fusionscript"])
def test_lua_script_runs_from_the_scripts_menu_with_a_real_engine_process(tmp_path, monkeypatch, engine_render, via):
    """The Lua file itself, as Resolve runs it (global Resolve()), starting the engine as a real child process
    through its runner file; the engine here is a small stand-in script (the real one: the end-to-end test)."""
    timeline, items = make_timeline(tmp_path, selected=None)
    resolve = fr.Resolve(fr.Project(timeline))
    fake_engine = tmp_path / "engine.py"
    fake_engine.write_text(textwrap.dedent(f"""
        import json, sys
        job = json.load(open(sys.argv[2]))
        clip = {{"id": "c0", "wav": {str(engine_render.wav)!r}, "record_start_s": job["select"]["range_s"][0], "record_duration_frames": 36}}
        json.dump({{"version": 1, "job_id": "j", "state": "done", "progress": 1.0, "results": [], "report": {{"clips": [clip]}}}}, open(sys.argv[4], "w"))
    """))
    monkeypatch.setenv("STEREOFOLEY_ENGINE", f"{sys.executable} {fake_engine}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lua = LuaScript()
    lua.set_resolve(resolve, via=via)
    lua.lua.execute(f"dofile({str(LUA_SCRIPT)!r})")
    (infos,) = resolve.project.media_pool.appended
    assert [(i["recordFrame"], i["endFrame"]) for i in infos] == [(items[1].GetStart(), 35)]  # the Orange clip
    (work,) = (tmp_path / "home" / "StereoFoley").glob("send-*")
    assert (work / "engine.exit").read_text().strip() == "0" and not (tmp_path / "home" / "StereoFoley" / "send.lock").exists()
