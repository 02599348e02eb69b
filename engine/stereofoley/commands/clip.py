"""`stereofoley clip VIDEO -o OUT.wav`: one clip end to end (analyse, pick objects, spatialize) into 48 kHz stereo."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import SAMPLE_RATE_HZ
from ..audio import write_wav
from ..errors import InvalidParameter, OutputExists
from ..pipeline import render_clip
from ..spatial.mix import peak_dbfs
from .source_args import add_source_arguments, apply_loudness, source_for_from_args
from ..sources.loudness import integrated_lufs
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
            "noise per object; synth, library, clip-audio and generator:NAME come from stereofoley.sources "
            "(docs/sources.md). The mix is loudness-normalised (-23 LUFS, -1 dBTP) unless --no-loudness."
        ),
    )
    add_video_arguments(p)
    p.add_argument("--output", "-o", required=True, help="output WAV path")
    p.add_argument("--max-objects", type=int, default=4, help="most objects to sonify (default 4)")
    p.add_argument("--tracks-out", help="also write the analysis as tracks.json here")
    add_source_arguments(p)
    add_spatial_arguments(p)
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = spatial_settings_from_args(args)
    for out in filter(None, (args.output, args.tracks_out)):
        if Path(out).exists() and not args.overwrite:  # fail before rendering, not after
            raise OutputExists(f"{out} already exists; pass --overwrite to replace it")
    if args.max_objects < 0:
        raise InvalidParameter(f"--max-objects {args.max_objects} must be >= 0")
    source_for = source_for_from_args(args, media_path=args.video, media_start_s=args.start_s or 0.0)  # errors before analysis
    with progress_bar(args, "clip") as progress:
        result = render_clip(
            args.video, start_s=args.start_s, end_s=args.end_s, detector=args.detector, weights=args.weights,
            settings=settings, max_objects=args.max_objects, source_for=source_for, progress=progress,
            analysis_fps=args.analysis_fps, cache_dir=cache_dir_from_args(args),
        )
    stereo = apply_loudness(result.stereo, args)
    path = write_wav(args.output, stereo, subtype=settings.output_subtype, overwrite=args.overwrite)
    if args.tracks_out:
        write_tracks(result.analysis, args.tracks_out, overwrite=args.overwrite)
    n = int(stereo.shape[1])
    provider = getattr(source_for, "choices", {})
    summary = {
        "ok": True, "output": str(path.resolve()), "media": str(result.media_path), "start_s": result.start_s,
        "end_s": result.end_s, "sample_rate_hz": SAMPLE_RATE_HZ, "samples": n, "duration_s": n / SAMPLE_RATE_HZ,
        "peak_dbfs": round(peak_dbfs(stereo), 2), "detector": result.analysis.detector, "sources": args.sources,
        "loudness_lufs": None if not args.loudness else round(integrated_lufs(stereo), 2),
        "objects": [
            {"name": o.name, "class": o.class_name, "source": provider.get(int(o.name.rsplit("-", 1)[-1]), "neutral"),
             "trajectory": o.trajectory.to_points()}
            for o in result.objects
        ],
    }
    emit(args, summary, f"wrote {path} ({n / SAMPLE_RATE_HZ:.3f} s, 48 kHz stereo, {len(result.objects)} objects, "
                        f"peak {summary['peak_dbfs']} dBFS)")
    return 0
