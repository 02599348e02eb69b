"""Relinking media as editors do it (Resolve's and Premiere's relink): after the path itself and the
user's regular-expression remaps, the media roots are searched recursively (indexed once per render) by

  1. "file name": the exact file name the timeline names (case-insensitive); several hits are narrowed by
     how many parent folders match, then reported as ambiguous;
  2. "stem": the same name with any video extension (proxies and transcodes: A001.mov -> A001.mp4);
  3. "clip name" / "reel name": the clip's name, its media reference's name, or the reel/tape name the
     editor wrote (EDL reel, FCP XML timecode reel, AAF tape), as a file stem with a video extension.

Clips whose media reference is missing (EDLs, offline clips) go straight to the name rules. A relinked
clip's media reference is pointed at the file found, so the written timelines reference it too; a missing
reference becomes an ExternalReference whose available range is the file's (start timecode and length
probed with PyAV).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterable, Sequence

import opentimelineio as otio
from opentimelineio import url_utils

from ..errors import InvalidParameter, PathNotAllowed
from ..files import check_read
from .media import MediaSearch, Resolved, reference_path
from .timemap import rate_fraction

VIDEO_EXTENSIONS = frozenset({".mov", ".mp4", ".m4v", ".mxf", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".mts",
                              ".m2ts", ".ts", ".dv", ".wmv", ".flv", ".3gp", ".y4m"})


@dataclass(frozen=True)
class Relinked:
    """Where a clip's media was found and by which rule ("path", "remap", "file name", "stem", "clip name",
    "reel name"), or why not. `ambiguous` lists the other files the rule matched equally well."""

    path: Path | None
    rule: str = ""
    reason: str = ""
    ambiguous: tuple[Path, ...] = ()

    def to_report(self) -> dict:
        found = {"rule": self.rule}
        if self.ambiguous:
            found["ambiguous"] = [str(p) for p in self.ambiguous]
        return found


@dataclass(frozen=True)
class MediaIndex:
    """Every file below the media roots, by lower-case name and by lower-case stem (video files only)."""

    by_name: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    by_stem: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    n_files: int = 0

    @staticmethod
    def build(roots: Iterable[Path]) -> "MediaIndex":
        names, stems = defaultdict(list), defaultdict(list)
        n = 0
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    p = Path(folder, f)
                    names[f.lower()].append(p)
                    if p.suffix.lower() in VIDEO_EXTENSIONS:
                        stems[p.stem.lower()].append(p)
                    n += 1
        return MediaIndex({k: tuple(v) for k, v in names.items()}, {k: tuple(v) for k, v in stems.items()}, n)


def parse_remap(rule: str) -> tuple[str, str]:
    """See MediaSearch.parse_remap (the CLI and the options schema parse there)."""
    return MediaSearch.parse_remap(rule)


def resolve_all(clips: Sequence, search: MediaSearch) -> dict[str, Relinked]:
    """Relink every picture clip (PictureClip) at once: the media roots are walked once. Clips relinked to
    another file have their media reference updated in place."""
    index = MediaIndex.build(search.roots) if search.roots else MediaIndex()
    return {c.id: relink_clip(c.clip, search, index) for c in clips}


def relink_clip(clip: otio.schema.Clip, search: MediaSearch, index: MediaIndex) -> Relinked:
    ref = clip.media_reference
    if isinstance(ref, otio.schema.GeneratorReference):
        kind = ref.generator_kind or "generator"
        return Relinked(None, reason=f"generator reference ({kind}): no media to analyse")
    if isinstance(ref, otio.schema.ImageSequenceReference):
        return Relinked(None, reason="image sequences are not supported yet; render the sequence to a movie")
    missing = ref is None or isinstance(ref, otio.schema.MissingReference)
    raw = None if missing else reference_path(ref)
    if not missing and raw is None:
        return Relinked(None, reason=f"media reference {getattr(ref, 'target_url', '')!r} is not a local file")
    found = _find(clip, raw, search, index)
    if found.path is not None:
        try:  # a server confines its jobs to its roots: a file outside (by real path) is never read
            check_read(found.path, "media file")
        except PathNotAllowed as exc:
            return Relinked(None, reason=str(exc))
    elif raw and not _is_windows_path(raw.replace("\\", "/")):
        p = Path(raw) if Path(raw).is_absolute() else search.timeline_dir / raw
        if p.exists() and not p.is_file():  # a folder, /dev/zero: say so, not "not found"
            return Relinked(None, reason=f"media {p} is {'a folder' if p.is_dir() else 'not a regular file'}")
    if found.path is None:
        roots = ", ".join(str(r) for r in search.roots) or "none given"
        what = f"media file not found: {raw}" if raw else "missing media reference and no file named like the clip"
        names = ", ".join(repr(n) for n in _names(clip)) or "none"
        return Relinked(None, reason=f"{what} (searched the timeline folder and media roots: {roots}; "
                                     f"names tried: {names})")
    path = found.path.resolve()
    if missing:
        clip.media_reference = otio.schema.ExternalReference(
            target_url=url_utils.url_from_filepath(str(path)), available_range=probe_range(path, clip))
    elif raw is not None and Path(raw) != path:
        ref.target_url = url_utils.url_from_filepath(str(path))
    return Relinked(path, found.rule, ambiguous=found.ambiguous)


def _find(clip, raw: str | None, search: MediaSearch, index: MediaIndex) -> Relinked:
    if raw is not None:
        raw_norm = raw.replace("\\", "/")
        foreign = _is_windows_path(raw_norm)
        if not foreign:
            p = Path(raw_norm)
            p = p if p.is_absolute() else search.timeline_dir / p
            if p.is_file():
                return Relinked(p, "path")
        for old, new in search.remaps:
            try:
                mapped = re.sub(old, new, raw_norm, count=1, flags=re.IGNORECASE)  # paths use / here
            except re.error as exc:
                raise InvalidParameter(f"remaps entry {old}={new}: {exc}") from None
            if mapped != raw_norm and Path(mapped).is_file():
                return Relinked(Path(mapped), "remap")
        parts = [p for p in (PureWindowsPath(raw_norm) if foreign else PurePosixPath(raw_norm)).parts
                 if p not in ("/", "\\") and not p.endswith(":\\") and not p.endswith(":")]
        for root in search.roots:  # root/name, root/parent/name ...: the layout below a moved folder
            for k in range(1, len(parts) + 1):
                p = Path(root, *parts[-k:])
                if p.is_file():
                    return Relinked(p, "file name")
        if parts:
            name = parts[-1]
            hit = _best(index.by_name.get(name.lower(), ()), parts)
            if hit.path is not None:
                return Relinked(hit.path, "file name", ambiguous=hit.ambiguous)
            hit = _best(index.by_stem.get(PurePosixPath(name).stem.lower(), ()), parts)
            if hit.path is not None:
                return Relinked(hit.path, "stem", ambiguous=hit.ambiguous)
    for rule, name in _named(clip):
        paths = index.by_name.get(name.lower(), ())
        if not paths:
            stem = PurePosixPath(name).stem if PurePosixPath(name).suffix.lower() in VIDEO_EXTENSIONS else name
            paths = index.by_stem.get(stem.lower(), ())
        hit = _best(paths, [])
        if hit.path is not None:
            return Relinked(hit.path, rule, ambiguous=hit.ambiguous)
    return Relinked(None)


def _best(paths: Sequence[Path], parts: Sequence[str]) -> Relinked:
    """The path whose parent folders match the reference's the most; ties are ambiguous (first one taken)."""
    if not paths:
        return Relinked(None)
    wanted = [p.lower() for p in parts[:-1]][::-1]

    def score(p: Path) -> int:
        n = 0
        for mine, theirs in zip([x.lower() for x in p.parts[:-1]][::-1], wanted):
            if mine != theirs:
                break
            n += 1
        return n

    ranked = sorted(paths, key=lambda p: (-score(p), str(p)))
    ties = tuple(p for p in ranked[1:] if score(p) == score(ranked[0]))
    return Relinked(ranked[0], ambiguous=ties)


def _named(clip: otio.schema.Clip) -> list[tuple[str, str]]:
    """(rule, name) candidates from the clip's metadata, most specific first."""
    found: list[tuple[str, str]] = []
    if clip.name:
        found.append(("clip name", clip.name.strip()))
        if " " in clip.name.strip():
            found.append(("clip name", clip.name.strip().replace(" ", "_")))
    ref_name = getattr(clip.media_reference, "name", "") or ""
    if ref_name:
        found.append(("clip name", ref_name))
    for reel in _reels(clip):
        found.append(("reel name", reel))
    seen, unique = set(), []
    for rule, name in found:
        if name and name.lower() not in seen:
            seen.add(name.lower())
            unique.append((rule, name))
    return unique


def _names(clip) -> list[str]:
    return [n for _, n in _named(clip)]


def _reels(clip: otio.schema.Clip) -> list[str]:
    reels = []
    cmx = clip.metadata.get("cmx_3600")
    if hasattr(cmx, "get") and isinstance(cmx.get("reel"), str):
        reels.append(cmx["reel"])
    for holder in (clip.metadata, getattr(clip.media_reference, "metadata", {})):
        fcp = holder.get("fcp_xml") if hasattr(holder, "get") else None
        tc = fcp.get("timecode") if hasattr(fcp, "get") else None
        reel = tc.get("reel") if hasattr(tc, "get") else None
        if hasattr(reel, "get") and isinstance(reel.get("name"), str):
            reels.append(reel["name"])
        aaf = holder.get("AAF") if hasattr(holder, "get") else None
        comments = aaf.get("UserComments") if hasattr(aaf, "get") else None
        if hasattr(comments, "get"):
            for key in ("Tape", "TapeID", "Reel", "Tape Name"):
                if isinstance(comments.get(key), str) and comments[key]:
                    reels.append(comments[key])
    return [r.strip() for r in reels if r and r.strip() and r.strip().upper() not in ("AX", "BL", "BLK")]


def _is_windows_path(path: str) -> bool:
    return (len(path) >= 2 and path[1] == ":" and path[0].isalpha()) or path.startswith("//")


def probe_range(path: Path, clip: otio.schema.Clip) -> otio.opentime.TimeRange | None:
    """A relinked file's extent at the clip's rate: start at its timecode tag (if any), its duration.
    None if PyAV cannot open it (the renderer will say why)."""
    import av

    rate = clip.trimmed_range().duration.rate
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0] if container.streams.video else None
            tag = (stream.metadata.get("timecode") if stream is not None else None) or container.metadata.get("timecode")
            if stream is not None and stream.duration is not None and stream.time_base is not None:
                duration_s = Fraction(stream.duration) * Fraction(stream.time_base)
            elif container.duration is not None:
                duration_s = Fraction(container.duration, 1_000_000)
            else:
                return None
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    start_frames = 0
    if tag:
        try:
            start_frames = otio.opentime.from_timecode(tag.replace(";", ":") if ";" not in tag else tag, rate).value
        except ValueError:
            start_frames = 0
    r = rate_fraction(rate)
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start_frames, rate),
                                   otio.opentime.RationalTime(float(duration_s * r), rate))


def as_resolved(r: Relinked) -> Resolved:
    return Resolved(r.path, r.reason)
