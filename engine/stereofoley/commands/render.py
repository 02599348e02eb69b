"""`stereofoley render TIMELINE -o OUTDIR`: Foley for every selected clip of an edit, written back for the editor.

Exit codes: 0 every selected clip rendered; 3 partial (some clips skipped, or rendered from media that decodes
only partly: the report lists each with its reason); 1 error (unreadable timeline, unknown format, nothing
selected, no clip renderable); 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

import opentimelineio as otio

from ..errors import InvalidParameter
from ..files import clean_stale_parts
from .common import (EXIT_OK, EXIT_PARTIAL, add_render_arguments, add_resume_argument, add_scale_out_arguments,
                     emit, render_options_from_args)
from ..timeline import Selection
from ..usecases.timeline import render_timeline
from ..timeline.plan import global_start_s, read_timeline, timeline_rate


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="render Foley for the clips of a timeline (OTIO, FCP XML, FCPXML, EDL, AAF, RPP)",
        description=(
            "Read TIMELINE with OpenTimelineIO, render one 48 kHz stereo BWF WAV per selected video clip, and write "
            "OUTDIR/<name>.stereofoley.otio (the timeline plus a 'StereoFoley' audio track at the picture clips' "
            "record ranges), .xml (FCP 7 XML for Premiere/Resolve), .rpp (REAPER), .aaf (Pro Tools) and .json "
            "(the report). "
            "Selection options combine (AND); by default every visible video clip is rendered. "
            "Exit codes: 0 ok, 3 partial (some clips skipped, see the report), 1 error, 2 usage."
        ),
    )
    p.add_argument("timeline", help="timeline file (.otio, .otioz, .xml, .fcpxml, .edl, .aaf, .rpp) or .otiod bundle folder")
    p.add_argument("--out", "-o", required=True, help="output folder")
    sel = p.add_argument_group("clip selection (criteria combine; each may be repeated)")
    sel.add_argument("--clip", action="append", default=[], metavar="NAME_OR_ID", help="clip name or id (e.g. 1.3)")
    sel.add_argument("--marker", action="append", default=[], metavar="NAME_OR_COLOR",
                     help="marker name or colour on the clip or over it on the timeline")
    sel.add_argument("--color", action="append", default=[], help="clip colour (OTIO clip colour or Resolve metadata)")
    sel.add_argument("--track", action="append", default=[], help="video track name, or V1/1 (1-based, bottom up)")
    sel.add_argument("--range", dest="time_range", metavar="START-END",
                     help="record range: seconds from the timeline start (12.5-20) or timecodes (01:00:10:00-01:00:20:00)")
    media = p.add_argument_group("media")
    media.add_argument("--media-root", action="append", default=[], metavar="DIR",
                       help="folder searched recursively for media: by file name, then the same name with any "
                            "video extension, then the clip's or reel's name (repeatable)")
    media.add_argument("--remap", action="append", default=[], metavar="OLD=NEW",
                       help="rewrite media paths: OLD is a regular expression (case-insensitive, paths with /), "
                            r"NEW its replacement, e.g. D:/media=/mnt/media or '^.*/Show_(\d+)/=/mnt/show\1/' (repeatable)")
    out = p.add_argument_group("editor files")
    out.add_argument("--no-aaf", dest="write_aaf", action="store_false", help="do not write the AAF for Pro Tools")
    out.add_argument("--xml-stems", action="store_true",
                     help="FCP XML: add one audio track per object (its mono stem) with keyframed Pan and Audio Levels")
    add_scale_out_arguments(p)
    add_render_arguments(p)
    add_resume_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:

    selection = Selection(clips=tuple(args.clip), markers=tuple(args.marker), colors=tuple(args.color),
                          tracks=tuple(args.track),
                          range_s=parse_range(args.time_range, args.timeline) if args.time_range else None)
    options = render_options_from_args(args, media_roots=tuple(args.media_root), remaps=tuple(args.remap))
    progress = None if args.json or getattr(args, "quiet", False) else _progress_printer()
    for stale in clean_stale_parts(args.out):  # temp files of a render that was killed
        print(f"stereofoley render: removed {stale.name}, left by an interrupted render", file=sys.stderr)
    report = render_timeline(args.timeline, args.out, selection=selection, options=options, progress=progress,
                             write_aaf=args.write_aaf, xml_stems=args.xml_stems)
    lines = [f"{len(report['clips'])} clip(s) rendered -> {report['timeline_out']}"]
    if report.get("resumed"):
        lines.append(f"  {len(report['resumed'])} of them kept from an earlier run (--resume): "
                     + ", ".join(report["resumed"]))
    lines += [f"  note: {n}" for n in report.get("notes", [])]
    lines += [f"  {c['name']} ({c['id']}): media matched by {c['relink']['rule']}, ambiguous with "
              + ", ".join(c["relink"]["ambiguous"]) for c in report["clips"] if c.get("relink", {}).get("ambiguous")]
    lines += [f"  skipped {s['name']} ({s['id']}): {s['reason']}" for s in report["skipped"]]
    for w in report.get("warnings", []):  # the one line per partly decoded clip, on stderr as for `clip`
        print(f"stereofoley render: warning: clip {w['name']!r} ({w['id']}): {w['reason']}", file=sys.stderr)
    emit(args, report, "\n".join(lines))
    return EXIT_PARTIAL if report["status"] == "partial" else EXIT_OK


def parse_range(text: str, timeline_path: str) -> tuple[float, float]:
    """'12.5-20' (seconds from the timeline start) or '01:00:10:00-01:00:20:00' (timecodes, global start included)."""
    parts = text.split("-")
    if len(parts) != 2:
        raise InvalidParameter(f"--range {text!r} must look like START-END (seconds or HH:MM:SS:FF timecodes)")
    if ":" in text:
        timeline = read_timeline(timeline_path)
        rate = timeline_rate(timeline)
        try:
            values = [otio.opentime.from_timecode(p.strip(), rate).to_seconds() for p in parts]
        except ValueError as exc:
            raise InvalidParameter(f"--range {text!r}: {exc}") from None
        g0 = float(global_start_s(timeline))
        return values[0] - g0, values[1] - g0
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidParameter(f"--range {text!r} must look like START-END in seconds, e.g. 12.5-20") from None


def _progress_printer():
    last = [""]

    def show(fraction: float, message: str) -> None:
        line = f"[{fraction * 100:5.1f}%] {message}"
        if line != last[0]:  # parallel renders report every TICK_S; print only what changed
            print(line, file=sys.stderr)
            last[0] = line

    return show
