"""`stereofoley demo [--out DIR]`: render the built-in scene; needs no input and no network."""

from __future__ import annotations

import argparse

from ..demo import run_demo
from .common import add_spatial_arguments, emit, spatial_settings_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="render the built-in demo scene", description=__doc__)
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out/)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    add_spatial_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(args.out, settings=spatial_settings_from_args(args))
    human = "\n".join(["stereofoley demo wrote:"] + [f"  {p}" for p in result.written])
    emit(args, result.summary, human)
    return 0
