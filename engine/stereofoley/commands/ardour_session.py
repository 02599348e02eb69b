"""`stereofoley ardour-session RESULT --out DIR`: an Ardour 7 session from a render result.

RESULT is a timeline render report or a job status file. The session holds the mix on a stereo track (muted when
object tracks reproduce it) and one mono track per object with a source WAV ("stems" renders), carrying the
engine's pan and gain as automation; every region starts at its clip's timeline sample. Open DIR/NAME.ardour in
Ardour, or render it headless: `ardour7-export DIR NAME`. `--osc` switches on Ardour's OSC surface (UDP 3819) for
`stereofoley preview play RESULT --to ardour://127.0.0.1:3819`.
`--plan FILE` writes instead the import plan the Ardour editor action "StereoFoley: Import result" reads
(plugin/ardour/), for importing into a session that is open.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InvalidParameter
from ..files import write_text_atomic
from ..hosts.ardour import import_plan_lua, session_from_results, write_session
from ..results import load_result
from .common import emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ardour-session", help="write an Ardour session (mix + object tracks with automation) from a result",
                              description=__doc__)
    p.add_argument("result", help="render report or job status JSON")
    p.add_argument("--out", help="session folder to write")
    p.add_argument("--plan", help="write the editor action's import plan (a Lua data file) here instead of a session")
    p.add_argument("--name", help="session name (default: the folder's name)")
    p.add_argument("--at", type=float, dest="record_start_s", help="timeline position in seconds for results that carry none")
    p.add_argument("--mix-only", action="store_true", help="only the mix track, no object tracks")
    p.add_argument("--osc", action="store_true", help="activate Ardour's OSC control surface in the session")
    p.add_argument("--live", action="store_true", help="for the live preview: OSC on, automation written but Off, so the engine drives the strips")
    p.add_argument("--overwrite", action="store_true", help="replace an existing session file")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.plan:
        clips = load_result(args.result, record_start_s=args.record_start_s)
        path = write_text_atomic(args.plan, import_plan_lua(clips, objects=not args.mix_only), overwrite=args.overwrite)
        emit(args, {"ok": True, "plan": str(Path(path).resolve()), "clips": len(clips)}, f"wrote {path} ({len(clips)} clip(s))")
        return 0
    if not args.out:
        raise InvalidParameter("ardour-session needs --out DIR (a session folder) or --plan FILE")
    out = Path(args.out)
    name = args.name or out.resolve().name
    if not name or "/" in name or name.startswith("."):
        raise InvalidParameter(f"session name {name!r} is not a plain file name")
    clips = load_result(args.result, record_start_s=args.record_start_s)
    session = session_from_results(name, clips, objects=not args.mix_only, osc=args.osc, live=args.live)
    path = write_session(session, out, overwrite=args.overwrite)
    tracks = sorted({t.name for t in session.tracks})
    emit(args, {"ok": True, "session": str(path.resolve()), "clips": len(clips), "tracks": len(tracks)},
         f"wrote {path} ({len(clips)} clip(s), {len(tracks)} track(s))")
    return 0
