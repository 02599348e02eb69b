"""Writing the result back for editors: the Foley audio track(s) in OTIO (FCP 7 XML: fcp_xml.py, AAF: aaf.py).

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
from .plan import global_start_s
from .timemap import seconds, time_range

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


def foley_tracks(clips: Sequence[FoleyClip], rate: float, start_s: Fraction = Fraction(0)) -> list[otio.schema.Track]:
    """One audio track per lane: gaps and Foley clips at the exact record ranges.

    Built as JSON and deserialised once per track: OTIO converts nested Python metadata (curves are lists
    of [t, v] pairs) element by element, which costs ~10 ms a clip; its C++ JSON reader does not.

    Each WAV's media time starts at its record timecode (start_s, the timeline's global start, plus the
    record start), as its BWF TimeReference does: hosts that read source timecode see the same time."""
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
            data["children"].append(_clip_json(c, rate, start_s))
            position = c.record_end_s
        tracks.append(otio.adapters.read_from_string(json.dumps(data), "otio_json"))
    return tracks


def _clip_json(c: FoleyClip, rate: float, start_s: Fraction) -> dict:
    timecode = start_s + c.record_start_s
    duration = time_range(timecode, timecode + c.record_end_s - c.record_start_s, rate)
    reference = otio.schema.ExternalReference(
        target_url=url_utils.url_from_filepath(str(Path(c.wav).resolve())), available_range=duration
    )
    clip = json.loads(otio.schema.Clip(name=c.name, media_reference=reference, source_range=duration).to_json_string())
    # the exact record range as fractions: re-rendering keeps this clip where it is, not at a float's rounding
    exact = [f"{c.record_start_s.numerator}/{c.record_start_s.denominator}",
             f"{c.record_end_s.numerator}/{c.record_end_s.denominator}"]
    clip["metadata"] = {METADATA_KEY: dict(c.metadata, picture_clip_id=c.picture_id, record_range_s=exact)}
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
            start, end = seconds(r.start_time), seconds(r.start_time) + seconds(r.duration)
            exact = meta.pop("record_range_s", None)
            if exact is not None and len(exact) == 2:
                start, end = Fraction(str(exact[0])), Fraction(str(exact[1]))
            path = url_utils.filepath_from_url(item.media_reference.target_url)
            found.append(FoleyClip(str(meta.pop("picture_clip_id", "")), item.name, start, end, Path(path), plain_metadata(meta)))
    return found


def plain_metadata(value: Any) -> Any:
    """OTIO AnyDictionary/AnyVector -> plain dict/list (for JSON and for writing back)."""
    if isinstance(value, (dict, otio._otio.AnyDictionary)):
        return {str(k): plain_metadata(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, otio._otio.AnyVector)):
        return [plain_metadata(v) for v in value]
    return value


def output_timeline(source: otio.schema.Timeline, clips: Sequence[FoleyClip], rate: float) -> otio.schema.Timeline:
    """A copy of the input timeline, earlier StereoFoley tracks removed, the new ones appended."""
    result = copy.deepcopy(source)
    keep = [t for t in result.tracks if not is_foley_track(t)]
    del result.tracks[:]
    for track in keep:
        result.tracks.append(track)
    for track in foley_tracks(clips, rate, global_start_s(source)):
        result.tracks.append(track)
    return result


def write_otio(timeline: otio.schema.Timeline, path: Path, *, overwrite: bool) -> Path:
    return write_text_atomic(path, otio.adapters.write_to_string(timeline, "otio_json"), overwrite=overwrite)


