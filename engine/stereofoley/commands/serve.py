"""`stereofoley serve`: the engine's OSC server (jobs, progress, results, live preview in REAPER, audio streams)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from ..errors import InvalidParameter
from ..files import default_roots
from ..transport.codec import DEFAULT_PORT, DEFAULT_REAPER_FEEDBACK_PORT, DEFAULT_REAPER_PORT
from ..transport.server import EngineServer, ServerConfig

TOKEN_ENV = "STEREOFOLEY_TOKEN"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="run the OSC server (jobs, progress, REAPER live preview, audio streams)",
        description=__doc__ + " The address space is documented in docs/osc.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"UDP port (default {DEFAULT_PORT})")
    p.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address (needs a token)")
    p.add_argument("--token", help=f"shared token every message must carry first (or set ${TOKEN_ENV})")
    p.add_argument("--root", action="append", default=None, metavar="DIR",
                   help="folder that file paths in messages must lie under (repeatable; default: home and temp)")
    p.add_argument("--workers", type=int, default=2, help="jobs rendered at once (default 2)")
    p.add_argument("--reaper-port", type=int, default=DEFAULT_REAPER_PORT,
                   help=f"REAPER's OSC listen port for live preview (default {DEFAULT_REAPER_PORT})")
    p.add_argument("--reaper-host", default="127.0.0.1", help="REAPER's host (default 127.0.0.1)")
    p.add_argument("--reaper-listen", type=int, default=DEFAULT_REAPER_FEEDBACK_PORT,
                   help=f"loopback port for REAPER's feedback /time /play /stop (default {DEFAULT_REAPER_FEEDBACK_PORT})")
    p.add_argument("--no-preview", action="store_true", help="no live preview (do not talk to REAPER)")
    p.add_argument("--preview-rate", type=float, default=100.0, help="preview updates a second (60..1000, default 100)")
    p.set_defaults(run=run)


def token_from_args(args: argparse.Namespace) -> str | None:
    """--token, else $STEREOFOLEY_TOKEN, else None (an empty value means no token)."""
    return args.token or os.environ.get(TOKEN_ENV) or None


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    roots = tuple(Path(r).resolve() for r in args.root) if args.root else default_roots()
    for root in roots:
        if not root.is_dir():
            raise InvalidParameter(f"--root {root} is not a folder")
    return ServerConfig(
        host=args.host, port=args.port, token=token_from_args(args),
        allow_remote=args.allow_remote, roots=roots, workers=args.workers,
        reaper_host=args.reaper_host, reaper_port=None if args.no_preview else args.reaper_port,
        reaper_listen_port=args.reaper_listen, preview_rate_hz=args.preview_rate,
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # refuses a non-loopback bind without --allow-remote and a token

    async def main() -> None:
        server = EngineServer(config)
        host, port = await server.start()
        print(f"stereofoley serve: listening on {host}:{port} (roots: {', '.join(map(str, config.roots))})", flush=True)
        if server.reaper_listen_address:
            print(f"stereofoley serve: REAPER feedback on 127.0.0.1:{server.reaper_listen_address[1]}, "
                  f"preview to {config.reaper_host}:{config.reaper_port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("stereofoley serve: stopped", file=sys.stderr)
    return 0
