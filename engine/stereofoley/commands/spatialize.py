"""`stereofoley spatialize SOURCE --trajectory T.json -o OUT.wav`: place one mono sound along a trajectory."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import SAMPLE_RATE_HZ
from ..audio import read_mono, write_wav
from ..errors import OutputExists
from ..spatial.mix import SoundObject, peak_dbfs, render_mix
from ..spatial.trajectory import read_trajectory
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
    source = read_mono(args.source)

    if Path(args.output).exists() and not args.overwrite:  # fail before rendering, not after
        raise OutputExists(f"{args.output} already exists; pass --overwrite to replace it")
    stereo = render_mix([SoundObject("source", source, trajectory)], settings, source.size)
    path = write_wav(args.output, stereo, subtype=settings.output_subtype, overwrite=args.overwrite)
    summary = {
        "ok": True,
        "output": str(path.resolve()),
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "channels": 2,
        "samples": int(stereo.shape[1]),
        "duration_s": stereo.shape[1] / SAMPLE_RATE_HZ,
        "peak_dbfs": round(peak_dbfs(stereo), 2),
        "latency_samples": 0,  # the dry path adds none (tests/spatial: an impulse lands on its own sample)
        "settings": settings.to_dict(),
    }
    emit(args, summary, f"wrote {path} ({summary['duration_s']:.3f} s, 48 kHz stereo, peak {summary['peak_dbfs']} dBFS)")
    return 0
