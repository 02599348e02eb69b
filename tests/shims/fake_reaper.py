"""A fake `reaper` ReaScript API for running the shipped Lua scripts under a real Lua interpreter (lupa).

It implements the subset the scripts use, with REAPER's documented signatures: each function declares its
argument types and raises (failing the Lua script) when called with the wrong ones, and every call is recorded.
State is plain Python objects the tests inspect: tracks, items, takes, envelopes with their points.
"""

from __future__ import annotations

import itertools
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import lupa
import soundfile

PLUGIN_REAPER = Path(__file__).resolve().parents[2] / "plugin" / "reaper"


class ApiMisuse(TypeError):
    """A script called the fake API with arguments REAPER would not accept."""


# Chunk names of the track envelopes, and their display names in a non-English REAPER (the names the
# scripts must not rely on: GetTrackEnvelopeByName takes the display name, which is localised).
ENVELOPE_DISPLAY_NAMES = {"VOLENV2": "Lautstärke", "PANENV2": "Panorama"}


@dataclass(eq=False)
class Envelope:
    chunk_name: str  # VOLENV2, PANENV2
    scaling_mode: int = 0
    points: list[tuple[float, float, int]] = field(default_factory=list)  # (time, value, shape)

    @property
    def name(self) -> str:
        return ENVELOPE_DISPLAY_NAMES[self.chunk_name]


@dataclass(eq=False)
class Track:
    name: str = ""
    selected: bool = False
    envelopes: dict[str, Envelope] = field(default_factory=dict)  # by chunk name: VOLENV2, PANENV2
    items: list["Item"] = field(default_factory=list)
    muted: bool = False
    chunk: str | None = None


@dataclass(eq=False)
class Source:
    filename: str
    kind: str = "WAVE"
    # A section source (kind "SECTION") wraps `parent`: it plays parent time offset_s .. offset_s + length_s,
    # backwards when reversed. Its own filename is "" (REAPER gives a section's file name through the parent).
    parent: "Source | None" = None
    section: tuple[float, float, bool] | None = None  # (offset_s, length_s, reversed)
    peaks: str = "missing"  # missing -> building -> built, by PCM_Source_BuildPeaks modes 0, 1..., 2
    peak_work_left: int = 0

    @property
    def channels(self) -> int:
        """Read from the file itself when it exists (as REAPER does), else 0 like an offline source."""
        try:
            return soundfile.info(self.filename).channels
        except (RuntimeError, OSError):
            return 0


@dataclass(eq=False)
class Take:
    item: "Item"
    info: dict[str, float] = field(default_factory=lambda: {"D_STARTOFFS": 0.0, "D_PLAYRATE": 1.0, "B_PPITCH": 0.0})
    name: str = ""
    source: Source | None = None


@dataclass(eq=False)
class Item:
    track: Track
    guid: str
    info: dict[str, float] = field(default_factory=lambda: {"D_POSITION": 0.0, "D_LENGTH": 0.0})
    takes: list[Take] = field(default_factory=list)
    selected: bool = False


# Argument kinds: python predicate and a name for messages.
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_integer(v: Any) -> bool:
    return _is_number(v) and float(v).is_integer()


KINDS: dict[str, Callable[[Any], bool]] = {
    "number": _is_number,
    "integer": _is_integer,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "project": lambda v: v == 0 or v is None,  # ReaProject*: 0 / nil for the current project
    "MediaTrack": lambda v: isinstance(v, Track),
    "MediaItem": lambda v: isinstance(v, Item),
    "MediaItem_Take": lambda v: isinstance(v, Take),
    "PCM_source": lambda v: isinstance(v, Source),
    "TrackEnvelope": lambda v: isinstance(v, Envelope),
    "function": lambda v: lupa.lua_type(v) == "function",
}


class FakeReaper:
    """The fake host. `lua` is the interpreter with `reaper` installed as a global."""

    def __init__(self, project_path: Path, *, os_name: str = "Other", run_processes: bool = False):
        self.project_path = Path(project_path)
        self.os_name = os_name
        self.run_processes = run_processes
        self.tracks: list[Track] = []
        self.extstate: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, tuple]] = []
        self.console: list[str] = []
        self.message_boxes: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.exec_commands: list[str] = []
        self.deferred: list[Any] = []
        self.toggle_states: dict[tuple[int, int], int] = {}
        self.clock_s = 1000.0
        self.script_path = ""
        self._guids = (f"{{00000000-0000-0000-0000-{n:012d}}}" for n in itertools.count(1))
        self.lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        self.lua.globals().reaper = self.lua.table_from(self._api())

    # ------------------------------------------------------------------------------ test-side helpers
    def add_track(self, name: str) -> Track:
        track = Track(name=name)
        self.tracks.append(track)
        return track

    def add_media_item(self, track: Track, media: str, *, position_s: float, length_s: float, offset_s: float = 0.0,
                       playrate: float = 1.0, name: str = "", selected: bool = True,
                       sections: tuple[tuple[float, float, bool], ...] = ()) -> Item:
        """An item playing `media`; `sections` wraps its source in section sources, innermost first."""
        item = Item(track=track, guid=next(self._guids), selected=selected)
        item.info.update(D_POSITION=position_s, D_LENGTH=length_s)
        source = Source(media, "VIDEO")
        for section in sections:
            source = Source("", "SECTION", parent=source, section=section)
        take = Take(item=item, name=name, source=source)
        take.info.update(D_STARTOFFS=offset_s, D_PLAYRATE=playrate)
        item.takes.append(take)
        track.items.append(item)
        return item

    def track_named(self, name: str) -> Track:
        matches = [t for t in self.tracks if t.name == name]
        if len(matches) != 1:
            raise AssertionError(f"expected one track named {name!r}, found {len(matches)}")
        return matches[0]

    def run_script(self, name: str, *, preamble: str = "") -> Any:
        self.script_path = str(PLUGIN_REAPER / name)
        code = Path(self.script_path).read_text(encoding="utf-8")
        return self.lua.execute(preamble + "\n" + code)

    def run_deferred(self, *, max_ticks: int = 100_000, tick_s: float = 0.05, between: Callable[[], None] | None = None) -> int:
        """Run the defer queue as REAPER's main loop would; `between` runs before each tick (the test's engine)."""
        ticks = 0
        while self.deferred and ticks < max_ticks:
            if between:
                between()
            fns, self.deferred = self.deferred, []
            for fn in fns:
                fn()
            self.clock_s += tick_s
            ticks += 1
        return ticks

    def called(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]

    # ----------------------------------------------------------------------------------------- the API
    def _api(self) -> dict[str, Any]:
        api: dict[str, Any] = {}

        def fn(name: str, *kinds: str, optional: int = 0):
            """Register a fake API function checking its argument kinds (the last `optional` may be omitted)."""

            def register(impl):
                def checked(*args):
                    if not (len(kinds) - optional <= len(args) <= len(kinds)):
                        raise ApiMisuse(f"reaper.{name} takes {len(kinds)} arguments, got {len(args)}: {args!r}")
                    for i, (kind, value) in enumerate(zip(kinds, args)):
                        if not KINDS[kind](value):
                            raise ApiMisuse(f"reaper.{name} argument {i + 1} must be {kind}, got {value!r}")
                    self.calls.append((name, args))
                    return impl(*args)

                api[name] = checked
                return impl

            return register

        @fn("get_action_context")
        def get_action_context():
            return (False, self.script_path, 0, 54321, -1, -1, -1, "")

        @fn("GetOS")
        def get_os():
            return self.os_name

        @fn("GetProjectPath", "string", optional=1)
        def get_project_path(_buf=""):
            return str(self.project_path)

        @fn("RecursiveCreateDirectory", "string", "integer")
        def recursive_create_directory(path, _ignored):
            Path(path).mkdir(parents=True, exist_ok=True)
            return 1

        @fn("time_precise")
        def time_precise():
            return self.clock_s

        @fn("defer", "function")
        def defer(f):
            self.deferred.append(f)

        @fn("ShowConsoleMsg", "string")
        def show_console_msg(msg):
            self.console.append(msg)

        @fn("ShowMessageBox", "string", "string", "integer")
        def show_message_box(msg, _title, _kind):
            self.message_boxes.append(msg)
            return 1

        @fn("GetExtState", "string", "string")
        def get_ext_state(section, key):
            return self.extstate.get((section, key), "")

        @fn("SetExtState", "string", "string", "string", "boolean")
        def set_ext_state(section, key, value, _persist):
            self.extstate[(section, key)] = value

        @fn("ExecProcess", "string", "integer")
        def exec_process(cmd, timeout_ms):
            if timeout_ms != -1:
                raise ApiMisuse(f"ExecProcess must not block REAPER: timeout {timeout_ms} (use -1)")
            self.exec_commands.append(cmd)
            if self.run_processes:
                self.processes.append(subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            return ""

        @fn("SetToggleCommandState", "integer", "integer", "integer")
        def set_toggle_command_state(section, cmd, state):
            self.toggle_states[(section, cmd)] = state
            return True

        @fn("RefreshToolbar2", "integer", "integer")
        def refresh_toolbar2(_section, _cmd):
            pass

        # --- items and takes
        def selected_items():
            return [i for t in self.tracks for i in t.items if i.selected]

        @fn("CountSelectedMediaItems", "project")
        def count_selected_media_items(_proj):
            return len(selected_items())

        @fn("GetSelectedMediaItem", "project", "integer")
        def get_selected_media_item(_proj, index):
            items = selected_items()
            return items[int(index)] if 0 <= index < len(items) else None

        @fn("GetActiveTake", "MediaItem")
        def get_active_take(item):
            return item.takes[0] if item.takes else None

        @fn("TakeIsMIDI", "MediaItem_Take")
        def take_is_midi(take):
            return take.source is not None and take.source.kind == "MIDI"

        @fn("GetMediaItemTake_Source", "MediaItem_Take")
        def get_media_item_take_source(take):
            return take.source

        @fn("GetMediaSourceParent", "PCM_source")
        def get_media_source_parent(source):
            return source.parent

        @fn("GetMediaSourceFileName", "PCM_source")
        def get_media_source_file_name(source):
            return source.filename

        @fn("PCM_Source_GetSectionInfo", "PCM_source")
        def pcm_source_get_section_info(source):
            if source.section is None:
                return (False, 0.0, 0.0, False)
            return (True, *source.section)

        @fn("PCM_Source_BuildPeaks", "PCM_source", "integer")
        def pcm_source_build_peaks(source, mode):
            # REAPER: mode 0 begins (0 = nothing to do), 1 runs (returns the percentage left), 2 finishes.
            if mode == 0:
                if source.peaks == "built":
                    return 0
                source.peaks, source.peak_work_left = "building", 100
                return 100
            if source.peaks != "building":
                raise ApiMisuse(f"PCM_Source_BuildPeaks mode {mode} without mode 0 first")
            if mode == 1:
                source.peak_work_left = max(0, source.peak_work_left - 30)
                return source.peak_work_left
            if mode == 2:
                if source.peak_work_left:
                    raise ApiMisuse("PCM_Source_BuildPeaks(src, 2) before mode 1 returned 0")
                source.peaks = "built"
                return 0
            raise ApiMisuse(f"PCM_Source_BuildPeaks mode {mode}")

        @fn("GetSetMediaItemInfo_String", "MediaItem", "string", "string", "boolean")
        def get_set_media_item_info_string(item, key, _value, set_new):
            if key != "GUID" or set_new:
                raise ApiMisuse(f"unexpected GetSetMediaItemInfo_String({key!r}, set={set_new})")
            return (True, item.guid)

        @fn("GetMediaItemInfo_Value", "MediaItem", "string")
        def get_media_item_info_value(item, key):
            return float(item.info[key])

        @fn("SetMediaItemInfo_Value", "MediaItem", "string", "number")
        def set_media_item_info_value(item, key, value):
            if key not in ("D_POSITION", "D_LENGTH"):
                raise ApiMisuse(f"unexpected item key {key!r}")
            item.info[key] = float(value)
            return True

        @fn("GetMediaItemTakeInfo_Value", "MediaItem_Take", "string")
        def get_media_item_take_info_value(take, key):
            return float(take.info[key])

        @fn("SetMediaItemTakeInfo_Value", "MediaItem_Take", "string", "number")
        def set_media_item_take_info_value(take, key, value):
            if key not in ("D_STARTOFFS", "D_PLAYRATE", "B_PPITCH"):
                raise ApiMisuse(f"unexpected take key {key!r}")
            take.info[key] = float(value)
            return True

        @fn("GetSetMediaItemTakeInfo_String", "MediaItem_Take", "string", "string", "boolean")
        def get_set_media_item_take_info_string(take, key, value, set_new):
            if key != "P_NAME":
                raise ApiMisuse(f"unexpected take string key {key!r}")
            if set_new:
                take.name = value
            return (True, take.name)

        @fn("GetMediaItem_Track", "MediaItem")
        def get_media_item_track(item):
            return item.track

        @fn("AddMediaItemToTrack", "MediaTrack")
        def add_media_item_to_track(track):
            item = Item(track=track, guid=next(self._guids))
            track.items.append(item)
            return item

        @fn("AddTakeToMediaItem", "MediaItem")
        def add_take_to_media_item(item):
            take = Take(item=item)
            item.takes.append(take)
            return take

        @fn("PCM_Source_CreateFromFile", "string")
        def pcm_source_create_from_file(path):
            return Source(path)

        @fn("SetMediaItemTake_Source", "MediaItem_Take", "PCM_source")
        def set_media_item_take_source(take, source):
            take.source = source
            return True

        # --- tracks
        @fn("CountTracks", "project")
        def count_tracks(_proj):
            return len(self.tracks)

        @fn("GetTrack", "project", "integer")
        def get_track(_proj, index):
            return self.tracks[int(index)] if 0 <= index < len(self.tracks) else None

        @fn("GetMediaSourceNumChannels", "PCM_source")
        def get_media_source_num_channels(source):
            return source.channels

        @fn("GetMediaTrackInfo_Value", "MediaTrack", "string")
        def get_media_track_info_value(track, key):
            if key != "IP_TRACKNUMBER":
                raise ApiMisuse(f"unexpected track key {key!r}")
            return float(self.tracks.index(track) + 1)

        @fn("SetMediaTrackInfo_Value", "MediaTrack", "string", "number")
        def set_media_track_info_value(track, key, value):
            if key != "B_MUTE":
                raise ApiMisuse(f"unexpected track key {key!r}")
            track.muted = bool(value)
            return True

        @fn("GetTrackName", "MediaTrack")
        def get_track_name(track):
            return (True, track.name)

        @fn("InsertTrackAtIndex", "integer", "boolean")
        def insert_track_at_index(index, _defaults):
            self.tracks.insert(int(index), Track())

        @fn("GetSetMediaTrackInfo_String", "MediaTrack", "string", "string", "boolean")
        def get_set_media_track_info_string(track, key, value, set_new):
            if key != "P_NAME":
                raise ApiMisuse(f"unexpected track string key {key!r}")
            if set_new:
                track.name = value
            return (True, track.name)

        @fn("GetTrackStateChunk", "MediaTrack", "string", "boolean")
        def get_track_state_chunk(track, _buf, _undo):
            return (True, track_chunk(track))

        @fn("SetTrackStateChunk", "MediaTrack", "string", "boolean")
        def set_track_state_chunk(track, chunk, _undo):
            set_chunk(track, chunk)
            return True

        @fn("SetOnlyTrackSelected", "MediaTrack")
        def set_only_track_selected(track):
            for t in self.tracks:
                t.selected = t is track

        @fn("Main_OnCommand", "integer", "integer")
        def main_on_command(command, _flag):
            # The actions that show envelopes toggle and act on the selected tracks: the scripts must not use them.
            raise ApiMisuse(f"the scripts must not run actions (Main_OnCommand({command}))")

        # --- envelopes
        @fn("GetTrackEnvelopeByName", "MediaTrack", "string")
        def get_track_envelope_by_name(track, name):
            return next((e for e in track.envelopes.values() if e.name == name), None)

        @fn("GetTrackEnvelopeByChunkName", "MediaTrack", "string")
        def get_track_envelope_by_chunk_name(track, name):
            if not name.startswith("<"):
                raise ApiMisuse(f"GetTrackEnvelopeByChunkName takes '<VOLENV2' etc., got {name!r}")
            return track.envelopes.get(name[1:])

        @fn("GetEnvelopeScalingMode", "TrackEnvelope")
        def get_envelope_scaling_mode(env):
            return env.scaling_mode

        @fn("ScaleToEnvelopeMode", "integer", "number")
        def scale_to_envelope_mode(mode, value):
            return fader_scale(value) if mode == 1 else value

        @fn("DeleteEnvelopePointRange", "TrackEnvelope", "number", "number")
        def delete_envelope_point_range(env, t0, t1):
            env.points = [p for p in env.points if not (t0 <= p[0] < t1)]
            return True

        @fn("InsertEnvelopePoint", "TrackEnvelope", "number", "number", "integer", "number", "boolean", "boolean")
        def insert_envelope_point(env, time, value, shape, _tension, _selected, _no_sort):
            env.points.append((float(time), float(value), int(shape)))
            return True

        @fn("Envelope_SortPoints", "TrackEnvelope")
        def envelope_sort_points(env):
            env.points.sort(key=lambda p: p[0])
            return True

        # --- UI, undo, dialogs
        for name in ("UpdateArrange", "Undo_BeginBlock"):
            fn(name)(lambda: None)
        fn("PreventUIRefresh", "integer")(lambda _n: None)
        fn("Undo_EndBlock", "string", "integer")(lambda _d, _f: None)

        @fn("GetUserFileNameForRead", "string", "string", "string")
        def get_user_file_name_for_read(_initial, _title, _ext):
            return (False, "")

        return api


def track_chunk(track: Track) -> str:
    """The track's state chunk as REAPER writes it, for the parts the fake models: name, envelopes, items."""
    lines = ["<TRACK", f'NAME "{track.name}"', f"MUTESOLO {int(track.muted)} 0 0"]
    for env in track.envelopes.values():
        lines += [f"<{env.chunk_name}", "ACT 1 -1", "VIS 1 1 1"] + (["VOLTYPE 1"] if env.scaling_mode == 1 else [])
        lines += [f"PT {t!r} {v!r} {shape}" for t, v, shape in env.points] + [">"]
    for item in track.items:
        lines += ["<ITEM", f"POSITION {item.info['D_POSITION']!r}", f"LENGTH {item.info['D_LENGTH']!r}", f"IGUID {item.guid}", ">"]
    return "\n".join(lines + [">"]) + "\n"


def set_chunk(track: Track, chunk: str) -> None:
    """Apply a state chunk: REAPER replaces the track's envelopes with the chunk's. Items are not modelled here,
    so a chunk must keep every item the track has (a script that drops them would delete the user's items)."""
    import rpp

    track.chunk = chunk
    root = rpp.loads(chunk)
    if root.tag != "TRACK":
        raise ApiMisuse(f"SetTrackStateChunk needs a <TRACK chunk, got <{root.tag}")
    guids = [e.find("IGUID")[1] for e in root.findall("ITEM") if e.find("IGUID") is not None]
    if track.items and guids != [i.guid for i in track.items]:
        raise ApiMisuse(f"the chunk would change the track's items: {guids} != {[i.guid for i in track.items]}")
    envelopes = {}
    for name in ENVELOPE_DISPLAY_NAMES:
        block = root.find(name)
        if block is None:
            continue
        old = track.envelopes.get(name) or Envelope(name)
        old.scaling_mode = 1 if block.find("VOLTYPE") is not None and block.find("VOLTYPE")[1] == "1" else 0
        old.points = [(float(p[1]), float(p[2]), int(p[3]) if len(p) > 3 else 0) for p in block.findall("PT")]
        envelopes[name] = old
    track.envelopes = envelopes


def fader_scale(gain: float) -> float:
    """A stand-in for REAPER's fader-shaped volume envelope scaling (mode 1): any monotone map will do, the
    tests only check the scripts route values through ScaleToEnvelopeMode with the envelope's own mode."""
    return gain ** 0.25
