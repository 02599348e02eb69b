"""Timelines in and out: reading (any OTIO adapter), clip selection, media resolution, time mapping
(`timemap`, the only place converting timeline time -> media time -> sample index), clip requests and the
writers of the editor's files. Rendering an edit is a use case: `stereofoley.usecases.timeline.render_timeline`."""

from .media import MediaSearch, resolve
from .output import FOLEY_TRACK_NAME, FoleyClip
from .plan import PictureClip, Selection, picture_clips, read_timeline, select, timeline_rate
from .request import ClipRequest, clip_request
from .timemap import rate_fraction, sample_index, sample_span, seconds

__all__ = [
    "ClipRequest", "FOLEY_TRACK_NAME", "FoleyClip", "MediaSearch", "PictureClip", "Selection", "clip_request",
    "picture_clips", "rate_fraction", "read_timeline", "resolve", "sample_index", "sample_span", "seconds", "select",
    "timeline_rate",
]
