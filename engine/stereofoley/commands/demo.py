"""`stereofoley demo [--out DIR]`: the whole pipeline on a generated edit; needs no input and no network."""

from __future__ import annotations

import argparse
import sys

from ..demo import run_demo
from .common import add_spatial_arguments, emit, spatial_settings_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the whole pipeline on a built-in generated edit", description=__doc__)
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out/); the demo's files there are replaced")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    add_spatial_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress = None if args.json else (lambda message: print(f"  {message} ...", file=sys.stderr, flush=True))
    result = run_demo(args.out, settings=spatial_settings_from_args(args), progress=progress)
    s = result.summary["score"]
    human = "\n".join(
        ["stereofoley demo wrote:"]
        + [f"  {p}" for p in result.written]
        + [f"objects: {', '.join(o['class'] for o in result.summary['objects'])}; audio follows the picture: "
           f"position correlation {s['position_correlation']:.3f}, direction agreement {s['direction_agreement']:.2f}"]
    )
    emit(args, result.summary, human)
    return 0
