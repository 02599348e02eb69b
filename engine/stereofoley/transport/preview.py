"""Live preview in REAPER: follow REAPER's transport over OSC and drive the Foley tracks' pan and volume from the
automation curves at the playhead, without rendering audio.

REAPER's OSC control surface (with plugin/reaper/StereoFoley.ReaperOSC) sends `/time` (seconds), `/play` and
`/stop` to the engine at its feedback rate (often ~30 Hz). Between those messages the engine extrapolates the
playhead from its own monotonic clock, so it can send `/track/N/pan` (normalised 0..1, 0.5 = centre) and
`/track/N/volume/db` at `rate_hz` (≥ 60 Hz). Live parameters (width, distance roll-off, mutes) are applied to
the curve values at every tick, so a change is heard at the next tick (1/rate_hz s), not after a re-render.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..spatial.automation import Curve
from ..config import SpatialSettings
from ..errors import InvalidOscMessage, InvalidParameter
from ..spatial.dsp import distance_gain

SEEK_THRESHOLD_S = 0.25  # a /time further than this from the extrapolated playhead is a seek: jump to it
SLEW = 0.25  # otherwise move this share of the way to REAPER's time at each /time (smooths feedback jitter)
MUTE_RESEND_S = 1.0  # mute state is re-sent this often, in case REAPER missed it


@dataclass(frozen=True)
class PreviewTrack:
    track: int  # REAPER track number (1-based, as in the .ReaperOSC pattern with a large bank)
    name: str  # the object's name, used by /stereofoley/preview/mute
    pan: Curve
    gain_db: Curve
    distance_m: Curve | None = None


@dataclass(frozen=True)
class PreviewClip:
    clip_id: str
    record_start_s: float  # project time where the clip starts
    duration_s: float
    tracks: tuple[PreviewTrack, ...]
    reference_distance_m: float = SpatialSettings.reference_distance_m  # the distance law the gain curve used
    max_distance_m: float = SpatialSettings.max_distance_m


@dataclass(frozen=True)
class PreviewParams:
    stereo_width: float = 1.0  # scales every pan value (0: all centre)
    rolloff: float = 1.0  # multiplies the distance-law part of the gain in dB (0: no distance attenuation)
    gain_db: float = 0.0  # offset on every track
    muted: frozenset = frozenset()

    def __post_init__(self) -> None:
        for name, low, high in (("stereo_width", 0.0, 1.0), ("rolloff", 0.0, 4.0), ("gain_db", -60.0, 12.0)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
                raise InvalidParameter(f"{name}={value!r} is outside [{low}, {high}]")


LIVE_PARAMS = ("stereo_width", "rolloff", "gain_db")


def clips_from_json(data: Any) -> tuple[PreviewClip, ...]:
    """{"clips": [{"id", "record_start_s", "duration_s"?, "reference_distance_m"?, "max_distance_m"?,
    "tracks": [{"track": N, "name", "curves": {"pan": [[t, v]...], "gain_db": [...], "distance_m"?: [...]}}]}]}"""
    if not isinstance(data, Mapping) or not isinstance(data.get("clips"), list):
        raise InvalidOscMessage('preview data must be {"clips": [...]}')
    clips = []
    for i, clip in enumerate(data["clips"]):
        try:
            tracks = []
            for t in clip["tracks"]:
                track = int(t["track"])
                if not 1 <= track <= 4096:
                    raise InvalidParameter(f"track number {track} is outside 1..4096")
                curves = t["curves"]
                tracks.append(PreviewTrack(
                    track=track, name=str(t.get("name", f"track {track}")),
                    pan=Curve.from_json(curves["pan"]), gain_db=Curve.from_json(curves["gain_db"]),
                    distance_m=Curve.from_json(curves["distance_m"]) if "distance_m" in curves else None,
                ))
            pan_end = max(float(tr.pan.times_s[-1]) for tr in tracks) if tracks else 0.0
            if any(np.any(np.abs(tr.pan.values) > 1.0) for tr in tracks):
                raise InvalidParameter("pan values must lie in -1..1")
            clips.append(PreviewClip(
                clip_id=str(clip.get("id", i)), record_start_s=float(clip["record_start_s"]),
                duration_s=float(clip.get("duration_s", pan_end)), tracks=tuple(tracks),
                reference_distance_m=float(clip.get("reference_distance_m", SpatialSettings.reference_distance_m)),
                max_distance_m=float(clip.get("max_distance_m", SpatialSettings.max_distance_m)),
            ))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:  # int(inf) overflows
            raise InvalidOscMessage(f"preview clip {i} is malformed: {type(exc).__name__}: {exc}") from None
    return tuple(clips)


def clip_at(clips: Sequence[PreviewClip], playhead_s: float) -> PreviewClip | None:
    """The clip under the playhead (the latest-starting one when clips overlap)."""
    under = [c for c in clips if c.record_start_s <= playhead_s < c.record_start_s + c.duration_s]
    return max(under, key=lambda c: c.record_start_s) if under else None


def track_values(clip: PreviewClip, track: PreviewTrack, playhead_s: float, params: PreviewParams) -> tuple[float, float]:
    """(pan -1..1, gain dB) of one track at a project time, with the live parameters applied."""
    t = playhead_s - clip.record_start_s
    pan = float(np.clip(track.pan.value_at(t) * params.stereo_width, -1.0, 1.0))
    gain_db = track.gain_db.value_at(t) + params.gain_db
    if track.distance_m is not None and params.rolloff != 1.0:
        law = distance_gain(np.array([track.distance_m.value_at(t)]), clip.reference_distance_m, clip.max_distance_m)
        gain_db += (params.rolloff - 1.0) * 20.0 * math.log10(max(float(law[0]), 1e-10))
    return pan, float(gain_db)


def messages_at(clips: Sequence[PreviewClip], playhead_s: float, params: PreviewParams) -> list[tuple[str, list]]:
    """The REAPER OSC messages for one tick: pan (normalised 0..1) and volume in dB of every track of the clip."""
    clip = clip_at(clips, playhead_s)
    if clip is None:
        return []
    out = []
    for track in clip.tracks:
        pan, gain_db = track_values(clip, track, playhead_s, params)
        out.append((f"/track/{track.track}/pan", [float((pan + 1.0) / 2.0)]))
        out.append((f"/track/{track.track}/volume/db", [float(max(gain_db, -150.0))]))
    return out


class Playhead:
    """REAPER's play position, extrapolated between its /time messages with a monotonic clock."""

    def __init__(self) -> None:
        self.playing = False
        self.anchor_time_s = 0.0
        self.anchor_clock_s = 0.0

    def at(self, clock_s: float) -> float:
        return self.anchor_time_s + (clock_s - self.anchor_clock_s if self.playing else 0.0)

    def on_time(self, time_s: float, clock_s: float) -> None:
        predicted = self.at(clock_s)
        if not self.playing or abs(time_s - predicted) > SEEK_THRESHOLD_S:
            self.anchor_time_s = time_s
        else:
            self.anchor_time_s = predicted + SLEW * (time_s - predicted)
        self.anchor_clock_s = clock_s

    def on_play(self, playing: bool, clock_s: float) -> None:
        if playing != self.playing:
            self.anchor_time_s, self.anchor_clock_s = self.at(clock_s), clock_s
            self.playing = playing


class PreviewEngine:
    """Owned by the server's event loop: REAPER messages in, pan/volume messages out at `rate_hz` while playing."""

    def __init__(self, rate_hz: float = 100.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_hz = rate_hz
        self.clock = clock
        self.clips: tuple[PreviewClip, ...] = ()
        self.params = PreviewParams()
        self.playhead = Playhead()
        self._mute_sent: dict[int, tuple[bool, float]] = {}

    def load_json(self, text: str, *, max_tracks: int | None = None) -> int:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InvalidOscMessage(f"preview JSON does not parse: {type(exc).__name__}: {exc}") from None
        clips = clips_from_json(data)
        n_tracks = sum(len(c.tracks) for c in clips)
        if max_tracks is not None and n_tracks > max_tracks:
            raise InvalidOscMessage(f"preview holds {n_tracks} objects; the cap is MAX_PREVIEW_TRACKS={max_tracks}")
        self.clips = clips
        self._mute_sent.clear()
        return len(self.clips)

    def set_param(self, name: str, value: float) -> float:
        if name not in LIVE_PARAMS:
            raise InvalidOscMessage(f"unknown live parameter {name!r}; known: {', '.join(LIVE_PARAMS)}")
        self.params = dataclasses.replace(self.params, **{name: value})
        return value

    def set_mute(self, name: str, muted: bool) -> None:
        names = {t.name for c in self.clips for t in c.tracks}
        if name not in names:
            raise InvalidOscMessage(f"no preview object named {name!r}")
        muted_set = set(self.params.muted)
        (muted_set.add if muted else muted_set.discard)(name)
        self.params = dataclasses.replace(self.params, muted=frozenset(muted_set))

    def on_reaper_message(self, message, clock_s: float) -> None:
        """REAPER feedback: /time f, /play b, /stop b (anything else REAPER sends is ignored)."""
        args = message.args
        value = args[0] if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool) else None
        if value is None or not math.isfinite(value):
            return
        if message.address == "/time" and value >= 0:
            self.playhead.on_time(float(value), clock_s)
        elif message.address == "/play":
            self.playhead.on_play(value >= 0.5, clock_s)
        elif message.address == "/stop" and value >= 0.5:
            self.playhead.on_play(False, clock_s)

    def tick(self, send: Callable[[str, list], None]) -> None:
        now = self.clock()
        playhead_s = self.playhead.at(now)
        clip = clip_at(self.clips, playhead_s)
        if clip is None:
            return
        for address, args in messages_at((clip,), playhead_s, self.params):
            send(address, args)
        for track in clip.tracks:  # mutes: on change, then re-sent now and then
            muted = track.name in self.params.muted
            last = self._mute_sent.get(track.track)
            if last is None or last[0] != muted or now - last[1] > MUTE_RESEND_S:
                send(f"/track/{track.track}/mute", [1 if muted else 0])
                self._mute_sent[track.track] = (muted, now)

    async def run(self, send: Callable[[str, list], None]) -> None:
        """Tick at rate_hz on a fixed schedule (not sleep-after-work, which would drift) while REAPER plays."""
        period = 1.0 / self.rate_hz
        next_tick = self.clock()
        while True:
            if self.playhead.playing:
                self.tick(send)
            next_tick += period
            delay = next_tick - self.clock()
            if delay < -period:  # fell behind (a busy machine): skip missed ticks rather than bursting
                next_tick = self.clock()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))
