"""The `stereofoley serve` engine: an asyncio UDP server whose address space is a route table.

Every datagram is decoded (codec), then checked before any handler sees it: size, no bundles (their time tags
would make the server sleep), an address in `ADDRESS_SPACE`, argument types and count, the shared token when one
is configured, a per-sender rate (security), and any file path against the configured roots. A datagram that
fails is counted and dropped (with an `/stereofoley/error` reply when it came from a well-formed request); it
never raises out of the server. Replies go to the sender's address, or to the sender's host at a reply port
named in the message (never to another host, so the server cannot be used to reflect traffic at third parties).

`ADDRESS_SPACE` is the single source of truth for the addresses, their arguments and their handlers; docs/osc.md
documents it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import AsyncIOOSCUDPServer

from .. import __version__
import soundfile as sf

from ..errors import InvalidAudio, InvalidOscMessage, InvalidParameter, MediaNotFound, PathNotAllowed, StereoFoleyError
from ..files import check_read, confined_call, confinement, default_roots, resolve_under_roots
from ..jobs import FINAL_STATES, JobPool, parse_job, read_job
from .codec import (DEFAULT_PORT, DEFAULT_REAPER_FEEDBACK_PORT, MAX_DATAGRAM_LOOPBACK, PREFIX, Message,
                    decode_message, encode_message, json_chunks)
from .preview import PreviewEngine
from .security import RateLimiter, check_bind, is_loopback, max_datagram_for, new_file_under, token_matches
from .stream import file_datagram_blocks

log = logging.getLogger("stereofoley.osc")

# Caps on what one request may make the server hold or send (each refusal names its cap).
MAX_PREVIEW_BYTES = 16 * 1024 * 1024  # preview data file (preview/load_file)
MAX_PREVIEW_TRACKS = 256  # objects across all clips of one preview
MAX_STREAM_S = 4 * 3600.0  # one audio/request, in seconds of audio
MAX_STREAMS = 8  # audio streams running at once
GLOBAL_RATE_PER_S = 5000.0  # all senders together (the per-sender limit alone is bypassed with many ports)
GLOBAL_BURST = 10000
LOG_INTERVAL_S = 10.0  # unauthorized/unknown datagrams: logged at most once per interval, with a count


@dataclass(frozen=True)
class Route:
    """Argument types of one address: required, then optional (in order). s str, i int, f number, b blob.

    A trailing optional `i` named `reply_port` in the docs redirects replies to the sender's host at that port."""

    required: str
    optional: str
    handler: str  # the EngineServer method that answers it
    reply_port: bool = True  # whether the last optional `i` is the reply port
    doc: str = ""


A = PREFIX
ADDRESS_SPACE: Mapping[str, Route] = MappingProxyType({
    f"{A}/ping": Route("", "i", "on_ping", doc="-> /stereofoley/pong version"),
    f"{A}/stats": Route("", "i", "on_stats", doc="-> /stereofoley/stats json (counters)"),
    f"{A}/job/submit": Route("s", "si", "on_job_submit", doc="job_json [status_path] -> /job/accepted job_id; progress pushed"),
    f"{A}/job/submit_file": Route("s", "si", "on_job_submit_file", doc="job_path [status_path] -> /job/accepted job_id; progress pushed"),
    f"{A}/job/cancel": Route("s", "i", "on_job_cancel", doc="job_id -> /job/cancelled job_id ok"),
    f"{A}/job/status": Route("s", "i", "on_job_status", doc="job_id -> /job/status job_id state progress message"),
    f"{A}/job/results": Route("s", "i", "on_job_results", doc="job_id -> /job/results job_id index count json_chunk (xN)"),
    f"{A}/param/set": Route("sf", "i", "on_param_set", doc="name value -> /param/ack name value"),
    f"{A}/preview/load": Route("s", "i", "on_preview_load", doc="preview_json -> /preview/loaded n_clips"),
    f"{A}/preview/load_file": Route("s", "i", "on_preview_load_file", doc="path -> /preview/loaded n_clips"),
    f"{A}/preview/mute": Route("si", "i", "on_preview_mute", doc="object_name 0|1 -> /preview/muted name state"),
    f"{A}/preview/clear": Route("", "i", "on_preview_clear", doc="-> /preview/loaded 0"),
    f"{A}/audio/request": Route("si", "f", "on_audio_request", reply_port=False,
                                doc="wav_path dest_port [pace] -> audio blobs to dest_port"),
})
# Handlers that read files: run on a worker thread (the event loop keeps answering), in the request's confinement.
BLOCKING_HANDLERS = frozenset({"on_job_submit_file", "on_preview_load_file", "on_audio_request"
})
del A


def _matches(value: Any, kind: str) -> bool:
    if kind == "s":
        return isinstance(value, str)
    if kind == "i":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "f":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "b":
        return isinstance(value, bytes)
    return False


def validate(message: Message, *, token: str | None = None) -> tuple[Route, tuple, int | None]:
    """Check a message against the address space. Returns (route, args without token/reply port, reply_port)."""
    route = ADDRESS_SPACE.get(message.address)
    if route is None:
        raise InvalidOscMessage(f"unknown address {message.address[:80]!r}")
    args = message.args
    if token is not None:
        if not args or not token_matches(args[0], token):
            raise PermissionError("missing or wrong token")  # counted as unauthorized, never echoed
        args = args[1:]
    n_req, n_opt = len(route.required), len(route.optional)
    if not n_req <= len(args) <= n_req + n_opt:
        raise InvalidOscMessage(
            f"{message.address} takes {n_req}..{n_req + n_opt} arguments ({route.required}[{route.optional}]), "
            f"got {len(args)}"
        )
    kinds = route.required + route.optional
    for i, (value, kind) in enumerate(zip(args, kinds)):
        if not _matches(value, kind):
            raise InvalidOscMessage(f"{message.address} argument {i + 1} must be of OSC type {kind!r}")
    reply_port = None
    if route.reply_port and route.optional.endswith("i") and len(args) == n_req + n_opt:
        reply_port, args = args[-1], args[:-1]
        if not 1 <= reply_port <= 65535:
            raise InvalidOscMessage(f"reply port {reply_port} is outside 1..65535")
    return route, tuple(args), reply_port


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port (tests)
    token: str | None = None
    allow_remote: bool = False
    roots: tuple[Path, ...] = field(default_factory=default_roots)
    workers: int = 2
    max_datagram_bytes: int = MAX_DATAGRAM_LOOPBACK
    rate_per_s: float = 500.0  # sustained messages a second from one sender
    burst: int = 1000  # messages a sender may send at once
    reaper_host: str = "127.0.0.1"
    reaper_port: int | None = None  # None: live preview off
    reaper_listen_port: int | None = None  # where REAPER's feedback arrives (loopback only; 0: any free port)
    preview_rate_hz: float = 100.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidParameter(f"port={self.port} is outside 0..65535")
        if not 1 <= self.workers <= 64:
            raise InvalidParameter(f"workers={self.workers} is outside 1..64")
        if not 256 <= self.max_datagram_bytes <= 65507:
            raise InvalidParameter(f"max_datagram_bytes={self.max_datagram_bytes} is outside 256..65507 bytes")
        if not 60.0 <= self.preview_rate_hz <= 1000.0:
            raise InvalidParameter(f"preview_rate_hz={self.preview_rate_hz} is outside 60..1000 Hz")
        check_bind(self.host, token=self.token, allow_remote=self.allow_remote)


class _Counters(collections.Counter):
    def snapshot(self) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(self.items())}


class _PacketDispatcher(Dispatcher):
    """python-osc's dispatcher would parse bundles (and sleep on their time tags); we validate first instead."""

    def __init__(self, on_datagram: Callable[[bytes, tuple], None]) -> None:
        super().__init__()
        self._on_datagram = on_datagram

    def call_handlers_for_packet(self, data: bytes, client_address: tuple) -> list:
        self._on_datagram(data, client_address)
        return []


class EngineServer:
    """The `stereofoley serve` engine. Create and use inside one asyncio loop: `await start()`, `await close()`."""

    def __init__(self, config: ServerConfig = ServerConfig(), *, pool=None) -> None:
        self.config = config
        self.counters = _Counters()
        self._limiter = RateLimiter(config.rate_per_s, config.burst)
        self._global_limiter = RateLimiter(GLOBAL_RATE_PER_S, GLOBAL_BURST, max_senders=1)
        self._last_log: dict[str, float] = {}
        self._pool = pool or JobPool(workers=config.workers)
        self._owns_pool = pool is None
        self.preview = PreviewEngine(rate_hz=config.preview_rate_hz)
        self._transport: asyncio.DatagramTransport | None = None
        self._reaper_transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.address: tuple[str, int] | None = None
        self.reaper_listen_address: tuple[str, int] | None = None

    # lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        server = AsyncIOOSCUDPServer((self.config.host, self.config.port), _PacketDispatcher(self._on_datagram), self._loop)
        self._transport, _ = await server.create_serve_endpoint()
        self.address = self._transport.get_extra_info("sockname")[:2]
        if self.config.reaper_port is not None:
            listen = self.config.reaper_listen_port if self.config.reaper_listen_port is not None else DEFAULT_REAPER_FEEDBACK_PORT
            feedback = AsyncIOOSCUDPServer(("127.0.0.1", listen), _PacketDispatcher(self._on_reaper_datagram), self._loop)
            self._reaper_transport, _ = await feedback.create_serve_endpoint()
            self.reaper_listen_address = self._reaper_transport.get_extra_info("sockname")[:2]
            reaper = (self.config.reaper_host, self.config.reaper_port)
            self._spawn(self.preview.run(lambda address, args: self._send(reaper, address, args, via=self._reaper_transport)))
        log.info("stereofoley OSC server on %s:%d", *self.address)
        return self.address

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for transport in (self._transport, self._reaper_transport):
            if transport is not None:
                transport.close()
        if self._owns_pool:
            await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send(self, addr: tuple, address: str, args: Sequence[Any] = (), *, via=None) -> None:
        if self._loop is not None and threading.get_ident() != self._loop_thread:  # from a worker thread
            self._loop.call_soon_threadsafe(lambda: self._send(addr, address, args, via=via))
            return
        transport = via or self._transport
        if transport is None or transport.is_closing():
            return
        try:
            transport.sendto(encode_message(address, args), addr)
            self.counters["sent"] += 1
        except (OSError, InvalidParameter) as exc:  # a reply that cannot be sent must not stop the server
            self.counters["send_errors"] += 1
            log.debug("reply to %s failed: %s", addr, exc)

    # incoming ---------------------------------------------------------------------------------------------
    def _on_datagram(self, data: bytes, sender: tuple) -> None:
        self.counters["received"] += 1
        now = time.monotonic()
        if not self._global_limiter.allow(("all",), now):
            self.counters["rate_limited_global"] += 1
            return
        if not self._limiter.allow(sender[:2], now):
            self.counters["rate_limited"] += 1
            return
        try:
            message = decode_message(data, max_bytes=self.config.max_datagram_bytes)
        except InvalidOscMessage:
            self.counters["malformed"] += 1
            return
        try:
            route, args, reply_port = validate(message, token=self.config.token)
        except PermissionError:
            self.counters["unauthorized"] += 1
            self._log_once("unauthorized", "unauthorized datagrams dropped (last to %s from %s)",
                           message.address[:80], sender[0])
            return
        except InvalidOscMessage as exc:
            self.counters["invalid"] += 1
            if self.config.token is not None:  # unauthenticated: never answer (the source may be spoofed)
                self._log_once("invalid", "invalid datagrams dropped (last from %s: %s)", sender[0], str(exc)[:120])
                return
            if message.address.startswith(PREFIX + "/"):
                self._send(sender[:2], f"{PREFIX}/error", [message.address[:200], str(exc)[:500]])
            return
        reply_to = (sender[0], reply_port) if reply_port else sender[:2]
        if self._is_self(reply_to):  # a reply to our own port would loop between us and ourselves
            self.counters["invalid"] += 1
            return
        if route.handler in BLOCKING_HANDLERS:
            self._spawn(self._handle_off_loop(route, args, reply_to, message.address))
            return
        self._handle(route, args, reply_to, message.address)

    async def _handle_off_loop(self, route: Route, args: tuple, reply_to: tuple, address: str) -> None:
        with confinement(self.config.roots):
            call = confined_call(self._handle, route, args, reply_to, address)
        await self._loop.run_in_executor(None, call)

    def _is_self(self, addr: tuple) -> bool:
        if self.address is None or addr[1] != self.address[1]:
            return False
        return addr[0] == self.address[0] or (is_loopback(addr[0]) and is_loopback(self.address[0]))

    def _log_once(self, kind: str, fmt: str, *args: Any) -> None:
        """Log a dropped datagram at most once per LOG_INTERVAL_S for each kind, with the count so far."""
        now = time.monotonic()
        if now - self._last_log.get(kind, -math.inf) >= LOG_INTERVAL_S:
            self._last_log[kind] = now
            log.warning(fmt + " [%d so far]", *args, self.counters[kind])

    def _handle(self, route: Route, args: tuple, reply_to: tuple, address: str) -> None:
        try:
            getattr(self, route.handler)(args, reply_to)
            self.counters["handled"] += 1
        except PathNotAllowed as exc:
            self.counters["rejected_paths"] += 1
            log.warning("rejected path in %s from %s: %s", address, reply_to[0], exc)
            self._send(reply_to, f"{PREFIX}/error", [address, str(exc)[:500]])
        except StereoFoleyError as exc:
            self.counters["failed_requests"] += 1
            self._send(reply_to, f"{PREFIX}/error", [address, str(exc)[:500]])
        except Exception as exc:  # a bug in one handler must not take the server down
            self.counters["internal_errors"] += 1
            log.exception("handler for %s failed", address)
            self._send(reply_to, f"{PREFIX}/error", [address, f"internal error: {type(exc).__name__}"])

    def _on_reaper_datagram(self, data: bytes, sender: tuple) -> None:
        self.counters["reaper_received"] += 1
        try:
            message = decode_message(data, max_bytes=self.config.max_datagram_bytes)
        except InvalidOscMessage:
            self.counters["reaper_malformed"] += 1
            return
        self.preview.on_reaper_message(message, time.monotonic())

    # handlers, one an address (ADDRESS_SPACE names them) -------------------------------------------------------
    def on_ping(self, args: tuple, reply_to: tuple) -> None:
        self._send(reply_to, f"{PREFIX}/pong", [__version__])

    def on_stats(self, args: tuple, reply_to: tuple) -> None:
        self._send(reply_to, f"{PREFIX}/stats", [json.dumps(self.counters.snapshot())])

    def on_job_submit(self, args: tuple, reply_to: tuple) -> None:
        try:
            data = json.loads(args[0])
        except json.JSONDecodeError as exc:
            raise InvalidOscMessage(f"job JSON does not parse: {exc}") from None
        self._submit(parse_job(data, roots=self.config.roots), args, reply_to)

    def on_job_submit_file(self, args: tuple, reply_to: tuple) -> None:
        roots = self.config.roots
        self._submit(read_job(resolve_under_roots(args[0], roots), roots=roots), args, reply_to)

    def _submit(self, job, args: tuple, reply_to: tuple) -> None:
        status_path = new_file_under(args[1], self.config.roots) if len(args) > 1 and args[1] else None
        job_id = self._pool.submit(job, status_path=status_path, listener=self._job_listener(reply_to))
        self._send(reply_to, f"{PREFIX}/job/accepted", [job_id])

    def on_job_cancel(self, args: tuple, reply_to: tuple) -> None:
        ok = self._pool.cancel(args[0])
        self._send(reply_to, f"{PREFIX}/job/cancelled", [args[0], 1 if ok else 0])

    def on_job_status(self, args: tuple, reply_to: tuple) -> None:
        status = self._pool.status(args[0])
        self._send(reply_to, f"{PREFIX}/job/status", [args[0], status["state"], float(status["progress"]), status["message"]])

    def on_job_results(self, args: tuple, reply_to: tuple) -> None:
        chunks = json_chunks(self._pool.status(args[0]))
        for i, chunk in enumerate(chunks):
            self._send(reply_to, f"{PREFIX}/job/results", [args[0], i, len(chunks), chunk])

    def on_param_set(self, args: tuple, reply_to: tuple) -> None:
        value = self.preview.set_param(args[0], float(args[1]))
        self._send(reply_to, f"{PREFIX}/param/ack", [args[0], float(value)])

    def on_preview_load(self, args: tuple, reply_to: tuple) -> None:
        self._send(reply_to, f"{PREFIX}/preview/loaded", [self._load_preview(args[0], "preview JSON")])

    def _load_preview(self, text: str, what: str) -> int:
        n = self.preview.load_json(text, max_tracks=MAX_PREVIEW_TRACKS)
        return n

    def on_preview_load_file(self, args: tuple, reply_to: tuple) -> None:
        path = check_read(resolve_under_roots(args[0], self.config.roots), "preview data file")
        if not path.is_file():
            raise MediaNotFound(f"preview data file {path} is not a regular file" if path.exists()
                                else f"preview data file not found: {path}")
        with open(path, "rb") as f:
            data = f.read(MAX_PREVIEW_BYTES + 1)
        if len(data) > MAX_PREVIEW_BYTES:
            raise InvalidOscMessage(f"preview data file {path} is larger than the cap "
                                    f"MAX_PREVIEW_BYTES={MAX_PREVIEW_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidOscMessage(f"preview data file {path} is not UTF-8 text") from None
        self._send(reply_to, f"{PREFIX}/preview/loaded", [self._load_preview(text, str(path))])

    def on_preview_mute(self, args: tuple, reply_to: tuple) -> None:
        self.preview.set_mute(args[0], bool(args[1]))
        self._send(reply_to, f"{PREFIX}/preview/muted", [args[0], int(bool(args[1]))])

    def on_preview_clear(self, args: tuple, reply_to: tuple) -> None:
        self.preview.load_json('{"clips": []}')
        self._send(reply_to, f"{PREFIX}/preview/loaded", [0])

    def on_audio_request(self, args: tuple, reply_to: tuple) -> None:
        path = check_read(resolve_under_roots(args[0], self.config.roots), "audio file")
        pace = float(args[2]) if len(args) > 2 else 1.0
        if not 0.0 <= pace <= 1000.0:
            raise InvalidOscMessage(f"pace={pace} is outside 0..1000 (multiple of real time; 0 = unpaced)")
        if not 1 <= args[1] <= 65535:
            raise InvalidOscMessage(f"dest_port={args[1]} is outside 1..65535")
        if not path.is_file():
            raise MediaNotFound(f"audio file {path} is not a regular file" if path.exists()
                                else f"audio file not found: {path}")
        try:
            audio_file = sf.SoundFile(str(path))  # read block by block while streaming, never whole
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise InvalidAudio(f"{path} is not a readable audio file ({exc})") from None
        duration_s = audio_file.frames / audio_file.samplerate
        if duration_s > MAX_STREAM_S or audio_file.frames <= 0:
            audio_file.close()
            raise InvalidAudio(f"{path} lasts {duration_s:.1f} s; an audio stream is capped at "
                               f"MAX_STREAM_S={MAX_STREAM_S:.0f} s" if audio_file.frames > 0 else f"{path} holds no samples")
        if self.counters["streams_running"] >= MAX_STREAMS:
            audio_file.close()
            raise InvalidOscMessage(f"{MAX_STREAMS} audio streams are running (the cap MAX_STREAMS); try again later")
        dest = (reply_to[0], args[1])
        self.counters["streams"] += 1
        self.counters["streams_running"] += 1
        blocks = file_datagram_blocks(audio_file, stream_id=self.counters["streams"],
                                      max_datagram_bytes=max_datagram_for(dest[0]))
        asyncio.run_coroutine_threadsafe(self._stream(dest, blocks, duration_s, pace, audio_file), self._loop)

    def _job_listener(self, reply_to: tuple) -> Callable[[str, dict], None]:
        """Push progress to the submitter, from worker threads, in the order the worker produced it."""
        loop = self._loop

        def push(job_id: str, status: dict) -> None:
            args = [job_id, int(status["seq"]), float(status["progress"]), status["state"], status["message"][:500]]
            loop.call_soon_threadsafe(self._send, reply_to, f"{PREFIX}/job/progress", args)
            if status["state"] in FINAL_STATES:
                loop.call_soon_threadsafe(self._send, reply_to, f"{PREFIX}/job/done", [job_id, status["state"], status.get("error") or ""])

        return push

    async def _stream(self, dest: tuple, blocks, duration_s: float, pace: float, audio_file=None) -> None:
        """Send blobs paced at `pace` times real time (0: as fast as the socket takes them). `blocks` yields
        (first frame, frames, datagrams) per block read from the file (on a worker thread), then the end marker."""
        self._tasks.add(asyncio.current_task())
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        sent = 0
        end = None
        try:
            while True:
                item = await loop.run_in_executor(None, next, blocks, None)
                if item is None:
                    break
                first_frame, n_frames, datagrams = item
                if n_frames == 0:  # the end marker
                    end = datagrams[0]
                    break
                step = n_frames / len(datagrams)
                for i, dgram in enumerate(datagrams):
                    if pace > 0:
                        due = start + (first_frame + i * step) / audio_file.samplerate / pace
                        delay = due - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    elif sent % 64 == 63:
                        await asyncio.sleep(0)
                    self._transport.sendto(dgram, dest)
                    sent += 1
            if end is not None:
                for _ in range(3):  # the end marker carries the length; repeat it so one loss does not truncate
                    self._transport.sendto(end, dest)
                    await asyncio.sleep(0.005)
        finally:
            self.counters["streams_running"] -= 1
            if audio_file is not None:
                audio_file.close()


class ServerThread:
    """Run an EngineServer in its own event loop on a daemon thread: `with ServerThread(config) as server:`."""

    def __init__(self, config: ServerConfig = ServerConfig(), *, pool=None) -> None:
        self.server = EngineServer(config, pool=pool)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stereofoley-osc", daemon=True)

    def __enter__(self) -> EngineServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self.server

    def __exit__(self, *exc) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
