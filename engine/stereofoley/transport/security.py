"""Who may talk to the engine, and how much: loopback by default, a shared token otherwise, a rate per sender,
datagram sizes per destination, and files the server may create (under the path roots, files.resolve_under_roots).
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
from pathlib import Path
from typing import Iterable

from ..errors import InvalidParameter, PathNotAllowed
from ..files import check_status_target, confinement, resolve_under_roots
from .codec import MAX_DATAGRAM_LOOPBACK, MAX_DATAGRAM_REMOTE

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
        raise InvalidParameter(f"refusing to bind {host}: only loopback is allowed without allow_remote=True")
    if not token or len(token) < 16:
        raise InvalidParameter(f"refusing to bind {host} without a shared token of at least 16 characters (token=...)")


def token_matches(given: object, token: str) -> bool:
    """Constant-time comparison of a message's first argument with the shared token."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())


class RateLimiter:
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


def new_file_under(path: str, roots: Iterable[Path]) -> Path:
    """A status file to be written (it may not exist yet): its folder must resolve under a root, and an existing
    file there may only be an earlier status file (files.check_status_target: never the job's media or job file).
    The file is replaced by rename, so a symlink at its name is refused, never followed."""
    p = Path(path)
    if not p.is_absolute() or p.name in ("", ".", ".."):
        raise PathNotAllowed(f"status path {path!r} must be an absolute path naming a file")
    roots = tuple(roots)
    target = resolve_under_roots(p.parent, roots) / p.name
    with confinement(roots):
        return check_status_target(target)
