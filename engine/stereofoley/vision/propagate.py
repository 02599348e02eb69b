"""Carry detections from one analysed frame to the next by sparse optical flow, so YOLO need not run on every frame.

Per box: corners (Shi-Tomasi) inside its central part (the box shrunk by `INNER` on each side, where the object
is, not the background its box corners show) are followed by pyramidal Lucas-Kanade, forward and back; points
that do not come back within `FB_MAX_PX` are dropped. The box moves by the median displacement and scales by
the median change of the points' spread. A box with fewer than `MIN_POINTS` good points is lost: the caller
then runs the detector on the next frame. Pure OpenCV on grey frames at the analysis size (≈1 ms a box at 640 px).
"""

from __future__ import annotations

import cv2
import numpy as np

from .detections import Detections

INNER = 0.2  # fraction of the box's width / height left out on each side when choosing points
MAX_POINTS = 40  # corners per box
MIN_POINTS = 4  # fewer surviving points: the box is lost
FB_MAX_PX = 1.0  # forward-backward error above which a point is dropped
SCALE_RANGE = (0.8, 1.25)  # per-frame box scale change kept within this
_LK = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def propagate(prev_grey: np.ndarray, next_grey: np.ndarray, detections: Detections) -> tuple[Detections, np.ndarray]:
    """Detections moved from prev to next frame, and which input rows were carried (bool per row).

    Rows that were lost are left out of the returned Detections (order kept otherwise).
    """
    n = len(detections)
    carried = np.zeros(n, dtype=bool)
    if n == 0:
        return Detections.empty(), carried
    h, w = prev_grey.shape
    scale = np.array([w, h, w, h], dtype=np.float64)
    boxes_px = detections.xyxy_norm * scale
    points, owner = [], []
    for i, (x1, y1, x2, y2) in enumerate(boxes_px):
        bw, bh = x2 - x1, y2 - y1
        ix1, iy1 = int(max(0, x1 + INNER * bw)), int(max(0, y1 + INNER * bh))
        ix2, iy2 = int(min(w, np.ceil(x2 - INNER * bw))), int(min(h, np.ceil(y2 - INNER * bh)))
        if ix2 - ix1 < 3 or iy2 - iy1 < 3:
            continue
        corners = cv2.goodFeaturesToTrack(prev_grey[iy1:iy2, ix1:ix2], maxCorners=MAX_POINTS, qualityLevel=0.01, minDistance=3)
        if corners is None:
            continue
        points.append(corners.reshape(-1, 2) + (ix1, iy1))
        owner.append(np.full(len(corners), i))
    if not points:
        return Detections.empty(), carried
    p0 = np.concatenate(points).astype(np.float32)
    owner = np.concatenate(owner)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev_grey, next_grey, p0, None, **_LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(next_grey, prev_grey, p1, None, **_LK)
    good = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - p0, axis=1) <= FB_MAX_PX)
    moved = boxes_px.copy()
    for i in range(n):
        sel = good & (owner == i)
        if sel.sum() < MIN_POINTS:
            continue
        a, b = p0[sel].astype(np.float64), p1[sel].astype(np.float64)
        d = np.median(b - a, axis=0)
        spread_a = np.linalg.norm(a - np.median(a, axis=0), axis=1)
        spread_b = np.linalg.norm(b - np.median(b, axis=0), axis=1)
        ok = spread_a > 1.0
        s = float(np.clip(np.median(spread_b[ok] / spread_a[ok]), *SCALE_RANGE)) if ok.sum() >= MIN_POINTS else 1.0
        x1, y1, x2, y2 = boxes_px[i]
        cx, cy = (x1 + x2) / 2 + d[0], (y1 + y2) / 2 + d[1]
        hw, hh = (x2 - x1) / 2 * s, (y2 - y1) / 2 * s
        # clipped to the frame like the detector's boxes: an object half off-screen keeps its edge at the border
        moved[i] = np.clip((cx - hw, cy - hh, cx + hw, cy + hh), 0.0, (w, h, w, h))
        carried[i] = True
    if not carried.any():
        return Detections.empty(), carried
    return Detections(moved[carried] / scale, detections.confidence[carried], detections.class_id[carried]), carried


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


class SparseDetection:
    """Run a frame-independent detector on one analysed frame in `every`, carrying boxes by flow in between.

    `push(index, image)` returns the frames now settled, in order, as (index, image, Detections); results lag
    up to `every` frames. At each detection the boxes carried to that frame are compared with the detector's:
    an object the detector finds with confidence >= `confident` that no carried box overlaps (IoU < 0.3) has
    entered since the last detection, so the detector also runs (batched) on the frames in between: an object is
    found as soon as every-frame detection would find it. A confident box that optical flow loses makes the next
    frame a detection. `end_shot()` settles what is pending and starts afresh (call it at cuts and at the end).
    """

    def __init__(self, detector, every: int, *, confident: float = 0.25):
        self.detector, self.every, self.confident = detector, max(1, int(every)), confident
        self.detected = self.carried = 0
        self._reset()

    def _reset(self) -> None:
        self._pending: list[tuple[int, np.ndarray, Detections]] = []  # carried frames since the last detection
        self._last: Detections | None = None  # boxes of the latest frame (detected or carried)
        self._grey: np.ndarray | None = None
        self._countdown = 0

    def push(self, index: int, image: np.ndarray) -> list[tuple[int, np.ndarray, Detections]]:
        g = grey(image)
        previous, self._grey = self._grey, g
        carried = None
        if previous is not None and self._last is not None:
            carried, kept = propagate(previous, g, self._last)
            lost_confident = bool(np.any(~kept & (self._last.confidence >= self.confident)))
        if carried is not None and self._countdown > 0:
            self.carried += 1
            self._countdown = 0 if lost_confident else self._countdown - 1
            self._last = carried
            self._pending.append((index, image, carried))
            return []
        found = self.detector.detect(image)
        self.detected += 1
        if self._pending and carried is not None and self._entered(found, carried):
            images = [im for _, im, _ in self._pending]
            redone = _detect_batch(self.detector, images)
            self.detected += len(images)
            self.carried -= len(images)
            self._pending = [(i, im, d) for (i, im, _), d in zip(self._pending, redone)]
        out = self._pending + [(index, image, found)]
        self._pending, self._last, self._countdown = [], found, self.every - 1
        return out

    def end_shot(self) -> list[tuple[int, np.ndarray, Detections]]:
        out = self._pending
        self._reset()
        return out

    def _entered(self, found: Detections, carried: Detections) -> bool:
        sure = found.xyxy_norm[found.confidence >= self.confident]
        if len(sure) == 0:
            return False
        overlap = box_iou(sure, carried.xyxy_norm)
        return bool(np.any(overlap.max(axis=1, initial=0.0) < 0.3))


def _detect_batch(detector, images):
    batch = getattr(detector, "detect_batch", None)
    return list(batch(images)) if batch is not None else [detector.detect(im) for im in images]
