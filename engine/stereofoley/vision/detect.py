"""Detectors behind one interface: `detect(image) -> Detections` on a BGR frame, boxes normalised to the frame.

- `MotionDetector`: class-agnostic moving objects for static or slowly moving cameras (OpenCV MOG2 background
  subtraction + connected components). No weights.
- `YoloDetector`: an ultralytics YOLO model from a local `.pt` file; class names come from the model.
- `make_detector("auto" | "yolo" | "motion", weights)`: `auto` is YOLO when its weights are on disk, else motion,
  with a one-line notice. Nothing is ever downloaded: missing weights fail fast with `MissingWeights`.

A detector may need a few frames of a shot before it can detect (`warmup_frames`); the caller hands them to
`start_shot` at the start of the clip and after every cut, then calls `detect` on each frame in order.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import cv2
import numpy as np

from ..errors import InvalidParameter, MissingWeights
from .ultralytics_env import import_ultralytics

log = logging.getLogger("stereofoley.vision")

DEFAULT_WEIGHTS = "yolo11n.pt"
WEIGHTS_ENV = "STEREOFOLEY_MODELS"  # a folder searched for weights given by bare name
MOTION_CLASS = "object"  # what the class-agnostic detector calls everything it finds
# YOLO input size. 320 px costs a quarter of the usual 640 and still resolves the objects that make sound in a
# shot (bench/bench_vision.py measures the position difference against 640 px on every frame).
DEFAULT_IMGSZ = 320


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


class Detector(Protocol):
    name: str
    class_names: Mapping[int, str]
    input_width: int  # frames are decoded at most this wide
    warmup_frames: int  # frames of a shot `start_shot` wants before the first `detect`

    def start_shot(self, images: Sequence[np.ndarray]) -> None: ...

    def detect(self, image: np.ndarray) -> Detections: ...

    def cache_key(self) -> dict: ...


# ------------------------------------------------------------------------------------------------ motion
@dataclass
class MotionDetector:
    """Moving blobs against a background model primed, per shot, with the median of its first frames.

    Priming with a median (rather than the first frame) keeps objects present at the start out of the
    background, so they do not leave a "ghost" where they stood. MOG2 keeps a per-pixel noise model, so grain and
    sensor noise do not become objects. Blobs are cleaned by morphology and kept above a minimum area.
    """

    input_width: int = 320
    warmup_frames: int = 30  # 3 s at 10 fps: a median over this keeps passing objects out of the background
    history_frames: int = 300  # long: a slow object must not melt into the background
    var_threshold: float = 25.0  # squared Mahalanobis distance for "foreground"
    min_area_frac: float = 0.002  # smallest blob, as a fraction of the frame area
    max_foreground_frac: float = 0.5  # above this the camera moved or the shot changed: no detections, re-prime
    name: str = "motion"
    class_names: Mapping[int, str] = field(default_factory=lambda: {0: MOTION_CLASS})
    _model: cv2.BackgroundSubtractorMOG2 | None = field(default=None, repr=False)

    def cache_key(self) -> dict:
        return {
            "detector": self.name, "input_width": self.input_width, "warmup_frames": self.warmup_frames,
            "history_frames": self.history_frames, "var_threshold": self.var_threshold,
            "min_area_frac": self.min_area_frac, "max_foreground_frac": self.max_foreground_frac,
        }

    def start_shot(self, images: Sequence[np.ndarray]) -> None:
        model = cv2.createBackgroundSubtractorMOG2(history=self.history_frames, varThreshold=self.var_threshold, detectShadows=False)
        if images:
            stack = np.stack([_blur(im) for im in images])
            median = np.median(stack, axis=0).astype(np.uint8)
            # Initial variance from the frames' spread around the median (noise level of this shot), so noisy
            # footage does not light up until MOG2 has learnt it.
            spread = np.median(np.abs(stack.astype(np.int16) - median.astype(np.int16)))
            model.setVarInit(float(max(15.0, (1.4826 * spread) ** 2 * 2.0)))
            model.apply(median, learningRate=1.0)
        self._model = model

    def detect(self, image: np.ndarray) -> Detections:
        if self._model is None:
            self.start_shot([image])
        # An explicit rate: MOG2's default ramps it (1/2, 1/4, ...) over the first frames, which would learn
        # the objects of the first frames into the background right after priming.
        mask = self._model.apply(_blur(image), learningRate=1.0 / self.history_frames)
        mask = (mask > 127).astype(np.uint8)
        h, w = mask.shape
        if mask.mean() > self.max_foreground_frac:
            self.start_shot([image])
            return Detections.empty()
        k = max(3, int(round(w / 80)) | 1)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes, conf = [], []
        for x, y, bw, bh, area in stats[1:n]:
            if area < self.min_area_frac * w * h:
                continue
            boxes.append((x / w, y / h, (x + bw) / w, (y + bh) / h))
            conf.append(0.5 + 0.5 * area / float(bw * bh))  # a solid blob is more object-like than a scatter
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, dtype=np.float64), np.asarray(conf), np.zeros(len(boxes), dtype=np.int64))


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (5, 5), 0)


# -------------------------------------------------------------------------------------------------- YOLO
def find_weights(weights: str | os.PathLike | None) -> Path | None:
    """A weights file on disk: a path as given, or a bare name in the working folder or $STEREOFOLEY_MODELS."""
    name = Path(weights if weights is not None else DEFAULT_WEIGHTS)
    candidates = [name]
    if name.parent == Path("."):
        if os.environ.get(WEIGHTS_ENV):
            candidates.append(Path(os.environ[WEIGHTS_ENV]) / name)
        candidates.append(Path.home() / ".cache" / "stereofoley" / "models" / name)
    return next((c for c in candidates if c.is_file()), None)


def _missing_weights_message(weights: str | os.PathLike | None) -> str:
    name = weights if weights is not None else DEFAULT_WEIGHTS
    return (
        f"YOLO weights {str(name)!r} not found (looked in the working folder, ${WEIGHTS_ENV} and "
        f"~/.cache/stereofoley/models); nothing is downloaded at run time: fetch the file once (e.g. from "
        f"https://github.com/ultralytics/assets/releases) and set weights=PATH, or use detector=motion"
    )


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


class YoloDetector:
    """ultralytics YOLO on one frame at a time, CPU by default; boxes normalised, classes from the model."""

    warmup_frames = 0
    name = "yolo"

    def __init__(self, weights: str | os.PathLike | None = None, *, imgsz: int = DEFAULT_IMGSZ, min_confidence: float = 0.1, device: str = "cpu"):
        path = find_weights(weights)
        if path is None:
            raise MissingWeights(_missing_weights_message(weights))
        YOLO = import_ultralytics().YOLO

        try:
            self._model = YOLO(str(path.resolve()), task="detect")
        except Exception as exc:  # ultralytics raises many types for a bad checkpoint
            raise InvalidParameter(f"weights {path} cannot be loaded as a YOLO detection model: {exc}") from None
        self.path = path
        self.imgsz = int(imgsz)
        self.input_width = max(self.imgsz, 32)
        self.min_confidence = float(min_confidence)
        self.device = device
        self.class_names = dict(self._model.names)
        self._digest = _file_digest(path)

    def cache_key(self) -> dict:
        return {"detector": self.name, "weights_blake2b": self._digest, "imgsz": self.imgsz, "min_confidence": self.min_confidence}

    def start_shot(self, images: Sequence[np.ndarray]) -> None:
        pass  # stateless per frame

    def detect(self, image: np.ndarray) -> Detections:
        result = self._model.predict(image, imgsz=self.imgsz, conf=self.min_confidence, device=self.device, verbose=False)[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections(
            xyxy_norm=boxes.xyxyn.cpu().numpy().astype(np.float64),
            confidence=boxes.conf.cpu().numpy().astype(np.float64),
            class_id=boxes.cls.cpu().numpy().astype(np.int64),
        )


# ------------------------------------------------------------------------------------------------ choice
DETECTORS = ("auto", "yolo", "motion")


def make_detector(kind: str = "auto", weights: str | os.PathLike | None = None) -> Detector:
    if kind not in DETECTORS:
        raise InvalidParameter(f"detector={kind!r} is not allowed; choose one of {', '.join(DETECTORS)}")
    if kind == "motion":
        return MotionDetector()
    if kind == "yolo" or find_weights(weights) is not None:
        return YoloDetector(weights)
    if weights is not None:  # an explicit path that is missing is an error, not a silent fallback
        raise MissingWeights(_missing_weights_message(weights))
    log.warning("stereofoley: %s not found; using the motion detector (pass --weights PATH for YOLO)", DEFAULT_WEIGHTS)
    return MotionDetector()
