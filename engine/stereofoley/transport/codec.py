"""OSC on the wire: the engine's constants, and pure encode/decode of single messages (python-osc underneath).

Anything that is not a plain, sane message (bundles, non-printable addresses, oversize datagrams) is refused with
InvalidOscMessage. The address space lives with its handlers in `server.py`; docs/osc.md documents it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import InvalidOscMessage, InvalidParameter

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


def json_chunks(obj: Any, size: int = MAX_JSON_CHUNK) -> list[str]:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)  # ASCII: a chunk's bytes equal its length
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
