"""`stereofoley analyze VIDEO -o tracks.json`: track the objects of a clip (no audio)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import OutputExists
from ..vision import analyze_video, write_tracks
from ..vision.analyze import coverage_text
from .common import EXIT_OK, EXIT_PARTIAL, add_output_arguments, emit
from .vision_args import (add_analysis_arguments, add_detector_arguments, add_video_arguments, cache_dir_from_args,
                          detector_options_from_args, progress_bar)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="track the objects of a video clip into tracks.json",
        description=(
            "Decode VIDEO over [--start, --end) media seconds, detect and track objects, and write their "
            "trajectories (times, normalised boxes, azimuth, distance, salience) to tracks.json."
        ),
    )
    add_video_arguments(p)
    add_analysis_arguments(p, max_objects=False)
    add_detector_arguments(p)
    p.add_argument("--output", "-o", required=True, help="tracks JSON to write")
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.output).exists() and not args.overwrite:  # fail before analysing, not after
        raise OutputExists(f"{args.output} already exists; pass --overwrite to replace it")
    options = detector_options_from_args(args)  # validated before anything is decoded
    with progress_bar(args, "analyse") as progress:
        analysis = analyze_video(
            args.video, start_s=args.start_s, end_s=args.end_s, options=options,
            cache_dir=cache_dir_from_args(args), progress=progress, tracker=args.tracker,
        )
    path = write_tracks(analysis, args.output, overwrite=args.overwrite)
    summary = {
        "ok": True, "output": str(path.resolve()), "media": str(analysis.media_path), "detector": analysis.detector,
        "start_s": analysis.start_s, "end_s": analysis.end_s, "frames_analysed": int(analysis.frame_times_s.size),
        "analysed_fraction": round(analysis.analysed_fraction, 4),
        "detector_settings": analysis.settings_key.get("detector", {}),
        "cuts_s": list(analysis.cuts_s),
        "tracks": [{"track_id": t.track_id, "class": t.class_name, "start_s": t.start_s, "end_s": t.end_s,
                    "salience": round(t.salience, 4)} for t in analysis.tracks],
    }
    emit(args, summary, f"wrote {path}: {len(analysis.tracks)} tracks from {analysis.frame_times_s.size} frames "
                        f"({analysis.detector} detector, {len(analysis.cuts_s)} cuts)")
    if analysis.analysed_fraction < 1.0:  # truncated media: the tracks cover only the part that decoded
        print(f"stereofoley analyze: warning: {analysis.media_path}: {coverage_text(analysis)}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
