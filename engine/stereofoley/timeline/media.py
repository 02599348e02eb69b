"""Finding the media file a clip references, on this machine.

Editors write `file://` URLs (`file://localhost/D%3a/media/x.mov` from Premiere on Windows), plain OS paths
(Resolve) or relative paths. Moving a project between machines is handled by prefix remaps (OLD=NEW) and
search folders (--media-root), tried in that order after the path itself.
"""

from __future__ import annotations

import re
from fractions import Fraction
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import opentimelineio as otio
from opentimelineio import url_utils

from ..errors import InvalidParameter, PathNotAllowed
from ..files import check_read
from .timemap import seconds


@dataclass(frozen=True)
class MediaSearch:
    """Where to look for media: the timeline's folder (for relative paths), remaps, and search roots."""

    timeline_dir: Path = Path(".")
    roots: tuple[Path, ...] = ()
    remaps: tuple[tuple[str, str], ...] = ()  # (regular expression, replacement), first match that exists wins

    @staticmethod
    def parse_remap(rule: str) -> tuple[str, str]:
        """--remap PATTERN=REPLACEMENT: a regular expression (searched case-insensitively in the path with
        forward slashes) and its replacement (\\1 groups allowed). A plain prefix such as
        D:/media=/mnt/media works as it always did. Applied by `relink`."""
        old, sep, new = rule.partition("=")
        if not sep or not old:
            raise InvalidParameter(f"remaps entry {rule!r} must look like OLD_PREFIX=NEW_PREFIX (OLD may be a regular expression)")
        try:
            re.compile(old)
        except re.error as exc:
            raise InvalidParameter(f"remaps entry {rule!r}: {old!r} is not a regular expression ({exc})") from None
        return old, new


@dataclass(frozen=True)
class Resolved:
    path: Path | None
    reason: str = ""  # why path is None


def reference_path(reference: otio.core.MediaReference | None) -> str | None:
    """The OS path string a media reference names (URL-decoded), or None if it names no file."""
    if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
        return None
    url = reference.target_url
    if url.lower().startswith("file:"):
        path = url_utils.filepath_from_url(url)
        # file:///D%3a/x.mov decodes to /D:/x.mov: the drive letter is the path's start (Windows media)
        return path[1:] if len(path) > 3 and path[0] == "/" and path[2] == ":" and path[1].isalpha() else path
    if "://" in url:
        return None  # http(s) and other schemes are not local media
    return url


def resolve(reference: otio.core.MediaReference | None, search: MediaSearch) -> Resolved:
    """Find the file on this machine, or say why not (missing reference, generator, no such file)."""
    if reference is None or isinstance(reference, otio.schema.MissingReference):
        return Resolved(None, "missing media reference")
    if isinstance(reference, otio.schema.GeneratorReference):
        kind = reference.generator_kind or "generator"
        return Resolved(None, f"generator reference ({kind}): no media to analyse")
    if isinstance(reference, otio.schema.ImageSequenceReference):
        return Resolved(None, "image sequences are not supported yet; render the sequence to a movie")
    raw = reference_path(reference)
    if raw is None:
        url = getattr(reference, "target_url", "")
        return Resolved(None, f"media reference {url!r} is not a local file")
    refused = ""
    for candidate in _candidates(raw, search):
        if candidate.exists() and not candidate.is_file():  # a folder, /dev/zero: say so, not "not found"
            kind = "a folder" if candidate.is_dir() else "not a regular file"
            refused = refused or f"media {candidate} is {kind}"
            continue
        if candidate.is_file():
            try:
                check_read(candidate, "media file")
            except PathNotAllowed as exc:  # outside the roots a server confines its jobs to: never read it
                refused = refused or str(exc)
                continue
            return Resolved(candidate.resolve())
    if refused:
        return Resolved(None, refused)
    roots = ", ".join(str(r) for r in search.roots) or "none given"
    return Resolved(None, f"media file not found: {raw} (searched the timeline folder and media roots: {roots})")


def _candidates(raw: str, search: MediaSearch) -> list[Path]:
    raw_norm = raw.replace("\\", "/")
    found: list[Path] = []
    for old, new in search.remaps:  # regular expressions, as relink applies them; Windows paths are case-insensitive
        mapped = re.sub(old, new, raw_norm, count=1, flags=re.IGNORECASE)
        if mapped != raw_norm:
            found.append(Path(mapped))
    foreign = _is_windows_path(raw_norm)
    if not foreign:
        p = Path(raw_norm)
        found.append(p if p.is_absolute() else search.timeline_dir / p)
    parts = (PureWindowsPath(raw_norm) if foreign else PurePosixPath(raw_norm)).parts
    tail = [p for p in parts if p not in ("/", "\\") and not p.endswith(":\\") and not p.endswith(":")]
    for root in search.roots:  # root/name, then root/parent/name, ... (the layout below a moved folder)
        for k in range(1, len(tail) + 1):
            found.append(Path(root, *tail[-k:]))
    return found


def _is_windows_path(path: str) -> bool:
    return (len(path) >= 2 and path[1] == ":" and path[0].isalpha()) or path.startswith("//")


def file_offset_s(clip: otio.schema.Clip) -> Fraction:
    """Media time of the file's first frame: the available_range start (a source timecode), else 0."""
    available = getattr(clip.media_reference, "available_range", None)
    return seconds(available.start_time) if available is not None else Fraction(0)
