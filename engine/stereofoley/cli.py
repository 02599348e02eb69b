"""The `stereofoley` command: one entry point, one module per subcommand in `stereofoley.commands`.

Each command module has `add_parser(subparsers)` and `run(args) -> int`. Exit codes mean something:
0 success, 1 error (one-line reason on stderr), 2 bad usage, 3 partial success (some clips skipped, or media that decodes only partly).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from typing import Sequence

from . import __version__
from .commands.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE  # noqa: F401  (part of the CLI's face)
from .errors import StereoFoleyError
from .options import CLI_FLAGS

# Subcommand name -> module in stereofoley.commands (imported lazily so `--help` stays fast).
COMMANDS = {
    "spatialize": "spatialize",
    "demo": "demo",
    "analyze": "analyze",
    "clip": "clip",
    "score": "score",
    "synth-dataset": "synth_dataset",
    "report": "report",
    "serve": "serve",
    "send": "send",
    "monitor": "monitor",
    "render": "render",
    "install": "install",
    "preview": "preview",
    "ardour-session": "ardour_session",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stereofoley", description="Object-aware stereo Foley at 48 kHz.")
    parser.add_argument("--version", action="version", version=f"stereofoley {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, module in COMMANDS.items():
        importlib.import_module(f"stereofoley.commands.{module}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or EXIT_OK)
    except StereoFoleyError as exc:
        return _fail(args, type(exc).__name__, as_flags(str(exc)))
    except KeyboardInterrupt:
        print(f"stereofoley {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a name too long, a folder where a file was expected: name the file
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _fail(args, type(exc).__name__, f"{exc.strerror or exc}{where}")
    except MemoryError:
        return _fail(args, "MemoryError", "out of memory (an input asks for more audio or frames than fit; "
                                          "check clip durations, freeze frames and gaps)")
    except Exception as exc:  # a bug: one line, never a traceback (STEREOFOLEY_DEBUG=1 shows it)
        if os.environ.get("STEREOFOLEY_DEBUG"):
            raise
        return _fail(args, type(exc).__name__, f"internal error: {type(exc).__name__}: {exc} "
                                               "(set STEREOFOLEY_DEBUG=1 for the traceback)")


def _fail(args: argparse.Namespace, kind: str, message: str) -> int:
    """One line on stderr (and one JSON document on stdout with --json); exit 1."""
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": kind, "message": message}))
    print(f"stereofoley {args.command}: error: {message}"[:2000].replace("\n", " "), file=sys.stderr)
    return EXIT_ERROR


def as_flags(message: str) -> str:
    """A library message names parameters (`overwrite=True`); on the command line they are flags (`--overwrite`)."""
    for name in sorted(CLI_FLAGS, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.-]){re.escape(name)}", CLI_FLAGS[name], message)
    return message


if __name__ == "__main__":
    sys.exit(main())
