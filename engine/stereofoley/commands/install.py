"""`stereofoley install reaper|resolve|ardour [--dry-run] [--uninstall] [--prefix DIR] [--os windows|macos|linux]`."""

from __future__ import annotations

import argparse
import shlex

from ..install import HOSTS, OS_NAMES, install
from .common import emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "install",
        help="install (or uninstall) the REAPER, DaVinci Resolve or Ardour scripts",
        description=(
            "Copy the host scripts into the host's per-user folders, creating what is missing. A file of yours "
            "that is in the way is moved aside to NAME.stereofoley-backup-TIME first; a manifest records what "
            "was installed so --uninstall removes exactly that and puts your files back."
        ),
    )
    p.add_argument("host", choices=HOSTS)
    p.add_argument("--dry-run", action="store_true", help="print what would be done; write nothing")
    p.add_argument("--uninstall", action="store_true", help="remove what an earlier install recorded")
    p.add_argument("--prefix", help="use DIR in place of your home folder (tests, portable setups)")
    p.add_argument("--os", dest="os_name", choices=OS_NAMES, help="folder layout to use (default: this machine's)")
    p.add_argument("--engine", help="command line the scripts run to start the engine (default: this Python -m stereofoley.cli)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = shlex.split(args.engine) if args.engine else None
    root, actions = install(args.host, os_name=args.os_name, prefix=args.prefix, uninstall=args.uninstall, dry_run=args.dry_run, engine=engine)
    verb = ("would " if args.dry_run else "") + ("uninstall" if args.uninstall else "install")
    human = "\n".join([f"stereofoley {verb} {args.host} in {root}:"] + [f"  {a.describe()}" for a in actions])
    summary = {
        "ok": True, "host": args.host, "folder": str(root), "dry_run": args.dry_run, "uninstall": args.uninstall,
        "actions": [{"kind": a.kind, "path": str(a.path), **({"to": str(a.other)} if a.other else {}), "detail": a.detail} for a in actions],
    }
    emit(args, summary, human)
    return 0
