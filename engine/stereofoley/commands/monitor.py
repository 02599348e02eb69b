"""`stereofoley monitor`: receive audio streamed over OSC, through a jitter buffer, to the sound card (pyo, or
JACK) or, headless, to a WAV file (`--to-file OUT.wav`, 32-bit float: bit-exact with what was sent).

pyo's real-time server can crash the process (a segfault) when there is no sound card, so the devices are probed
in a child process first and a clear error is raised when there is nothing to play to.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import InvalidParameter, NoAudioDevice, OutputExists
from ..files import atomic_output
from ..transport.client import OscClient
from ..transport.codec import DEFAULT_MONITOR_PORT, DEFAULT_PORT, PREFIX
from ..transport.security import check_bind, is_loopback
from ..transport.stream import receive_stream
from .common import emit
from .serve import TOKEN_ENV, token_from_args

PROBE = (
    "import json, pyo\n"
    "names, ids = pyo.pa_get_output_devices()\n"
    "print(json.dumps({'outputs': list(names), 'default': pyo.pa_get_default_output()}))\n"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("monitor", help="play or record audio streamed over OSC", description=__doc__)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --allow-remote and a token)")
    p.add_argument("--allow-remote", action="store_true", help="allow listening on a non-loopback address")
    p.add_argument("--port", type=int, default=DEFAULT_MONITOR_PORT, help=f"UDP port (default {DEFAULT_MONITOR_PORT})")
    p.add_argument("--to-file", metavar="OUT.wav", help="write the stream to a float WAV instead of playing it")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.wav if it exists")
    p.add_argument("--idle-timeout", type=float, default=5.0, help="stop after S seconds without data (default 5)")
    p.add_argument("--depth", type=int, default=8, help="jitter buffer depth in packets (default 8)")
    p.add_argument("--audio", choices=("portaudio", "jack"), default="portaudio", help="pyo audio backend")
    p.add_argument("--request", metavar="WAV", help="ask the engine server to stream this file to us")
    p.add_argument("--server-port", type=int, default=DEFAULT_PORT, help=f"engine port for --request (default {DEFAULT_PORT})")
    p.add_argument("--pace", type=float, default=1.0, help="--request speed as a multiple of real time (0: unpaced)")
    p.add_argument("--token", help=f"shared token for --request (or set ${TOKEN_ENV}); required off loopback")
    p.add_argument("--max-seconds", type=float, default=4 * 3600.0,
                   help="refuse a stream longer than S seconds of audio (default 14400)")
    p.add_argument("--max-gap", type=float, default=10.0,
                   help="drop packets that jump more than S seconds ahead of the stream (default 10)")
    p.add_argument("--json", action="store_true", help="print the stream statistics as JSON")
    p.set_defaults(run=run)


def probe_output_devices(audio: str = "portaudio", timeout_s: float = 20.0) -> dict:
    """Ask pyo for output devices in a child process, so a crash there cannot take this process down."""
    if audio == "jack":
        return {"outputs": ["jack"], "default": 0}
    try:
        proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise NoAudioDevice("probing the sound card timed out; use --to-file OUT.wav to record instead") from None
    if proc.returncode != 0:
        how = f"crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"failed (exit {proc.returncode})"
        raise NoAudioDevice(f"probing the sound card with pyo {how}: no usable audio output; "
                            "use --to-file OUT.wav to record instead")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if not info.get("outputs") or info.get("default", -1) < 0:
        raise NoAudioDevice("no audio output device found; use --to-file OUT.wav to record instead")
    return info


def check_output_free(path: str, overwrite: bool) -> None:
    """Before listening: --to-file must not name a folder, nor an existing file without --overwrite."""
    p = Path(path)
    if p.is_dir():
        raise OutputExists(f"--to-file {p} is a folder; name a .wav file")
    if p.exists() and not overwrite:
        raise OutputExists(f"{p} already exists; set overwrite=True to replace it")


class _PyoPlayer:
    """A ring buffer in a pyo table, read in a loop by TableRead; blocks are written ahead of the read head."""

    def __init__(self, channels: int, rate_hz: int, audio: str, ring_s: float = 2.0) -> None:
        import pyo  # only after the probe said there is a device

        self.server = pyo.Server(sr=rate_hz, nchnls=channels, audio=audio).boot().start()
        self.size = int(ring_s * rate_hz)
        self.table = pyo.DataTable(self.size, chnls=channels)
        self.views = [np.asarray(self.table.getBuffer(c)) for c in range(channels)]
        self.reader = pyo.TableRead(self.table, freq=self.table.getRate(), loop=True).out()
        self.write_pos = int(0.2 * rate_hz)  # start 200 ms ahead of the read head

    def __call__(self, block: np.ndarray) -> None:
        n = block.shape[1]
        idx = (self.write_pos + np.arange(n)) % self.size
        for c, view in enumerate(self.views):
            view[idx] = block[c]
        self.write_pos = (self.write_pos + n) % self.size

    def close(self) -> None:
        self.server.stop()
        self.server.shutdown()


def run(args: argparse.Namespace) -> int:
    player = None
    token = token_from_args(args)
    check_bind(args.host, token=token, allow_remote=args.allow_remote)  # loopback, or a flag and a token
    if not 0 < args.max_seconds <= 24 * 3600 or not 0 <= args.max_gap <= args.max_seconds:
        raise InvalidParameter(f"--max-seconds={args.max_seconds} must be in (0, 86400] and --max-gap={args.max_gap} "
                               "in [0, --max-seconds]")
    if args.to_file is not None:
        check_output_free(args.to_file, args.overwrite)
    if args.to_file is None:
        probe_output_devices(args.audio)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.bind((args.host, args.port))
        if args.request:
            with OscClient("127.0.0.1" if is_loopback(args.host) else args.host, args.server_port, token=token) as c:
                c.send(f"{PREFIX}/audio/request", str(args.request), sock.getsockname()[1], float(args.pace))
        on_audio = None
        if args.to_file is None:
            state: dict = {}

            def on_audio(block: np.ndarray, rate_hz: int) -> None:  # the player opens at the stream's rate and channels
                if "player" not in state:
                    state["player"] = _PyoPlayer(block.shape[0], rate_hz, args.audio)
                state["player"](block)

        received = receive_stream(sock, idle_timeout_s=args.idle_timeout, depth_packets=args.depth, on_audio=on_audio,
                                  max_stream_s=args.max_seconds, max_gap_s=args.max_gap)
        player = None if args.to_file else state.get("player")
    finally:
        sock.close()
        if player is not None:
            player.close()
    if args.to_file:
        with atomic_output(args.to_file, overwrite=args.overwrite) as tmp:
            sf.write(str(tmp), received.audio.T, received.rate_hz, subtype="FLOAT", format="WAV")
    summary = {"ok": True, "output": args.to_file, "frames": int(received.audio.shape[1]),
               "channels": int(received.audio.shape[0]), "rate_hz": received.rate_hz,
               "complete": received.complete, "stats": received.stats.to_dict()}
    emit(args, summary, f"monitor: {summary['frames']} frames, {received.stats.gaps} gap(s) concealed, "
                        f"{received.stats.late} late, {received.stats.reordered} reordered"
                        + (f" -> {args.to_file}" if args.to_file else ""))
    return 0 if received.complete else 3
