"""The detector settings every entry point shares (analyze, clip, render, jobs): one frozen, validated value.

`DetectorOptions.from_mapping({...})` reads them from a job file / OSC message / parsed options with one-line
errors naming the key and the value; `analyze_video(options=...)` takes them. Defaults (measured; docs/vision.md):

- imgsz None: chosen from the frame width (`auto_imgsz`): the frame's width rounded up to 32, at most 640 (YOLO's
  training size); small objects in wide shots need the full 640.
- conf 0.1: ByteTrack associates low-confidence boxes (0.1-0.25) to existing tracks; a higher threshold drops
  them and splits tracks. iou 0.7: ultralytics' NMS default.
- classes None: every class of the model; names ("car") or ids (2) otherwise.
- detect_fps 1.25: YOLO on one analysed frame in eight (at 10 fps), boxes carried by optical flow in between
  (vision/propagate.py), identities kept along the carried boxes; YOLO sooner where a box is lost or an object
  appears. On the generated scenes positions and identities hold as with every-frame detection
  (bench/bench_sparse_accuracy.py); with a yolov8s-size model at 640 px it measured 11.4x over naive per-frame
  predict, 2.5/s 9.1x, in one run (bench/bench_vision.py; under load both vary). None: every analysed frame.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import InvalidParameter

DETECTORS = ("auto", "yolo", "motion")
DEFAULT_CONF = 0.1
DEFAULT_IOU = 0.7
DEFAULT_ANALYSIS_FPS = 10.0
DEFAULT_DETECT_FPS = 1.25
MAX_AUTO_IMGSZ = 640
IMGSZ_RANGE = (64, 1920)


def auto_imgsz(frame_width: int) -> int:
    """YOLO input size for frames this wide: the width rounded up to a multiple of 32, at most 640."""
    return int(min(MAX_AUTO_IMGSZ, max(IMGSZ_RANGE[0], math.ceil(frame_width / 32) * 32)))


def check_imgsz(value: Any, where: str = "imgsz") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InvalidParameter(f"{where}={value!r} must be a whole number of pixels")
    value = int(value)
    lo, hi = IMGSZ_RANGE
    if value % 32 or not lo <= value <= hi:
        raise InvalidParameter(f"{where}={value} must be a multiple of 32 between {lo} and {hi} pixels")
    return value


def _check_fraction(value: Any, name: str, *, zero_ok: bool, one_ok: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameter(f"{name}={value!r} must be a number between 0 and 1")
    if value < 0 or value > 1 or (value == 0 and not zero_ok) or (value == 1 and not one_ok):
        lo, hi = "[0" if zero_ok else "(0", "1]" if one_ok else "1)"
        raise InvalidParameter(f"{name}={value} is outside {lo}, {hi}")
    return float(value)


def parse_classes(value: Any, where: str = "classes") -> tuple[str | int, ...] | None:
    """None / "" (every class), "car,person", ["car", 2] -> ("car", "person") / ("car", 2); ids stay ints."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, (bytes, Mapping)) or not hasattr(items, "__iter__"):
        raise InvalidParameter(f"{where}={value!r} must be class names or ids, e.g. 'car,person' or [2, 0]")
    out: list[str | int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidParameter(f"{where}: {item!r} is neither a class name nor a class id")
        if isinstance(item, str):
            item = item.strip()
            if not item:
                continue
            if re.fullmatch(r"[+-]?\d+", item):
                item = int(item)
        if isinstance(item, int) and item < 0:
            raise InvalidParameter(f"{where}: class id {item} is negative")
        if item not in out:
            out.append(item)
    if not out:
        if isinstance(value, str):
            return None  # "" is "every class"
        raise InvalidParameter(f"{where}={value!r} lists no class; leave it out for every class")
    return tuple(out)


@dataclass(frozen=True)
class DetectorOptions:
    detector: str = "auto"  # auto (YOLO if weights are on disk, else motion), yolo, motion
    weights: str | None = None  # YOLO .pt; None: yolo11n.pt looked up (detect.find_weights)
    imgsz: int | None = None  # YOLO input size in px; None: auto_imgsz(frame width)
    conf: float = DEFAULT_CONF  # lowest detection confidence kept (0..1)
    iou: float = DEFAULT_IOU  # NMS IoU threshold (YOLO)
    classes: tuple[str | int, ...] | None = None  # class names or ids kept; None: all
    analysis_fps: float = DEFAULT_ANALYSIS_FPS  # analysed frames per second
    detect_fps: float | None = DEFAULT_DETECT_FPS  # YOLO runs per second (at most analysis_fps); None: every analysed frame

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise InvalidParameter(f"detector={self.detector!r} is not allowed; choose one of {', '.join(DETECTORS)}")
        if self.weights is not None:
            if not isinstance(self.weights, (str, os.PathLike)) or not str(self.weights):
                raise InvalidParameter(f"weights={self.weights!r} must be a file path")
            object.__setattr__(self, "weights", str(self.weights))
        if self.imgsz is not None:
            object.__setattr__(self, "imgsz", check_imgsz(self.imgsz))
        object.__setattr__(self, "conf", _check_fraction(self.conf, "conf", zero_ok=True, one_ok=False))
        object.__setattr__(self, "iou", _check_fraction(self.iou, "iou", zero_ok=False, one_ok=True))
        object.__setattr__(self, "classes", parse_classes(self.classes))
        fps = self.analysis_fps
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (math.isfinite(fps) and 0.1 <= fps <= 240):
            raise InvalidParameter(f"analysis_fps={fps!r} is outside [0.1, 240] frames per second")
        object.__setattr__(self, "analysis_fps", float(fps))
        d = self.detect_fps
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not (math.isfinite(d) and d > 0):
                raise InvalidParameter(f"detect_fps={d!r} must be a positive number of detections per second")
            object.__setattr__(self, "detect_fps", float(d))

    @property
    def detect_every(self) -> int:
        """Analysed frames per detection (1: every analysed frame)."""
        if self.detect_fps is None:
            return 1
        return max(1, int(round(self.analysis_fps / self.detect_fps)))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "detector options") -> "DetectorOptions":
        """From a job file's / message's mapping; unknown keys and bad values are one-line errors naming them."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise InvalidParameter(f"{where} must be a mapping of option names to values, not {type(mapping).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in mapping if k not in known)
        if unknown:
            raise InvalidParameter(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**dict(mapping))
        except InvalidParameter as exc:
            raise InvalidParameter(f"{where}: {exc}") from None

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready; from_mapping(to_mapping()) == self."""
        out = asdict(self)
        out["classes"] = list(self.classes) if self.classes is not None else None
        return out
