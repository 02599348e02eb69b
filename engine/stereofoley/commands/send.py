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
from ..errors import InvalidJob, InvalidParameter, StereoFoleyError
from ..files import check_status_target, write_text_atomic
from ..jobs import FINAL_STATES, read_job, run_job
from ..transport.client import OscClient
from ..transport.codec import DEFAULT_PORT, PREFIX
from .serve import TOKEN_ENV, token_from_args

DEFAULT_TIMEOUT_S = 24 * 3600.0  # a whole day of rendering; finite, so a host script never hangs forever
DEFAULT_STALL_S = 30.0  # status is asked every 2 s: 15 unanswered questions in a row mean the server is gone
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
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help=f"give up waiting after S seconds (default {DEFAULT_TIMEOUT_S:.0f}; the job keeps running)")
    p.add_argument("--stall-timeout", type=float, default=DEFAULT_STALL_S,
                   help=f"give up when the server has not answered for S seconds (default {DEFAULT_STALL_S:.0f})")
    p.add_argument("--no-wait", action="store_true", help="return once the server accepted the job")
    p.add_argument("--json", action="store_true", help="print the final status JSON on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    job_path = Path(args.job).resolve()
    job = read_job(job_path)  # validate here first: a bad job fails the same way with or without a server
    if not args.timeout > 0 or not args.stall_timeout > 0:
        raise InvalidParameter(f"--timeout={args.timeout} and --stall-timeout={args.stall_timeout} must be > 0 s")
    status_path = Path(args.status_file).resolve() if args.status_file else None
    if status_path is not None:
        check_status_target(status_path)  # never replace the job file, its media or any file but a status
    cancel_path = Path(args.cancel_file).resolve() if args.cancel_file else None
    token = token_from_args(args)
    status = None
    if not args.local:
        with OscClient(args.host, args.port, token=token) as client:
            if client.ping(timeout_s=0.5) is not None:
                status = _run_remote(client, job_path, status_path, args, cancel_path)
            else:
                print(f"stereofoley send: no server answered on {args.host}:{args.port} within 0.5 s; "
                      "running the job in this process", file=sys.stderr)
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
        reason = status.get("error") or ""
        if not reason and status.get("skipped"):
            first = status["skipped"][0]
            reason = f"{first.get('name', first.get('id'))}: {first.get('reason')}"
        print(f"stereofoley send: job {status['job_id']} {status['state']}: {status['message']}"
              + (f" ({reason})" if reason and status["state"] != "done" else ""))
    return EXIT_FOR_STATE.get(status["state"], EXIT_OK)


class ServerGone(StereoFoleyError, ConnectionError):
    """The server accepted the job and then stopped answering."""


def _mark_status_failed(status_path: Path | None, job_id: str, reason: str) -> None:
    """The server that kept the status file is gone: say so there, so a host never waits on "running"."""
    if status_path is None:
        return
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
        if not isinstance(status, dict) or status.get("job_id") != job_id or status.get("state") in FINAL_STATES:
            return
        status.update(state="failed", message=reason, error=f"ServerGone: {reason}")
        write_text_atomic(status_path, json.dumps(status, indent=1), overwrite=True)
    except (OSError, ValueError):
        pass  # never written, or not ours: nothing to correct


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
    try:
        accepted = client.request(f"{PREFIX}/job/submit_file", str(job_path), *extra, expect=f"{PREFIX}/job/accepted",
                                  timeout_s=10.0)
    except TimeoutError as exc:
        raise ServerGone(f"server {args.host}:{args.port} answered a ping but did not accept the job: {exc}") from None
    job_id = accepted.args[0]
    if args.no_wait:
        return {"job_id": job_id, "state": "queued", "message": "submitted", "progress": 0.0}
    deadline = time.monotonic() + args.timeout
    asked_to_cancel, last_asked, last_heard = False, time.monotonic(), time.monotonic()
    while time.monotonic() < deadline:
        if time.monotonic() - last_heard > args.stall_timeout:
            reason = (f"server {args.host}:{args.port} stopped answering (nothing for {args.stall_timeout:g} s) "
                      f"while job {job_id} was running")
            _mark_status_failed(status_path, job_id, reason)
            raise ServerGone(reason)
        if cancel_path and not asked_to_cancel and cancel_path.exists():
            client.send(f"{PREFIX}/job/cancel", job_id)  # the server writes the final "cancelled" status
            asked_to_cancel = True
        msg = client.receive(min(CANCEL_POLL_S if cancel_path else 2.0, deadline - time.monotonic()))
        if msg is None:  # progress is pushed, but UDP may lose it: ask now and then
            if time.monotonic() - last_asked >= 2.0:
                client.send(f"{PREFIX}/job/status", job_id)
                last_asked = time.monotonic()
            continue
        last_heard = time.monotonic()
        if msg.args and msg.args[0] == job_id:
            if msg.address == f"{PREFIX}/job/progress":
                _print_progress(job_id, {"state": msg.args[3], "progress": msg.args[2], "message": msg.args[4]})
            if msg.address in (f"{PREFIX}/job/done", f"{PREFIX}/job/status") and msg.args[1] in FINAL_STATES:
                try:
                    return client.results(job_id)
                except TimeoutError as exc:
                    raise ServerGone(f"server {args.host}:{args.port} did not send job {job_id}'s results: {exc}") from None
    raise InvalidJob(f"job {job_id} did not finish within {args.timeout} s (it keeps running on the server)")
