"""The on-disk analysis cache: tracks.json entries keyed by media content + range + settings, bounded in size.

- Keys: a JSON-able dict (`analyze.analysis_key`: engine version, media BLAKE2b, range, analysis rate, tracker,
  hfov, detector settings); the entry's file name is the key's digest and the entry holds the key itself, so a
  digest collision or a stale entry is a miss, never a wrong result.
- Writes are atomic (temp file + rename in the same folder): concurrent writers of one key each leave a whole
  entry (the last rename wins; both are the same analysis), readers never see a torn one, and a reader that
  loses an entry to a concurrent prune gets a miss.
- Bounded: after each write, entries not used for `max_age_s` go, then the least recently used ones until the
  folder holds at most `max_bytes` (a hit refreshes an entry's mtime). Stale temp files of crashed writers go too.
- Media hashes (BLAKE2b of every byte) are remembered per (path, size, mtime) in one small file per media file,
  and in memory per process (a render worker hashes each file once).

Defaults: 512 MiB, 90 days; `$STEREOFOLEY_CACHE_MAX_MB` overrides the size.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InvalidParameter
from ..files import file_digest, write_text_atomic
from .tracks import Analysis, read_tracks, write_tracks

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_AGE_S = 90 * 24 * 3600.0
MAX_BYTES_ENV = "STEREOFOLEY_CACHE_MAX_MB"
STALE_TEMP_S = 3600.0  # a temp file this old belongs to a writer that died
ENTRY_SUFFIX = ".tracks.json"
MEDIA_SUFFIX = ".media.json"


def key_digest(key: dict) -> str:
    return hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=16).hexdigest()


def _default_max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise InvalidParameter(f"${MAX_BYTES_ENV}={raw!r} must be a positive number of megabytes")
    return int(mb * 1024 * 1024)


@dataclass(frozen=True)
class AnalysisCache:
    folder: Path
    max_bytes: int | None = None  # None: $STEREOFOLEY_CACHE_MAX_MB or 512 MiB
    max_age_s: float = DEFAULT_MAX_AGE_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))
        if self.max_bytes is None:
            object.__setattr__(self, "max_bytes", _default_max_bytes())
        if not self.max_bytes > 0 or not self.max_age_s > 0:
            raise InvalidParameter(f"analysis cache {self.folder}: max_bytes and max_age_s must be positive")

    def entry_path(self, key: dict) -> Path:
        return self.folder / f"{key_digest(key)}{ENTRY_SUFFIX}"

    def get(self, key: dict) -> Analysis | None:
        """The cached analysis for key, or None (missing, damaged, or written for another key)."""
        path = self.entry_path(key)
        try:
            cached = read_tracks(path)
        except (InvalidParameter, OSError):
            return None  # missing, pruned meanwhile, or damaged: recomputed and replaced
        if cached.settings_key != key:
            return None
        try:
            os.utime(path)  # least recently *used* goes first
        except OSError:
            pass
        return cached

    def put(self, key: dict, analysis: Analysis) -> Path:
        """Store atomically (whole entry or nothing), then prune; returns the entry's path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = write_tracks(replace(analysis, settings_key=key), self.entry_path(key), overwrite=True)
        self.prune(keep=path)
        return path

    def entries(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if p.name.endswith((ENTRY_SUFFIX, MEDIA_SUFFIX)) and not p.name.startswith("."))
        except OSError:
            return []

    def size_bytes(self) -> int:
        return sum(_stat(p)[0] for p in self.entries())

    def prune(self, keep: Path | None = None) -> list[Path]:
        """Remove stale temp files, entries unused for max_age_s, then the least recently used above max_bytes."""
        now = time.time()
        removed: list[Path] = []
        try:
            temps = [p for p in self.folder.iterdir() if p.name.startswith(".") and ".part" in p.name]
        except OSError:
            return removed
        for p in temps:
            if now - _stat(p)[1] > STALE_TEMP_S and _unlink(p):
                removed.append(p)
        live = []
        for p in self.entries():
            size, mtime = _stat(p)
            if p != keep and now - mtime > self.max_age_s:
                if _unlink(p):
                    removed.append(p)
            else:
                live.append((mtime, size, p))
        total = sum(size for _, size, _ in live)
        for _, size, p in sorted(live, key=lambda e: (e[0], e[2].name)):
            if total <= self.max_bytes:
                break
            if p == keep:
                continue
            if _unlink(p):
                removed.append(p)
            total -= size
        return removed

    def media_digest(self, path: Path) -> str:
        """BLAKE2b of every byte of a media file, remembered per (path, size, mtime).

        Hashing content (not the name) means a renamed or copied file still hits the cache and a re-rendered file
        with the same name does not; remembering it makes the second run skip even the hashing.
        """
        stat = path.stat()
        stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        memo = self.folder / f"{hashlib.blake2b(stamp.encode(), digest_size=12).hexdigest()}{MEDIA_SUFFIX}"
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if known.get("stamp") == stamp and isinstance(known.get("blake2b"), str):
                os.utime(memo)
                return known["blake2b"]
        except (OSError, ValueError, AttributeError):
            pass
        digest = file_digest(path, digest_size=20)  # hashed once per process (files.file_digest)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(memo, json.dumps({"stamp": stamp, "blake2b": digest}), overwrite=True)
        return digest


def _stat(p: Path) -> tuple[int, float]:
    try:
        st = p.stat()
        return st.st_size, st.st_mtime
    except OSError:
        return 0, time.time()


def _unlink(p: Path) -> bool:
    try:
        p.unlink()
        return True
    except OSError:
        return False  # another process pruned it first
