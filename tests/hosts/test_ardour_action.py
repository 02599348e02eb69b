"""The Ardour editor action (plugin/ardour/StereoFoley_import_result.lua).

Its import calls (Editor:do_import needs the GUI) run under lupa against a fake of the few Ardour Lua bindings it
uses; its plan loading and automation writing also run inside the real Ardour (ardour7-lua, headless), and the
saved session must hold exactly the automation the engine's own session writer writes."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import lupa
import pytest
from stereofoley import cli
from stereofoley.hosts.ardour import superclock

from .conftest import ARDOUR_LUA, needs_ardour, render_edit

ACTION = Path(__file__).resolve().parents[2] / "plugin" / "ardour" / "StereoFoley_import_result.lua"


BEAT_TICKS_PER_S = 1920 * 2  # Ardour's 1920 ticks a beat, at the new session's 120 bpm


def _events(root: ET.Element, route_name: str, automation_id: str) -> list[tuple[int, float]]:
    """(superclock, value) events; events in musical time ("b" ticks) converted at 120 bpm."""
    route = next(r for r in root.iter("Route") if r.get("name") == route_name)
    node = next(a for a in route.iter("AutomationList") if a.get("automation-id") == automation_id)
    out = []
    for t, v in (line.split() for line in node.find("events").text.split("\n") if line):
        ticks = int(t[1:]) if t[0] == "a" else round(int(t[1:]) * 282_240_000 / BEAT_TICKS_PER_S)
        out.append((ticks, float(v)))
    return out


@pytest.fixture(scope="module")
def edit_and_plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("action")
    edit = render_edit(folder, "dry")
    plan = folder / "plan.lua"
    assert cli.main(["ardour-session", str(edit.report), "--plan", str(plan)]) == 0
    assert cli.main(["ardour-session", str(edit.report), "--out", str(folder / "ref"), "--name", "ref"]) == 0
    return edit, plan, ET.parse(folder / "ref" / "ref.ardour").getroot()


class FakeArdour:
    """The Ardour Lua bindings the action calls, recording what it does."""

    def __init__(self, lua: lupa.LuaRuntime) -> None:
        self.lua = lua
        self.imports: list[tuple[str, str, int, str | None]] = []
        self.tracks: list[dict] = []
        lua.execute("""
        function make_fake(recorder)
          local F = {}
          local function control(track, key)
            return { alist = function(self) return { add = function(_, when, value, a, b)
                       recorder.add(track.name, key, when.sample, value) end } end,
                     set_automation_state = function(self, s) recorder.state(track.name, key, s) end,
                     set_value = function(self, v, d) recorder.state(track.name, key .. "=" .. tostring(v), 0) end }
          end
          function F.new_track(name)
            local t = { name = name }
            t.id = "id" .. recorder.count()
            function t:to_stateful() return { id = function() return { to_s = function() return t.id end } end } end
            function t:to_track() return setmetatable({ isnil = function() return false end }, { __index = t }) end
            function t:set_name(n) recorder.rename(t.name, n); t.name = n end
            function t:amp() return { gain_control = function() return control(t, "gain") end } end
            function t:pan_azimuth_control() return control(t, "pan") end
            function t:mute_control() return control(t, "mute") end
            return t
          end
          F.routes = {}
          F.Session = { get_routes = function(self)
            return { iter = function() local i = 0; return function() i = i + 1; return F.routes[i] end end } end }
          F.Editor = { do_import = function(self, files, how, mode, q, a, b, pos, pi, track, markers)
            local wav = files[1]
            recorder.import(wav, mode, pos.sample, track and track.name or nil)
            if mode == "as-track" then table.insert(F.routes, F.new_track(wav:match("([^/]+)%.wav$"))) end
          end }
          return F
        end
        """)
        recorder = lua.table_from({
            "add": lambda track, key, sample, value: self.tracks.append({"track": track, "key": key, "sample": int(sample), "value": value}),
            "state": lambda track, key, state: self.tracks.append({"track": track, "key": key, "state": state}),
            "rename": lambda old, new: self.tracks.append({"rename": (old, new)}),
            "import": lambda wav, mode, sample, track: self.imports.append((wav, mode, int(sample), track)),
            "count": lambda: len(self.imports),
        })
        fake = lua.globals().make_fake(recorder)
        g = lua.globals()
        g.Session, g.Editor = fake.Session, fake.Editor
        lua.execute("""
          C = { StringVector = function() local v = {}; function v:push_back(x) table.insert(self, x) end; return v end }
          Editing = { ImportDistinctFiles = "distinct", ImportAsTrack = "as-track", ImportToTrack = "to-track" }
          ARDOUR = { SrcQuality = { SrcBest = 0 }, MidiTrackNameSource = { SMFTrackName = 0 },
                     MidiTempoMapDisposition = { SMFTempoIgnore = 0 }, AutoState = { Play = "Play" },
                     PluginInfo = function() return nil end, Track = function() return nil end }
          Temporal = { timepos_t = function(s) return { sample = s } end }
          PBD = { GroupControlDisposition = { NoGroup = 0 } }
          function ardour(t) end
        """)


def test_action_imports_at_the_timecode_with_the_engine_automation(edit_and_plan):
    edit, plan_path, reference = edit_and_plan
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    fake = FakeArdour(lua)
    module = lua.execute(ACTION.read_text())
    plan, err = module.load_plan(str(plan_path))
    assert err is None
    clips, objects = module.apply(plan, lua.table_from({"mute_mix": True}))
    assert (clips, objects) == (2, 3)
    mixes = [i for i in fake.imports if i[0].endswith(("clip0.wav", "clip1.wav"))]
    # the first mix makes the "StereoFoley mix" track, the second lands on it; each at its clip's first sample
    assert [(Path(w).name, mode, s, t) for w, mode, s, t in mixes] == [
        ("clip0.wav", "as-track", edit.starts[0], None), ("clip1.wav", "to-track", edit.starts[1], "StereoFoley mix")]
    stems = [i for i in fake.imports if ".obj" in i[0]]
    assert [(Path(w).name, s) for w, _, s, _ in stems] == [("clip0.obj1.wav", edit.starts[0]), ("clip0.obj2.wav", edit.starts[0]),
                                                             ("clip1.obj1.wav", edit.starts[1])]
    # automation: the same points (timeline samples, Ardour values) the session writer puts in a session
    for track, route in (("clip 0 object 1", "clip 0 1 object 1"), ("clip 0 object 2", "clip 0 2 object 2"), ("clip 1 object 1", "clip 1 1 object 1")):
        for key, automation_id in (("gain", "gain"), ("pan", "pan-azimuth")):
            got = [(superclock(p["sample"]), p["value"]) for p in fake.tracks if p.get("track") == track and p.get("key") == key and "sample" in p]
            want = _events(reference, route, automation_id)
            assert [g[0] for g in got] == [w[0] for w in want]
            assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-8)
            assert {"track": track, "key": key, "state": "Play"} in fake.tracks
    assert {"track": "StereoFoley mix", "key": "mute=1", "state": 0} in fake.tracks


def test_plan_is_data_only(tmp_path):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    FakeArdour(lua)
    module = lua.execute(ACTION.read_text())
    evil = tmp_path / "evil.lua"
    evil.write_text("os.execute('touch " + str(tmp_path / "pwned") + "')\nreturn {version = 1, clips = {}}\n")
    plan, err = module.load_plan(str(evil))
    assert plan is None and "not a StereoFoley import plan" in err
    assert not (tmp_path / "pwned").exists()
    assert module.shell_quote("it's") == "'it'\\''s'"


@needs_ardour
def test_action_automation_in_the_real_ardour(edit_and_plan, tmp_path):
    """ardour7-lua runs the action's own load_plan and automate on a real track; Ardour saves the session."""
    _, plan_path, reference = edit_and_plan
    script = tmp_path / "run.lua"
    script.write_text(f"""
function ardour(t) end
local M = dofile({str(ACTION)!r})
AudioEngine:set_backend("None (Dummy)", "", "")
local s = create_session({str(tmp_path / 'real')!r}, "real", 48000)
local plan = assert(M.load_plan({str(plan_path)!r}))
local obj, clip = plan.clips[1].objects[2], plan.clips[1]
local t = s:new_audio_track(1, 2, nil, 1, "obj", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
print("points", M.automate(t:amp():gain_control(), obj.gain, clip.position), M.automate(t:pan_azimuth_control(), obj.pan, clip.position))
s:save_state("", false, false, false, false, false)
close_session()
print("DONE")
""")
    proc = subprocess.run([ARDOUR_LUA, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert "DONE" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
    saved = ET.parse(tmp_path / "real" / "real.ardour").getroot()
    # gain lands in audio time, to the sample; Ardour 7 keeps a new track's pan lane in musical time (BeatTime),
    # so pan points are placed to its tick, 1/3840 s at 120 bpm (the session writer writes pan in audio time)
    for automation_id, tolerance_samples in (("gain", 0), ("pan-azimuth", 48_000 / BEAT_TICKS_PER_S / 2)):
        got, want = _events(saved, "obj", automation_id), _events(reference, "clip 0 2 object 2", automation_id)
        assert len(got) == len(want)
        assert max(abs(g[0] - w[0]) for g, w in zip(got, want)) / superclock(1) <= tolerance_samples
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-6)
