"""What every detector returns for one frame: `Detections`, boxes normalised to the frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOTION_CLASS = "object"  # what the class-agnostic detector calls everything it finds


@dataclass(frozen=True, eq=False)
class Detections:
    xyxy_norm: np.ndarray  # (n, 4) x1, y1, x2, y2 in 0..1 of frame width / height
    confidence: np.ndarray  # (n,) 0..1
    class_id: np.ndarray  # (n,) int, keys of the detector's class_names

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.confidence.size)
