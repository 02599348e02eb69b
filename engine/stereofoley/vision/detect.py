"""Detectors behind one interface: `detect(image) -> Detections` on a BGR frame, boxes normalised to the frame.

- `MotionDetector` (`motion.py`): class-agnostic moving objects, for locked-off and hand-held cameras (global
  motion compensation, a per-pixel background model, connected components). No weights.
- `YoloDetector`: an ultralytics YOLO model from a local `.pt` file; class names come from the model.
- `make_detector("auto" | "yolo" | "motion", weights, imgsz=, conf=, iou=, classes=, frame_width=)`: `auto` is YOLO
  when its weights are on disk, else motion, with a one-line notice. Nothing is ever downloaded: missing weights
  fail fast with `MissingWeights`. `detector_from_options(DetectorOptions, frame_width)` does the same from options.

A detector may need a few frames of a shot before it can detect (`warmup_frames`); the caller hands them to
`start_shot` at the start of the clip and after every cut, then calls `detect` on each frame in order.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from ..errors import InvalidParameter, MissingWeights
from ..files import file_digest
from .detections import MOTION_CLASS, Detections  # noqa: F401 (re-exported)
from .motion import MotionDetector  # noqa: F401 (re-exported)
from .options import DEFAULT_CONF, DEFAULT_IOU, DETECTORS, DetectorOptions, auto_imgsz, check_imgsz, parse_classes
from .ultralytics_env import import_ultralytics

log = logging.getLogger("stereofoley.vision")

DEFAULT_WEIGHTS = "yolo11n.pt"
WEIGHTS_ENV = "STEREOFOLEY_MODELS"  # a folder searched for weights given by bare name


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
    return file_digest(path, digest_size=16)


# Loaded YOLO models, per process and thread (a render worker loads its model once, not once per clip; a model is
# not shared between threads, which may predict at the same time). Few entries: a model is tens of MB.
_MODELS: "OrderedDict[tuple, YoloDetector]" = OrderedDict()
MAX_LOADED_MODELS = 4
_MODELS_LOCK = threading.Lock()


def loaded_yolo(path: Path, *, imgsz: int, conf: float, iou: float, classes) -> "YoloDetector":
    """A YoloDetector for these weights and settings, loaded once per process and thread."""
    stat = Path(path).stat()
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, imgsz, conf, iou,
           None if classes is None else tuple(classes), threading.get_ident())
    with _MODELS_LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
    detector = YoloDetector(path, imgsz=imgsz, conf=conf, iou=iou, classes=classes)
    with _MODELS_LOCK:
        _MODELS[key] = detector
        while len(_MODELS) > MAX_LOADED_MODELS:
            _MODELS.popitem(last=False)
    return detector


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
            return DetectorPlan("yolo", key, True, size, lambda: loaded_yolo(
                path, imgsz=size, conf=options.conf, iou=options.iou, classes=options.classes))
    det = make_detector(kind, weights, conf=options.conf, classes=options.classes)  # motion (auto: with its notice)
    return DetectorPlan(det.name, det.cache_key(), False, det.input_width, lambda: det)


def _motion(conf: float, classes) -> MotionDetector:
    if classes is not None and any(c not in (MOTION_CLASS, 0) for c in classes):
        raise InvalidParameter(f"classes={','.join(map(str, classes))}: the motion detector finds only "
                               f"{MOTION_CLASS!r} (class 0); use --detector yolo for class filtering")
    return MotionDetector()  # its confidences are blob solidity scores; conf does not filter them
