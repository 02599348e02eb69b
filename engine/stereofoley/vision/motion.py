"""The class-agnostic motion detector, for locked-off and hand-held cameras alike (OpenCV + numpy, no weights).

Per analysed frame:

1. **Global motion.** Corners of the previous frame's background followed by pyramidal Lucas-Kanade into this
   frame give a similarity transform (shift, roll, zoom) by RANSAC, so the objects moving through the picture
   do not bend it. With too few corners, or inliers that cover less than a quarter of the frame (a flat or
   smooth background where the corners all sit on one object), the camera is taken as still.
2. **Compensation.** The background model (colour, per-pixel spread, age) lives on a canvas a little larger than
   the frame (`canvas_margin_frac`) and is warped by that transform into this frame's coordinates, so what the
   shake takes out of view keeps its model for when it comes back. Pixels never seen before take this frame's
   colour and are not foreground until seen three times; a blob that reaches the strip of such pixels along a
   frame edge goes on to the edge (as an object cut by the frame does).
3. **Foreground.** A pixel is foreground when its colour lies outside the range the background spans within
   ±1 px (so a sharp static edge that registration misses by a pixel, a pole, stays background) by more than
   `threshold_sigmas` times its own spread and `min_difference` grey levels. The spread is learnt per pixel
   (swaying grass and shimmering water get a wide one), so texture flicker is not foreground.
4. **Slow objects.** An object that hardly moves is in the background model from priming (a median cannot tell
   it from the scene). Dense optical flow (DIS) between this frame and the one `slow_lag_frames` before (camera
   motion removed; at a shot's start, the one that far ahead) finds it: pixels that moved more than
   `slow_min_px` and whose forward and backward flow agree, in regions with enough pixels that really changed
   (the flow wanders over smooth backgrounds, and over what an object uncovers or covers).
5. **Background update without ghosts.** Background pixels follow the picture at `learning_rate`. Foreground
   pixels are not learnt, except where the picture has not changed for `ghost_frames` analysed frames: there the
   background was wrong (what a slow object left behind, or one that stood still while the model was primed)
   and it takes this frame's colours at once.
6. **Blobs.** Morphology, connected components, a minimum area and side; the confidence grows with how solid the
   blob is.

A shot is primed with the per-pixel median (and spread) of its first `warmup_frames` frames, each warped onto the
first frame's canvas, so a camera that moves during them does not smear it and objects passing during them are
out of it. When most of the frame is foreground (global motion lost, a flash) the model is primed again from
that frame (rule 5 removes what it holds of the objects then in view). bench/bench_motion.py measures all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import cv2
import numpy as np

from .detections import MOTION_CLASS, Detections

def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def global_motion(previous_grey: np.ndarray, grey: np.ndarray, *, mask: np.ndarray | None = None, max_corners: int = 300) -> np.ndarray | None:
    """2x3 similarity transform taking pixels of `previous_grey` to `grey`, or None when it cannot be estimated.

    mask: where corners may be taken (the previous frame's background). The RANSAC inliers must spread over a
    quarter of the frame at least: corners that all sit on one object (a flat or smooth background) would
    otherwise make the object's motion the camera's.
    """
    h, w = grey.shape
    corners = cv2.goodFeaturesToTrack(previous_grey, maxCorners=max_corners, qualityLevel=0.005, minDistance=max(4, w // 60), blockSize=7, mask=mask)
    if corners is None or len(corners) < 12:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous_grey, grey, corners, None, winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    if ok.sum() < 12:
        return None
    m, inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=500, confidence=0.995)
    if m is None or inliers is None or inliers.sum() < max(10, 0.25 * ok.sum()):
        return None
    kept = corners[ok][inliers.ravel() == 1].reshape(-1, 2)
    spread = np.ptp(kept, axis=0)
    if spread[0] * spread[1] < 0.25 * w * h:
        return None
    return m


def _min_shifted_difference(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Per pixel, how far the frame's colour lies outside the range the background spans within ±1 px (per
    channel, the largest channel counts): 0 where a background position next to it matches."""
    kernel = np.ones((3, 3), np.uint8)
    above = cv2.subtract(frame, cv2.dilate(background, kernel))  # float: negative where inside
    below = cv2.subtract(cv2.erode(background, kernel), frame)
    d = cv2.max(above, below).reshape(-1, 3)
    return cv2.max(cv2.max(d[:, 0], d[:, 1]), d[:, 2]).reshape(frame.shape[:2])


def _median_where(stack: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Median over axis 0 of `stack` counting only entries where `seen` ((n, h, w)) holds; 0 where none does.
    (np.nanmedian gives the same, ten times slower.)"""
    mask = seen.reshape(seen.shape + (1,) * (stack.ndim - seen.ndim))
    ordered = np.sort(np.where(mask, stack, np.inf), axis=0)
    n = np.broadcast_to(mask.sum(axis=0, keepdims=True), (1,) + stack.shape[1:])
    last = stack.shape[0] - 1
    lo = np.take_along_axis(ordered, np.clip((n - 1) // 2, 0, last), 0)[0]
    hi = np.take_along_axis(ordered, np.clip(n // 2, 0, last), 0)[0]
    median = np.where(n[0] % 2 == 1, lo, (lo + hi) / 2.0)
    return np.where(n[0] > 0, median, 0.0).astype(np.float32)


def _strip(fraction_unknown: np.ndarray) -> int:
    """How many leading rows/columns are mostly unknown (the camera has just brought them into view)."""
    inside = np.flatnonzero(fraction_unknown <= 0.5)
    return int(inside[0]) if inside.size else fraction_unknown.size


@dataclass
class MotionDetector:
    """Moving blobs against a motion-compensated background model (see the module's docstring)."""

    input_width: int = 320
    warmup_frames: int = 30  # 3 s at 10 fps: a median over this keeps passing objects out of the background
    learning_rate: float = 0.04  # per analysed frame, background pixels only
    threshold_sigmas: float = 4.0  # foreground: difference above this many of the pixel's spreads ...
    min_difference: float = 18.0  # ... and above this many grey levels (compression, grain)
    slow_lag_frames: int = 10  # slow objects: dense optical flow between this frame and the one this many before ...
    slow_min_px: float = 3.5  # ... (camera motion removed) above this many pixels is an object moving
    slow_max_px: float = 25.0  # faster objects are left to the background model (their flow over 1 s is unreliable)
    ghost_frames: int = 10  # foreground unchanged this many analysed frames (1 s at 10 fps) is a wrong background
    min_area_frac: float = 0.002  # smallest blob, as a fraction of the frame area
    min_side_frac: float = 0.03  # narrower blobs (of the width) are slivers: an object's edge says little of where it is
    max_foreground_frac: float = 0.5  # above this the model is primed again
    canvas_margin_frac: float = 0.1  # the model reaches this far (of the width) around the frame: shake in and out
    name: str = "motion"
    class_names: Mapping[int, str] = field(default_factory=lambda: {0: MOTION_CLASS})
    _state: dict | None = field(default=None, repr=False)

    def cache_key(self) -> dict:
        return {
            "detector": self.name, "version": 2, "input_width": self.input_width, "warmup_frames": self.warmup_frames,
            "learning_rate": self.learning_rate, "threshold_sigmas": self.threshold_sigmas,
            "min_difference": self.min_difference, "ghost_frames": self.ghost_frames,
            "slow_lag_frames": self.slow_lag_frames, "slow_min_px": self.slow_min_px, "slow_max_px": self.slow_max_px,
            "min_area_frac": self.min_area_frac, "min_side_frac": self.min_side_frac, "max_foreground_frac": self.max_foreground_frac,
            "canvas_margin_frac": self.canvas_margin_frac,
        }

    # -------------------------------------------------------------------------------------------- priming
    def start_shot(self, images: Sequence[np.ndarray]) -> None:
        if not images:
            self._state = None
            return
        frames = [cv2.GaussianBlur(im, (5, 5), 0).astype(np.float32) for im in images]
        greys = [_grey(im) for im in images]
        h, w = greys[0].shape
        margin = self._margin(w)
        size = (w + 2 * margin, h + 2 * margin)
        # Each frame warped onto the canvas of the first frame (transforms chained frame to frame).
        to_first = np.eye(3)
        to_canvas = np.array([[1.0, 0, margin], [0, 1.0, margin], [0, 0, 1]])
        chain, aligned, covered = [], [], []
        for k in range(len(frames)):
            if k:
                m = global_motion(greys[k - 1], greys[k])
                step = np.vstack([m if m is not None else np.eye(2, 3), [0, 0, 1]])
                to_first = to_first @ np.linalg.inv(step)  # pixels of frame k -> frame 0
            chain.append(to_first)
            t = (to_canvas @ to_first)[:2]
            aligned.append(cv2.warpAffine(frames[k], t, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
            covered.append(cv2.warpAffine(np.ones((h, w), np.uint8), t, size, flags=cv2.INTER_NEAREST, borderValue=0))
        stack = np.stack(aligned)
        seen = np.stack(covered) > 0
        never = ~seen.any(axis=0)
        median = _median_where(stack, seen)
        spread = 1.4826 * _median_where(np.abs(stack - median[None]).max(axis=3), seen)
        self._state = {
            "margin": margin,
            "background": median.astype(np.float32),
            "variance": np.maximum(spread, 3.0).astype(np.float32) ** 2,
            "age": np.where(never, 0.0, 1000.0).astype(np.float32),
            "stable": np.zeros(never.shape, np.float32),
            "anchor": aligned[0].copy(),
            "grey": greys[0],
            "history": [],
            # The primed frames with their transforms into frame 0: until a shot has slow_lag_frames behind the
            # current frame, the slow-motion test looks that far ahead instead (these are its first frames).
            "ahead": list(zip(greys, chain)),
            "index": 0,
        }

    def _margin(self, width: int) -> int:
        return int(round(self.canvas_margin_frac * width))

    def _prime_from(self, frame: np.ndarray, grey: np.ndarray) -> None:
        h, w = grey.shape
        margin = self._margin(w)
        canvas = cv2.copyMakeBorder(frame, margin, margin, margin, margin, cv2.BORDER_REPLICATE)
        age = np.zeros(canvas.shape[:2], np.float32)
        self._state = {
            "margin": margin, "background": canvas, "variance": np.full(age.shape, 100.0, np.float32), "age": age,
            "stable": np.zeros(age.shape, np.float32), "anchor": canvas.copy(), "grey": grey, "history": [],
        }

    # ------------------------------------------------------------------------------------------- per frame
    def detect(self, image: np.ndarray) -> Detections:
        frame = cv2.GaussianBlur(image, (5, 5), 0).astype(np.float32)
        grey = _grey(image)
        if self._state is None or self._state["grey"].shape != grey.shape:
            self._prime_from(frame, grey)
            return Detections.empty()
        s = self._state
        h, w = grey.shape
        mg = s["margin"]
        m = global_motion(s["grey"], grey, mask=s.get("background_mask"))
        if m is None:
            m = np.eye(2, 3)
        if not np.allclose(m, np.eye(2, 3), atol=1e-3):
            # The same motion on the canvas (frame pixels offset by the margin).
            mc = m.copy()
            mc[:, 2] += mg - m[:, :2] @ np.array([mg, mg])
            size = s["age"].shape[::-1]
            for key, flags in (("background", cv2.INTER_LINEAR), ("variance", cv2.INTER_LINEAR), ("anchor", cv2.INTER_LINEAR)):
                s[key] = cv2.warpAffine(s[key], mc, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
            for key in ("age", "stable"):
                s[key] = cv2.warpAffine(s[key], mc, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        view = lambda key: s[key][mg:mg + h, mg:mg + w]  # noqa: E731  (the frame's part of the canvas)
        background, variance, age, stable, anchor = (view(k) for k in ("background", "variance", "age", "stable", "anchor"))
        # Each earlier grey frame kept with the transform taking it into this frame.
        step = np.vstack([m, [0, 0, 1]])
        s["history"] = [(g, step @ t) for g, t in s["history"]][-(self.slow_lag_frames - 1):] + [(s["grey"], step)]
        new = age < 1.0  # never seen before: the background there is this frame
        if new.any():
            np.copyto(background, frame, where=new[..., None])
            variance[new] = 100.0

        diff = _min_shifted_difference(frame, background)
        fg = (diff > np.maximum(self.threshold_sigmas * np.sqrt(variance), self.min_difference)) & (age >= 3.0)
        fg |= self._slow_motion(grey, s, age)
        if fg.mean() > self.max_foreground_frac:
            self._prime_from(frame, grey)
            return Detections.empty()

        # Learning: background pixels at the learning rate; foreground unchanged for ghost_frames becomes background.
        # "Unchanged" is against the colour a pixel had when it last changed (its anchor), not the previous
        # frame: a slow object changes a pixel by little per frame, but by a lot over ghost_frames.
        changed = _min_shifted_difference(frame, anchor) > self.min_difference * 0.5
        stable[...] = np.where(fg & ~changed, stable + 1.0, 0.0)
        np.copyto(anchor, frame, where=changed[..., None])
        ghost = stable >= self.ghost_frames
        a = self.learning_rate
        bg = ~fg
        err = frame - background
        background += (a * bg)[..., None].astype(np.float32) * err
        e = np.abs(err).reshape(-1, 3)
        e2 = cv2.max(cv2.max(e[:, 0], e[:, 1]), e[:, 2]).reshape(bg.shape) ** 2
        np.copyto(variance, (1 - a) * variance + a * np.minimum(e2, 4 * variance + 100.0), where=bg)
        np.maximum(variance, 9.0, out=variance)
        np.copyto(background, frame, where=ghost[..., None])
        stable[ghost] = 0.0
        age += 1.0
        s["grey"] = grey
        s["index"] = s.get("index", 0) + 1
        s["background_mask"] = (cv2.dilate(fg.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0).astype(np.uint8)
        return self._blobs(fg & ~ghost, unknown=age < self.ghost_frames)

    def _slow_motion(self, grey: np.ndarray, s: dict, age: np.ndarray) -> np.ndarray:
        """Pixels of objects moving too slowly to leave the background model: dense optical flow (DIS) between
        the frame slow_lag_frames ago, warped into this one's coordinates, and this frame."""
        h, w = grey.shape
        index, ahead = s.get("index", 0), s.get("ahead", [])
        if len(s["history"]) >= self.slow_lag_frames:
            old, to_now = s["history"][0]
        elif index + self.slow_lag_frames < len(ahead):
            old, to_first = ahead[index + self.slow_lag_frames]
            to_now = np.linalg.inv(ahead[index][1]) @ to_first
        else:
            return np.zeros(grey.shape, bool)
        aligned = cv2.warpAffine(old, to_now[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if s.get("dis") is None:
            s["dis"] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        # Flow from this frame back to the old one: each pixel of this frame, where it was then.
        flow = s["dis"].calc(grey, aligned, None)
        speed = cv2.magnitude(flow[..., 0], flow[..., 1])
        if s.get("grid") is None or s["grid"].shape[:2] != (h, w):
            s["grid"] = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        # Only where the flow is a real match: the flow from the old frame, read where this one's ends, must
        # bring the pixel back (forward-backward consistency). Where an object was, or has just arrived, there is
        # no such match; a fast object is the background model's job.
        forward = s["dis"].calc(aligned, grey, None)
        ends = s["grid"] + flow
        returned = cv2.remap(forward, ends, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        loop = cv2.magnitude(flow[..., 0] + returned[..., 0], flow[..., 1] + returned[..., 1])
        matched = loop < 1.0
        # ... and where standing still does not explain the pixel (a smooth or flat picture lets the flow wander).
        now, then = cv2.GaussianBlur(grey, (5, 5), 0), cv2.GaussianBlur(aligned, (5, 5), 0)
        changed = cv2.absdiff(then, now) > self.min_difference
        known = age >= (3 if index < self.slow_lag_frames else self.slow_lag_frames + 3)
        moving = (speed > self.slow_min_px) & (speed < self.slow_max_px) & matched & known
        seeds = moving & changed
        # A moving region counts where enough of it is such evidence: the flow fills in an object's flat
        # interior from its edges, but it also wanders over a smooth background, where there is no evidence.
        n, labels = cv2.connectedComponents(moving.astype(np.uint8), connectivity=8)
        if n <= 1:
            return moving
        area = np.bincount(labels.ravel(), minlength=n)
        evidence = np.bincount(labels.ravel(), weights=seeds.ravel().astype(np.float64), minlength=n)
        keep = (evidence >= 20) & (evidence >= 0.1 * area)
        keep[0] = False
        return keep[labels]

    def _blobs(self, fg: np.ndarray, unknown: np.ndarray) -> Detections:
        mask = fg.astype(np.uint8)
        h, w = mask.shape
        k = max(3, int(round(w / 80)) | 1)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        # The strips along the frame edges the camera has only just brought into view (no background yet): a
        # blob reaching one goes on to the frame edge, as one cut by the frame would.
        left, right = _strip(unknown.mean(axis=0)), _strip(unknown.mean(axis=0)[::-1])
        top, bottom = _strip(unknown.mean(axis=1)), _strip(unknown.mean(axis=1)[::-1])
        boxes, conf = [], []
        for x, y, bw, bh, area in stats[1:n]:
            if area < self.min_area_frac * w * h or min(bw, bh) < self.min_side_frac * w:
                continue
            x1, y1, x2, y2 = x, y, x + bw, y + bh
            x1, y1 = (0 if x1 <= left + 2 else x1), (0 if y1 <= top + 2 else y1)
            x2, y2 = (w if x2 >= w - right - 2 else x2), (h if y2 >= h - bottom - 2 else y2)
            boxes.append((x1 / w, y1 / h, x2 / w, y2 / h))
            conf.append(0.5 + 0.5 * area / float(bw * bh))  # a solid blob is more object-like than a scatter
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, dtype=np.float64), np.asarray(conf), np.zeros(len(boxes), dtype=np.int64))
