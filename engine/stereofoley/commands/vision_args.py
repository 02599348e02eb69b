"""Arguments shared by the commands that analyse video (`analyze`, `clip`)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Callable, Iterator

from tqdm import tqdm

from ..config import user_cache_dir
from ..vision import DETECTORS
from ..vision.tracker import TRACKERS


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


def cache_dir_from_args(args: argparse.Namespace):
    if args.no_cache:
        return None
    return args.cache_dir or user_cache_dir("vision")


@contextlib.contextmanager
def progress_bar(args: argparse.Namespace, label: str) -> Iterator[Callable[[float], None]]:
    """A tqdm bar on stderr fed with fractions 0..1 (hidden when --json or when stderr is not a terminal)."""
    with tqdm(total=1000, desc=label, unit="‰", disable=True if getattr(args, "json", False) else None, leave=False) as bar:
        def update(fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.n))

        yield update
