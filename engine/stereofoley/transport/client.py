"""A blocking OSC client for host scripts and tests: `with OscClient(host, port) as client: client.ping()`."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from ..errors import InvalidOscMessage
from .codec import DEFAULT_PORT, PREFIX, Message, decode_message, encode_message
from .security import is_loopback


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
