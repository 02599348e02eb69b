"""The user's corrections to the analysis: an edited tracks.json instead of analysing (options.tracks), and
which objects may sound (options.include / options.exclude, by track id or class name).

A tracks file is used for a clip when its media has the clip's media file name; it must cover the media range
the clip analyses, and its tracks are moved onto that range's clock (0 = the range's start), cut to it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InvalidParameter
from ..vision import Analysis, ObjectTrack
from ..vision.tracks import read_tracks

COVER_TOLERANCE_S = 1e-3


def tracks_file_for(media_path: Path, files: Sequence[str]) -> Analysis | None:
    """The analysis in `files` whose media has media_path's file name (the first such), else None."""
    for file in files:
        analysis = read_tracks(file)
        if analysis.media_path.name == Path(media_path).name:
            return analysis
    return None


def on_range(analysis: Analysis, start_s: float, end_s: float, where: str) -> Analysis:
    """The analysis of [start_s, end_s) of its media: tracks on that range's clock, cut to it (a point is
    interpolated at each cut), tracks wholly outside dropped. Refuses a file that does not cover the range."""
    if analysis.start_s > start_s + COVER_TOLERANCE_S or analysis.end_s < end_s - COVER_TOLERANCE_S:
        raise InvalidParameter(f"{where} covers media {analysis.start_s:.3f}-{analysis.end_s:.3f} s, not the "
                               f"clip's {start_s:.3f}-{end_s:.3f} s; analyse that range (--tracks-out) and edit it")
    offset, duration = start_s - analysis.start_s, end_s - start_s
    if abs(offset) < 1e-9 and abs(analysis.duration_s - duration) < 1e-9:
        return analysis
    tracks = tuple(t for t in (_cut(track, offset, duration) for track in analysis.tracks) if t is not None)
    cuts = tuple(c for c in analysis.cuts_s if start_s <= c <= end_s)
    frames = analysis.frame_times_s[(analysis.frame_times_s >= start_s) & (analysis.frame_times_s <= end_s)]
    return replace(analysis, start_s=start_s, end_s=end_s, tracks=tracks, cuts_s=cuts, frame_times_s=frames)


def _cut(track: ObjectTrack, offset_s: float, duration_s: float) -> ObjectTrack | None:
    t = track.times_s - offset_s
    keep = (t >= 0.0) & (t <= duration_s)
    grid = list(t[keep])
    for edge in (0.0, duration_s):  # interpolated points where the track crosses a cut
        if t[0] < edge < t[-1] and not np.any(np.isclose(t, edge)):
            grid.append(edge)
    if not grid:
        return None
    grid = np.array(sorted(grid))
    def at(values: np.ndarray) -> np.ndarray:
        if values.ndim == 1:
            return np.interp(grid, t, values)
        return np.stack([np.interp(grid, t, column) for column in values.T], axis=-1)

    return replace(track, times_s=grid, xyxy_norm=at(track.xyxy_norm), confidence=at(track.confidence),
                   x_norm=at(track.x_norm), azimuth_deg=at(track.azimuth_deg), distance_m=at(track.distance_m))


def chosen_by_user(tracks: Sequence[ObjectTrack], include: Sequence[str], exclude: Sequence[str]) -> list[ObjectTrack]:
    """The tracks that may sound: those include names (all when it is empty; included ones count as sounding,
    whatever their class), less those exclude names. A name is a track id or a class name (any case)."""
    def named(track: ObjectTrack, names: Sequence[str]) -> bool:
        return any(n.strip().lstrip("-").isdigit() and int(n) == int(track.track_id)
                   or n.strip().lower() == track.class_name.lower() for n in names)

    out = []
    for track in tracks:
        if (include and not named(track, include)) or named(track, exclude):
            continue
        out.append(replace(track, sounding=True) if include else track)
    return out
