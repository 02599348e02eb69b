"""A fake `DaVinciResolveScript` module: the documented subset of Resolve's scripting API the shim uses.

Objects record their calls and check argument types as the API documentation states them; the timeline's
OTIO export is written with OpenTimelineIO from the fake's own clips (record frames → timeline times).
"""

from __future__ import annotations

import itertools
import os
import types
from dataclasses import dataclass, field
from typing import Any

import opentimelineio as otio


class ApiMisuse(TypeError):
    pass


def _check(name: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ApiMisuse(f"{name} must be {kind}, got {value!r}")


@dataclass(eq=False)
class MediaPoolItem:
    path: str

    def GetClipProperty(self, key: str) -> str:
        _check("GetClipProperty key", key, str)
        if key != "File Path":
            raise ApiMisuse(f"unexpected clip property {key!r}")
        return self.path


_UIDS = (f"{n:08x}-0000-4000-8000-5f0e1e7a11ed" for n in itertools.count(1))


@dataclass(eq=False)
class TimelineItem:
    name: str
    start: int  # absolute record frame (includes the timeline's start frame)
    duration: int
    media: str
    color: str = ""
    offset: int = 0  # source in-point in frames (Resolve's GetLeftOffset)
    flags: list[str] = field(default_factory=list)  # flag colours (AddFlag/GetFlagList)
    uid: str = field(default_factory=lambda: next(_UIDS))

    def GetUniqueId(self) -> str:
        return self.uid

    def GetName(self) -> str:
        return self.name

    def GetStart(self) -> int:
        return self.start

    def GetEnd(self) -> int:
        return self.start + self.duration

    def GetDuration(self) -> int:
        return self.duration

    def GetClipColor(self) -> str:
        return self.color

    def GetFlagList(self) -> list[str]:
        return list(self.flags)

    def GetLeftOffset(self) -> int:
        return self.offset


class ItemHandle:
    """What the API hands out for a timeline item: a fresh handle on every call (as Resolve's scripting proxies
    are), so a script can tell two handles of one clip apart from two clips only by GetUniqueId()."""

    def __init__(self, item: TimelineItem):
        self._item = item

    def __getattr__(self, name: str):
        if not name.startswith("Get"):
            raise AttributeError(name)
        return getattr(self._item, name)

    @property
    def item(self) -> TimelineItem:
        return self._item


def handles(items) -> list[ItemHandle]:
    return [ItemHandle(i) for i in items]


@dataclass(eq=False)
class Timeline:
    name: str
    rate: float  # timelineFrameRate as Resolve states it: 24, 25, 29.97, 23.976...
    start_frame: int
    video_tracks: list[list[TimelineItem]]
    markers: dict[float, dict] = field(default_factory=dict)
    selected: list[TimelineItem] | None = None  # None: an older Resolve without GetSelectedClips
    playhead_item: TimelineItem | None = None
    audio_tracks: int = 1
    calls: list[tuple] = field(default_factory=list)

    def __getattr__(self, name: str):
        if name == "GetSelectedClips" and self.selected is not None:
            return lambda: {i + 1: ItemHandle(item) for i, item in enumerate(self.selected)}
        raise AttributeError(name)

    def GetName(self) -> str:
        return self.name

    def GetStartFrame(self) -> int:
        return self.start_frame

    def GetSetting(self, key: str) -> str:
        _check("GetSetting key", key, str)
        if key != "timelineFrameRate":
            raise ApiMisuse(f"unexpected setting {key!r}")
        return str(self.rate)

    def GetTrackCount(self, track_type: str) -> int:
        if track_type not in ("video", "audio", "subtitle"):
            raise ApiMisuse(f"track type {track_type!r}")
        return len(self.video_tracks) if track_type == "video" else self.audio_tracks

    def GetItemListInTrack(self, track_type: str, index: int) -> list[TimelineItem]:
        _check("GetItemListInTrack index", index, int)
        if track_type != "video" or not 1 <= index <= len(self.video_tracks):
            raise ApiMisuse(f"GetItemListInTrack({track_type!r}, {index})")
        return handles(self.video_tracks[index - 1])

    def GetMarkers(self) -> dict:
        return dict(self.markers)

    def GetCurrentVideoItem(self) -> ItemHandle | None:
        return ItemHandle(self.playhead_item) if self.playhead_item else None

    def AddTrack(self, track_type: str, sub_type: str) -> bool:
        self.calls.append(("AddTrack", track_type, sub_type))
        if track_type != "audio" or sub_type not in ("mono", "stereo", "5.1", "adaptive1"):
            raise ApiMisuse(f"AddTrack({track_type!r}, {sub_type!r})")
        self.audio_tracks += 1
        return True

    def Export(self, file_name: str, export_type: int, export_subtype: int) -> bool:
        _check("Export fileName", file_name, str)
        _check("Export exportType", export_type, int)
        _check("Export exportSubtype", export_subtype, int)
        if not os.path.isabs(file_name):
            raise ApiMisuse(f"Export needs an absolute path, got {file_name!r}")
        self.calls.append(("Export", file_name, export_type, export_subtype))
        write_otio(self, file_name)
        return True


def write_otio(timeline: Timeline, path: str) -> None:
    """What Resolve's OTIO export holds for our purposes: video tracks of clips and gaps, global start time."""
    rate = timeline.rate
    out = otio.schema.Timeline(name=timeline.name, global_start_time=otio.opentime.RationalTime(timeline.start_frame, rate))
    for items in timeline.video_tracks:
        track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
        cursor = timeline.start_frame
        for item in sorted(items, key=lambda i: i.start):
            if item.start > cursor:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(item.start - cursor, rate))))
            track.append(otio.schema.Clip(
                name=item.name,
                media_reference=otio.schema.ExternalReference(target_url=item.media),
                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(item.offset, rate), otio.opentime.RationalTime(item.duration, rate)),
            ))
            cursor = item.start + item.duration
        out.tracks.append(track)
    otio.adapters.write_to_file(out, path)


@dataclass(eq=False)
class MediaPool:
    imported: list[MediaPoolItem] = field(default_factory=list)
    appended: list[list[dict]] = field(default_factory=list)
    imported_timelines: list[tuple[str, dict]] = field(default_factory=list)

    def ImportMedia(self, paths: list[str]) -> list[MediaPoolItem]:
        _check("ImportMedia paths", paths, list)
        for p in paths:
            _check("ImportMedia path", p, str)
            if not os.path.isabs(p) or not os.path.isfile(p):
                raise ApiMisuse(f"ImportMedia needs existing absolute files, got {p!r}")
        items = [MediaPoolItem(p) for p in paths]
        self.imported.extend(items)
        return items

    def AppendToTimeline(self, infos: list[dict]) -> list[object]:
        _check("AppendToTimeline clipInfos", infos, list)
        allowed = {"mediaPoolItem": MediaPoolItem, "startFrame": (int, float), "endFrame": (int, float),
                   "mediaType": int, "trackIndex": int, "recordFrame": (int, float)}
        for info in infos:
            _check("clipInfo", info, dict)
            if set(info) - set(allowed) or "mediaPoolItem" not in info:
                raise ApiMisuse(f"clipInfo keys {sorted(info)}")
            for key, value in info.items():
                _check(f"clipInfo[{key!r}]", value, allowed[key])
        self.appended.append(infos)
        return [object() for _ in infos]

    def ImportTimelineFromFile(self, path: str, options: dict) -> object:
        _check("ImportTimelineFromFile path", path, str)
        _check("ImportTimelineFromFile options", options, dict)
        self.imported_timelines.append((path, options))
        return object()


@dataclass(eq=False)
class Project:
    timeline: Timeline | None
    media_pool: MediaPool = field(default_factory=MediaPool)

    def GetCurrentTimeline(self):
        return self.timeline

    def GetMediaPool(self) -> MediaPool:
        return self.media_pool


@dataclass(eq=False)
class Resolve:
    project: Project
    EXPORT_OTIO: int = 17
    EXPORT_NONE: int = 0

    def GetProjectManager(self):
        return types.SimpleNamespace(GetCurrentProject=lambda: self.project)


def module_for(resolve: Resolve) -> types.ModuleType:
    """A `DaVinciResolveScript` module whose scriptapp("Resolve") returns `resolve`."""
    module = types.ModuleType("DaVinciResolveScript")

    def scriptapp(name: str):
        if name != "Resolve":
            raise ApiMisuse(f"scriptapp({name!r})")
        return resolve

    module.scriptapp = scriptapp
    return module
