"""`stereofoley spatialize SOURCE --trajectory T.json -o OUT.wav`: place one mono sound along a trajectory."""

from __future__ import annotations

import argparse

from ..spatial.trajectory import read_trajectory
from ..usecases.spatialize import spatialize_file
from .common import add_output_arguments, add_spatial_arguments, emit, spatial_settings_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "spatialize",
        help="place a mono sound along a trajectory into 48 kHz stereo",
        description=(
            "Render SOURCE (any rate; channels are averaged) along a trajectory into a 48 kHz stereo WAV of the "
            "same duration. T.json is a list of points {\"t\": s, \"pan\": -1..1 or \"x\": 0..1 of frame width, "
            "\"distance_m\": m, \"gain_db\": dB (optional)}."
        ),
    )
    p.add_argument("source", help="mono (or multichannel, averaged) audio file")
    p.add_argument("--trajectory", "-t", required=True, help="trajectory JSON file")
    p.add_argument("--output", "-o", required=True, help="output WAV path")
    add_spatial_arguments(p)
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = spatial_settings_from_args(args)
    trajectory = read_trajectory(args.trajectory, settings)
    summary = spatialize_file(args.source, trajectory, args.output, settings=settings, overwrite=args.overwrite)
    emit(args, summary, f"wrote {summary['output']} ({summary['duration_s']:.3f} s, 48 kHz stereo, "
                        f"peak {summary['peak_dbfs']} dBFS)")
    return 0
