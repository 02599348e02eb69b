"""`stereofoley preview play`: play a render result's object positions to OSC targets, on an internal clock or
following Ardour's transport.

Targets (`--to URL`, repeatable):
- `adm-osc://HOST:PORT` (default port 4001): ADM-OSC for spatial renderers (SPAT Revolution, L-ISA, d&b
  Soundscape...). Objects are numbered from 1 (the n-th object of the clip under the playhead); each tick sends
  `/adm/obj/n/aed azim elev dist` (or `/azim`, `/elev`, `/dist` with `?packed=0`) and `/adm/obj/n/gain`;
  `/adm/obj/n/name` is sent once when an object's clip starts, and gain 0 when it ends. Azimuth is degrees with
  positive = left: azim = -pan * hfov/2 (the engine's pan spans the camera's field of view, 60 deg by default,
  `?hfov=DEG`). Elevation 0. Distance: the engine's gain curve read back through the inverse-distance law
  (d = reference * 10^(-gain_db/20)), normalised by `?dmax=M` (default 50 m); gain is sent as 1.0 (the renderer
  applies its own distance law from `dist`), or the engine's linear gain with `?gain=engine`.
- `reaper://HOST:PORT` (default 8000): REAPER's OSC surface, `/track/N/pan` (0..1) and `/track/N/volume/db`;
  object k (1-based, over the whole result) drives track `first + k - 1` (`?first=N`, default 2).
- `ardour://HOST:PORT` (default 3819): Ardour's OSC surface, `/strip/pan_stereo_position ssid v` and
  `/strip/gain ssid dB` on the tracks `stereofoley ardour-session --live` wrote (ssid 1 is the mix, objects from
  2). Ardour's OSC pan position is 1 - the panner's azimuth (checked against the real Ardour).
Clock: internal (from --start for --duration) unless `--follow ardour://HOST:PORT` (or an ardour target is
given): then the playhead is Ardour's (`/position/samples` feedback, a least-squares line through recent reports),
or `--follow reaper://HOST:PORT?listen=9101`: REAPER's `/time`, `/play`, `/stop` feedback arriving on port 9101.
"""

from __future__ import annotations

import math
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import numpy as np
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from ..config import SpatialSettings
from ..errors import InvalidParameter
from ..hosts.ardour import ardour_pan_position
from ..results import ResultClip
from .codec import DEFAULT_REAPER_FEEDBACK_PORT, encode_message
from .preview import Playhead

DEFAULT_PORTS = {"adm-osc": 4001, "reaper": 8000, "ardour": 3819}
ADM_DEFAULT_DMAX_M = 50.0
ARDOUR_FEEDBACK = 1 | 16 | 1024  # button states, master section (transport), playhead position in samples


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    options: dict = field(default_factory=dict, compare=False)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise InvalidParameter(f"target {url!r}: scheme must be one of {', '.join(s + '://' for s in DEFAULT_PORTS)}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise InvalidParameter(f"target {url!r}: the port must be a number 1..65535") from None
    if not parts.hostname:
        raise InvalidParameter(f"target {url!r} names no host (e.g. {parts.scheme}://127.0.0.1:{DEFAULT_PORTS[parts.scheme]})")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return Target(parts.scheme, parts.hostname, port, options)


@dataclass(frozen=True)
class PlayObject:
    clip: ResultClip
    index: int  # 1-based within the clip (the ADM object number)
    number: int  # 1-based over the whole result
    ardour_ssid: int | None  # the object's strip in a session written by `ardour-session` (None: no track there)


def play_objects(clips: Sequence[ResultClip]) -> tuple[PlayObject, ...]:
    out, ssid, number = [], 2, 0
    for clip in clips:
        for k, obj in enumerate(clip.objects):
            number += 1
            out.append(PlayObject(clip, k + 1, number, ssid if obj.source_wav is not None else None))
            ssid += obj.source_wav is not None
    return tuple(out)


def _float_option(target: Target, key: str, default: float, low: float, high: float) -> float:
    try:
        value = float(target.options.get(key, default))
    except ValueError:
        raise InvalidParameter(f"{target.scheme} target option {key}={target.options[key]!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidParameter(f"{target.scheme} target option {key}={value} is outside [{low}, {high}]")
    return value


def adm_values(pan: float, gain_db: float, *, hfov_deg: float, dmax_m: float,
               reference_distance_m: float = SpatialSettings.reference_distance_m) -> tuple[float, float, float]:
    """(azimuth deg, positive left; elevation deg; distance 0..1) for an engine pan and gain."""
    azimuth = -float(pan) * hfov_deg / 2.0
    distance_m = reference_distance_m * 10.0 ** (-min(float(gain_db), 0.0) / 20.0)
    return azimuth, 0.0, float(min(distance_m / dmax_m, 1.0))


class Sender:
    """Messages for one target at a playhead time; remembers which objects are active (names sent once)."""

    def __init__(self, target: Target, objects: Sequence[PlayObject], send: Callable[[tuple[str, int], bytes], None]) -> None:
        self.target, self.objects, self._send = target, tuple(objects), send
        self.active: set[int] = set()
        if target.scheme == "adm-osc":
            self.hfov = _float_option(target, "hfov", SpatialSettings.hfov_deg, 1.0, 179.0)
            self.dmax = _float_option(target, "dmax", ADM_DEFAULT_DMAX_M, 0.1, 100_000.0)
            self.packed = target.options.get("packed", "1") not in ("0", "false", "no")
            self.engine_gain = target.options.get("gain", "renderer") == "engine"
        self.first = int(_float_option(target, "first", 2, 1, 4096)) if target.scheme == "reaper" else 0

    def send(self, address: str, *args) -> None:
        self._send(self.target.address, encode_message(address, list(args)))

    def tick(self, playhead_s: float) -> list[tuple[str, tuple]]:
        sent = []

        def out(address: str, *args) -> None:
            self.send(address, *args)
            sent.append((address, args))

        now_active = set()
        for obj in self.objects:
            clip = obj.clip
            t = playhead_s - clip.record_start_s
            if not 0.0 <= t < clip.duration_s:
                continue
            now_active.add(obj.number)
            curve = clip.objects[obj.index - 1]
            pan, gain_db = float(curve.pan.value_at(t)), float(curve.gain_db.value_at(t))
            if self.target.scheme == "adm-osc":
                if obj.number not in self.active:
                    out(f"/adm/obj/{obj.index}/name", curve.name)
                a, e, d = adm_values(pan, gain_db, hfov_deg=self.hfov, dmax_m=self.dmax)
                if self.packed:
                    out(f"/adm/obj/{obj.index}/aed", a, e, d)
                else:
                    out(f"/adm/obj/{obj.index}/azim", a)
                    out(f"/adm/obj/{obj.index}/elev", e)
                    out(f"/adm/obj/{obj.index}/dist", d)
                out(f"/adm/obj/{obj.index}/gain", float(10.0 ** (gain_db / 20.0)) if self.engine_gain else 1.0)
            elif self.target.scheme == "reaper":
                track = self.first + obj.number - 1
                out(f"/track/{track}/pan", float((pan + 1.0) / 2.0))
                out(f"/track/{track}/volume/db", float(max(gain_db, -150.0)))
            elif obj.ardour_ssid is not None:  # ardour
                out("/strip/pan_stereo_position", obj.ardour_ssid, ardour_osc_pan(pan))
                out("/strip/gain", obj.ardour_ssid, float(max(gain_db, -193.0)))
        for obj in self.objects:  # objects whose clip ended: silence them once
            if obj.number in self.active and obj.number not in now_active and self.target.scheme == "adm-osc":
                out(f"/adm/obj/{obj.index}/gain", 0.0)
        self.active = now_active
        return sent


def ardour_osc_pan(pan: float) -> float:
    """Ardour's /strip/pan_stereo_position value for an engine pan: 1 - the panner azimuth."""
    return float(1.0 - ardour_pan_position(np.array([pan]))[0])


def iter_messages(datagram: bytes) -> list[tuple[str, list]]:
    """(address, args) of a host's feedback datagram: a message, a bundle of them (Ardour sends bundles), or
    Ardour's "#reply" messages; anything malformed gives nothing."""
    try:
        if datagram.startswith(b"#bundle"):
            out = []
            for item in OscBundle(datagram):
                if isinstance(item, OscMessage):
                    out.append((item.address, list(item.params)))
            return out
        message = OscMessage(datagram)
        return [(message.address, list(message.params))]
    except Exception:  # python-osc's ParseError, struct and Unicode errors on malformed input
        return []


class ArdourClock:
    """Ardour's playhead over its OSC surface: registers for feedback, reads /position/samples (about 10 a
    second, quantised to the audio engine's period) and the transport state. While rolling, the playhead is a
    least-squares line through the last FIT_WINDOW_S (2 s) of reports, so it follows Ardour's real rate (the dummy
    backend ran 2-3 % slower than the wall clock here) and averages out the period quantisation; with fewer
    reports it falls back to extrapolation at rate 1 (preview.Playhead)."""

    FIT_WINDOW_S = 2.0
    MIN_FIT_SPAN_S = 0.35
    SEEK_S = 0.25
    STALE_S = 0.5

    def __init__(self, target: Target, sock: socket.socket, sample_rate_hz: int = 48_000, clock=time.monotonic) -> None:
        self.target, self.sock, self.rate, self.clock = target, sock, sample_rate_hz, clock
        self.playhead = Playhead()
        self.reports = 0
        self.history: list[tuple[float, float]] = []  # (clock s, position s) while rolling
        self._fit: tuple[float, float, float] | None = None
        self._last_report: tuple[float, float] | None = None
        # Kernel receive times (SO_TIMESTAMP, wall clock) put on our clock: a busy machine that runs this loop late
        # must not make Ardour's reports look late. Where the option is missing, the time we read them is used.
        self._kernel_times = False
        if clock is time.monotonic and hasattr(sock, "recvmsg"):
            try:
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMP", 29), 1)
                self._kernel_times = True
            except OSError:
                pass
        self.register()

    def register(self) -> None:
        # /set_surface bank_size strip_types feedback fader_mode send_page plugin_page
        self.sock.sendto(encode_message("/set_surface", [0, 1, ARDOUR_FEEDBACK, 0, 0, 0]), self.target.address)

    def poll(self) -> None:
        while True:
            try:
                if self._kernel_times:
                    data, ancillary, _, _ = self.sock.recvmsg(65536, 64)
                else:
                    data, ancillary = self.sock.recvfrom(65536)[0], []
            except (TimeoutError, BlockingIOError):
                return
            now = self.clock()
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == getattr(socket, "SCM_TIMESTAMP", 29) and len(payload) >= 16:
                    sec, usec = struct.unpack("ll", payload[:16])
                    now = min(now, sec + usec / 1e6 + (time.monotonic() - time.time()))
            for address, args in iter_messages(data):
                if address == "/position/samples" and args:
                    try:
                        position_s = float(args[0]) / self.rate
                    except (TypeError, ValueError):
                        continue
                    self.reports += 1
                    self.on_position(position_s, now)
                elif address == "/transport_play" and args:
                    self.on_play(float(args[0]) >= 0.5, now)
                elif address == "/transport_stop" and args and float(args[0]) >= 0.5:
                    self.on_play(False, now)

    def on_position(self, position_s: float, now: float) -> None:
        last = self._last_report
        self._last_report = (now, position_s)
        if not self.playhead.playing and last is not None and position_s > last[1] and now - last[0] < self.STALE_S:
            self.on_play(True, last[0])  # rolling, whether or not we saw /transport_play (we may have registered late)
            self.playhead.on_time(last[1], last[0])
        if self.playhead.playing and abs(position_s - self.at(now)) > self.SEEK_S:
            self.history.clear()  # a locate: start the fit afresh
        self.playhead.on_time(position_s, now)
        if self.playhead.playing:
            self.history.append((now, position_s))
            self.history = [h for h in self.history if now - h[0] <= self.FIT_WINDOW_S]
            self._refit()

    def on_play(self, playing: bool, now: float) -> None:
        if playing != self.playhead.playing:
            self.history.clear()
            self._fit = None
        self.playhead.on_play(playing, now)

    def _refit(self) -> None:
        self._fit = None
        if len(self.history) >= 3 and self.history[-1][0] - self.history[0][0] >= self.MIN_FIT_SPAN_S:
            t = np.array([h[0] for h in self.history])
            p = np.array([h[1] for h in self.history])
            slope, intercept = np.polyfit(t - t[-1], p, 1)
            if 0.8 <= slope <= 1.2:  # Ardour's dummy backend ran at 0.97-0.98 of the wall clock here
                self._fit = (float(slope), float(intercept), float(t[-1]))

    def check_stale(self, now: float) -> None:
        """Ardour reports the position about 10 times a second while rolling: silence means it stopped."""
        if self.playhead.playing and self._last_report is not None and now - self._last_report[0] > self.STALE_S:
            self.on_play(False, self._last_report[0])

    def at(self, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        if self.playhead.playing and self._fit is not None:
            slope, intercept, t_ref = self._fit
            return intercept + slope * (now - t_ref)
        return self.playhead.at(now)


class ReaperClock:
    """REAPER's playhead from its OSC surface's feedback (/time s, /play, /stop), which REAPER sends to the
    port the surface is configured with ("device port"): `reaper://HOST:PORT?listen=9101` listens there and
    takes feedback from HOST only. Extrapolated between reports by preview.Playhead, as the serve preview does."""

    def __init__(self, target: Target, clock=time.monotonic) -> None:
        self.target, self.clock = target, clock
        self.playhead = Playhead()
        self.reports = 0
        listen = int(_float_option(target, "listen", DEFAULT_REAPER_FEEDBACK_PORT, 1, 65535))
        loopback = target.host in ("127.0.0.1", "localhost", "::1")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind(("127.0.0.1" if loopback else "0.0.0.0", listen))
        except OSError as exc:
            self.sock.close()
            raise InvalidParameter(f"cannot listen for REAPER's feedback on UDP port {listen}: {exc}") from None
        self.sock.setblocking(False)
        self._allowed = {socket.gethostbyname(target.host)} if not loopback else {"127.0.0.1"}

    def poll(self) -> None:
        while True:
            try:
                data, sender = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                return
            if sender[0] not in self._allowed:
                continue
            now = self.clock()
            for address, args in iter_messages(data):
                value = args[0] if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool) else None
                if value is None or not math.isfinite(value):
                    continue
                if address == "/time" and value >= 0:
                    self.reports += 1
                    self.playhead.on_time(float(value), now)
                elif address == "/play":
                    self.playhead.on_play(value >= 0.5, now)
                elif address == "/stop" and value >= 0.5:
                    self.playhead.on_play(False, now)

    def check_stale(self, now: float) -> None:
        pass  # REAPER reports /stop itself

    def at(self, now: float | None = None) -> float:
        return self.playhead.at(self.clock() if now is None else now)

    def close(self) -> None:
        self.sock.close()


def play(clips: Sequence[ResultClip], targets: Iterable[Target], *, start_s: float | None = None,
         duration_s: float | None = None, rate_hz: float = 50.0, follow: Target | None = None,
         clock: Callable[[], float] = time.monotonic, log: Callable[[float, str, tuple], None] | None = None,
         idle_timeout_s: float | None = None) -> int:
    """Send every target's messages at rate_hz; returns the number of ticks. Internal clock: from start_s (default
    the first clip) for duration_s (default to the end of the last clip). Following Ardour: ticks while Ardour
    plays, until duration_s of wall time have passed (or idle_timeout_s without any report)."""
    if not (1.0 <= rate_hz <= 1000.0):
        raise InvalidParameter(f"rate {rate_hz} Hz is outside [1, 1000]")
    objects = play_objects(clips)
    targets = list(targets)
    if not targets:
        raise InvalidParameter("give at least one --to target")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0" if follow and follow.host not in ("127.0.0.1", "localhost") else "127.0.0.1", 0))
    sock.setblocking(False)

    def send(address: tuple[str, int], data: bytes) -> None:
        try:
            sock.sendto(data, address)
        except OSError:
            pass  # a target that is not listening (ICMP port unreachable) must not stop the others

    senders = [Sender(t, objects, send) for t in targets]
    first = min(c.record_start_s for c in clips)
    last = max(c.record_start_s + c.duration_s for c in clips)
    if follow is None:
        host_clock = None
    elif follow.scheme == "ardour":
        host_clock = ArdourClock(follow, sock, clock=clock)
    elif follow.scheme == "reaper":
        host_clock = ReaperClock(follow, clock=clock)
    else:
        raise InvalidParameter(f"cannot follow {follow.scheme}:// (ardour:// or reaper://)")
    t0 = clock()
    start = first if start_s is None else start_s
    length = (last - start) if duration_s is None else duration_s
    if host_clock is None and length <= 0:
        raise InvalidParameter(f"nothing to play: start {start:.3f} s is at or after the result's end {last:.3f} s")
    period, ticks, next_tick = 1.0 / rate_hz, 0, t0
    try:
        while True:
            now = clock()
            if now - t0 > length:
                break
            if host_clock is not None:
                host_clock.poll()
                host_clock.check_stale(clock())
                if idle_timeout_s is not None and host_clock.reports == 0 and now - t0 > idle_timeout_s:
                    raise InvalidParameter(f"no transport reports from {follow.scheme}://{follow.host}:{follow.port} within "
                                           f"{idle_timeout_s:.0f} s; is its OSC surface on and sending feedback here?")
                playing, playhead = host_clock.playhead.playing, host_clock.at(clock())
            else:
                playing, playhead = True, start + (now - t0)
            if playing:  # a value is held until the next tick: send the one for the middle of that interval
                for sender in senders:
                    for address, args in sender.tick(playhead + 0.5 * period):
                        if log is not None:
                            log(clock(), address, args + (playhead + 0.5 * period,))
                ticks += 1
            next_tick += period
            delay = next_tick - clock()
            if delay < -period:
                next_tick, delay = clock(), 0.0
            time.sleep(max(0.0, delay))
    finally:
        sock.close()
        if isinstance(host_clock, ReaperClock):
            host_clock.close()
    return ticks
