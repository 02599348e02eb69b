"""Scoring an Analysis against synthetic ground truth: matched per analysed frame by box overlap.

At each analysed frame the object is matched to the track whose box (detected or interpolated) overlaps its
visible box most (IoU >= min_iou). An identity switch is a change of the matched track between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Score:
    times_s: np.ndarray  # media times of the frames where the object was at least min_visible on screen
    track_ids: list  # matched track per frame (None: missed)
    errors: np.ndarray  # |x_track - x_true| on matched frames (fraction of frame width)

    @property
    def mae(self) -> float:
        return float(np.mean(self.errors)) if self.errors.size else float("inf")

    @property
    def recall(self) -> float:
        return sum(t is not None for t in self.track_ids) / max(1, len(self.track_ids))

    @property
    def id_switches(self) -> int:
        ids = [t for t in self.track_ids if t is not None]
        return sum(a != b for a, b in zip(ids, ids[1:]))


def score(analysis, truth, name: str, *, min_visible: float = 0.5, min_iou: float = 0.3) -> Score:
    times, ids, errors = [], [], []
    for t in analysis.frame_times_s:
        box = truth.at([t], name)[0]
        if np.isnan(box[0]):
            continue
        clipped = np.clip(box, 0.0, 1.0)
        if (clipped[2] - clipped[0]) < min_visible * (box[2] - box[0]):
            continue
        best, best_iou, best_x = None, min_iou, None
        for track in analysis.tracks:
            i = np.flatnonzero(np.abs(track.times_s + analysis.start_s - t) < 1e-6)
            if i.size == 0:  # interpolated points count: the trajectory is what gets heard
                continue
            overlap = iou(np.clip(track.xyxy_norm[i[0]], 0, 1), clipped)
            if overlap > best_iou:
                best, best_iou, best_x = track.track_id, overlap, track.x_norm[i[0]]
        times.append(t)
        ids.append(best)
        if best is not None:
            errors.append(abs(best_x - (box[0] + box[2]) / 2.0))
    return Score(np.asarray(times), ids, np.asarray(errors))
