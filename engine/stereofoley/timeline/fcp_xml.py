"""FCP 7 XML (xmeml) for Premiere and Resolve, written by the otio fcp_xml adapter and then corrected.

The adapter alone gets several things wrong for what editors import (each fixed here, each checked by
reading the output back with the same adapter in tests/timeline/test_fcp_xml.py):
  - it writes what OTIO holds, edges between frames included, and raises on timecode at rates SMPTE has none
    for (10, 12, 15 fps): the timeline is first put on the sequence frame grid (`conform.frame_conformed`);
  - a clip item carries two <rate> elements: the second goes;
  - <file><timecode> is rebuilt from the file's start (for Foley WAVs: their BWF TimeReference), at the file's
    rate where timecode exists at it, else at the sequence rate; <frame> is at that rate (the adapter writes the
    frame count at the media rate beside a timebase at another);
  - the sequence <duration> is the end of the last item on the frame grid;
  - audio files get <channelcount> and <samplecharacteristics> (from the WAV header) and Foley clip items a
    <sourcetrack>, as Premiere writes them.
Optionally each Foley lane's objects become extra audio tracks ("StereoFoley object N") whose clips reference
the objects' mono stems, with keyframed Pan and Audio Levels filters from their automation curves.
"""

from __future__ import annotations

import copy
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import opentimelineio as otio
import soundfile as sf
from opentimelineio import url_utils

from .. import SAMPLE_RATE_HZ
from ..audio import read_bwf_time_reference
from ..files import write_text_atomic
from .conform import frame_conformed
from .output import METADATA_KEY, plain_metadata, is_foley_track
from .plan import timeline_rate
from .timemap import frame_index, is_timecode_rate, is_xml_rate, rate_fraction, rational, seconds, time_range

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@dataclass(frozen=True)
class XmlWritten:
    path: Path
    content: str  # "full timeline" or what the fallback holds and why
    notes: tuple[str, ...] = ()  # rates the XML could not state, and what was written instead


def write_fcp_xml(timeline: otio.schema.Timeline, pictures: Sequence, path: Path, *, overwrite: bool,
                  stems: bool = False) -> XmlWritten:
    """Write `timeline` (the render's output timeline) as FCP 7 XML at `path`.

    The fcp_xml adapter cannot write every construct (clips directly in stacks, clips without a source
    range); then the XML holds the selected picture clips on one video track plus the Foley tracks, at the
    same record ranges, and `content` says which item stopped the full write and why."""
    rate = timeline_rate(timeline)
    why = unwritable(timeline)  # known failures are found before the adapter spends seconds on a long edit
    try:
        if why:
            raise _Unwritable(why)
        text, notes = _write(timeline, rate, stems)
        content = "full timeline"
    except Exception as exc:  # the adapter raises TypeError/AttributeError/ValueError on what it does not model
        text, notes = _write(flat_for_xml(timeline, pictures), rate, stems)
        reason = str(exc) if isinstance(exc, _Unwritable) else f"{type(exc).__name__}: {exc or 'no message'}{_culprit(exc)}"
        content = f"selected picture clips + Foley (the fcp_xml adapter cannot write the full timeline: {reason})"
    notes = tuple(f"{Path(path).resolve()}: {n.removeprefix('FCP XML: ')}" for n in notes)  # file, clip and reason in one line
    return XmlWritten(write_text_atomic(path, text, overwrite=overwrite), content, notes)


class _Unwritable(Exception):
    pass


def unwritable(timeline: otio.schema.Timeline) -> str | None:
    """Why otio-fcp-adapter would fail on the full timeline, for the constructs known to break it: a clip
    directly in a stack, a file reference without an available range (the adapter needs the file's extent)."""
    for stack in timeline.find_children(descended_from_type=otio.schema.Stack):
        for child in stack:
            if isinstance(child, otio.schema.Clip):
                return f"clip {child.name!r} sits directly in stack {stack.name!r}, not in a track"
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is None:
            return f"clip {clip.name!r}: its media reference has no available range"
    return None


def _culprit(exc: BaseException) -> str:
    """The innermost OTIO item the adapter was building when it raised (to name it in the report)."""
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        for name in ("item", "clip_item", "track"):
            value = tb.tb_frame.f_locals.get(name)
            if isinstance(value, otio.core.Composable):
                found = f"; at {type(value).__name__} {value.name!r}"
        tb = tb.tb_next
    return found


def _write(timeline: otio.schema.Timeline, rate: float, stems: bool) -> tuple[str, tuple[str, ...]]:
    source = with_stem_tracks(timeline) if stems else timeline
    conformed = frame_conformed(source, rate, writer="FCP XML", expressible=is_xml_rate)
    notes = list(conformed.notes)
    tc_rate = rate if is_timecode_rate(rate) else 30.0
    for clip in conformed.timeline.find_clips():
        ref = clip.media_reference
        available = getattr(ref, "available_range", None)
        if available is not None and not is_timecode_rate(available.start_time.rate):
            # <file> holds a timecode, which SMPTE defines at none of 10, 12, 15 fps: state the file at tc_rate
            a0 = frame_index(seconds(available.start_time), tc_rate)
            a1 = frame_index(seconds(available.end_time_exclusive()), tc_rate)
            ref.available_range = TR(RT(a0, tc_rate), RT(a1 - a0, tc_rate))
            notes.append(f"FCP XML: clip {clip.name!r}: no timecode exists at {available.start_time.rate:g} fps; "
                         f"its file's timecode and length are at {tc_rate:g} fps (its in/out stay at its own rate)")
    text = otio.adapters.write_to_string(conformed.timeline, "fcp_xml")
    return _corrected(text, conformed.timeline, rate, stems), tuple(dict.fromkeys(notes))


# ------------------------------------------------------------------------------------------- corrections
def _corrected(text: str, timeline: otio.schema.Timeline, rate: float, stems: bool) -> str:
    root = ET.fromstring(text)
    starts = _file_starts(timeline)
    for element in root.iter():
        rates = [c for c in element if c.tag == "rate"]
        for extra in rates[1:]:
            element.remove(extra)
    for file_e in root.iter("file"):
        url = file_e.findtext("pathurl")
        if url is None:
            continue  # a back-reference (<file id="file-3"/>) or a generator
        tc = file_e.find("timecode")
        if tc is not None and url in starts:
            start_s, file_rate = starts[url]
            index = list(file_e).index(tc)
            file_e.remove(tc)
            file_e.insert(index, _timecode_element(start_s, file_rate if is_timecode_rate(file_rate) else rate))
        path = url_utils.filepath_from_url(url) if url.lower().startswith("file:") else url
        if path.lower().endswith((".wav", ".bwf")):
            _describe_audio(file_e, Path(path))
    for sequence in root.iter("sequence"):
        duration = sequence.find("duration")
        end = _sequence_frames(sequence) if sequence.find("media") is not None else 0
        if duration is not None and end > 0:  # nested sequences inside clip items keep theirs
            duration.text = str(end)
    for track_e in root.iter("track"):
        for item in track_e.iter("clipitem"):
            f = item.find("file")
            url = f.findtext("pathurl") if f is not None else None
            if url and url.lower().endswith(".wav") and item.find("sourcetrack") is None:
                st = ET.SubElement(item, "sourcetrack")
                ET.SubElement(st, "mediatype").text = "audio"
                ET.SubElement(st, "trackindex").text = "1"
    if stems:
        _keyframes(root, timeline, rate)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _file_starts(timeline: otio.schema.Timeline) -> dict[str, tuple[Fraction, float]]:
    """url -> (file start in seconds, file rate). A Foley WAV starts at its BWF TimeReference."""
    found: dict[str, tuple[Fraction, float]] = {}
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url or ref.target_url in found:
            continue
        start = seconds(ref.available_range.start_time) if ref.available_range is not None else Fraction(0)
        file_rate = ref.available_range.start_time.rate if ref.available_range is not None else clip.trimmed_range().start_time.rate
        path = url_utils.filepath_from_url(ref.target_url) if ref.target_url.lower().startswith("file:") else ""
        if path.lower().endswith(".wav") and os.path.isfile(path):
            reference = read_bwf_time_reference(path)
            if reference is not None:
                start = Fraction(reference, SAMPLE_RATE_HZ)
        found[ref.target_url] = (start, file_rate)
    return found


def _rate_element(rate: float) -> ET.Element:
    r = rate_fraction(rate)
    e = ET.Element("rate")
    ET.SubElement(e, "timebase").text = str(math.ceil(r))
    ET.SubElement(e, "ntsc").text = "FALSE" if r.denominator == 1 else "TRUE"
    return e


def _timecode_element(start_s: Fraction, rate: float) -> ET.Element:
    frame = frame_index(start_s, rate)
    e = ET.Element("timecode")
    e.append(_rate_element(rate))
    r = rate_fraction(rate)
    drop = r in _DROP_FRAME_RATES  # 29.97 and 59.94 media carry drop-frame timecode in Premiere and Resolve
    ET.SubElement(e, "string").text = otio.opentime.to_timecode(RT(frame, rate), rate, drop)
    ET.SubElement(e, "frame").text = str(frame)
    ET.SubElement(e, "displayformat").text = "DF" if drop else "NDF"
    return e


_DROP_FRAME_RATES = frozenset({Fraction(30000, 1001), Fraction(60000, 1001)})


def _describe_audio(file_e: ET.Element, path: Path) -> None:
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError):
        return  # not here (an earlier run's file moved): leave the adapter's element
    media = file_e.find("media")
    if media is None:
        media = ET.SubElement(file_e, "media")
    audio = media.find("audio")
    if audio is None:
        audio = ET.SubElement(media, "audio")
    audio.clear()
    sc = ET.SubElement(audio, "samplecharacteristics")
    ET.SubElement(sc, "depth").text = {"PCM_16": "16", "PCM_24": "24", "PCM_32": "32", "FLOAT": "32"}.get(info.subtype, "24")
    ET.SubElement(sc, "samplerate").text = str(info.samplerate)
    ET.SubElement(audio, "channelcount").text = str(info.channels)


def _sequence_frames(sequence: ET.Element) -> int:
    end = 0
    for track_e in sequence.find("media").iter("track"):
        for item in track_e:
            e = item.findtext("end")
            if e is not None and e.strip().lstrip("-").isdigit() and int(e) > end:
                end = int(e)
    return end


# --------------------------------------------------------------------------------------------- stems
def with_stem_tracks(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """The timeline plus, after each Foley lane, one audio track per object index whose clips reference the
    objects' mono stems at the Foley clips' record ranges (gaps elsewhere)."""
    rate = timeline_rate(timeline)
    result = copy.deepcopy(timeline)
    for lane in [t for t in result.tracks if is_foley_track(t)]:
        placed = [(c, c.range_in_parent()) for c in lane.find_clips(shallow_search=True)]
        n = max((len(c.metadata[METADATA_KEY].get("objects", ())) for c, _ in placed), default=0)
        for k in range(n):
            track = otio.schema.Track(name=f"{lane.name} object {k + 1}", kind=otio.schema.TrackKind.Audio)
            track.metadata[METADATA_KEY] = {"stem_of_lane": lane.name, "object": k + 1}
            position = Fraction(0)
            for clip, r in placed:
                objects = clip.metadata[METADATA_KEY].get("objects", ())
                if k >= len(objects) or not objects[k].get("source_wav"):
                    continue
                start, end = seconds(r.start_time), seconds(r.start_time) + seconds(r.duration)
                if start > position:
                    track.append(otio.schema.Gap(source_range=time_range(Fraction(0), start - position, rate)))
                obj = objects[k]
                stem = Path(str(obj["source_wav"]))
                available = copy.deepcopy(clip.media_reference.available_range)
                ref = otio.schema.ExternalReference(target_url=url_utils.url_from_filepath(str(stem)),
                                                    available_range=available)
                stem_clip = otio.schema.Clip(name=f"{clip.name}: {obj.get('name')}", media_reference=ref,
                                             source_range=copy.deepcopy(clip.source_range))
                stem_clip.metadata[METADATA_KEY] = {"curves": plain_metadata(obj.get("curves", {})), "stem": True}
                track.append(stem_clip)
                position = end
            result.tracks.append(track)
    return result


def _keyframes(root: ET.Element, timeline: otio.schema.Timeline, rate: float) -> None:
    """Pan and Audio Levels filters with keyframes (frames from the clip item's in point) on stem clip items.
    Premiere's Pan runs -100 (left) .. +100 (right); Audio Levels is a linear gain (1 = 0 dB)."""
    curves_by_name = {}
    for track in timeline.tracks:
        if METADATA_KEY in track.metadata and "stem_of_lane" in track.metadata[METADATA_KEY]:
            for clip in track.find_clips(shallow_search=True):
                curves_by_name[clip.name] = plain_metadata(clip.metadata[METADATA_KEY]["curves"])
    for item in root.iter("clipitem"):
        curves = curves_by_name.get(item.findtext("name") or "")
        if not curves:
            continue
        in_frame = int(item.findtext("in") or 0)
        if curves.get("pan"):
            item.append(_filter("Pan", "audiopan", "pan", -100, 100,
                                [(t, 100.0 * max(-1.0, min(1.0, v))) for t, v in curves["pan"]], rate, in_frame))
        if curves.get("gain_db"):
            item.append(_filter("Audio Levels", "audiolevels", "level", 0, 3.98109,
                                [(t, 10.0 ** (v / 20.0)) for t, v in curves["gain_db"]], rate, in_frame))


def _filter(name: str, effect_id: str, parameter_id: str, low: float, high: float, points, rate: float,
            in_frame: int) -> ET.Element:
    f = ET.Element("filter")
    effect = ET.SubElement(f, "effect")
    ET.SubElement(effect, "name").text = name
    ET.SubElement(effect, "effectid").text = effect_id
    ET.SubElement(effect, "effectcategory").text = "audiolevels" if effect_id == "audiolevels" else "audiopan"
    ET.SubElement(effect, "effecttype").text = "audiofilter"
    ET.SubElement(effect, "mediatype").text = "audio"
    p = ET.SubElement(effect, "parameter")
    ET.SubElement(p, "parameterid").text = parameter_id
    ET.SubElement(p, "name").text = name if parameter_id == "level" else "left"
    ET.SubElement(p, "valuemin").text = f"{low:g}"
    ET.SubElement(p, "valuemax").text = f"{high:g}"
    ET.SubElement(p, "value").text = f"{points[0][1]:.6g}"
    last = None
    for t, v in points:
        when = in_frame + frame_index(Fraction(t), rate)
        if when == last:
            continue  # one keyframe a frame: the first point in it
        k = ET.SubElement(p, "keyframe")
        ET.SubElement(k, "when").text = str(when)
        ET.SubElement(k, "value").text = f"{v:.6g}"
        last = when
    return f


# --------------------------------------------------------------------------------------------- fallback
def flat_for_xml(timeline: otio.schema.Timeline, pictures: Sequence) -> otio.schema.Timeline:
    """The selected picture clips on one video track plus the Foley tracks, at the same record ranges."""
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
        source = TR(rational(start, media_rate), rational(p.record_duration_s, rate))
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
