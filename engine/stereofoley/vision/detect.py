"""Detectors behind one interface: `detect(image) -> Detections` on a BGR frame, boxes normalised to the frame.

- `MotionDetector` (`motion.py`): class-agnostic moving objects, for locked-off and hand-held cameras (global
  motion compensation, a per-pixel background model, connected components). No weights.
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
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from ..errors import InvalidParameter, MissingWeights
from .detections import MOTION_CLASS, Detections  # noqa: F401 (re-exported)
from .motion import MotionDetector  # noqa: F401 (re-exported)
from .ultralytics_env import import_ultralytics

log = logging.getLogger("stereofoley.vision")

DEFAULT_WEIGHTS = "yolo11n.pt"
WEIGHTS_ENV = "STEREOFOLEY_MODELS"  # a folder searched for weights given by bare name
# YOLO input size. 320 px costs a quarter of the usual 640 and still resolves the objects that make sound in a
# shot (bench/bench_vision.py measures the position difference against 640 px on every frame).
DEFAULT_IMGSZ = 320


class Detector(Protocol):
    name: str
    class_names: Mapping[int, str]
    input_width: int  # frames are decoded at most this wide
    warmup_frames: int  # frames of a shot `start_shot` wants before the first `detect`

    def start_shot(self, images: Sequence[np.ndarray]) -> None: ...

    def detect(self, image: np.ndarray) -> Detections: ...

    def cache_key(self) -> dict: ...


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
