"""Detectors behind one interface: `detect(image) -> Detections` on a BGR frame, boxes normalised to the frame.

- `MotionDetector`: class-agnostic moving objects for static or slowly moving cameras (OpenCV MOG2 background
  subtraction + connected components). No weights.
- `YoloDetector`: an ultralytics YOLO model from a local `.pt` file; class names come from the model.
- `make_detector("auto" | "yolo" | "motion", weights, imgsz=, conf=, iou=, classes=, frame_width=)`: `auto` is YOLO
  when its weights are on disk, else motion, with a one-line notice. Nothing is ever downloaded: missing weights
  fail fast with `MissingWeights`. `detector_from_options(DetectorOptions, frame_width)` does the same from options.

A detector may need a few frames of a shot before it can detect (`warmup_frames`); the caller hands them to
`start_shot` at the start of the clip and after every cut, then calls `detect` on each frame in order.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import cv2
import numpy as np

from ..errors import InvalidParameter, MissingWeights
from .options import DEFAULT_CONF, DEFAULT_IOU, DETECTORS, DetectorOptions, auto_imgsz, check_imgsz, parse_classes
from .ultralytics_env import import_ultralytics

log = logging.getLogger("stereofoley.vision")

DEFAULT_WEIGHTS = "yolo11n.pt"
WEIGHTS_ENV = "STEREOFOLEY_MODELS"  # a folder searched for weights given by bare name
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


class Detector(Protocol):
    name: str
    class_names: Mapping[int, str]
    input_width: int  # frames are decoded at most this wide
    warmup_frames: int  # frames of a shot `start_shot` wants before the first `detect`

    def start_shot(self, images: Sequence[np.ndarray]) -> None: ...

    def detect(self, image: np.ndarray) -> Detections: ...

    def cache_key(self) -> dict: ...


def detect_batch(detector: Detector, images: Sequence[np.ndarray]) -> list[Detections]:
    """`detector.detect` on several frames, in one batched call where the detector has one."""
    batch = getattr(detector, "detect_batch", None)
    return list(batch(images)) if batch is not None else [detector.detect(im) for im in images]


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
    min_confidence: float = 0.0  # blobs below this solidity score (0.5..1) are dropped
    name: str = "motion"
    class_names: Mapping[int, str] = field(default_factory=lambda: {0: MOTION_CLASS})
    _model: cv2.BackgroundSubtractorMOG2 | None = field(default=None, repr=False)

    def cache_key(self) -> dict:
        return {
            "detector": self.name, "input_width": self.input_width, "warmup_frames": self.warmup_frames,
            "history_frames": self.history_frames, "var_threshold": self.var_threshold,
            "min_area_frac": self.min_area_frac, "max_foreground_frac": self.max_foreground_frac,
            **({"min_confidence": self.min_confidence} if self.min_confidence > 0 else {}),
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
            score = 0.5 + 0.5 * area / float(bw * bh)  # a solid blob is more object-like than a scatter
            if score < self.min_confidence:
                continue
            boxes.append((x / w, y / h, (x + bw) / w, (y + bh) / h))
            conf.append(score)
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
    """ultralytics YOLO, CPU by default; boxes normalised, classes from the model.

    imgsz: input size (a multiple of 32; frames are decoded at most this wide), conf: lowest confidence kept,
    iou: NMS threshold, classes: names or ids of the model's classes to keep (None: all; unknown ones are an
    error naming them). `detect_batch` runs several frames through the network in one call.
    """

    warmup_frames = 0
    name = "yolo"
    frames_independent = True  # no state between frames: frames may be skipped (boxes carried by optical flow)

    def __init__(self, weights: str | os.PathLike | None = None, *, imgsz: int = 640, conf: float = DEFAULT_CONF,
                 iou: float = DEFAULT_IOU, classes=None, device: str = "cpu"):
        options = DetectorOptions(detector="yolo", imgsz=imgsz, conf=conf, iou=iou, classes=classes)  # validates
        path = find_weights(weights)
        if path is None:
            raise MissingWeights(_missing_weights_message(weights))
        YOLO = import_ultralytics().YOLO

        try:
            self._model = YOLO(str(path.resolve()), task="detect")
        except Exception as exc:  # ultralytics raises many types for a bad checkpoint
            raise InvalidParameter(f"weights {path} cannot be loaded as a YOLO detection model: {exc}") from None
        self.path = path
        self.imgsz = options.imgsz
        self.input_width = self.imgsz
        self.conf = options.conf
        self.iou = options.iou
        self.device = device
        self.class_names = dict(self._model.names)
        self.classes = options.classes
        self.class_ids = _class_ids(options.classes, self.class_names, path)
        self._digest = _file_digest(path)

    def cache_key(self) -> dict:
        return yolo_cache_key(self._digest, self.imgsz, self.conf, self.iou, self.classes)

    def start_shot(self, images: Sequence[np.ndarray]) -> None:
        pass  # stateless per frame

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        results = self._model.predict(list(images), imgsz=self.imgsz, conf=self.conf, iou=self.iou, classes=self.class_ids,
                                      device=self.device, verbose=False, batch=len(images))
        return [_detections(r.boxes) for r in results]


def yolo_cache_key(weights_blake2b: str, imgsz: int, conf: float, iou: float, classes) -> dict:
    """What a YOLO analysis depends on (the key of analyses made before iou / classes existed when they are default)."""
    key = {"detector": "yolo", "weights_blake2b": weights_blake2b, "imgsz": imgsz, "min_confidence": conf}
    if iou != DEFAULT_IOU:
        key["iou"] = iou
    if classes is not None:
        key["classes"] = [str(c) if isinstance(c, str) else int(c) for c in classes]
    return key


def _detections(boxes) -> Detections:
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    return Detections(
        xyxy_norm=boxes.xyxyn.cpu().numpy().astype(np.float64),
        confidence=boxes.conf.cpu().numpy().astype(np.float64),
        class_id=boxes.cls.cpu().numpy().astype(np.int64),
    )


def _class_ids(classes, names: Mapping[int, str], where) -> list[int] | None:
    """Class names / ids -> the model's ids; an unknown one is an error naming it and the model's classes."""
    if classes is None:
        return None
    by_name = {v: k for k, v in names.items()}
    ids = []
    for c in classes:
        cid = by_name.get(c) if isinstance(c, str) else (c if c in names else None)
        if cid is None:
            listed = ", ".join(f"{k}:{v}" for k, v in sorted(names.items())[:20]) + (" ..." if len(names) > 20 else "")
            raise InvalidParameter(f"class {c!r} is not one of the classes of {where} ({listed})")
        ids.append(int(cid))
    return sorted(set(ids))


# ------------------------------------------------------------------------------------------------ choice
def make_detector(kind: str = "auto", weights: str | os.PathLike | None = None, *, imgsz: int | None = None,
                  conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU, classes=None,
                  frame_width: int | None = None) -> Detector:
    """A detector by name. imgsz None: chosen from frame_width (`options.auto_imgsz`; 640 when not known)."""
    if kind not in DETECTORS:
        raise InvalidParameter(f"detector={kind!r} is not allowed; choose one of {', '.join(DETECTORS)}")
    if imgsz is not None:
        imgsz = check_imgsz(imgsz)
    classes = parse_classes(classes)
    if kind == "motion":
        return _motion(conf, classes)
    if kind == "yolo" or find_weights(weights) is not None:
        size = imgsz if imgsz is not None else auto_imgsz(frame_width) if frame_width else 640
        return YoloDetector(weights, imgsz=size, conf=conf, iou=iou, classes=classes)
    if weights is not None:  # an explicit path that is missing is an error, not a silent fallback
        raise MissingWeights(_missing_weights_message(weights))
    log.warning("stereofoley: %s not found; using the motion detector (pass --weights PATH for YOLO)", DEFAULT_WEIGHTS)
    return _motion(conf, classes)


def detector_from_options(options: DetectorOptions, frame_width: int | None = None) -> Detector:
    return make_detector(options.detector, options.weights, imgsz=options.imgsz, conf=options.conf, iou=options.iou,
                         classes=options.classes, frame_width=frame_width)


@dataclass(frozen=True)
class DetectorPlan:
    """A detector chosen from options whose cache key is known before the model is loaded (a cache hit loads none)."""

    name: str
    cache_key: dict
    frames_independent: bool  # frames may be skipped between detections
    input_width: int
    build: Callable[[], Detector]


def plan_detector(options: DetectorOptions, frame_width: int | None = None) -> DetectorPlan:
    """The detector options ask for, sized for frames frame_width wide (imgsz None: auto_imgsz), not yet loaded."""
    kind, weights = options.detector, options.weights
    if kind != "motion":
        path = find_weights(weights)
        if path is not None or kind == "yolo":
            if path is None:
                raise MissingWeights(_missing_weights_message(weights))
            size = options.imgsz if options.imgsz is not None else auto_imgsz(frame_width) if frame_width else 640
            key = yolo_cache_key(_file_digest(path), size, options.conf, options.iou, options.classes)
            return DetectorPlan("yolo", key, True, size, lambda: YoloDetector(
                path, imgsz=size, conf=options.conf, iou=options.iou, classes=options.classes))
    det = make_detector(kind, weights, conf=options.conf, classes=options.classes)  # motion (auto: with its notice)
    return DetectorPlan(det.name, det.cache_key(), False, det.input_width, lambda: det)


def _motion(conf: float, classes) -> MotionDetector:
    if classes is not None and any(c not in (MOTION_CLASS, 0) for c in classes):
        raise InvalidParameter(f"classes={','.join(map(str, classes))}: the motion detector finds only "
                               f"{MOTION_CLASS!r} (class 0); use --detector yolo for class filtering")
    return MotionDetector(min_confidence=conf if conf > DEFAULT_CONF else 0.0)
