"""`stereofoley clip VIDEO -o OUT.wav`: one clip end to end (analyse, pick objects, spatialize) into 48 kHz stereo."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from .. import SAMPLE_RATE_HZ
from ..audio import write_wav
from ..errors import InvalidParameter, OutputExists
from ..pipeline import render_clip
from ..render import peak_dbfs
from ..vision import write_tracks
from .common import add_output_arguments, add_spatial_arguments, emit, spatial_settings_from_args
from .vision_args import add_video_arguments, cache_dir_from_args, progress_bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "clip",
        help="render spatialized Foley for one video clip into a 48 kHz stereo WAV",
        description=(
            "Analyse VIDEO over [--start, --end), keep the most salient objects, give each a sound and place it "
            "where it is on screen. The WAV is exactly as long as the range. Sounds: 'neutral' (default) is pink "
            "noise per object at -20 dBFS RMS; other specs need the stereofoley.sources package."
        ),
    )
    add_video_arguments(p)
    p.add_argument("--output", "-o", required=True, help="output WAV path")
    p.add_argument("--max-objects", type=int, default=4, help="most objects to sonify (default 4)")
    p.add_argument("--sources", default="neutral", help="sound for each object: neutral (default) or a stereofoley.sources spec")
    p.add_argument("--tracks-out", help="also write the analysis as tracks.json here")
    add_spatial_arguments(p)
    add_output_arguments(p)
    p.set_defaults(run=run)


def _source_for(args: argparse.Namespace):
    if args.sources == "neutral":
        return None
    if importlib.util.find_spec("stereofoley.sources") is None:
        raise InvalidParameter(f"--sources {args.sources!r} needs the stereofoley.sources package; use --sources neutral")
    from ..sources import make_source_for  # the sources package, when installed alongside

    return make_source_for(args.sources, media_path=args.video, media_start_s=args.start_s or 0.0)


def run(args: argparse.Namespace) -> int:
    settings = spatial_settings_from_args(args)
    for out in filter(None, (args.output, args.tracks_out)):
        if Path(out).exists() and not args.overwrite:  # fail before rendering, not after
            raise OutputExists(f"{out} already exists; pass --overwrite to replace it")
    if args.max_objects < 0:
        raise InvalidParameter(f"--max-objects {args.max_objects} must be >= 0")
    with progress_bar(args, "clip") as progress:
        result = render_clip(
            args.video, start_s=args.start_s, end_s=args.end_s, detector=args.detector, weights=args.weights,
            settings=settings, max_objects=args.max_objects, source_for=_source_for(args), progress=progress,
            analysis_fps=args.analysis_fps, cache_dir=cache_dir_from_args(args),
        )
    path = write_wav(args.output, result.stereo, subtype=settings.output_subtype, overwrite=args.overwrite)
    if args.tracks_out:
        write_tracks(result.analysis, args.tracks_out, overwrite=args.overwrite)
    n = int(result.stereo.shape[1])
    summary = {
        "ok": True, "output": str(path.resolve()), "media": str(result.media_path), "start_s": result.start_s,
        "end_s": result.end_s, "sample_rate_hz": SAMPLE_RATE_HZ, "samples": n, "duration_s": n / SAMPLE_RATE_HZ,
        "peak_dbfs": round(peak_dbfs(result.stereo), 2), "detector": result.analysis.detector,
        "objects": [{"name": o.name, "class": o.class_name, "trajectory": o.trajectory.to_points()} for o in result.objects],
    }
    emit(args, summary, f"wrote {path} ({n / SAMPLE_RATE_HZ:.3f} s, 48 kHz stereo, {len(result.objects)} objects, "
                        f"peak {summary['peak_dbfs']} dBFS)")
    return 0
