"""Timelines in and out: reading (any OTIO adapter), clip selection, media resolution, time mapping
(`timemap`, the only place converting timeline time -> media time -> sample index), and `render_timeline`."""

from .media import MediaSearch, resolve
from .output import FOLEY_TRACK_NAME, FoleyClip, read_bwf_time_reference
from .plan import PictureClip, Selection, picture_clips, read_timeline, select, timeline_rate
from .render import ClipAudio, ClipRequest, ObjectAudio, RenderOptions, clip_request, render_timeline
from .timemap import rate_fraction, sample_index, sample_span, seconds

__all__ = [
    "ClipAudio", "ClipRequest", "FOLEY_TRACK_NAME", "FoleyClip", "MediaSearch", "ObjectAudio", "PictureClip",
    "RenderOptions", "Selection", "clip_request", "picture_clips", "rate_fraction", "read_bwf_time_reference",
    "read_timeline", "render_timeline", "resolve", "sample_index", "sample_span", "seconds", "select",
    "timeline_rate",
]
