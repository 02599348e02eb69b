"""AAF for Pro Tools: the Foley lanes as audio tracks of linked (not embedded) BWF WAVs, with the timeline's
start timecode, written by otio-aaf-adapter (pyaaf2).

Picture departments hand over to sound as AAF; neither REAPER's project nor FCP XML reaches Pro Tools.
The AAF holds only the Foley (picture goes over separately as a reference movie). The adapter needs one
edit rate for everything, so the timeline is put on the sequence frame grid first (`conform`): each Foley
clip starts and ends on the sequence frame nearest its picture clip's exact edges, as in the FCP XML.
Each WAV is described as what it is (48 kHz, its channel count and bit depth, its length in samples) and
located by its absolute file URL.

Checked here by reading the AAF back with the same adapter; not checked in Pro Tools itself.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio
import soundfile as sf
from opentimelineio import url_utils

try:
    import aaf2
except ImportError:  # the "timeline" extra (otio-aaf-adapter, pyaaf2) is not installed: no AAF, and a note
    aaf2 = None

from ..errors import UnsupportedTimeline
from ..files import atomic_output
from .conform import frame_conformed
from .output import is_foley_track
from .plan import timeline_rate
from .timemap import rate_fraction

_BITS = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32}


@dataclass(frozen=True)
class AafWritten:
    path: Path | None  # None: not written (see notes)
    notes: tuple[str, ...] = ()


def foley_only(timeline: otio.schema.Timeline, rate: float) -> otio.schema.Timeline:
    """The Foley lanes of an output timeline on the sequence frame grid, every rate the sequence rate."""
    only = otio.schema.Timeline(name=timeline.name or "StereoFoley", global_start_time=timeline.global_start_time)
    for track in timeline.tracks:
        if is_foley_track(track):
            only.tracks.append(copy.deepcopy(track))
    if not len(only.tracks):
        raise UnsupportedTimeline(f"{timeline.name!r}: no StereoFoley tracks to write as AAF")
    same = rate_fraction(rate)
    conformed = frame_conformed(only, rate, writer="AAF", expressible=lambda r: rate_fraction(r) == same)
    result = conformed.timeline
    if result.global_start_time is None:
        result.global_start_time = otio.opentime.RationalTime(0, rate)
    for clip in result.find_clips():
        _describe(clip)
    return result


def _describe(clip: otio.schema.Clip) -> None:
    ref = clip.media_reference
    path = url_utils.filepath_from_url(ref.target_url)
    try:
        info = sf.info(path)
    except (RuntimeError, OSError) as exc:
        raise UnsupportedTimeline(f"AAF: clip {clip.name!r}: cannot read its WAV {path} ({exc})") from None
    bits = _BITS.get(info.subtype, 24)
    block = info.channels * bits // 8
    ref.metadata["AAF"] = {"EssenceDescription": {
        "Channels": info.channels, "QuantizationBits": bits, "BlockAlign": block,
        "AverageBPS": block * info.samplerate, "SampleRate": info.samplerate,
        "AudioSamplingRate": info.samplerate, "Length": info.frames,
    }}
    ref.name = os.path.basename(path)


def _name_slots(path: Path, names: list[str]) -> None:
    """The adapter leaves the composition's sound slots unnamed; Pro Tools shows slot names as track names."""
    with aaf2.open(str(path), "rw") as f:
        for mob in f.content.toplevel():
            sound = [s for s in mob.slots if getattr(s.segment, "media_kind", "") == "Sound"]
            for slot, name in zip(sound, names):
                slot.name = name


def write_aaf(timeline: otio.schema.Timeline, path: Path, *, overwrite: bool) -> AafWritten:
    """Write the Foley lanes of `timeline` (the render's output timeline) as an AAF at `path`, atomically."""
    if aaf2 is None:
        return AafWritten(None, (f"{path}: not written: the AAF writer (otio-aaf-adapter, pyaaf2) is not installed",))
    rate = timeline_rate(timeline)
    only = foley_only(timeline, rate)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.unlink()  # pyaaf2 creates the file itself
        otio.adapters.write_to_file(only, str(tmp), adapter_name="AAF", use_empty_mob_ids=True)
        _name_slots(tmp, [t.name for t in only.tracks])
    return AafWritten(Path(path))
