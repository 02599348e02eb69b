"""Identities over time with ultralytics' ByteTrack or BoT-SORT, and hard-cut detection between frames.

The trackers take detections from any of our detectors (not only YOLO's `Boxes`) through a small adapter
exposing what they read: `conf`, `cls`, `xywh`, `xyxy`, length and boolean indexing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import InvalidParameter
from .detect import Detections
from .ultralytics_env import import_ultralytics

TRACKERS = ("bytetrack", "botsort")


class _TrackerInput:
    """The slice of ultralytics' `Boxes` API the trackers use, in pixels of the analysed frame."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        xy = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2.0
        return np.concatenate([xy, self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> "_TrackerInput":
        return _TrackerInput(self.xyxy[index], self.conf[index], self.cls[index])


@dataclass(frozen=True)
class TrackedDetection:
    track_id: int  # the tracker's id (unique within one tracker instance)
    detection_index: int  # row of the Detections this frame


def make_tracker(kind: str = "bytetrack", *, lost_frames: int = 10):
    """A fresh ultralytics tracker; lost tracks are kept `lost_frames` analysed frames before removal."""
    if kind not in TRACKERS:
        raise InvalidParameter(f"tracker={kind!r} is not allowed; choose one of {', '.join(TRACKERS)}")
    import_ultralytics()
    from ultralytics.trackers.bot_sort import BOTSORT
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    args = dict(
        tracker_type=kind, track_high_thresh=0.25, track_low_thresh=0.1, new_track_thresh=0.25,
        track_buffer=int(lost_frames), match_thresh=0.8, fuse_score=True,
    )
    if kind == "botsort":
        # Global motion compensation follows a handheld camera; no ReID model (nothing to download).
        args.update(gmc_method="sparseOptFlow", proximity_thresh=0.5, appearance_thresh=0.8, with_reid=False, model="auto")
        return BOTSORT(IterableSimpleNamespace(**args))
    return BYTETracker(IterableSimpleNamespace(**args))


def update_tracker(tracker, detections: Detections, image: np.ndarray) -> list[TrackedDetection]:
    """Feed one frame's detections; return which detection each confirmed track took this frame."""
    h, w = image.shape[:2]
    scale = np.array([w, h, w, h], dtype=np.float64)
    boxes = _TrackerInput(detections.xyxy_norm * scale, detections.confidence.astype(np.float32), detections.class_id.astype(np.float32))
    rows = tracker.update(boxes, image)
    out = []
    for row in rows:
        idx = int(row[7])
        if 0 <= idx < len(detections):  # a track coasting on its prediction has no detection this frame
            out.append(TrackedDetection(track_id=int(row[4]), detection_index=idx))
    return out


@dataclass
class CutDetector:
    """A hard cut is a jump in the colour distribution between consecutive analysed frames.

    Comparing hue/saturation/value histograms (not pixels) lets pans, handheld shake and moving objects through,
    while a change of scene moves the whole distribution. `threshold` is a Bhattacharyya distance (0 same, 1
    disjoint).
    """

    threshold: float = 0.35  # bikes.mp4: cuts 0.41-0.77, handheld motion and pans <= 0.26
    _previous: np.ndarray | None = field(default=None, repr=False)

    def is_cut(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
        hist = cv2.normalize(hist, None).flatten()
        previous, self._previous = self._previous, hist
        if previous is None:
            return False
        return float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA)) > self.threshold
