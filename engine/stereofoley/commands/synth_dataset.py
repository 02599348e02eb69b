"""`stereofoley synth-dataset --n N --out DIR [--seed S]`: training pairs with exact object–audio ground truth."""

from __future__ import annotations

import argparse
import dataclasses
from fractions import Fraction

from tqdm import tqdm

from ..evaluation.dataset import ItemConfig, build_dataset, build_from_videos
from ..errors import InvalidParameter
from .common import add_spatial_arguments, emit, spatial_settings_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth-dataset",
        help="generate videos + mono sources + 48 kHz stereo mixtures with exact ground truth (Dask)",
        description=(
            "Generate N items (video.mp4, sources/*.wav, mix.wav, truth.json) and manifest.json in DIR. The same seed "
            "gives the same bytes. With --video/--audio pairs, spatialize your own footage from tracking instead."
        ),
    )
    p.add_argument("--n", type=int, help="number of generated items")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port), or 'serial' for in-process; "
                                       "default: a LocalCluster on this machine")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    p.add_argument("--duration-s", type=float, default=ItemConfig.duration_s, help="seconds per item (default 3)")
    p.add_argument("--size", default="320x180", help="video size WxH (default 320x180)")
    p.add_argument("--fps", default="25", help="video frame rate (default 25; 30000/1001 works)")
    p.add_argument("--max-objects", type=int, default=ItemConfig.max_objects, help="objects per item, at most (default 3)")
    p.add_argument("--video", action="append", default=[], help="your own video (repeat; pairs with --audio in order)")
    p.add_argument("--audio", action="append", default=[], help="a mono sound for the matching --video")
    p.add_argument("--detector", default="auto", help="tracking detector for --video items: auto, yolo or motion")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    add_spatial_arguments(p)
    p.set_defaults(run=run, preset="dry")  # free field: the mixture is exactly the ground truth (see docs)


def run(args: argparse.Namespace) -> int:
    settings = spatial_settings_from_args(args)
    bar = tqdm(unit="item", desc="synth-dataset", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        if args.video or args.audio:
            if len(args.video) != len(args.audio):
                raise InvalidParameter(f"{len(args.video)} --video and {len(args.audio)} --audio given; they pair up in order")
            manifest = build_from_videos(list(zip(args.video, args.audio)), args.out, settings=settings, detector=args.detector,
                                         scheduler=args.scheduler, workers=args.workers, overwrite=args.overwrite, progress=progress)
        else:
            if args.n is None:
                raise InvalidParameter("--n is required (or give --video/--audio pairs)")
            try:
                width, height = (int(v) for v in args.size.lower().split("x"))
                fps = Fraction(args.fps)
            except (ValueError, ZeroDivisionError):
                raise InvalidParameter(f"--size {args.size!r} / --fps {args.fps!r}: expected WxH and a number or ratio") from None
            config = dataclasses.replace(ItemConfig(), duration_s=args.duration_s, width=width, height=height, fps=fps,
                                         max_objects=args.max_objects, settings=settings)
            manifest = build_dataset(args.n, args.out, seed=args.seed, config=config, scheduler=args.scheduler,
                                     workers=args.workers, overwrite=args.overwrite, progress=progress)
    finally:
        bar.close()
    emit(args, {"ok": True, **manifest}, f"wrote {len(manifest['items'])} items and manifest.json to {args.out}")
    return 0
