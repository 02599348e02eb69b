"""Arguments shared by the commands that analyse video (`analyze`, `clip`)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Callable, Iterator

from ..config import user_cache_dir
from ..errors import InvalidParameter
from ..vision import DETECTORS, DetectorOptions
from ..vision.options import DEFAULT_CONF, DEFAULT_DETECT_FPS, DEFAULT_IOU, check_imgsz, parse_classes
from ..vision.tracker import TRACKERS
from .progress import progress


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """VIDEO, --start, --end and the analysis flags."""
    parser.add_argument("video", help="video file (any format FFmpeg reads)")
    parser.add_argument("--start", dest="start_s", type=float, help="range start in media seconds (default: media start)")
    parser.add_argument("--end", dest="end_s", type=float, help="range end in media seconds (default: media end)")


def add_analysis_arguments(parser: argparse.ArgumentParser, *, max_objects: bool = True) -> None:
    group = parser.add_argument_group("analysis")
    group.add_argument("--detector", choices=DETECTORS, default="auto",
                       help="auto (YOLO when weights are on disk, else motion), yolo, or motion (default auto)")
    group.add_argument("--weights", help="YOLO weights (.pt); default yolo11n.pt in the working folder or $STEREOFOLEY_MODELS")
    group.add_argument("--analysis-fps", type=float, default=10.0, help="frames analysed per second (default 10)")
    group.add_argument("--tracker", choices=TRACKERS, default="bytetrack", help="identity tracker (default bytetrack)")
    if max_objects:
        group.add_argument("--max-objects", type=int, default=4, help="voices: objects sounding at once, given moment by moment (default 4)")
    group.add_argument("--cache-dir", help=f"analysis cache folder (default {user_cache_dir('vision')})")
    group.add_argument("--no-cache", action="store_true", help="always analyse; neither read nor write the cache")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _imgsz(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    try:
        return check_imgsz(value)
    except InvalidParameter as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _classes(text: str):
    try:
        return parse_classes(text)
    except InvalidParameter as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fps_or_all(text: str) -> float | None:
    if text.strip().lower() in ("all", "every", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of detections per second (or 'all')") from None


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """--imgsz, --conf, --iou, --classes, --detect-fps (DetectorOptions; validated there)."""
    group = parser.add_argument_group("detector")
    group.add_argument("--imgsz", type=_imgsz, help="YOLO input size in px, a multiple of 32 (default: the frame width "
                                                    "rounded up to 32, at most 640)")
    group.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"lowest detection confidence kept, 0..1 (default {DEFAULT_CONF})")
    group.add_argument("--iou", type=float, default=DEFAULT_IOU, help=f"YOLO NMS IoU threshold, 0..1 (default {DEFAULT_IOU})")
    group.add_argument("--classes", type=_classes, help="keep only these classes: names or ids, comma-separated (default all)")
    group.add_argument("--detect-fps", type=_fps_or_all, default=DEFAULT_DETECT_FPS,
                       help=f"YOLO runs per second, boxes carried by optical flow in between (default {DEFAULT_DETECT_FPS:g}; "
                            "'all': every analysed frame)")


def detector_options_from_args(args: argparse.Namespace) -> DetectorOptions:
    """DetectorOptions from add_video_arguments (+ add_detector_arguments when present); validated."""
    return DetectorOptions(
        detector=args.detector, weights=args.weights, analysis_fps=args.analysis_fps,
        imgsz=getattr(args, "imgsz", None), conf=getattr(args, "conf", DEFAULT_CONF), iou=getattr(args, "iou", DEFAULT_IOU),
        classes=getattr(args, "classes", None), detect_fps=getattr(args, "detect_fps", DEFAULT_DETECT_FPS),
    )


def cache_dir_from_args(args: argparse.Namespace):
    if args.no_cache:
        return None
    return args.cache_dir or user_cache_dir("vision")


@contextlib.contextmanager
def progress_bar(args: argparse.Namespace, label: str, video: str | None = None) -> Iterator[Callable[[float], None]]:
    """commands.progress.progress for one clip: a bar on a TTY, one line otherwise, nothing with --quiet."""
    video = video if video is not None else getattr(args, "video", None)
    name = f"{label} {Path(video).name}" if video else label
    with progress(name, quiet=bool(getattr(args, "quiet", False))) as update:
        yield update
