"""Reading a timeline and planning its clips: where every picture clip sits on the record timeline, which
media seconds it shows, which clips are visible, and which ones the user selected.

Only the walk (`picture_clips`) knows the composition rules; all time arithmetic goes through `timemap`.
"""

from __future__ import annotations

import bisect
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import opentimelineio as otio

from ..errors import InvalidParameter, StereoFoleyError, TimelineNotFound, UnsupportedTimeline
from ..files import check_read
from .timemap import Mapping, child_ranges_s, effect_speed, rate_fraction, record_boundary, seconds

_ZERO = Fraction(0)


# --------------------------------------------------------------------------------------------------- reading
def suffixes_readable() -> list[str]:
    """File suffixes some installed OTIO adapter can read."""
    found: set[str] = set()
    for adapter in otio.plugins.ActiveManifest().adapters:
        if adapter.has_feature("read_from_file") or adapter.has_feature("read_from_string"):
            found.update(s.lower() for s in adapter.suffixes)
    return sorted(found)


BUNDLE_SUFFIX = ".otiod"  # an OTIO directory bundle: content.otio and the media it references, under media/


def media_folder(path: str | os.PathLike) -> Path:
    """Where a timeline's relative media paths start: the bundle itself for an .otiod bundle (its references
    read media/NAME), else the timeline file's folder."""
    path = Path(path)
    return path.resolve() if path.suffix.lower() == BUNDLE_SUFFIX and path.is_dir() else path.parent.resolve()


def zipped_media(path: str | os.PathLike) -> frozenset[str]:
    """The media/ members of an .otioz bundle (a zip of an .otiod): its clips name them, but they cannot be
    analysed without unzipping. Empty for any other timeline."""
    path = Path(path)
    if path.suffix.lower() != ".otioz":
        return frozenset()
    try:
        with zipfile.ZipFile(path) as bundle:
            return frozenset(n for n in bundle.namelist() if n.startswith("media/") and not n.endswith("/"))
    except (OSError, zipfile.BadZipFile):
        return frozenset()


def read_timeline(path: str | os.PathLike) -> otio.schema.Timeline:
    """Any timeline an installed OTIO adapter reads (.otio/.otioz, an .otiod bundle folder, FCP 7 XML, FCPXML,
    EDL, AAF, REAPER .rpp)."""
    path = check_read(path, "timeline")
    suffix = path.suffix.lower().lstrip(".")
    if "." + suffix == BUNDLE_SUFFIX and path.is_dir():
        # a folder: its content.otio is what is read; checked too (a symlink to outside the roots is refused)
        content = check_read(path / "content.otio", "timeline bundle content")
        if not content.is_file():
            raise TimelineNotFound(f"timeline bundle {path} has no content.otio (not an OTIO .otiod bundle)")
    elif not path.is_file():
        if path.is_dir():
            raise TimelineNotFound(f"timeline {path} is a folder (only an .otiod bundle folder is read)")
        raise TimelineNotFound(f"timeline not found: {path}")
    readable = suffixes_readable()
    if suffix not in readable:
        raise UnsupportedTimeline(
            f"{path}: no installed timeline adapter reads .{suffix or '(no suffix)'} files; readable: "
            + ", ".join("." + s for s in readable)
        )
    try:
        if suffix == "edl":
            result = otio.adapters.read_from_file(str(path), rate=edl_rate(path))
        elif "." + suffix == BUNDLE_SUFFIX:  # media/NAME becomes the bundle's absolute path (written timelines too)
            result = otio.adapters.read_from_file(str(path), absolute_media_reference_paths=True)
        else:
            result = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # adapters raise anything from ValueError to XML parse errors
        raise UnsupportedTimeline(f"{path} could not be read as a .{suffix} timeline ({type(exc).__name__}: {exc})") from None
    if isinstance(result, otio.schema.SerializableCollection):  # e.g. EDL/XML holding several sequences
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline, shallow_search=True))
        if not timelines:
            raise UnsupportedTimeline(f"{path} holds no timeline")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise UnsupportedTimeline(f"{path} holds a {type(result).__name__}, not a timeline")
    if suffix == "edl":
        _record_start_from_trim(result)
    return result


def _record_start_from_trim(timeline: otio.schema.Timeline) -> None:
    """The cmx_3600 adapter states the first record timecode as a negative trim window on each track
    (source_range start -86243 @24 for 00:59:53:11), which hides every clip. Editors read it as the
    sequence start: it becomes global_start_time and the trim goes."""
    tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.source_range is not None]
    starts = {t.source_range.start_time.to_seconds() for t in tracks}
    if not tracks or len(starts) != 1 or min(starts) >= 0:
        return
    start = tracks[0].source_range.start_time
    if all(t.source_range.duration.to_seconds() >= t.available_range().duration.to_seconds() - 1e-9 for t in tracks):
        for t in tracks:
            t.source_range = None
        if timeline.global_start_time is None:
            timeline.global_start_time = otio.opentime.RationalTime(-start.value, start.rate)


_TIMECODE = re.compile(r"\b\d\d[:;]\d\d[:;]\d\d[:;](\d\d)\b")


def edl_rate(path: Path) -> float:
    """An EDL states no frame rate: the smallest editor rate its frame fields fit (any frame field above 23
    rules out 24 fps), 29.97 when FCM says DROP FRAME."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if re.search(r"^FCM:\s*DROP FRAME", text, re.MULTILINE):
        return 30000 / 1001
    frames = [int(m) for m in _TIMECODE.findall(text)]
    top = max(frames, default=0)
    for rate in (24.0, 25.0, 30.0, 50.0, 60.0):
        if top < rate:
            return rate
    return 60.0


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    """The record frame rate: global_start_time's rate, else the first video track item's, else 24.
    A rate outside MIN_RATE..MAX_RATE fps (0, 1e-300, inf) raises UnsupportedTimeline naming it."""
    rate, where = 24.0, "default"
    if timeline.global_start_time is not None:
        rate, where = timeline.global_start_time.rate, "global_start_time"
    else:
        for track in timeline.video_tracks():
            items = [item for item in track if isinstance(item, otio.core.Item)]
            if items:
                try:
                    rate, where = items[0].trimmed_range().duration.rate, f"clip {items[0].name!r}"
                except otio.exceptions.OTIOError as exc:
                    raise UnsupportedTimeline(f"timeline {timeline.name!r}: clip {items[0].name!r} has no range "
                                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
                break
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
        raise UnsupportedTimeline(f"timeline {timeline.name!r}: frame rate {rate!r} ({where}) is outside "
                                  f"{MIN_RATE:g}..{MAX_RATE:g} fps")
    return float(rate)


MIN_RATE, MAX_RATE = 1.0, 1000.0  # frames a second a record rate may have


def global_start_s(timeline: otio.schema.Timeline) -> Fraction:
    return seconds(timeline.global_start_time) if timeline.global_start_time is not None else _ZERO


# ------------------------------------------------------------------------------------------------ the walk
@dataclass(frozen=True, eq=False)
class PictureClip:
    """A leaf video clip placed on the record timeline.

    Record times are seconds from the timeline's start (global_start_time excluded). Media times are in the
    media reference's own coordinates (they include its available_range start, e.g. a source timecode).
    `speed` is media seconds per record second (1 normal, 2 double speed, 0 a freeze frame).
    Handles are the extra record seconds an adjacent transition shows of this clip (head before, tail after).
    """

    id: str
    clip: otio.schema.Clip = field(repr=False)
    track_index: int
    track_name: str
    video_track_number: int  # 1-based among video tracks, as editors number them (V1 at the bottom)
    record_start_s: Fraction
    record_end_s: Fraction
    media_start_s: Fraction
    speed: Fraction
    head_s: Fraction = _ZERO
    tail_s: Fraction = _ZERO
    nested: bool = False
    visible_s: Fraction | None = None  # seconds not covered by a clip on a higher track (None: not computed)
    # OTIO children point to their parents without owning them: hold the timeline so they stay valid.
    timeline: otio.schema.Timeline | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.clip.name

    @property
    def record_duration_s(self) -> Fraction:
        return self.record_end_s - self.record_start_s

    @property
    def media_frame_s(self) -> Fraction:
        return 1 / rate_fraction(self.clip.trimmed_range().duration.rate)

    def media_range_s(self, *, with_handles: bool = False) -> tuple[Fraction, Fraction]:
        """The media seconds shown over the record range (with the transition handles if asked). A freeze
        frame shows one media frame whatever its record duration."""
        if self.speed == 0:
            return self.media_start_s, self.media_start_s + self.media_frame_s
        head, tail = (self.head_s, self.tail_s) if with_handles else (_ZERO, _ZERO)
        start = self.media_start_s - head * self.speed
        end = self.media_start_s + (self.record_duration_s + tail) * self.speed
        return start, end


def picture_clips(timeline: otio.schema.Timeline) -> list[PictureClip]:
    """Every clip on an enabled video track, at any nesting depth, with its record window and media mapping,
    in track order (bottom track first). Visibility (`visible_s`) is filled in: generator clips (titles) are
    treated as transparent overlays and do not hide what is under them."""
    rate = timeline_rate(timeline)
    result: list[PictureClip] = []
    video_number = 0
    for track_index, track in enumerate(timeline.tracks):
        if not isinstance(track, otio.schema.Track) or track.kind != otio.schema.TrackKind.Video:
            continue
        video_number += 1
        if not track.enabled:
            continue
        top = _TopTrack(track_index, track.name, video_number, rate, timeline)
        try:
            start = seconds(track.trimmed_range().start_time)
            mapping = Mapping(record_origin_s=_ZERO, local_at_origin_s=start, speed=effect_speed(track))
            if track.source_range is not None:
                window = (_ZERO, seconds(track.source_range.duration))
            else:  # the track's own length, summed exactly (OTIO's float sum ends a hair early after NTSC clips)
                ends = [end for child, (_, end) in child_ranges_s(track).items()
                        if not isinstance(child, otio.schema.Transition)]
                window = (_ZERO, max(ends, default=_ZERO))
            _walk(track, mapping, window, str(track_index), top, result, nested=False)
        except StereoFoleyError:
            raise
        except (otio.exceptions.OTIOError, ValueError, ArithmeticError, OverflowError, TypeError) as exc:
            # a clip without a range, an infinite or NaN time: name the track and what OTIO said
            raise UnsupportedTimeline(f"timeline {timeline.name!r}, track {track.name!r}: cannot place its clips "
                                      f"({type(exc).__name__}: {str(exc)[:300]})") from None
    _fill_visibility(result)
    return result


def empty_clips(timeline: otio.schema.Timeline) -> list[dict[str, str]]:
    """The clips on enabled video tracks whose own duration is zero or negative (a damaged or hand-edited
    timeline), which picture_clips cannot place: {"id", "name", "reason"} each, the id as picture_clips numbers
    clips, the reason naming the clip and its duration."""
    found: list[dict[str, str]] = []

    def walk(composition, path: str) -> None:
        for i, child in enumerate(composition):
            if isinstance(child, (otio.schema.Gap, otio.schema.Transition)) or not child.enabled:
                continue
            if isinstance(child, otio.core.Composition):
                walk(child, f"{path}.{i}")
            elif isinstance(child, otio.schema.Clip) and child.source_range is not None:
                d = child.source_range.duration
                if d.value <= 0:
                    kind = "zero" if d.value == 0 else "a negative"
                    found.append({"id": f"{path}.{i}", "name": child.name, "reason": (
                        f"clip {child.name!r} has {kind} duration ({d.value:g} frames @{d.rate:g} fps = "
                        f"{d.to_seconds():.3f} s): nothing to render" + (
                            f"; the clips after it on its track start {-d.to_seconds():.3f} s earlier"
                            if d.value < 0 else ""))})

    for track_index, track in enumerate(timeline.tracks):
        if isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Video and track.enabled:
            walk(track, str(track_index))
    return found


@dataclass(frozen=True)
class _TopTrack:
    index: int
    name: str
    video_number: int
    rate: float
    timeline: otio.schema.Timeline


def _walk(composition, mapping: Mapping, window, path: str, top: _TopTrack, out: list, *, nested: bool) -> None:
    ranges = child_ranges_s(composition)
    is_track = isinstance(composition, otio.schema.Track)
    for i, child in enumerate(composition):
        if isinstance(child, (otio.schema.Gap, otio.schema.Transition)) or not child.enabled:
            continue
        p0, p1 = ranges[child]
        w0, w1 = _preimage(mapping, p0, p1, window)
        warped = mapping.speed != 1
        w0, w1 = record_boundary(w0, top.rate, warped=warped), record_boundary(w1, top.rate, warped=warped)
        if w1 <= w0:
            continue
        child_map = mapping.into_child(p0, seconds(child.trimmed_range().start_time), effect_speed(child))
        child_path = f"{path}.{i}"
        if isinstance(child, otio.schema.Clip):
            head = tail = _ZERO
            if is_track and mapping.speed > 0:
                h, t = composition.handles_of_child(child)
                head = seconds(h) / mapping.speed if h is not None else _ZERO
                tail = seconds(t) / mapping.speed if t is not None else _ZERO
            out.append(
                PictureClip(
                    id=child_path, clip=child, track_index=top.index, track_name=top.name,
                    video_track_number=top.video_number, record_start_s=w0, record_end_s=w1,
                    media_start_s=child_map.local(w0), speed=child_map.speed, head_s=head, tail_s=tail,
                    nested=nested, timeline=top.timeline,
                )
            )
        elif isinstance(child, otio.core.Composition):
            _walk(child, child_map, (w0, w1), child_path, top, out, nested=True)


def _preimage(mapping: Mapping, p0: Fraction, p1: Fraction, window) -> tuple[Fraction, Fraction]:
    """Record seconds (within window) whose local time falls in [p0, p1)."""
    lo, hi = window
    if mapping.speed == 0:  # a freeze: the whole window shows one local instant
        return (lo, hi) if p0 <= mapping.local_at_origin_s < p1 else (lo, lo)
    return max(lo, mapping.record(p0)), min(hi, mapping.record(p1))


def _fill_visibility(clips: list[PictureClip]) -> None:
    """Top-most enabled video track wins at each moment: a clip's visible time is its window minus the union
    of the windows of opaque clips on higher top-level tracks."""
    covered: list[tuple[Fraction, Fraction]] = []  # sorted, disjoint
    by_track: dict[int, list[int]] = {}
    for k, c in enumerate(clips):
        by_track.setdefault(c.track_index, []).append(k)
    for track_index in sorted(by_track, reverse=True):
        starts = [a for a, _ in covered]
        for k in by_track[track_index]:
            c = clips[k]
            hidden = _overlap(covered, starts, c.record_start_s, c.record_end_s)
            object.__setattr__(c, "visible_s", c.record_duration_s - hidden)
        opaque = [(clips[k].record_start_s, clips[k].record_end_s) for k in by_track[track_index]
                  if not isinstance(clips[k].clip.media_reference, otio.schema.GeneratorReference)]
        covered = _union(covered + opaque)


def _overlap(intervals, starts, a: Fraction, b: Fraction) -> Fraction:
    total = _ZERO
    i = max(bisect.bisect_right(starts, a) - 1, 0)
    while i < len(intervals) and intervals[i][0] < b:
        lo, hi = max(a, intervals[i][0]), min(b, intervals[i][1])
        if hi > lo:
            total += hi - lo
        i += 1
    return total


def _union(intervals):
    merged: list[tuple[Fraction, Fraction]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def nothing_selected(path, timeline: otio.schema.Timeline, clips: Sequence[PictureClip], selection: str) -> str:
    """The one-line error when no clip is selected: how many clips the enabled video tracks hold, and which
    tracks' own trim windows (Track.source_range) leave out clips they hold."""
    trimmed = []
    for track in timeline.video_tracks():
        if not track.enabled or track.source_range is None:
            continue
        held = sum(1 for _ in track.find_clips())
        shown = sum(1 for c in clips if c.track_name == track.name)
        if held > shown:
            r = track.source_range
            trimmed.append(f"track {track.name or '(unnamed)'!r} holds {held} clip(s) but its trim window "
                           f"(start {r.start_time.value:g}, {r.duration.value:g} frames @{r.start_time.rate:g}) "
                           f"shows {shown}")
    why = "; " + "; ".join(trimmed) if trimmed else ""
    return f"{path}: no clips selected ({len(clips)} video clips on enabled tracks{why}; selection {selection})"


# ------------------------------------------------------------------------------------------------ selection
@dataclass(frozen=True)
class Selection:
    """Which picture clips to sonify. Every given criterion must match (they compose with AND); within one
    criterion any listed value may match. With no clips and no tracks named, only visible clips count."""

    clips: tuple[str, ...] = ()  # clip names or ids ("1.3", "0.1.0" for nested)
    markers: tuple[str, ...] = ()  # marker names or colours, on the clip or over it on the timeline
    colors: tuple[str, ...] = ()  # clip colour (OTIO Clip.color or Resolve metadata)
    tracks: tuple[str, ...] = ()  # track names, or V1, V2... / 1, 2... (1-based video track numbers)
    range_s: tuple[float, float] | None = None  # record seconds from the timeline start, [start, end)

    def __post_init__(self) -> None:
        if self.range_s is not None:
            a, b = self.range_s
            if not (math.isfinite(a) and math.isfinite(b) and b > a):
                raise InvalidParameter(f"selection range {self.range_s!r} must be finite with end > start (seconds)")


def selected_empty_clips(timeline: otio.schema.Timeline, selection: Selection) -> list[dict[str, str]]:
    """The empty clips (empty_clips) a render reports: all of them when the selection is the default, else only
    those it names by id or name (a user who picked other clips did not ask about these)."""
    return [e for e in empty_clips(timeline)
            if selection == Selection() or {e["id"], e["name"]} & set(selection.clips)]


def select(timeline: otio.schema.Timeline, clips: Sequence[PictureClip], selection: Selection) -> list[PictureClip]:
    """The picture clips the selection picks, in record order."""
    explicit = bool(selection.clips or selection.tracks)
    chosen = []
    timeline_markers = _timeline_markers(timeline)
    for c in clips:
        if not explicit and not (c.visible_s and c.visible_s > 0):
            continue
        if selection.clips and not ({c.id, c.name} & set(selection.clips)):
            continue
        if selection.tracks and not _track_matches(c, selection.tracks):
            continue
        if selection.colors and _clip_color(c.clip).lower() not in {x.lower() for x in selection.colors}:
            continue
        if selection.markers and not _marker_matches(c, selection.markers, timeline_markers):
            continue
        if selection.range_s is not None:
            a, b = (Fraction(x) for x in selection.range_s)
            if not (c.record_start_s < b and c.record_end_s > a):
                continue
        chosen.append(c)
    return sorted(chosen, key=lambda c: (c.record_start_s, c.track_index))


def _track_matches(c: PictureClip, wanted: Iterable[str]) -> bool:
    for w in wanted:
        w = str(w).strip()
        if w == c.track_name and w:
            return True
        number = w[1:] if w[:1] in "vV" else w
        if number.isdigit() and int(number) == c.video_track_number:
            return True
    return False


def _clip_color(clip: otio.schema.Clip) -> str:
    color = getattr(clip, "color", None)
    if color is not None and getattr(color, "name", ""):
        return color.name
    resolve = clip.metadata.get("Resolve_OTIO")
    if hasattr(resolve, "get"):
        for key in ("Clip Color", "clip_color", "Color"):
            if isinstance(resolve.get(key), str):
                return resolve[key]
    return ""


def _timeline_markers(timeline: otio.schema.Timeline) -> list[tuple[otio.schema.Marker, Fraction, Fraction]]:
    """Markers on the top stack and on top-level tracks, in record seconds."""
    found = []
    holders = [timeline.tracks] + [t for t in timeline.tracks]
    for holder in holders:
        for m in holder.markers:
            a = seconds(m.marked_range.start_time)
            found.append((m, a, a + seconds(m.marked_range.duration)))
    return found


def _marker_matches(c: PictureClip, wanted: Sequence[str], timeline_markers) -> bool:
    keys = {w.lower() for w in wanted}

    def hit(m: otio.schema.Marker) -> bool:
        return (m.name or "").lower() in keys or (m.color or "").lower() in keys

    if any(hit(m) for m in c.clip.markers):
        return True
    for m, a, b in timeline_markers:
        inside = (a < c.record_end_s and b > c.record_start_s) if b > a else (c.record_start_s <= a < c.record_end_s)
        if inside and hit(m):
            return True
    return False
