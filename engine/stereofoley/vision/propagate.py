"""Carry detections from one analysed frame to the next by sparse optical flow, so YOLO need not run on every frame.

Per box: corners (Shi-Tomasi) inside its central part (the box shrunk by `INNER` on each side, where the object
is, not the background its box corners show) are followed by pyramidal Lucas-Kanade, forward and back; points
that do not come back within `FB_MAX_PX` are dropped. The box moves by the median displacement and scales by
the median change of the points' spread. A box with fewer than `MIN_POINTS` good points (a small object: a
distant walker is 10 px wide at 320 px) is looked for by normalised cross-correlation of its patch in a window
around it (`NCC_MIN`); only a box neither finds is lost: the caller then runs the detector on the next frame.
Pure OpenCV on grey frames at the analysis size (≈1 ms a box at 640 px).
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
NCC_MIN = 0.8  # a box flow lost is carried where its patch correlates at least this well
NCC_MIN_STD = 4.0  # grey-level spread below which a patch has nothing to match (a flat area)
SAME_OBJECT_IOU = 0.3  # a carried box and a detection overlapping this much are one object
EDGE = 0.01  # a box within this fraction of the width of a side edge is at the edge (entering or leaving)
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
    for i in np.flatnonzero(~carried):
        found = _match_patch(prev_grey, next_grey, boxes_px[i])
        if found is not None:
            moved[i], carried[i] = found, True
    if not carried.any():
        return Detections.empty(), carried
    return Detections(moved[carried] / scale, detections.confidence[carried], detections.class_id[carried]), carried


def _match_patch(prev_grey: np.ndarray, next_grey: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The box moved to where its patch of prev_grey correlates best in next_grey (within half its size), or None."""
    h, w = prev_grey.shape
    x1, y1, x2, y2 = (int(round(v)) for v in np.clip(box, 0, (w, h, w, h)))
    bw, bh = x2 - x1, y2 - y1
    if bw < 4 or bh < 4:
        return None
    patch = prev_grey[y1:y2, x1:x2]
    if float(patch.std()) < NCC_MIN_STD:
        return None
    mx, my = max(4, bw // 2), max(4, bh // 2)
    sx1, sy1, sx2, sy2 = max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my)
    window = next_grey[sy1:sy2, sx1:sx2]
    if window.shape[0] < bh or window.shape[1] < bw:
        return None
    score = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    if not np.isfinite(best) or best < NCC_MIN:
        return None
    dx, dy = sx1 + bx - x1, sy1 + by - y1
    return np.clip(box + (dx, dy, dx, dy), 0.0, (w, h, w, h))


def at_side_edge(xyxy_norm: np.ndarray) -> np.ndarray:
    """(n,) whether each box touches the left or right edge of the frame (an object entering or leaving)."""
    return (xyxy_norm[:, 0] <= EDGE) | (xyxy_norm[:, 2] >= 1.0 - EDGE)


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

    `push(index, image)` returns the frames now settled, in order, as (index, image, Detections, parent); results
    lag up to `every` frames. Carried boxes keep the confidence of the detection they came from. `parent[i]` is
    the row of the previous settled frame's Detections that row i continues (-1: none known): a carried box's
    source, and for a detection the source of the carried box it overlaps most (IoU >= SAME_OBJECT_IOU, same
    class, one to one). The caller keeps a track's identity along these links (analyze.py), so an object the
    tracker loses between detections (ByteTrack drops low-confidence boxes of tracks it has lost) keeps its
    track. At each detection:

    - an object the detector finds with confidence >= `confident` that no carried box overlaps (IoU <
      SAME_OBJECT_IOU), away from the side edges, has appeared since the last detection, so the detector also
      runs (batched) on the frames in between: it is found as soon as every-frame detection would find it. One
      entering at a side edge is not looked for earlier: the placement extends a track first seen at an edge
      back to it (placement.py).
    - a confident carried box no detection overlaps (the detector missed the object this once: small or partly
      hidden objects come and go at low confidence) is kept for this frame, once: a detector blink does not
      make the tracker lose the object (ByteTrack takes low-confidence boxes only for tracks it has not lost).

    A confident box that optical flow loses away from the side edges makes the next frame a detection (one lost
    at a side edge is leaving the picture). `end_shot()` settles what is pending and starts afresh (call it at
    cuts and at the end).
    """

    def __init__(self, detector, every: int, *, confident: float = 0.25):
        self.detector, self.every, self.confident = detector, max(1, int(every)), confident
        self.detected = self.carried = 0
        self._reset()

    def _reset(self) -> None:
        self._pending: list[tuple[int, np.ndarray, Detections, np.ndarray]] = []  # carried since the last detection
        self._last: Detections | None = None  # boxes of the latest frame (detected or carried)
        self._bridged = np.zeros(0, dtype=bool)  # per row of _last: kept once already though the detector missed it
        self._grey: np.ndarray | None = None
        self._countdown = 0

    def push(self, index: int, image: np.ndarray) -> list[tuple[int, np.ndarray, Detections, np.ndarray]]:
        g = grey(image)
        previous, self._grey = self._grey, g
        carried = None
        if previous is not None and self._last is not None:
            carried, kept = propagate(previous, g, self._last)
            lost = ~kept & (self._last.confidence >= self.confident) & ~at_side_edge(self._last.xyxy_norm)
            bridged, source = self._bridged[kept], np.flatnonzero(kept)
        if carried is not None and self._countdown > 0:
            self.carried += 1
            self._countdown = 0 if lost.any() else self._countdown - 1
            self._last, self._bridged = carried, bridged
            self._pending.append((index, image, carried, source))
            return []
        found = self.detector.detect(image)
        self.detected += 1
        flags = np.zeros(len(found), dtype=bool)
        parent = np.full(len(found), -1)
        if carried is not None:
            redone = bool(self._pending) and self._entered(found, carried)
            if redone:
                images = [im for _, im, _, _ in self._pending]
                again = _detect_batch(self.detector, images)
                self.detected += len(images)
                self.carried -= len(images)
                # re-detected frames have no flow links; the tracker alone links them
                self._pending = [(i, im, d, np.full(len(d), -1)) for (i, im, _, _), d in zip(self._pending, again)]
            else:
                parent = _link(found, carried, source)
            missed = (carried.confidence >= self.confident) & ~bridged
            missed &= box_iou(carried.xyxy_norm, found.xyxy_norm).max(axis=1, initial=0.0) < SAME_OBJECT_IOU
            if missed.any():
                found = Detections(np.concatenate([found.xyxy_norm, carried.xyxy_norm[missed]]),
                                   np.concatenate([found.confidence, carried.confidence[missed]]),
                                   np.concatenate([found.class_id, carried.class_id[missed]]))
                flags = np.concatenate([flags, np.ones(int(missed.sum()), dtype=bool)])
                parent = np.concatenate([parent, np.full(int(missed.sum()), -1) if redone else source[missed]])
        out = self._pending + [(index, image, found, parent)]
        self._pending, self._last, self._bridged, self._countdown = [], found, flags, self.every - 1
        return out

    def end_shot(self) -> list[tuple[int, np.ndarray, Detections, np.ndarray]]:
        out = self._pending
        self._reset()
        return out

    def _entered(self, found: Detections, carried: Detections) -> bool:
        sure = found.xyxy_norm[(found.confidence >= self.confident) & ~at_side_edge(found.xyxy_norm)]
        if len(sure) == 0:
            return False
        overlap = box_iou(sure, carried.xyxy_norm)
        return bool(np.any(overlap.max(axis=1, initial=0.0) < SAME_OBJECT_IOU))


def _link(found: Detections, carried: Detections, source: np.ndarray) -> np.ndarray:
    """Per row of found: the source row of the carried box of its class it overlaps most (IoU >=
    SAME_OBJECT_IOU), one to one."""
    parent = np.full(len(found), -1)
    iou = box_iou(found.xyxy_norm, carried.xyxy_norm)
    iou[found.class_id[:, None] != carried.class_id[None, :]] = 0.0
    while iou.size and iou.max() >= SAME_OBJECT_IOU:
        i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
        parent[i] = source[j]
        iou[i, :] = 0.0
        iou[:, j] = 0.0
    return parent


def _detect_batch(detector, images):
    batch = getattr(detector, "detect_batch", None)
    return list(batch(images)) if batch is not None else [detector.detect(im) for im in images]
