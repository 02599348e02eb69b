"""`stereofoley send JOB.json`: run a job on a running `stereofoley serve`, or in this process when none answers.

For hosts whose scripts cannot speak OSC (the REAPER shim runs it). The status file (docs/contracts.md §4) is kept up to
date atomically either way: by the server when it runs the job (so it survives this process going away), or here.
Exit codes: 0 done, 3 partial, 1 failed or cancelled. With --cancel-file, the job is cancelled as soon as that file
exists (how the host scripts, which cannot signal a process portably, let the user cancel).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from .common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL
from ..errors import InvalidJob
from ..jobs import FINAL_STATES, read_job, run_job
from ..transport.client import OscClient
from ..transport.codec import DEFAULT_PORT, PREFIX
from .serve import TOKEN_ENV, token_from_args

EXIT_FOR_STATE = {"done": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_ERROR, "cancelled": EXIT_ERROR}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("send", help="run a job file on the engine server (or locally)", description=__doc__)
    p.add_argument("job", help="job file (JSON, docs/contracts.md §4)")
    p.add_argument("--status-file", help="status JSON to keep updated (default: none)")
    p.add_argument("--cancel-file", help="cancel the job when this file appears (checked every 0.2 s)")
    p.add_argument("--local", action="store_true", help="run in this process; do not look for a server")
    p.add_argument("--host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"server port (default {DEFAULT_PORT})")
    p.add_argument("--token", help=f"shared token, when the server needs one (or set ${TOKEN_ENV})")
    p.add_argument("--timeout", type=float, default=0.0, help="give up waiting after S seconds (default: wait)")
    p.add_argument("--no-wait", action="store_true", help="return once the server accepted the job")
    p.add_argument("--json", action="store_true", help="print the final status JSON on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    job_path = Path(args.job).resolve()
    job = read_job(job_path)  # validate here first: a bad job fails the same way with or without a server
    status_path = Path(args.status_file).resolve() if args.status_file else None
    cancel_path = Path(args.cancel_file).resolve() if args.cancel_file else None
    token = token_from_args(args)
    status = None
    if not args.local:
        with OscClient(args.host, args.port, token=token) as client:
            if client.ping(timeout_s=0.5) is not None:
                status = _run_remote(client, job_path, status_path, args, cancel_path)
    if status is None:
        cancel, finished = threading.Event(), threading.Event()
        if cancel_path and cancel_path.exists():
            cancel.set()  # asked before it began
        elif cancel_path:
            threading.Thread(target=_watch_cancel_file, args=(cancel_path, cancel, finished), daemon=True).start()
        try:
            status = run_job(job, status_path=status_path, listener=_print_progress, cancel=cancel)
        finally:
            finished.set()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"stereofoley send: job {status['job_id']} {status['state']}: {status['message']}")
    return EXIT_FOR_STATE.get(status["state"], EXIT_OK)


def _print_progress(job_id: str, status: dict) -> None:
    print(f"\r{job_id} {status['state']:9s} {100 * status['progress']:5.1f}% {status['message'][:60]}",
          end="\n" if status["state"] in FINAL_STATES else "", file=sys.stderr, flush=True)


CANCEL_POLL_S = 0.2


def _watch_cancel_file(path: Path, cancel: threading.Event, finished: threading.Event) -> None:
    while not finished.wait(CANCEL_POLL_S):
        if path.exists():
            cancel.set()
            return


def _run_remote(client: OscClient, job_path: Path, status_path: Path | None, args: argparse.Namespace,
                cancel_path: Path | None = None) -> dict:
    extra = [str(status_path)] if status_path else []
    accepted = client.request(f"{PREFIX}/job/submit_file", str(job_path), *extra, expect=f"{PREFIX}/job/accepted")
    job_id = accepted.args[0]
    if args.no_wait:
        return {"job_id": job_id, "state": "queued", "message": "submitted", "progress": 0.0}
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else float("inf")
    asked_to_cancel, last_heard = False, time.monotonic()
    while time.monotonic() < deadline:
        if cancel_path and not asked_to_cancel and cancel_path.exists():
            client.send(f"{PREFIX}/job/cancel", job_id)  # the server writes the final "cancelled" status
            asked_to_cancel = True
        msg = client.receive(min(CANCEL_POLL_S if cancel_path else 2.0, deadline - time.monotonic()))
        if msg is None:  # progress is pushed, but UDP may lose it: ask now and then
            if time.monotonic() - last_heard >= 2.0:
                client.send(f"{PREFIX}/job/status", job_id)
                last_heard = time.monotonic()
            continue
        last_heard = time.monotonic()
        if msg.args and msg.args[0] == job_id:
            if msg.address == f"{PREFIX}/job/progress":
                _print_progress(job_id, {"state": msg.args[3], "progress": msg.args[2], "message": msg.args[4]})
            if msg.address in (f"{PREFIX}/job/done", f"{PREFIX}/job/status") and msg.args[1] in FINAL_STATES:
                return client.results(job_id)
    raise InvalidJob(f"job {job_id} did not finish within {args.timeout} s (it keeps running on the server)")
