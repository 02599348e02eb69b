"""Renderer speed: real-time factor for a 60 s source with full automation, ours vs pyo's offline server.

Both render the same scene on one core (threads pinned to 1): a 60 s mono source moving left↔right while its
distance sweeps 2 m → 80 m → 2 m, with panning, distance gain, air absorption (ours: ISO 9613-1 band gains;
pyo: a one-pole low-pass whose cutoff follows distance) and a convolution diffuse send with the same hall IR.
Prints the real-time factor of each and their ratio, all measured in this one run.

    .venv/bin/python bench/bench_renderer.py [--seconds 60]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
os.environ.setdefault("PYO_GUI_WX", "0")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from stereofoley import SAMPLE_RATE_HZ  # noqa: E402
from stereofoley.config import preset  # noqa: E402
from stereofoley.spatial.mix import SoundObject, render_mix  # noqa: E402
from stereofoley.spatial.dsp import load_impulse_response  # noqa: E402
from stereofoley.spatial.trajectory import Trajectory  # noqa: E402


def scene(seconds: float) -> tuple[np.ndarray, Trajectory]:
    rng = np.random.default_rng(0)
    source = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE_HZ))).astype(np.float32)
    t = np.linspace(0.0, seconds, int(seconds * 10) + 1)  # 10 automation points a second, like the vision output
    pan = np.sin(2 * np.pi * t / 20.0)
    distance = 2.0 + 78.0 * (0.5 - 0.5 * np.cos(2 * np.pi * t / seconds))
    return source, Trajectory(times_s=t, pan=pan, distance_m=distance, gain_db=np.zeros_like(t))


def time_ours(source: np.ndarray, trajectory: Trajectory, repeats: int = 3) -> float:
    settings = preset("natural")
    load_impulse_response(settings.impulse_response_path)  # IR loading is start-up, not rendering
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        render_mix([SoundObject("bench", source, trajectory)], settings, source.size)
        best = min(best, time.perf_counter() - start)
    return best


def time_pyo(source: np.ndarray, trajectory: Trajectory, seconds: float) -> float | None:
    try:
        import pyo
    except Exception as exc:  # pragma: no cover - pyo is a dependency of `make bench`
        print(f"pyo unavailable: {exc}")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src_path, out_path = Path(tmp) / "src.wav", Path(tmp) / "out.wav"
        sf.write(src_path, source, SAMPLE_RATE_HZ, subtype="FLOAT")
        server = pyo.Server(sr=SAMPLE_RATE_HZ, nchnls=2, duplex=0, audio="offline").boot()
        server.recordOptions(dur=seconds, filename=str(out_path), fileformat=0, sampletype=3)
        player = pyo.SfPlayer(str(src_path))
        times = trajectory.times_s
        pan_env = pyo.Linseg(list(zip(times, (trajectory.pan + 1) / 2))).play()
        gain_env = pyo.Linseg(list(zip(times, 1.0 / np.maximum(trajectory.distance_m, 1.0)))).play()
        cutoff_env = pyo.Linseg(list(zip(times, 20000.0 / (1.0 + trajectory.distance_m / 20.0)))).play()
        filtered = pyo.Tone(player, freq=cutoff_env)
        dry = pyo.Pan(filtered * gain_env, outs=2, pan=pan_env, spread=0)
        ir_path = Path(tmp) / "ir48k.wav"  # the same IR as ours, at the server's rate
        sf.write(ir_path, load_impulse_response(None).T, SAMPLE_RATE_HZ, subtype="FLOAT")
        wet = pyo.CvlVerb(filtered, impulse=str(ir_path), bal=1.0, size=1024, mul=0.05)
        mix = (dry + wet).out()
        start = time.perf_counter()
        server.start()  # offline: renders the whole duration, then returns
        elapsed = time.perf_counter() - start
        server.shutdown()
        del mix
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    source, trajectory = scene(args.seconds)
    ours = time_ours(source, trajectory)
    theirs = time_pyo(source, trajectory, args.seconds)
    print(f"scene: {args.seconds:.0f} s mono at 48 kHz, pan + distance + air + diffuse, one core")
    print(f"stereofoley render_mix : {ours:7.3f} s  -> {args.seconds / ours:7.1f}x real time")
    if theirs is not None:
        print(f"pyo offline server     : {theirs:7.3f} s  -> {args.seconds / theirs:7.1f}x real time")
        print(f"ratio (pyo time / ours): {theirs / ours:7.2f}")


if __name__ == "__main__":
    main()
