"""An Ardour 7 session from a render result: the mix on a stereo track, and one mono track per object with its
source and the engine's pan and gain as automation (state Play), each region exactly at the clip's timeline
sample.

Headless Ardour cannot import audio files (no import call outside the GUI editor), so the engine writes the
`.ardour` XML itself, in the shape Ardour 7.3 saves (sessions version 7002): Sources (the WAVs, copied into
`interchange/NAME/audiofiles/`), whole-file Regions, one Playlist per track, Routes with the Amp's `gain` and the
Pannable's `pan-azimuth` AutomationLists. Times are Ardour's audio time ("a" + superclock ticks, 282 240 000 a
second). `ardour7-export` renders such a session through the master bus, and `ardour7-lua` loads it (tests).

Mapping (checked against the real Ardour in tests/hosts/test_ardour.py):
- pan: Ardour's mono panner ("Equal Power Stereo", position 0 = left, 1 = right) has its own -3 dB law
  (L = (1-p)(s(1-p)+1-s), R = p(sp+1-s), s = -0.8318); each pan point is mapped to the position whose
  right/left ratio equals the engine's pan law, so the image (ILD) is the engine's.
- gain: Ardour's gain automation is a linear coefficient (at most 2, +6 dB); points are added wherever the
  engine's dB-linear curve changes by more than GAIN_STEP_DB, so any interpolation between them stays close.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from .. import SAMPLE_RATE_HZ
from ..spatial.automation import Curve
from ..errors import InvalidParameter, OutputExists
from ..files import write_text_atomic
from ..results import ResultClip
from ..spatial.dsp import pan_gains

SUPERCLOCK_PER_S = 282_240_000  # Ardour 7's superclock rate ("a" times in a session file)
SESSION_VERSION = "7002"  # Ardour 7.3
ARDOUR_PAN_SCALE = -0.831783138  # Panner1in2out's -3 dB law
MAX_GAIN = 2.0  # Ardour's gain control upper bound (+6.02 dB)
GAIN_STEP_DB = 0.5  # densify gain automation to steps of at most this
OSC_PROTOCOL = "Open Sound Control (OSC)"
DEFAULT_OSC_PORT = 3819


@dataclass(frozen=True)
class SessionTrack:
    name: str
    wav: Path
    channels: int  # 1: an object (panned), 2: the stereo mix (panner bypassed)
    position_sample: int  # timeline sample of the region's first sample
    length_samples: int
    pan: Curve | None = None  # engine pan, times in seconds from the region start
    gain_db: Curve | None = None
    muted: bool = False


@dataclass(frozen=True)
class Session:
    name: str
    tracks: tuple[SessionTrack, ...]
    osc: bool = False  # activate Ardour's OSC control surface (UDP 3819) when the session loads
    live: bool = False  # automation written but left Off, so OSC (the live preview) drives pan and gain
    sample_rate_hz: int = SAMPLE_RATE_HZ

    @property
    def end_sample(self) -> int:
        return max((t.position_sample + t.length_samples for t in self.tracks), default=0)


def session_from_results(name: str, clips: Sequence[ResultClip], *, objects: bool = True, mute_mix: bool | None = None,
                         osc: bool = False, live: bool = False) -> Session:
    """One "StereoFoley mix" stereo track with every clip's mix, then a track per clip object with a source.
    The mix is muted when object tracks are there (they reproduce it), unless mute_mix says otherwise."""
    if not clips:
        raise InvalidParameter("an Ardour session needs at least one clip")
    tracks = []
    object_tracks = []
    for clip in clips:
        if objects:
            for k, obj in enumerate(clip.objects):
                if obj.source_wav is None:
                    continue
                n = _frames(obj.source_wav)
                object_tracks.append(SessionTrack(
                    name=f"{clip.name} {k + 1} {obj.name}", wav=obj.source_wav, channels=1,
                    position_sample=clip.record_start_sample, length_samples=min(n, clip.samples) if n else clip.samples,
                    pan=obj.pan, gain_db=obj.gain_db))
    mute = bool(object_tracks) if mute_mix is None else mute_mix
    for clip in clips:
        tracks.append(SessionTrack(name="StereoFoley mix", wav=clip.wav, channels=2, position_sample=clip.record_start_sample,
                                   length_samples=clip.samples, muted=mute))
    return Session(name=name, tracks=tuple(tracks + object_tracks), osc=osc or live, live=live)


def _frames(path: Path) -> int:
    return int(soundfile.info(str(path)).frames)


def ardour_pan_position(pan: np.ndarray | float, law: str = "constant_power") -> np.ndarray:
    """Ardour panner positions (0..1) whose right/left gain ratio equals the engine's at `pan` (-1..1)."""
    left, right = pan_gains(np.asarray(pan, dtype=np.float64), law)
    angle = np.arctan2(right, left)  # 0 (left) .. pi/2 (right), monotonic in pan
    angles, positions = _ardour_angle_table()
    return np.interp(angle, angles, positions)


@functools.lru_cache(maxsize=1)
def _ardour_angle_table() -> tuple[np.ndarray, np.ndarray]:
    p = np.linspace(0.0, 1.0, 20001)
    a_left, a_right = ardour_pan_gains(p)
    return np.arctan2(a_right, a_left), p


def ardour_pan_gains(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ardour 7's Panner1in2out gains at a position 0 (left) .. 1 (right)."""
    p = np.asarray(position, dtype=np.float64)
    s = ARDOUR_PAN_SCALE
    return (1.0 - p) * (s * (1.0 - p) + 1.0 - s), p * (s * p + 1.0 - s)


def gain_points(curve: Curve, *, step_db: float = GAIN_STEP_DB) -> tuple[np.ndarray, np.ndarray]:
    """(times s, linear gain) with extra points so consecutive points differ by at most step_db."""
    times, values = [float(curve.times_s[0])], [float(curve.values[0])]
    for t0, t1, v0, v1 in zip(curve.times_s[:-1], curve.times_s[1:], curve.values[:-1], curve.values[1:]):
        n = max(1, int(math.ceil(abs(v1 - v0) / step_db)))
        for j in range(1, n + 1):
            times.append(float(t0 + (t1 - t0) * j / n))
            values.append(float(v0 + (v1 - v0) * j / n))
    gain = np.minimum(10.0 ** (np.asarray(values) / 20.0), MAX_GAIN)
    return np.asarray(times), gain


def superclock(sample: int, sample_rate_hz: int = SAMPLE_RATE_HZ) -> int:
    """A sample index as Ardour superclock ticks (exact for 48 kHz: 5880 ticks a sample)."""
    ticks, rem = divmod(int(sample) * SUPERCLOCK_PER_S, sample_rate_hz)
    if rem:
        raise InvalidParameter(f"sample rate {sample_rate_hz} Hz does not divide Ardour's superclock rate")
    return ticks


def _a(sample: int, rate: int) -> str:
    return f"a{superclock(sample, rate)}"


@dataclass
class _Ids:
    next_id: int = 100
    names: set = field(default_factory=set)

    def __call__(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def unique(self, name: str) -> str:
        base, k = name, 1
        while name in self.names:
            k += 1
            name = f"{base} {k}"
        self.names.add(name)
        return name


def session_xml(session: Session, media_names: dict[Path, str]) -> str:
    """The `.ardour` file for `session`; media_names maps each WAV to its file name in the session's audiofiles."""
    rate = session.sample_rate_hz
    ids = _Ids()
    root = ET.Element("Session", {"version": SESSION_VERSION, "name": session.name, "sample-rate": str(rate),
                                  "session-range-is-free": "0"})
    ET.SubElement(root, "ProgramVersion", {"created-with": "StereoFoley", "modified-with": "StereoFoley"})
    ET.SubElement(root, "EngineHints", {"backend": "Dummy", "input-device": "Silence", "output-device": "Silence"})
    config = ET.SubElement(root, "Config")
    for key, value in (("native-file-data-format", "FormatFloat"), ("native-file-header-format", "WAVE"),
                       ("use-region-fades", "0"), ("use-transport-fades", "0"), ("auto-return", "0")):
        ET.SubElement(config, "Option", {"name": key, "value": value})
    ET.SubElement(root, "Metadata")
    sources = ET.SubElement(root, "Sources")
    ET.SubElement(root, "TriggerBindings")
    regions = ET.SubElement(root, "Regions")
    ET.SubElement(root, "Selection")
    locations = ET.SubElement(root, "Locations")
    ET.SubElement(locations, "Location", {"id": ids(), "name": "session", "start": _a(0, rate),
                                          "end": _a(session.end_sample, rate), "flags": "IsSessionRange",
                                          "locked": "0", "timestamp": "0", "cue": "0"})
    ET.SubElement(root, "Bundles")
    ET.SubElement(root, "VCAManager")
    routes = ET.SubElement(root, "Routes")
    playlists = ET.SubElement(root, "Playlists")
    ET.SubElement(root, "UnusedPlaylists")
    ET.SubElement(root, "RouteGroups")
    click = ET.SubElement(root, "Click")
    click_io = ET.SubElement(click, "IO", {"name": "Click", "id": ids(), "direction": "Output", "default-type": "audio"})
    for c in range(2):
        ET.SubElement(ET.SubElement(click_io, "Port", {"type": "audio", "name": f"Click/audio_out {c + 1}"}),
                      "Connection", {"other": f"system:playback_{c + 1}"})
    click_amp = ET.SubElement(click, "Processor", {"id": ids(), "name": "Amp", "active": "1", "user-latency": "0",
                                                   "use-user-latency": "0", "type": "amp"})
    ET.SubElement(ET.SubElement(click_amp, "Automation"), "AutomationList", {
        "automation-id": "gain", "id": ids(), "interpolation-style": "Exponential", "time-domain": "AudioTime", "state": "Off"})
    ET.SubElement(click_amp, "Controllable", {"name": "gaincontrol", "id": ids(), "flags": "GainLike", "value": "1"})
    speakers = ET.SubElement(root, "Speakers")
    for azimuth in ("240", "120"):
        ET.SubElement(speakers, "Speaker", {"azimuth": azimuth, "elevation": "0", "distance": "1"})
    master = _route(routes, ids, "Master", inputs=2, order=0, master=True)
    master_in = [f"Master/audio_in {c + 1}" for c in range(2)]
    source_ids: dict[tuple[Path, int], str] = {}
    by_route: dict[str, list[SessionTrack]] = {}
    for track in session.tracks:  # tracks of the same name and width share a route (the mix, clip after clip)
        by_route.setdefault(f"{track.name}/{track.channels}", []).append(track)
    for order, group in enumerate(by_route.values(), start=1):
        first = group[0]
        name = ids.unique(first.name)
        route_id = ids()
        playlist_id = ids()
        route = _route(routes, ids, name, inputs=first.channels, order=order, route_id=route_id,
                       playlist_id=playlist_id, outputs_to=master_in, muted=first.muted, pan_bypass=first.channels == 2)
        _connect(master, name, master_in)
        playlist = ET.SubElement(playlists, "Playlist", {"id": playlist_id, "name": name, "type": "audio",
                                                         "orig-track-id": route_id, "shared-with-ids": "", "frozen": "0",
                                                         "combine-ops": "0"})
        for track in group:
            chans = []
            for c in range(track.channels):
                key = (track.wav, c)
                if key not in source_ids:
                    source_ids[key] = ids()
                    ET.SubElement(sources, "Source", {"name": media_names[track.wav], "type": "audio", "flags": "",
                                                      "id": source_ids[key], "captured-for": "", "take-id": "",
                                                      "channel": str(c), "origin": "", "gain": "1"})
                chans.append(source_ids[key])
            attrs = _region_attrs(track, chans, rate)
            ET.SubElement(regions, "Region", dict(attrs, id=ids(), **{"whole-file": "1", "position": _a(0, rate),
                                                                      "length": f"{_a(track.length_samples, rate)}@{_a(0, rate)}"}))
            ET.SubElement(playlist, "Region", dict(attrs, id=ids()))
        if first.channels == 1:
            _automation(route, group, rate, ids, "Off" if session.live else "Play")
    protocols = ET.SubElement(root, "ControlProtocols")
    # address-only="0": Ardour replies to the port a message came from (its default sends feedback to port 8000)
    ET.SubElement(protocols, "Protocol", {"name": OSC_PROTOCOL, "active": "1" if session.osc else "0", "debugmode": "0",
                                          "address-only": "0", "remote-port": "8000", "banksize": "0", "striptypes": "31",
                                          "feedback": "0", "gainmode": "0", "send-page-size": "0", "plugin-page-size": "0"})
    tempo = ET.SubElement(root, "TempoMap", {"superclocks-per-second": str(SUPERCLOCK_PER_S)})
    ET.SubElement(ET.SubElement(tempo, "Tempos"), "Tempo", {
        "npm": "120", "enpm": "120", "note-type": "4", "type": "Tempo::Constant", "active": "1", "locked-to-meter": "0",
        "continuing": "0", "sclock": "0", "quarters": "0:0", "bbt": "1|1|0", "omega": "0"})
    ET.SubElement(ET.SubElement(tempo, "Meters"), "Meter", {"note-value": "4", "divisions-per-bar": "4", "sclock": "0",
                                                             "quarters": "0:0", "bbt": "1|1|0"})
    ET.SubElement(tempo, "MusicTimes")
    ET.SubElement(root, "IOPlugins")
    root.set("id-counter", str(ids.next_id + 1))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _region_attrs(track: SessionTrack, source_ids: list[str], rate: int) -> dict[str, str]:
    attrs = {"name": track.wav.stem, "type": "audio", "channels": str(track.channels), "start": _a(0, rate),
             "length": f"{_a(track.length_samples, rate)}@{_a(track.position_sample, rate)}",
             "position": _a(track.position_sample, rate),
             "sync-position": _a(0, rate), "ancestral-start": _a(0, rate), "ancestral-length": f"{_a(0, rate)}@{_a(0, rate)}",
             "whole-file": "0", "muted": "0", "opaque": "1", "locked": "0", "automatic": "0", "import": "0",
             "external": "0", "hidden": "0", "layering-index": "0", "stretch": "1", "shift": "1",
             "envelope-active": "0", "default-fade-in": "0", "default-fade-out": "0", "fade-in-active": "0",
             "fade-out-active": "0", "scale-amplitude": "1"}
    for c, sid in enumerate(source_ids):
        attrs[f"source-{c}"] = sid
        attrs[f"master-source-{c}"] = sid
    return attrs


def _route(routes: ET.Element, ids: _Ids, name: str, *, inputs: int, order: int, master: bool = False,
           route_id: str | None = None, playlist_id: str | None = None, outputs_to: list[str] | None = None,
           muted: bool = False, pan_bypass: bool = False) -> ET.Element:
    """A Route element with the children Ardour 7.3 saves for an audio track (or the master bus)."""
    attrs = {"version": SESSION_VERSION, "id": route_id or ids(), "name": name, "default-type": "audio",
             "strict-io": "1" if master else "0", "active": "1", "denormal-protection": "0",
             "meter-point": "MeterOutput" if master else "MeterPostFader", "disk-io-point": "DiskIOPreFader",
             "meter-type": "MeterK14" if master else "MeterPeak"}
    if master:
        attrs["volume-applies-to-output"] = "1"
    else:
        attrs.update({"audio-playlist": playlist_id, "saved-meter-point": "MeterPostFader", "alignment-choice": "Automatic",
                      "mode": "Normal"})
    route = ET.SubElement(routes, "Route", attrs)
    ET.SubElement(route, "PresentationInfo", {"order": str(order), "flags": "MasterOut,OrderSet" if master else "AudioTrack,OrderSet",
                                              "color": "0"})
    lists = {key: ids() for key in ("solo", "solo-iso", "solo-safe", "mute", "phase")}
    ET.SubElement(route, "Controllable", {"name": "solo", "id": ids(), "flags": "Toggle,RealTime", "value": "0", "self-solo": "0",
                                          "soloed-by-upstream": "0", "soloed-by-downstream": "0"})
    ET.SubElement(route, "Controllable", {"name": "solo-iso", "id": ids(), "flags": "Toggle,RealTime", "value": "0", "solo-isolated": "0"})
    ET.SubElement(route, "Controllable", {"name": "solo-safe", "id": ids(), "flags": "Toggle", "value": "0", "solo-safe": "0"})
    io_in = ET.SubElement(route, "IO", {"name": name, "id": ids(), "direction": "Input", "default-type": "audio"})
    for c in range(inputs):
        ET.SubElement(io_in, "Port", {"type": "audio", "name": f"{name}/audio_in {c + 1}"})
    io_out = ET.SubElement(route, "IO", {"name": name, "id": ids(), "direction": "Output", "default-type": "audio"})
    for c in range(2):
        port = ET.SubElement(io_out, "Port", {"type": "audio", "name": f"{name}/audio_out {c + 1}"})
        other = f"system:playback_{c + 1}" if master else outputs_to[c]
        ET.SubElement(port, "Connection", {"other": other})
    ET.SubElement(route, "MuteMaster", {"mute-point": "PostFader,Listen,Main", "muted": "1" if muted else "0"})
    ET.SubElement(route, "Controllable", {"name": "mute", "id": ids(), "flags": "Toggle,RealTime", "value": "1" if muted else "0"})
    ET.SubElement(route, "Controllable", {"name": "phase", "id": ids(), "flags": "Toggle", "value": "0",
                                          "phase-invert": "0" * inputs})
    if master:
        ET.SubElement(route, "Controllable", {"name": "mastervolume", "id": ids(), "flags": "GainLike,NotAutomatable", "value": "1"})
    automation = ET.SubElement(route, "Automation")
    extra = () if master else ("rec-enable", "rec-safe", "monitor")
    for key in ("solo", "solo-iso", "solo-safe", "mute", "phase") + extra:
        ET.SubElement(automation, "AutomationList", {"automation-id": key, "id": lists.get(key) or ids(),
                                                     "interpolation-style": "Discrete", "time-domain": "AudioTime", "state": "Off"})
    pannable = ET.SubElement(route, "Pannable")
    for key, value in (("pan-azimuth", "0.5"), ("pan-width", "1" if inputs == 2 else "0"), ("pan-elevation", "0"),
                       ("pan-frontback", "0"), ("pan-lfe", "0")):
        ET.SubElement(pannable, "Controllable", {"name": key, "id": ids(), "flags": "", "value": value})
    pan_auto = ET.SubElement(pannable, "Automation")
    for key in ("pan-azimuth", "pan-elevation", "pan-width", "pan-frontback", "pan-lfe"):
        ET.SubElement(pan_auto, "AutomationList", {"automation-id": key, "id": ids(), "interpolation-style": "Linear",
                                                   "time-domain": "AudioTime", "state": "Off"})
    proc = {"active": "1", "user-latency": "0", "use-user-latency": "0"}
    if not master:
        ET.SubElement(route, "Processor", {"id": ids(), "name": f"recorder:{name}", **proc, "type": "diskwriter", "record-safe": "0"})
        ET.SubElement(route, "Processor", {"id": ids(), "name": f"player:{name}", **proc, "type": "diskreader"})
    ET.SubElement(route, "Processor", {"id": ids(), "name": "Polarity", **proc, "type": "polarity"})
    trim = ET.SubElement(route, "Processor", {"id": ids(), "name": "Amp", **proc, "type": "trim"})
    ET.SubElement(ET.SubElement(trim, "Automation"), "AutomationList", {
        "automation-id": "trim", "id": ids(), "interpolation-style": "Logarithmic", "time-domain": "AudioTime", "state": "Off"})
    ET.SubElement(trim, "Controllable", {"name": "trimcontrol", "id": ids(), "flags": "GainLike", "value": "1"})
    amp = ET.SubElement(route, "Processor", {"id": ids(), "name": "Amp", **proc, "type": "amp"})
    ET.SubElement(ET.SubElement(amp, "Automation"), "AutomationList", {
        "automation-id": "gain", "id": ids(), "interpolation-style": "Exponential", "time-domain": "AudioTime", "state": "Off"})
    ET.SubElement(amp, "Controllable", {"name": "gaincontrol", "id": ids(), "flags": "GainLike", "value": "1"})
    meter = {"id": ids(), "name": f"meter-{name}", **proc, "type": "meter"}
    if not master:
        ET.SubElement(route, "Processor", meter)
    outs = ET.SubElement(route, "Processor", {"id": ids(), "name": name, **proc, "own-input": "1", "own-output": "0",
                                              "output": name, "type": "main-outs", "role": "Main"})
    ET.SubElement(outs, "PannerShell", {"bypassed": "1" if pan_bypass else "0", "user-panner": "", "linked-to-route": "1"})
    if master:
        ET.SubElement(route, "Processor", meter)
    ET.SubElement(route, "Slavable")
    if not master:
        ET.SubElement(route, "Controllable", {"name": "monitor", "id": ids(), "flags": "RealTime", "value": "0", "monitoring": ""})
        ET.SubElement(route, "Controllable", {"name": "rec-safe", "id": ids(), "flags": "Toggle,RealTime", "value": "0"})
        ET.SubElement(route, "Controllable", {"name": "rec-enable", "id": ids(), "flags": "Toggle,RealTime", "value": "0"})
    return route


def _connect(master: ET.Element, name: str, master_in: list[str]) -> None:
    io_in = master.find("IO[@direction='Input']")
    for port, target in zip(io_in.findall("Port"), master_in):
        ET.SubElement(port, "Connection", {"other": f"{name}/audio_out {master_in.index(target) + 1}"})


def _automation(route: ET.Element, group: list[SessionTrack], rate: int, ids: _Ids, state: str) -> None:
    """Pan and gain AutomationLists (state Play) over every region of the route, in timeline samples."""
    pan_events, gain_events = [], []
    for track in group:
        if track.pan is not None:
            positions = ardour_pan_position(track.pan.values)
            pan_events += [(track.position_sample + _sample(t, rate), float(p)) for t, p in zip(track.pan.times_s, positions)]
        if track.gain_db is not None:
            times, gain = gain_points(track.gain_db)
            gain_events += [(track.position_sample + _sample(t, rate), float(g)) for t, g in zip(times, gain)]
    pannable = route.find("Pannable")
    if pan_events:
        pan_auto = pannable.find("Automation")
        pan_auto.remove(pan_auto.find("AutomationList[@automation-id='pan-azimuth']"))
        _events(pan_auto, "pan-azimuth", "Linear", pan_events, rate, ids(), state)
        pannable.find("Controllable[@name='pan-azimuth']").set("value", f"{pan_events[0][1]:.9g}")
    if gain_events:
        amp = route.find("Processor[@type='amp']")
        amp.find("Automation").remove(amp.find("Automation/AutomationList"))
        _events(amp.find("Automation"), "gain", "Exponential", gain_events, rate, ids(), state)


def _events(parent: ET.Element, automation_id: str, style: str, events: list[tuple[int, float]], rate: int, list_id: str, state: str) -> None:
    events = sorted(dict(events).items())  # one value per sample, in time order
    node = ET.SubElement(parent, "AutomationList", {"automation-id": automation_id, "id": list_id,
                                                    "interpolation-style": style, "time-domain": "AudioTime", "state": state})
    ET.SubElement(node, "events").text = "".join(f"{_a(s, rate)} {v:.9g}\n" for s, v in events)


def _sample(t_s: float, rate: int) -> int:
    return int(round(float(t_s) * rate))


def write_session(session: Session, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write the session folder (FOLDER/NAME.ardour, interchange/NAME/audiofiles/ with the WAVs, the folders
    Ardour expects). Media are hard-linked where the file system allows (else copied). Refuses an existing
    .ardour file unless overwrite. Returns the .ardour path."""
    folder = Path(folder)
    target = folder / f"{session.name}.ardour"
    if target.exists() and not overwrite:
        raise OutputExists(f"{target} already exists; pass --overwrite to replace it")
    audio_dir = folder / "interchange" / session.name / "audiofiles"
    for sub in (audio_dir, folder / "interchange" / session.name / "midifiles", folder / "peaks", folder / "analysis",
                folder / "dead", folder / "export", folder / "externals", folder / "plugins"):
        sub.mkdir(parents=True, exist_ok=True)
    names: dict[Path, str] = {}
    for track in session.tracks:
        if track.wav in names:
            continue
        name = f"{len(names) + 1:02d}-{track.wav.name}"
        dest = audio_dir / name
        if dest.exists():
            dest.unlink()
        try:
            os.link(track.wav, dest)
        except OSError:
            shutil.copyfile(track.wav, dest)
        names[track.wav] = name
    write_text_atomic(target, session_xml(session, names), overwrite=overwrite)
    return target


# ------------------------------------------------------------------------------------ import plan for the editor
def import_plan_lua(clips: Sequence[ResultClip], *, objects: bool = True, sample_rate_hz: int = SAMPLE_RATE_HZ) -> str:
    """The plan the editor action plugin/ardour/StereoFoley_import_result.lua carries out: a Lua chunk that only
    returns data (the action loads it in an empty environment). Per clip: the mix WAV and its timeline sample;
    per object with a source: the WAV and Ardour-ready automation, i.e. panner positions (0 left .. 1 right,
    mapped as in the session writer) and linear gains, at samples from the clip start."""
    def q(text: str) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["-- StereoFoley import plan for Ardour (data only; written by the engine)", "return {", "  version = 1,",
             f"  sample_rate = {int(sample_rate_hz)},", "  clips = {"]
    for clip in clips:
        lines.append(f"    {{ name = {q(clip.name)}, wav = {q(clip.wav.resolve())}, position = {clip.record_start_sample}, "
                     f"length = {clip.samples}, objects = {{")
        for obj in clip.objects if objects else ():
            if obj.source_wav is None:
                continue
            pan = ardour_pan_position(obj.pan.values)
            pan_points = ", ".join(f"{{{_sample(t, sample_rate_hz)}, {p:.9g}}}" for t, p in zip(obj.pan.times_s, pan))
            times, gain = gain_points(obj.gain_db)
            gain_points_lua = ", ".join(f"{{{_sample(t, sample_rate_hz)}, {g:.9g}}}" for t, g in zip(times, gain))
            lines.append(f"      {{ name = {q(obj.name)}, wav = {q(obj.source_wav.resolve())}, pan = {{{pan_points}}}, "
                         f"gain = {{{gain_points_lua}}} }},")
        lines.append("    } },")
    lines += ["  },", "}", ""]
    return "\n".join(lines)
