"""`stereofoley clip VIDEO -o OUT.wav`: one clip end to end (analyse, pick objects, spatialize) into 48 kHz stereo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InvalidParameter
from ..files import clean_stale_parts
from ..usecases.clip import render_clip_files, request_for_media
from ..usecases.corrections import tracks_file_for
from .common import EXIT_OK, EXIT_PARTIAL, add_render_arguments, emit, render_options_from_args
from .vision_args import add_video_arguments, progress_bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "clip",
        help="render spatialized Foley for one video clip into a 48 kHz stereo WAV",
        description=(
            "Analyse VIDEO over [--start, --end), keep the most salient objects, give each a sound and place it "
            "where it is on screen. The WAV is exactly as long as the range, with each object's mono source "
            "beside it (OUT.01.<object>.wav, ...; --no-stems to skip). Sounds: synth (default), library, "
            "clip-audio and generator:NAME come from stereofoley.sources (docs/sources.md); 'neutral' is pink "
            "noise per object. The mix is loudness-normalised (-23 LUFS, -1 dBTP) unless --no-loudness."
        ),
    )
    add_video_arguments(p)
    p.add_argument("--output", "-o", required=True, help="output WAV path")
    p.add_argument("--tracks-out", help="also write the analysis as tracks.json here")
    add_render_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = render_options_from_args(args)
    if options.tracks and tracks_file_for(Path(args.video), options.tracks) is None:
        raise InvalidParameter(f"--tracks {', '.join(options.tracks)}: none describes {Path(args.video).name} "
                               "(a tracks file names its media; analyse this video with --tracks-out)")
    request = request_for_media(args.video, start_s=args.start_s, end_s=args.end_s)
    with progress_bar(args, "clip") as progress:
        for stale in clean_stale_parts(Path(args.output).parent):  # temp files of a render that was killed
            print(f"stereofoley clip: removed {stale.name}, left by an interrupted render", file=sys.stderr)
        result = render_clip_files(request, options, args.output, tracks=args.tracks_out, progress=progress)
    summary = {"ok": True, "output": str(result.wav.resolve()), **result.to_json(),
               "start_s": request.media_start_s, "end_s": request.media_end_s, "sources": options.sources}
    emit(args, summary, f"wrote {result.wav} ({summary['duration_s']:.3f} s, 48 kHz stereo, "
                        f"{len(result.objects)} objects, peak {summary['peak_dbfs']} dBFS)")
    if result.warning:  # truncated media: rendered, but the sound follows only the part that decoded
        print(f"stereofoley clip: warning: clip {request.name!r} ({request.clip_id}): {result.warning}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
