"""OTIO adapter for REAPER projects (.rpp).

Writing. Every clip becomes a media item at its record position (seconds from the timeline start). The
timeline's global_start_time becomes the project start time (PROJOFFS, seconds: project time 0 reads
01:00:00:00 on REAPER's ruler) and its rate the project frame rate (TIMEMODE's frame-rate field, whole fps,
with the drop-frame flag for 29.97 / 59.94). Neither is checked against a running REAPER here: the fields
follow projects REAPER writes, and this module reads them back.
A timeline that StereoFoley rendered (audio tracks with `metadata["stereofoley"]["lane"]`) is written as an
editing session:
  - "Picture": one video item per Foley clip, the picture clip's media at its media offset and speed;
  - "StereoFoley mix": the rendered stereo WAVs (the finished result; plays);
  - "StereoFoley object N": the N-th sounding object of every clip, its mono source with editable Volume
    (VOLENV2, linear amplitude 0..2) and Pan (PANENV2) envelopes from the clip's automation curves (muted:
    unmute these and mute the mix to work from the objects).
  Where selected clips overlap, the OTIO result has lanes "StereoFoley 2", ...; each lane gets its own mix and
  object tracks ("StereoFoley 2 mix", "StereoFoley 2 object 1"), since one envelope cannot serve two clips.
Other timelines are written track for track (top-level clips only; nested stacks are noted, not expanded).

REAPER stores pan envelope points with the opposite sign to its pan knob (+1 is hard left in the chunk);
PAN_ENVELOPE_SIGN converts from StereoFoley's pan (-1 left ... +1 right).

Reading. Tracks become OTIO tracks (Video if an item's source is VIDEO), items become clips with gaps
between them, SOFFS becomes the source start; overlapping items on one track are skipped with a note in the
track's metadata.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import opentimelineio as otio
from opentimelineio import url_utils

PAN_ENVELOPE_SIGN = -1.0
MAX_VOLUME_ENVELOPE = 2.0  # REAPER's fader-scaled volume envelope tops out at +6 dB (amplitude 2)
_KEY = "stereofoley"


# ------------------------------------------------------------------------------------------------ writing
def write_to_string(input_otio: otio.schema.Timeline) -> str:
    if not isinstance(input_otio, otio.schema.Timeline):
        raise otio.exceptions.NotSupportedError(f"the rpp adapter writes timelines, not {type(input_otio).__name__}")
    timeline = input_otio
    foley = [t for t in timeline.tracks if _is_foley_track(t)]
    out = _Writer()
    out.open("REAPER_PROJECT", "0.1", _q("7.0/StereoFoley"), "0")
    out.line("SAMPLERATE", "48000", "0", "0")
    gst = timeline.global_start_time
    rate = gst.rate if gst is not None else _first_rate(timeline)
    if gst is not None:
        out.line("PROJOFFS", _num(gst.to_seconds()), "0", "0")
    if rate:
        fps, drop = project_frame_rate(rate)
        out.line("TIMEMODE", "1", "5", "-1", str(fps), "1" if drop else "0", "0", "-1")
    out.open("NOTES", "0", "2")
    out.raw(f"|{timeline.name or 'timeline'} exported by StereoFoley.")
    if gst is not None:
        out.raw(f"|Project start time {otio.opentime.to_timecode(gst, gst.rate)} (the timeline start).")
    out.close()
    if foley:
        _write_foley_session(out, foley)
    else:
        for track in timeline.tracks:
            _write_plain_track(out, track)
    out.close()
    return out.text()


def project_frame_rate(rate: float) -> tuple[int, bool]:
    """REAPER's project frame rate: whole fps and whether it is NTSC drop-frame (29.97 -> (30, True)).
    23.976 is written as 24 (REAPER's 23.976 setting is not distinguished here)."""
    fps = round(rate)
    ntsc = abs(rate - fps * 1000 / 1001) < 0.005 and abs(rate - fps) > 0.005
    return fps, ntsc and fps in (30, 60)


def _first_rate(timeline: otio.schema.Timeline) -> float | None:
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.core.Item):
                return item.trimmed_range().duration.rate
    return None


def write_to_file(input_otio: otio.schema.Timeline, filepath: str) -> None:
    from stereofoley.files import write_text_atomic  # OTIO's write_to_file replaces an existing file

    write_text_atomic(filepath, write_to_string(input_otio), overwrite=True)


def _write_foley_session(out: "_Writer", tracks: list[otio.schema.Track]) -> None:
    lanes = [(track.name, _placed_foley_clips(track)) for track in tracks]
    out.open("TRACK")
    out.line("NAME", _q("Picture"))
    for clip, start, duration in sorted((p for _, placed in lanes for p in placed), key=lambda p: p[1]):
        picture = clip.metadata.get(_KEY, {}).get("picture")
        if not picture:
            continue
        speed = float(picture.get("speed", 1.0))
        _item(out, start, duration, picture["media"], "VIDEO", name=str(picture.get("name", clip.name)),
              offset_s=float(picture["media_start_s"]), playrate=speed if speed > 0 else None)
    out.close()

    for lane_name, placed in lanes:  # lanes exist only where clips overlap; one envelope cannot hold two clips
        out.open("TRACK")
        out.line("NAME", _q(f"{lane_name} mix"))
        for clip, start, duration in placed:
            _item(out, start, duration, _path(clip), "WAVE", name=clip.name)
        out.close()
        n_objects = max((len(c.metadata.get(_KEY, {}).get("objects", [])) for c, _, _ in placed), default=0)
        for k in range(n_objects):
            volume, pan, items = [], [], []
            for clip, start, duration in placed:
                objects = clip.metadata[_KEY].get("objects", [])
                if k >= len(objects):
                    continue
                obj = objects[k]
                curves = obj.get("curves", {})
                volume += [(start + float(t), envelope_volume(float(v))) for t, v in curves.get("gain_db", [])]
                pan += [(start + float(t), envelope_pan(float(v))) for t, v in curves.get("pan", [])]
                if obj.get("source_wav"):
                    items.append((start, duration, str(obj["source_wav"]), f"{clip.name}: {obj.get('name')} ({obj.get('class')})"))
            out.open("TRACK")
            out.line("NAME", _q(f"{lane_name} object {k + 1}"))
            out.line("MUTESOLO", "1", "0", "0")
            _envelope(out, "VOLENV2", volume)
            _envelope(out, "PANENV2", pan)
            for start, duration, path, name in items:
                _item(out, start, duration, path, "WAVE", name=name)
            out.close()


class _FoleyClip:
    """A Foley clip as plain Python (name, media path, metadata) read from the track's JSON form: walking
    OTIO's metadata objects point by point is ~100x slower on long timelines."""

    def __init__(self, data: dict) -> None:
        self.name = data.get("name", "")
        self.metadata = data.get("metadata", {})
        refs = data.get("media_references", {})
        self.target_url = refs.get(data.get("active_media_reference_key", "DEFAULT_MEDIA"), {}).get("target_url", "")


def _placed_foley_clips(track: otio.schema.Track) -> list[tuple[_FoleyClip, float, float]]:
    """(clip, record start s, duration s) of a Foley lane: gaps and clips only, so positions are the sum of
    the durations before (Foley lanes hold no transitions)."""
    data = json.loads(track.to_json_string())
    placed, position = [], 0.0
    for child in data.get("children", []):
        r = child.get("source_range") or {}
        d = r.get("duration", {})
        duration = float(d.get("value", 0.0)) / float(d.get("rate", 1.0))
        if child.get("OTIO_SCHEMA", "").startswith("Clip."):
            placed.append((_FoleyClip(child), position, duration))
        position += duration
    return placed


def envelope_volume(gain_db: float) -> float:
    """dB -> REAPER volume envelope value (linear amplitude, 0..2)."""
    return min(10.0 ** (gain_db / 20.0), MAX_VOLUME_ENVELOPE)


def envelope_pan(pan: float) -> float:
    """StereoFoley pan (-1 left .. +1 right) -> REAPER pan envelope value."""
    return PAN_ENVELOPE_SIGN * max(-1.0, min(1.0, pan))


def _envelope(out: "_Writer", tag: str, points: list[tuple[float, float]]) -> None:
    if not points:
        return
    out.open(tag)
    out.line("ACT", "1", "-1")
    out.line("VIS", "1", "1", "1")
    out.line("LANEHEIGHT", "0", "0")
    out.line("ARM", "0")
    out.line("DEFSHAPE", "0", "-1", "-1")
    last = -math.inf
    for t, v in points:  # in clip order, each clip's points in time order
        if t <= last:  # where one clip ends and the next starts (float sums may even cross): nudge by 1 us
            t = last + 1e-6
        out.line("PT", _num(t), _num(v), "0")
        last = t
    out.close()


def _write_plain_track(out: "_Writer", track: otio.core.Composable) -> None:
    if not isinstance(track, otio.schema.Track):
        return
    out.open("TRACK")
    out.line("NAME", _q(track.name or str(track.kind)))
    kind = "VIDEO" if track.kind == otio.schema.TrackKind.Video else "WAVE"
    for child, start, duration in _placed_clips(track):
        path = _path(child)
        if path is None:
            continue
        source_start = child.trimmed_range().start_time
        available = child.media_reference.available_range
        offset = (source_start - available.start_time).to_seconds() if available is not None else source_start.to_seconds()
        _item(out, start, duration, path, kind, name=child.name, offset_s=offset)
    out.close()


def _placed_clips(track: otio.schema.Track) -> Iterable[tuple[otio.schema.Clip, float, float]]:
    ranges = track.range_of_all_children()
    for child in track:
        if isinstance(child, otio.schema.Clip):
            r = ranges[child]
            yield child, r.start_time.to_seconds(), r.duration.to_seconds()


def _item(out: "_Writer", start: float, duration: float, path: str | None, kind: str, *, name: str,
          offset_s: float = 0.0, playrate: float | None = None) -> None:
    if path is None:
        return
    out.open("ITEM")
    out.line("POSITION", _num(start))
    out.line("LENGTH", _num(duration))
    out.line("SOFFS", _num(offset_s))
    if playrate is not None and playrate != 1.0:
        out.line("PLAYRATE", _num(playrate), "1", "0", "-1", "0", "0.0025")
    out.line("NAME", _q(name))
    out.open("SOURCE", kind)
    out.line("FILE", _q(path))
    out.close()
    out.close()


def _path(clip) -> str | None:
    if isinstance(clip, _FoleyClip):
        url = clip.target_url
    else:
        ref = clip.media_reference
        url = ref.target_url if isinstance(ref, otio.schema.ExternalReference) else ""
    if not url:
        return None
    return url_utils.filepath_from_url(url) if url.lower().startswith("file:") else url


def _is_foley_track(track: Any) -> bool:
    return isinstance(track, otio.schema.Track) and "lane" in dict(track.metadata.get(_KEY, {}) or {})


def _num(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".") if x != 0 else "0"


def _q(text: str) -> str:
    """REAPER quotes strings with ", or ' / ` when the text holds a double quote."""
    text = str(text).replace("\n", " ")
    for quote in ('"', "'", "`"):
        if quote not in text:
            return f"{quote}{text}{quote}"
    return '"' + text.replace('"', "'") + '"'


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def open(self, tag: str, *values: str) -> None:
        self.lines.append("  " * self.depth + "<" + " ".join((tag,) + values))
        self.depth += 1

    def line(self, *values: str) -> None:
        self.lines.append("  " * self.depth + " ".join(values))

    def raw(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def close(self) -> None:
        self.depth -= 1
        self.lines.append("  " * self.depth + ">")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# ------------------------------------------------------------------------------------------------ reading
def read_from_string(input_str: str) -> otio.schema.Timeline:
    import rpp  # third-party RPP parser (a test dependency; needed only to read)

    project = rpp.loads(input_str)
    if project.tag != "REAPER_PROJECT":
        raise otio.exceptions.OTIOError(f"not a REAPER project (root element {project.tag!r})")
    rate = 48000.0
    timeline = otio.schema.Timeline(name="REAPER project")
    offset = project.find("PROJOFFS")
    timemode = project.find("TIMEMODE")
    fps = float(timemode[4]) if isinstance(timemode, list) and len(timemode) > 5 else 0.0
    if fps and isinstance(timemode, list) and str(timemode[5]) == "1":
        fps = fps * 1000 / 1001
    if isinstance(offset, list) and len(offset) > 1 and float(offset[1]) and fps:
        timeline.global_start_time = otio.opentime.RationalTime(round(float(offset[1]) * fps), fps)
    for element in project.findall("TRACK"):
        name = _first(element, "NAME", default="")
        items = []
        is_video = False
        for item in element.findall("ITEM"):
            source = item.find("SOURCE")
            if source is None:
                continue
            kind = source.attrib[0] if source.attrib else ""
            is_video = is_video or kind == "VIDEO"
            items.append((float(_first(item, "POSITION", "0")), float(_first(item, "LENGTH", "0")),
                          float(_first(item, "SOFFS", "0")), _first(item, "NAME", ""), _first(source, "FILE", "")))
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video if is_video else otio.schema.TrackKind.Audio)
        position = 0.0
        skipped = 0
        for start, length, offset, item_name, path in sorted(items):
            if start < position - 1e-9:
                skipped += 1
                continue
            if start > position:
                track.append(otio.schema.Gap(source_range=_range(0.0, start - position, rate)))
            ref = otio.schema.ExternalReference(target_url=url_utils.url_from_filepath(path) if path else "")
            track.append(otio.schema.Clip(name=item_name, media_reference=ref, source_range=_range(offset, length, rate)))
            position = start + length
        if skipped:
            track.metadata["rpp"] = {"overlapping_items_skipped": skipped}
        timeline.tracks.append(track)
    return timeline


def _range(start_s: float, duration_s: float, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(round(start_s * rate), rate),
                                   otio.opentime.RationalTime(round(duration_s * rate), rate))


def _first(element, tag: str, default: str = "") -> str:
    child = element.find(tag)  # rpp gives a line as a list: [tag, value, ...]
    return str(child[1]) if isinstance(child, list) and len(child) > 1 else default
