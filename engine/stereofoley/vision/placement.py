"""From a track's raw detections to a smooth trajectory: gaps, frame edges, smoothing, azimuth and distance.

Steps, in order, on the analysis frames of one shot:
1. short gaps (frames the tracker coasted through) are filled by linear interpolation;
2. a box cut by the left or right frame edge gets its full width back from the object's aspect ratio seen
   elsewhere, so its centre keeps moving as the object slides out (instead of stalling at the edge);
3. centre, log-size are smoothed with a centred Savitzky–Golay filter: analysis is offline, so the filter is
   zero-phase (no lag at all) and keeps constant-velocity motion exact;
4. a track that starts or ends at a frame edge is extrapolated off-screen for at most `EDGE_EXTRAPOLATION_S`,
   then ends: one whose box is cut by the edge, or one first (last) seen within `EDGE_ZONE` of an edge moving
   away from (towards) it, as when a detector picks a person up only once most of them is in frame. So the
   sound enters and leaves at the frame edge instead of starting late, inside the picture;
5. azimuth through the camera's horizontal field of view; distance from box height and the class's typical
   height in the class vocabulary (vocabulary.py: a person 1.7 m, a car 1.5 m; synonyms and the user's
   --class-map included), an unmapped class as a 1 m object (pinhole camera).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.signal

from ..vocabulary import Vocabulary, builtin_vocabulary
from ..spatial.trajectory import azimuth_from_x
from .tracks import DEFAULT_HFOV_DEG, ObjectTrack, vertical_fov_deg

PLACEMENT_VERSION = 2  # part of the analysis cache key: bump when placement changes (2: vocabulary, edge zone)
EDGE_EXTRAPOLATION_S = 1.0
EDGE_MARGIN = 0.01  # a box side this close to the frame edge (fraction of width) is cut by it
EDGE_ZONE = 0.1  # a track first or last seen this close to an edge, moving across it, came in or goes out there
MIN_EDGE_SPEED = 0.02  # frame widths per second: slower than this, an object near the edge is not leaving
SMOOTH_WINDOW = 5  # analysis frames in the smoothing window (odd)
MIN_DISTANCE_M, MAX_DISTANCE_M = 0.5, 500.0


def fill_gaps(times: np.ndarray, obs_times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values (n_obs, k) at obs_times, linearly interpolated onto times (within the observed span)."""
    return np.stack([np.interp(times, obs_times, values[:, j]) for j in range(values.shape[1])], axis=1)


def restore_edge_boxes(xyxy: np.ndarray, margin: float = EDGE_MARGIN) -> np.ndarray:
    """Give boxes cut by the left/right frame edge the width their aspect ratio (seen uncut) implies."""
    out = xyxy.copy()
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    at_left, at_right = xyxy[:, 0] <= margin, xyxy[:, 2] >= 1.0 - margin
    whole = ~(at_left | at_right) & (h > 0)
    if not whole.any():
        return out
    aspect = float(np.median(w[whole] / h[whole]))
    full_w = np.maximum(aspect * h, w)
    cut_left = at_left & ~at_right
    cut_right = at_right & ~at_left
    out[cut_left, 0] = xyxy[cut_left, 2] - full_w[cut_left]
    out[cut_right, 2] = xyxy[cut_right, 0] + full_w[cut_right]
    return out


def smooth(values: np.ndarray, window: int = SMOOTH_WINDOW) -> np.ndarray:
    """Zero-phase Savitzky–Golay (order 2) along axis 0; short tracks are left as they are."""
    n = values.shape[0]
    win = min(window, n if n % 2 else n - 1)
    if win < 3:
        return values.copy()
    return scipy.signal.savgol_filter(values, win, min(2, win - 1), axis=0, mode="interp")


def _extrapolate(times: np.ndarray, xyxy: np.ndarray, *, at_start: bool, limit_s: float, step_s: float):
    """Continue the box along its recent velocity for up to limit_s or until it is fully off-screen."""
    k = min(4, len(times) - 1)
    if k < 1:
        return np.zeros(0), np.zeros((0, 4))
    seg_t, seg_b = (times[: k + 1], xyxy[: k + 1]) if at_start else (times[-k - 1 :], xyxy[-k - 1 :])
    velocity = (seg_b[-1] - seg_b[0]) / (seg_t[-1] - seg_t[0])
    velocity[[1, 3]] = 0.0  # vertical position and size held: only the horizontal slide is evident
    velocity[2] = velocity[0]
    n = int(math.floor(limit_s / step_s + 1e-9))
    steps = np.arange(1, n + 1) * step_s
    if at_start:
        t = times[0] - steps[::-1]
        b = xyxy[0] + (t - times[0])[:, None] * velocity
    else:
        t = times[-1] + steps
        b = xyxy[-1] + (t - times[-1])[:, None] * velocity
    inside = (b[:, 2] > 0.0) & (b[:, 0] < 1.0)  # stop once wholly off-screen (keep the first point beyond)
    if at_start:
        first = np.flatnonzero(inside)[0] - 1 if inside.any() else len(t) - 1
        keep = slice(max(first, 0), None)
    else:
        last = np.flatnonzero(~inside)[0] + 1 if (~inside).any() else len(t)
        keep = slice(0, last)
    return t[keep], b[keep]


def _crosses_edge(times: np.ndarray, xyxy: np.ndarray, *, at_start: bool) -> bool:
    """Whether the track's first (last) box is cut by a side edge, or near one and moving in from (out across) it."""
    box = xyxy[0] if at_start else xyxy[-1]
    if box[0] <= EDGE_MARGIN or box[2] >= 1.0 - EDGE_MARGIN:
        return True
    k = min(4, len(times) - 1)
    if k < 1:
        return False
    seg = slice(0, k + 1) if at_start else slice(-k - 1, None)
    cx = (xyxy[seg, 0] + xyxy[seg, 2]) / 2.0
    v = (cx[-1] - cx[0]) / (times[seg][-1] - times[seg][0])
    outward = -v if at_start else v  # positive: towards the right edge (leaving) or from the left one (entering)
    if box[0] <= EDGE_ZONE and outward < -MIN_EDGE_SPEED:
        return True
    return bool(box[2] >= 1.0 - EDGE_ZONE and outward > MIN_EDGE_SPEED)


def build_track(
    track_id: int,
    class_name: str,
    obs_times_s: np.ndarray,
    obs_xyxy_norm: np.ndarray,
    obs_confidence: np.ndarray,
    *,
    frame_times_s: np.ndarray,
    shot_span_s: tuple[float, float],
    aspect: float,
    hfov_deg: float = DEFAULT_HFOV_DEG,
    vocabulary: Vocabulary | None = None,
) -> ObjectTrack:
    """One ObjectTrack from the raw detections a tracker assigned to one identity within one shot.

    frame_times_s are the analysed frame times (relative to the analysis start) of the shot; shot_span_s its
    [start, end] on the same clock: extrapolation never crosses into another shot.
    """
    obs_times_s = np.asarray(obs_times_s, dtype=np.float64)
    inside = (frame_times_s >= obs_times_s[0] - 1e-9) & (frame_times_s <= obs_times_s[-1] + 1e-9)
    times = frame_times_s[inside]
    xyxy = fill_gaps(times, obs_times_s, np.asarray(obs_xyxy_norm, dtype=np.float64))
    conf = np.zeros(times.size)
    conf[np.searchsorted(times, obs_times_s).clip(0, times.size - 1)] = obs_confidence
    xyxy = _smooth_boxes(restore_edge_boxes(xyxy))
    starts_at_edge, ends_at_edge = _crosses_edge(times, xyxy, at_start=True), _crosses_edge(times, xyxy, at_start=False)

    step_s = float(np.median(np.diff(frame_times_s))) if frame_times_s.size > 1 else 0.1
    if starts_at_edge:
        t, b = _extrapolate(times, xyxy, at_start=True, limit_s=min(EDGE_EXTRAPOLATION_S, times[0] - shot_span_s[0]), step_s=step_s)
        times, xyxy, conf = np.concatenate([t, times]), np.concatenate([b, xyxy]), np.concatenate([np.zeros(t.size), conf])
    if ends_at_edge:
        t, b = _extrapolate(times, xyxy, at_start=False, limit_s=min(EDGE_EXTRAPOLATION_S, shot_span_s[1] - times[-1]), step_s=step_s)
        times, xyxy, conf = np.concatenate([times, t]), np.concatenate([xyxy, b]), np.concatenate([conf, np.zeros(t.size)])

    x = (xyxy[:, 0] + xyxy[:, 2]) / 2.0
    category = (vocabulary or builtin_vocabulary()).category(class_name)
    distance = distance_from_boxes(xyxy, category.height_m, hfov_deg, aspect)
    sounding = category.sounding
    return ObjectTrack(
        track_id=int(track_id), class_name=class_name, sounding=sounding, times_s=times, xyxy_norm=xyxy,
        confidence=conf, x_norm=x, azimuth_deg=azimuth_from_x(x, hfov_deg), distance_m=distance,
        salience=track_salience(times, xyxy, sounding), hfov_deg=hfov_deg, aspect=aspect,
    )


def distance_from_boxes(xyxy_norm: np.ndarray, height_m: float, hfov_deg: float, aspect: float) -> np.ndarray:
    """Pinhole distance (m) of an object `height_m` tall whose box is `xyxy_norm` (fractions of the frame)."""
    height = np.maximum(np.asarray(xyxy_norm)[:, 3] - np.asarray(xyxy_norm)[:, 1], 1e-4)
    vfov = math.radians(vertical_fov_deg(hfov_deg, aspect))
    return np.clip(height_m / (height * 2.0 * math.tan(vfov / 2.0)), MIN_DISTANCE_M, MAX_DISTANCE_M)


def placed_with(track: ObjectTrack, vocabulary: Vocabulary) -> ObjectTrack:
    """The track with distance, `sounding` and salience as `vocabulary` gives them (a user --class-map applied
    after analysis: tracks.json and the analysis cache keep the built-in placement)."""
    category = vocabulary.category(track.class_name)
    distance = distance_from_boxes(track.xyxy_norm, category.height_m, track.hfov_deg, track.aspect)
    if category.sounding == track.sounding and np.array_equal(distance, track.distance_m):
        return track
    return dataclasses.replace(
        track, sounding=category.sounding, distance_m=distance,
        salience=track_salience(track.times_s, track.xyxy_norm, category.sounding),
    )


def _smooth_boxes(xyxy: np.ndarray) -> np.ndarray:
    """Smooth centre and log-size (sizes change multiplicatively as objects approach), then back to corners."""
    c = (xyxy[:, :2] + xyxy[:, 2:]) / 2.0
    size = np.log(np.maximum(xyxy[:, 2:] - xyxy[:, :2], 1e-4))
    s = smooth(np.concatenate([c, size], axis=1))
    half = np.exp(s[:, 2:]) / 2.0
    return np.concatenate([s[:, :2] - half, s[:, :2] + half], axis=1)


def track_salience(times_s: np.ndarray, xyxy_norm: np.ndarray, sounding: bool) -> float:
    """size × motion × (does the class make sound) × how long it is seen (saturating at 2 s).

    size: square root of the median visible box area (0..1); motion: horizontal travel plus relative size
    change, saturating at one frame width; classes that do not make sound count a fifth.
    """
    visible = np.clip(xyxy_norm, 0.0, 1.0)
    area = (visible[:, 2] - visible[:, 0]) * (visible[:, 3] - visible[:, 1])
    size = math.sqrt(max(float(np.median(area)), 0.0))
    cx = (xyxy_norm[:, 0] + xyxy_norm[:, 2]) / 2.0
    log_h = np.log(np.maximum(xyxy_norm[:, 3] - xyxy_norm[:, 1], 1e-4))
    travel = float(np.sum(np.abs(np.diff(cx)))) + 0.5 * float(np.ptp(log_h)) if cx.size > 1 else 0.0
    motion = 0.2 + 0.8 * min(1.0, travel)
    duration = min(1.0, (float(times_s[-1] - times_s[0]) + 1e-3) / 2.0)
    return size * motion * (1.0 if sounding else 0.2) * duration
