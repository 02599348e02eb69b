"""`stereofoley preview on FILE | off`: load (or clear) the live REAPER preview on the engine server.
`stereofoley preview play RESULT --to URL [--to URL ...]`: play a render result's object positions to ADM-OSC
(adm-osc://HOST:4001), REAPER (reaper://HOST:8000) or Ardour (ardour://HOST:3819) targets, on an internal clock
or following Ardour's transport (--follow ardour://HOST:PORT; implied by an ardour target). See docs/osc.md.

The REAPER script "StereoFoley: Live preview on/off" runs this (a ReaScript has no sockets). `on` loads the
preview data FILE ({"clips": [...]}, written by "Send selected items") into a running `stereofoley serve`,
starting one in the background when none answers; `off` clears it. The server then follows REAPER's transport
and drives the object tracks' pan and volume (docs/osc.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..errors import InvalidParameter, MediaNotFound
from ..files import atomic_output
from ..results import load_result
from ..transport.client import OscClient
from ..transport.codec import DEFAULT_PORT, DEFAULT_REAPER_FEEDBACK_PORT, DEFAULT_REAPER_PORT, PREFIX
from ..transport.targets import parse_target, play
from .common import emit
from .serve import TOKEN_ENV, token_from_args

SERVER_START_TIMEOUT_S = 15.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("preview", help="turn the live REAPER preview on (with a preview file) or off", description=__doc__)
    p.add_argument("state", choices=("on", "off", "play"))
    p.add_argument("file", nargs="?", help="preview data JSON (required with 'on'); with 'play': the render report or job status")
    p.add_argument("--to", action="append", default=[], metavar="URL", help="play: a target, adm-osc://HOST:PORT, reaper://HOST:PORT or ardour://HOST:PORT (repeatable)")
    p.add_argument("--start", type=float, help="play: timeline position to start from, s (default: the first clip)")
    p.add_argument("--duration", type=float, help="play: how long to play, s (default: to the end of the result; following a host: how long to follow)")
    p.add_argument("--rate", type=float, default=50.0, help="play: messages per second per object (default 50)")
    p.add_argument("--follow", metavar="URL", help="play: follow a host's transport instead of an internal clock: ardour://HOST:PORT, or reaper://HOST:PORT?listen=9101 (where REAPER sends its feedback)")
    p.add_argument("--at", type=float, dest="record_start_s", help="play: timeline position of a job result that carries none, s")
    p.add_argument("--log", help="play: write every message sent as JSON lines (monotonic time, address, args)")
    p.add_argument("--host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"server port (default {DEFAULT_PORT})")
    p.add_argument("--token", help=f"shared token, when the server needs one (or set ${TOKEN_ENV})")
    p.add_argument("--no-start", action="store_true", help="fail instead of starting a server when none answers")
    p.add_argument("--reaper-port", type=int, default=DEFAULT_REAPER_PORT, help="for a server this starts: REAPER's OSC listen port")
    p.add_argument("--reaper-listen", type=int, default=DEFAULT_REAPER_FEEDBACK_PORT, help="for a server this starts: port for REAPER's feedback")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.state == "play":
        return _play(args)
    token = token_from_args(args)
    if args.state == "on":
        if not args.file:
            raise InvalidParameter("preview on needs the preview data file")
        path = Path(args.file).resolve()
        if not path.is_file():
            raise MediaNotFound(f"preview data file not found: {path}")
    with OscClient(args.host, args.port, token=token) as client:
        running = client.ping(timeout_s=0.5) is not None
        if args.state == "off":
            if running:
                client.request(f"{PREFIX}/preview/clear", expect=f"{PREFIX}/preview/loaded")
            emit(args, {"ok": True, "state": "off", "server": running}, "stereofoley preview: off")
            return 0
        started = None
        if not running:
            if args.no_start:
                raise InvalidParameter(f"no engine server answers on {args.host}:{args.port}; start `stereofoley serve`")
            started = _start_server(args, token, log_dir=path.parent)
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while client.ping(timeout_s=0.5) is None:
                if time.monotonic() > deadline:
                    raise InvalidParameter(f"started `stereofoley serve` but it did not answer on port {args.port} "
                                           f"within {SERVER_START_TIMEOUT_S:.0f} s; see {path.parent / 'stereofoley-serve.log'}")
        n_clips = int(client.request(f"{PREFIX}/preview/load_file", str(path), expect=f"{PREFIX}/preview/loaded").args[0])
    emit(args, {"ok": True, "state": "on", "clips": n_clips, "server_pid": started},
         f"stereofoley preview: on ({n_clips} clip(s){', server started' if started else ''})")
    return 0


def _start_server(args: argparse.Namespace, token: str | None, *, log_dir: Path) -> int:
    """`stereofoley serve` as a detached background process that outlives this command; returns its pid."""
    argv = [sys.executable, "-m", "stereofoley.cli", "serve", "--host", args.host, "--port", str(args.port),
            "--reaper-port", str(args.reaper_port), "--reaper-listen", str(args.reaper_listen)]
    env = dict(os.environ, **({TOKEN_ENV: token} if token else {}))
    log = open(log_dir / "stereofoley-serve.log", "ab")  # noqa: SIM115 - handed to the child
    kwargs = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {"start_new_session": True}
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, **kwargs)
    log.close()
    return process.pid


def _play(args: argparse.Namespace) -> int:
    if not args.file:
        raise InvalidParameter("preview play needs the result file (render report or job status)")
    if not args.to:
        raise InvalidParameter("preview play needs at least one --to target (adm-osc://, reaper:// or ardour://)")
    targets = [parse_target(url) for url in args.to]
    follow = parse_target(args.follow) if args.follow else next((t for t in targets if t.scheme == "ardour"), None)
    if follow is not None and follow.scheme not in ("ardour", "reaper"):
        raise InvalidParameter(f"--follow {args.follow!r}: only ardour:// and reaper:// transports can be followed")
    if follow is not None and args.duration is None:
        raise InvalidParameter(f"following {follow.scheme}:// needs --duration (how long to follow, s)")
    clips = load_result(args.file, record_start_s=args.record_start_s)
    lines: list[str] = []
    log = (lambda t, address, a: lines.append(json.dumps([t, address, list(a)]))) if args.log else None
    print(f"stereofoley preview: playing {len(clips)} clip(s) to {', '.join(args.to)}"
          f"{' following ' + follow.scheme + '://' + follow.host + ':' + str(follow.port) if follow else ''}", file=sys.stderr)
    ticks = play(clips, targets, start_s=args.start, duration_s=args.duration, rate_hz=args.rate, follow=follow,
                 log=log, idle_timeout_s=10.0 if follow else None)
    if args.log:
        with atomic_output(args.log) as tmp:
            tmp.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    emit(args, {"ok": True, "state": "play", "ticks": ticks, "targets": args.to, "messages": len(lines) if args.log else None},
         f"stereofoley preview: played {ticks} tick(s)")
    return 0
