"""Writing the result back for editors: the Foley audio track(s) in OTIO, FCP 7 XML, BWF WAVs.

The output timeline is the input timeline plus audio tracks named "StereoFoley" (then "StereoFoley 2", ...
only where selected clips overlap in time), whose clips sit exactly at the record ranges of their picture
clips, with gaps elsewhere. Each Foley clip references its WAV by absolute file URL and carries
`metadata["stereofoley"]`: the picture clip id, objects with classes and automation curves, settings, version.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import opentimelineio as otio
from opentimelineio import url_utils

from ..files import write_text_atomic
from .timemap import rational, seconds, time_range
from .plan import timeline_rate

FOLEY_TRACK_NAME = "StereoFoley"
METADATA_KEY = "stereofoley"


@dataclass(frozen=True, eq=False)
class FoleyClip:
    """One rendered Foley clip on the record timeline (seconds from the timeline start)."""

    picture_id: str
    name: str
    record_start_s: Fraction
    record_end_s: Fraction
    wav: Path
    metadata: dict[str, Any] = field(default_factory=dict)


def lanes(clips: Sequence[FoleyClip]) -> list[list[FoleyClip]]:
    """Greedy interval packing: the first lane that is free at a clip's start takes it."""
    result: list[list[FoleyClip]] = []
    for c in sorted(clips, key=lambda c: (c.record_start_s, c.record_end_s, c.picture_id)):
        for lane in result:
            if lane[-1].record_end_s <= c.record_start_s:
                lane.append(c)
                break
        else:
            result.append([c])
    return result


def foley_tracks(clips: Sequence[FoleyClip], rate: float) -> list[otio.schema.Track]:
    """One audio track per lane: gaps and Foley clips at the exact record ranges.

    Built as JSON and deserialised once per track: OTIO converts nested Python metadata (curves are lists
    of [t, v] pairs) element by element, which costs ~10 ms a clip; its C++ JSON reader does not."""
    tracks = []
    for k, lane in enumerate(lanes(clips)):
        track = otio.schema.Track(
            name=FOLEY_TRACK_NAME if k == 0 else f"{FOLEY_TRACK_NAME} {k + 1}", kind=otio.schema.TrackKind.Audio
        )
        data = json.loads(track.to_json_string())
        data["metadata"] = {METADATA_KEY: {"lane": k + 1}}
        position = Fraction(0)
        for c in lane:
            if c.record_start_s > position:
                gap = otio.schema.Gap(source_range=time_range(Fraction(0), c.record_start_s - position, rate))
                data["children"].append(json.loads(gap.to_json_string()))
            data["children"].append(_clip_json(c, rate))
            position = c.record_end_s
        tracks.append(otio.adapters.read_from_string(json.dumps(data), "otio_json"))
    return tracks


def _clip_json(c: FoleyClip, rate: float) -> dict:
    duration = time_range(Fraction(0), c.record_end_s - c.record_start_s, rate)
    reference = otio.schema.ExternalReference(
        target_url=url_utils.url_from_filepath(str(Path(c.wav).resolve())), available_range=duration
    )
    clip = json.loads(otio.schema.Clip(name=c.name, media_reference=reference, source_range=duration).to_json_string())
    clip["metadata"] = {METADATA_KEY: dict(c.metadata, picture_clip_id=c.picture_id)}  # plain JSON-able data
    return clip


def is_foley_track(track: otio.core.Composable) -> bool:
    return isinstance(track, otio.schema.Track) and METADATA_KEY in track.metadata and "lane" in track.metadata[METADATA_KEY]


def foley_clips_in(timeline: otio.schema.Timeline) -> list[FoleyClip]:
    """The Foley clips an earlier run wrote into a timeline (so re-rendering one clip keeps the others)."""
    found = []
    for track in timeline.tracks:
        if not is_foley_track(track):
            continue
        for item in track:
            if not isinstance(item, otio.schema.Clip) or METADATA_KEY not in item.metadata:
                continue
            meta = dict(item.metadata[METADATA_KEY])
            r = item.range_in_parent()
            start = seconds(r.start_time)
            path = url_utils.filepath_from_url(item.media_reference.target_url)
            found.append(FoleyClip(str(meta.pop("picture_clip_id", "")), item.name, start,
                                   start + seconds(r.duration), Path(path), _plain(meta)))
    return found


def _plain(value: Any) -> Any:
    """OTIO AnyDictionary/AnyVector -> plain dict/list (for JSON and for writing back)."""
    if isinstance(value, (dict, otio._otio.AnyDictionary)):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, otio._otio.AnyVector)):
        return [_plain(v) for v in value]
    return value


def output_timeline(source: otio.schema.Timeline, clips: Sequence[FoleyClip], rate: float) -> otio.schema.Timeline:
    """A copy of the input timeline, earlier StereoFoley tracks removed, the new ones appended."""
    result = copy.deepcopy(source)
    keep = [t for t in result.tracks if not is_foley_track(t)]
    del result.tracks[:]
    for track in keep:
        result.tracks.append(track)
    for track in foley_tracks(clips, rate):
        result.tracks.append(track)
    return result


def write_otio(timeline: otio.schema.Timeline, path: Path, *, overwrite: bool) -> Path:
    return write_text_atomic(path, otio.adapters.write_to_string(timeline, "otio_json"), overwrite=overwrite)


def write_fcp_xml(timeline: otio.schema.Timeline, pictures: Sequence, path: Path, *, overwrite: bool) -> tuple[Path, str]:
    """FCP 7 XML for Premiere and Resolve. The fcp_xml adapter cannot write every construct (clips directly
    in stacks, clips without a source range); then the XML holds the selected picture clips on one video
    track plus the Foley tracks, at the same record ranges. Returns the path and what was written."""
    try:
        text = otio.adapters.write_to_string(timeline, "fcp_xml")
        kind = "full timeline"
    except Exception as exc:  # the adapter raises TypeError/AttributeError on what it does not model
        text = otio.adapters.write_to_string(_flat_for_xml(timeline, pictures), "fcp_xml")
        kind = f"selected picture clips + Foley (full timeline not writable: {type(exc).__name__})"
    return write_text_atomic(path, text, overwrite=overwrite), kind


def _flat_for_xml(timeline: otio.schema.Timeline, pictures: Sequence) -> otio.schema.Timeline:
    rate = timeline_rate(timeline)
    flat = otio.schema.Timeline(name=timeline.name, global_start_time=timeline.global_start_time)
    video = otio.schema.Track(name="Picture", kind=otio.schema.TrackKind.Video)
    position = Fraction(0)
    for p in sorted(pictures, key=lambda p: p.record_start_s):
        if p.record_start_s < position:
            continue  # overlapping picture: the XML's single video track holds the earlier one
        if p.record_start_s > position:
            video.append(otio.schema.Gap(source_range=time_range(Fraction(0), p.record_start_s - position, rate)))
        media_rate = p.clip.trimmed_range().duration.rate
        start, _ = p.media_range_s()
        source = otio.opentime.TimeRange(rational(start, media_rate), rational(p.record_duration_s, rate))
        reference = copy.deepcopy(p.clip.media_reference)
        if getattr(reference, "available_range", True) is None:  # the XML writer needs the file's extent
            _, end = p.media_range_s(with_handles=True)
            reference.available_range = time_range(Fraction(0), end, media_rate)
        video.append(otio.schema.Clip(name=p.name, media_reference=reference, source_range=source))
        position = p.record_end_s
    flat.tracks.append(video)
    for track in timeline.tracks:
        if is_foley_track(track):
            flat.tracks.append(copy.deepcopy(track))
    return flat
