"""The engine's OSC bridge: codec, address space, validation, token auth, path roots, the asyncio server, a client.

Every datagram is decoded with python-osc, then checked here before any handler sees it: size, no bundles (their
time tags would make the server sleep), an address in `ADDRESS_SPACE`, argument types and count, the shared token
when one is configured, a per-sender rate, and any file path against the configured roots. A datagram that fails
is counted and dropped (with an `/stereofoley/error` reply when it came from a well-formed request); it never
raises out of the server. Replies go to the sender's address, or to the sender's host at a reply port named in
the message (never to another host, so the server cannot be used to reflect traffic at third parties).

The address space is documented in docs/osc.md; `ADDRESS_SPACE` below is the single source of truth for it.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import ipaddress
import json
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import AsyncIOOSCUDPServer

from .. import __version__
from ..errors import InvalidOscMessage, InvalidParameter, MediaNotFound, PathNotAllowed, StereoFoleyError
from ..files import default_roots, resolve_under_roots

log = logging.getLogger("stereofoley.osc")

PREFIX = "/stereofoley"
DEFAULT_PORT = 9100  # the engine's control port
DEFAULT_REAPER_FEEDBACK_PORT = 9101  # where the engine listens for REAPER's /time, /play, /stop
DEFAULT_REAPER_PORT = 8000  # where REAPER's OSC control surface listens (REAPER's own default)
DEFAULT_MONITOR_PORT = 9102  # where `stereofoley monitor` listens for audio blobs
MAX_DATAGRAM_LOOPBACK = 8192  # python-osc's blocking servers read at most 8192 bytes; macOS caps near 9216
MAX_DATAGRAM_REMOTE = 1400  # below a 1500-byte Ethernet MTU with IP/UDP headers and some tunnel overhead
MAX_JSON_CHUNK = 6000  # JSON replies are split into chunks of this many characters (UTF-8 safe below 8192)


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple


# ------------------------------------------------------------------------------------------------ codec

def encode_message(address: str, args: Sequence[Any] = ()) -> bytes:
    """One OSC message as bytes. int -> i (h beyond 32 bits), float -> f, str -> s, bytes -> b, bool -> T/F."""
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, bool):
            builder.add_arg(arg, "T" if arg else "F")
        elif isinstance(arg, int):
            builder.add_arg(arg, "i" if -(2**31) <= arg < 2**31 else "h")
        elif isinstance(arg, float):
            builder.add_arg(arg, "f")
        elif isinstance(arg, str):
            builder.add_arg(arg, "s")
        elif isinstance(arg, (bytes, bytearray, memoryview)):
            builder.add_arg(bytes(arg), "b")
        else:
            raise InvalidParameter(f"cannot send {type(arg).__name__} over OSC (int, float, str, bytes, bool)")
    try:
        return builder.build().dgram
    except Exception as exc:  # python-osc's BuildError: an empty blob, a string with a NUL, ...
        raise InvalidParameter(f"cannot encode an OSC message to {address[:80]!r}: {exc}") from None


def decode_message(datagram: bytes, *, max_bytes: int = MAX_DATAGRAM_LOOPBACK) -> Message:
    """Parse one OSC message. Raises InvalidOscMessage for anything that is not a plain, sane message."""
    if len(datagram) > max_bytes:
        raise InvalidOscMessage(f"datagram of {len(datagram)} bytes exceeds the limit of {max_bytes} bytes")
    if len(datagram) < 4 or datagram[:1] != b"/":
        raise InvalidOscMessage("not an OSC message (must start with '/'; bundles are not accepted)")
    try:
        msg = OscMessage(datagram)
        address, params = msg.address, tuple(msg.params)
    except Exception as exc:  # python-osc raises ParseError, but also struct/Unicode errors on some inputs
        raise InvalidOscMessage(f"malformed OSC message ({type(exc).__name__})") from None
    if not address.isprintable() or " " in address or "#" in address:
        raise InvalidOscMessage("OSC address holds non-printable characters, spaces or '#'")
    return Message(address, params)


# ------------------------------------------------------------------------------------------------ address space

@dataclass(frozen=True)
class Route:
    """Argument types of one address: required, then optional (in order). s str, i int, f number, b blob.

    A trailing optional `i` named `reply_port` in the docs redirects replies to the sender's host at that port."""

    required: str
    optional: str = ""
    reply_port: bool = True  # whether the last optional `i` is the reply port
    doc: str = ""


A = PREFIX
ADDRESS_SPACE: Mapping[str, Route] = MappingProxyType({
    f"{A}/ping": Route("", "i", doc="-> /stereofoley/pong version"),
    f"{A}/stats": Route("", "i", doc="-> /stereofoley/stats json (counters)"),
    f"{A}/job/submit": Route("s", "si", doc="job_json [status_path] -> /job/accepted job_id; progress pushed"),
    f"{A}/job/submit_file": Route("s", "si", doc="job_path [status_path] -> /job/accepted job_id; progress pushed"),
    f"{A}/job/cancel": Route("s", "i", doc="job_id -> /job/cancelled job_id ok"),
    f"{A}/job/status": Route("s", "i", doc="job_id -> /job/status job_id state progress message"),
    f"{A}/job/results": Route("s", "i", doc="job_id -> /job/results job_id index count json_chunk (xN)"),
    f"{A}/param/set": Route("sf", "i", doc="name value -> /param/ack name value"),
    f"{A}/preview/load": Route("s", "i", doc="preview_json -> /preview/loaded n_clips"),
    f"{A}/preview/load_file": Route("s", "i", doc="path -> /preview/loaded n_clips"),
    f"{A}/preview/mute": Route("si", "i", doc="object_name 0|1 -> /preview/muted name state"),
    f"{A}/preview/clear": Route("", "i", doc="-> /preview/loaded 0"),
    f"{A}/audio/request": Route("si", "f", reply_port=False, doc="wav_path dest_port [pace] -> audio blobs to dest_port"),
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
        if not args or not isinstance(args[0], str) or not hmac.compare_digest(args[0].encode(), token.encode()):
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


# ------------------------------------------------------------------------------------------------ security

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def max_datagram_for(host: str) -> int:
    """≤ 8 KB on loopback, ≤ 1,400 bytes for any other destination."""
    return MAX_DATAGRAM_LOOPBACK if is_loopback(host) else MAX_DATAGRAM_REMOTE


def check_bind(host: str, *, token: str | None, allow_remote: bool) -> None:
    """Loopback by default; any other address needs an explicit flag and a shared token."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise InvalidParameter(f"refusing to bind {host}: only loopback is allowed without --allow-remote")
    if not token or len(token) < 16:
        raise InvalidParameter(f"refusing to bind {host} without a shared token of at least 16 characters (--token)")


# ------------------------------------------------------------------------------------------------ server

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


class _RateLimiter:
    """A token bucket per sender (host, port), forgetting the least recent senders beyond `max_senders`."""

    def __init__(self, rate_per_s: float, burst: int, max_senders: int = 4096) -> None:
        self.rate, self.burst, self.max_senders = rate_per_s, float(burst), max_senders
        self.buckets: collections.OrderedDict[tuple, tuple[float, float]] = collections.OrderedDict()

    def allow(self, sender: tuple, now: float) -> bool:
        level, last = self.buckets.pop(sender, (self.burst, now))
        level = min(self.burst, level + (now - last) * self.rate)
        ok = level >= 1.0
        self.buckets[sender] = (level - 1.0 if ok else level, now)
        while len(self.buckets) > self.max_senders:
            self.buckets.popitem(last=False)
        return ok


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
        from ..jobs import JobPool
        from .preview import PreviewEngine

        self.config = config
        self.counters = _Counters()
        self._limiter = _RateLimiter(config.rate_per_s, config.burst)
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
        if not self._limiter.allow(sender[:2], time.monotonic()):
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
            log.warning("unauthorized message to %s from %s", message.address[:80], sender[0])
            return
        except InvalidOscMessage as exc:
            self.counters["invalid"] += 1
            if message.address.startswith(PREFIX + "/"):
                self._send(sender[:2], f"{PREFIX}/error", [message.address[:200], str(exc)[:500]])
            return
        reply_to = (sender[0], reply_port) if reply_port else sender[:2]
        try:
            self._handle(message.address, args, reply_to)
            self.counters["handled"] += 1
        except PathNotAllowed as exc:
            self.counters["rejected_paths"] += 1
            log.warning("rejected path in %s from %s: %s", message.address, sender[0], exc)
            self._send(reply_to, f"{PREFIX}/error", [message.address, str(exc)[:500]])
        except StereoFoleyError as exc:
            self.counters["failed_requests"] += 1
            self._send(reply_to, f"{PREFIX}/error", [message.address, str(exc)[:500]])
        except Exception as exc:  # a bug in one handler must not take the server down
            self.counters["internal_errors"] += 1
            log.exception("handler for %s failed", message.address)
            self._send(reply_to, f"{PREFIX}/error", [message.address, f"internal error: {type(exc).__name__}"])

    def _on_reaper_datagram(self, data: bytes, sender: tuple) -> None:
        self.counters["reaper_received"] += 1
        try:
            message = decode_message(data, max_bytes=self.config.max_datagram_bytes)
        except InvalidOscMessage:
            self.counters["reaper_malformed"] += 1
            return
        self.preview.on_reaper_message(message, time.monotonic())

    def _handle(self, address: str, args: tuple, reply_to: tuple) -> None:
        from ..jobs import parse_job, read_job

        name = address[len(PREFIX) + 1:]
        roots = self.config.roots
        if name == "ping":
            self._send(reply_to, f"{PREFIX}/pong", [__version__])
        elif name == "stats":
            self._send(reply_to, f"{PREFIX}/stats", [json.dumps(self.counters.snapshot())])
        elif name in ("job/submit", "job/submit_file"):
            if name == "job/submit":
                try:
                    data = json.loads(args[0])
                except json.JSONDecodeError as exc:
                    raise InvalidOscMessage(f"job JSON does not parse: {exc}") from None
                job = parse_job(data, roots=roots)
            else:
                job = read_job(resolve_under_roots(args[0], roots), roots=roots)
            status_path = None
            if len(args) > 1 and args[1]:
                status_path = _new_file_under(args[1], roots)
            job_id = self._pool.submit(job, status_path=status_path, listener=self._job_listener(reply_to))
            self._send(reply_to, f"{PREFIX}/job/accepted", [job_id])
        elif name == "job/cancel":
            ok = self._pool.cancel(args[0])
            self._send(reply_to, f"{PREFIX}/job/cancelled", [args[0], 1 if ok else 0])
        elif name == "job/status":
            status = self._pool.status(args[0])
            self._send(reply_to, f"{PREFIX}/job/status", [args[0], status["state"], float(status["progress"]), status["message"]])
        elif name == "job/results":
            status = self._pool.status(args[0])
            chunks = json_chunks(status)
            for i, chunk in enumerate(chunks):
                self._send(reply_to, f"{PREFIX}/job/results", [args[0], i, len(chunks), chunk])
        elif name == "param/set":
            value = self.preview.set_param(args[0], float(args[1]))
            self._send(reply_to, f"{PREFIX}/param/ack", [args[0], float(value)])
        elif name == "preview/load":
            n = self.preview.load_json(args[0])
            self._send(reply_to, f"{PREFIX}/preview/loaded", [n])
        elif name == "preview/load_file":
            path = resolve_under_roots(args[0], roots)
            if not path.is_file():
                raise MediaNotFound(f"preview data file not found: {path}")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InvalidOscMessage(f"preview data file {path} is not UTF-8 text") from None
            n = self.preview.load_json(text)
            self._send(reply_to, f"{PREFIX}/preview/loaded", [n])
        elif name == "preview/mute":
            self.preview.set_mute(args[0], bool(args[1]))
            self._send(reply_to, f"{PREFIX}/preview/muted", [args[0], int(bool(args[1]))])
        elif name == "preview/clear":
            self.preview.load_json('{"clips": []}')
            self._send(reply_to, f"{PREFIX}/preview/loaded", [0])
        elif name == "audio/request":
            from ..audio import read_audio
            from .stream import stream_datagrams

            path = resolve_under_roots(args[0], roots)
            pace = float(args[2]) if len(args) > 2 else 1.0
            if not 0.0 <= pace <= 1000.0:
                raise InvalidOscMessage(f"pace={pace} is outside 0..1000 (multiple of real time; 0 = unpaced)")
            if not 1 <= args[1] <= 65535:
                raise InvalidOscMessage(f"dest_port={args[1]} is outside 1..65535")
            audio, rate = read_audio(path)  # any soundfile format, at its own rate
            dest = (reply_to[0], args[1])
            datagrams = stream_datagrams(audio, rate_hz=rate, stream_id=self.counters["streams"] + 1,
                                         max_datagram_bytes=max_datagram_for(dest[0]))
            self.counters["streams"] += 1
            self._spawn(self._stream(dest, datagrams, audio.shape[1] / rate, pace))
        else:  # pragma: no cover - ADDRESS_SPACE and this switch are kept in step by a test
            raise InvalidOscMessage(f"no handler for {address}")

    def _job_listener(self, reply_to: tuple) -> Callable[[str, dict], None]:
        """Push progress to the submitter, from worker threads, in the order the worker produced it."""
        from ..jobs import FINAL_STATES

        loop = self._loop

        def push(job_id: str, status: dict) -> None:
            args = [job_id, int(status["seq"]), float(status["progress"]), status["state"], status["message"][:500]]
            loop.call_soon_threadsafe(self._send, reply_to, f"{PREFIX}/job/progress", args)
            if status["state"] in FINAL_STATES:
                loop.call_soon_threadsafe(self._send, reply_to, f"{PREFIX}/job/done", [job_id, status["state"], status.get("error") or ""])

        return push

    async def _stream(self, dest: tuple, datagrams: list[bytes], duration_s: float, pace: float) -> None:
        """Send blobs paced at `pace` times real time (0: as fast as the socket takes them)."""
        start = time.monotonic()
        n_audio = len(datagrams) - 1  # the last datagram is the end marker
        for i, dgram in enumerate(datagrams):
            if pace > 0 and i < n_audio:
                due = start + duration_s * (i / n_audio) / pace
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 64 == 63:
                await asyncio.sleep(0)
            self._transport.sendto(dgram, dest)
        for _ in range(2):  # the end marker carries the length; repeat it so one loss does not truncate the file
            await asyncio.sleep(0.005)
            self._transport.sendto(datagrams[-1], dest)


def _new_file_under(path: str, roots: Iterable[Path]) -> Path:
    """A file to be written (it may not exist yet): its folder must resolve under a root. The file is replaced by
    rename, so a symlink at its name is replaced, not followed."""
    p = Path(path)
    if not p.is_absolute() or p.name in ("", ".", ".."):
        raise PathNotAllowed(f"status path {path!r} must be an absolute path naming a file")
    return resolve_under_roots(p.parent, roots) / p.name


def json_chunks(obj: Any, size: int = MAX_JSON_CHUNK) -> list[str]:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)  # ASCII: a chunk's bytes equal its length
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


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


# ------------------------------------------------------------------------------------------------ client

class OscClient:
    """A blocking UDP client with its own loopback socket, so replies come back to it. Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, token: str | None = None,
                 bind_host: str | None = None) -> None:
        self.server = (host, port)
        self.token = token
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind_host or ("127.0.0.1" if is_loopback(host) else "0.0.0.0"), 0))

    def __enter__(self) -> "OscClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, address: str, *args: Any) -> None:
        full = ([self.token] if self.token is not None else []) + list(args)
        self.sock.sendto(encode_message(address, full), self.server)

    def receive(self, timeout_s: float) -> Message | None:
        """The next well-formed message, or None after timeout_s seconds."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65536)
            except (socket.timeout, BlockingIOError):
                return None
            except ConnectionRefusedError:  # ICMP port unreachable from an earlier send: nobody listens
                return None
            try:
                return decode_message(data, max_bytes=65536)
            except InvalidOscMessage:
                continue

    def request(self, address: str, *args: Any, expect: str, timeout_s: float = 2.0) -> Message:
        """Send and wait for a reply at `expect` (or an error reply, raised as InvalidOscMessage)."""
        self.send(address, *args)
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            msg = self.receive(left)
            if msg is None:
                break
            if msg.address == expect:
                return msg
            if msg.address == f"{PREFIX}/error" and msg.args and msg.args[0] == address:
                raise InvalidOscMessage(f"server refused {address}: {msg.args[1] if len(msg.args) > 1 else ''}")
        raise TimeoutError(f"no {expect} from {self.server[0]}:{self.server[1]} within {timeout_s} s")

    def ping(self, timeout_s: float = 0.5) -> str | None:
        """The engine version, or None when no server answers."""
        try:
            return str(self.request(f"{PREFIX}/ping", expect=f"{PREFIX}/pong", timeout_s=timeout_s).args[0])
        except (TimeoutError, InvalidOscMessage, OSError):
            return None

    def results(self, job_id: str, timeout_s: float = 2.0) -> dict:
        """Reassemble a job's status JSON from its chunks."""
        self.send(f"{PREFIX}/job/results", job_id)
        chunks: dict[int, str] = {}
        count = None
        deadline = time.monotonic() + timeout_s
        while (count is None or len(chunks) < count) and (left := deadline - time.monotonic()) > 0:
            msg = self.receive(left)
            if msg is None:
                break
            if msg.address == f"{PREFIX}/error":
                raise InvalidOscMessage(f"server refused results for {job_id}: {msg.args[-1]}")
            if msg.address == f"{PREFIX}/job/results" and msg.args[0] == job_id:
                chunks[int(msg.args[1])] = msg.args[3]
                count = int(msg.args[2])
        if count is None or len(chunks) < count:
            raise TimeoutError(f"results for job {job_id} incomplete after {timeout_s} s")
        return json.loads("".join(chunks[i] for i in range(count)))
