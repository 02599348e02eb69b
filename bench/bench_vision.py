"""Vision speed and agreement on one generated 1080p / 24 fps clip: our analysis vs a naive baseline.

ours:  decode downscaled (PyAV/swscale) → YOLO at 320 px on ~10 analysed frames per second → ByteTrack →
       smoothed trajectories (analyze_video).
naive: decode every frame at full size → YOLO at 640 px on every frame; the object's position is the best
       detection's centre in each frame.

Printed: frames analysed per second, real-time factor (clip seconds per wall second), speed ratio naive/ours and
the horizontal-position difference between the two (fraction of frame width, our trajectory sampled at the
naive frames), plus each one's error against the ground truth. Models:
- yolo11n: the real weights when found (--weights, ./yolo11n.pt or $STEREOFOLEY_MODELS); otherwise the
  yolo11n architecture with random weights, which costs exactly the same compute (speed only: it detects
  nothing, so no position figures);
- tiny-sprites: the small detector the tests ship, trained on these sprites (positions comparable).
--memory-minutes M also measures the peak resident memory of our analysis of an M-minute 1080p clip in a
child process (default 0: skipped; it takes about M × 1.5 minutes on 2 cores).

    .venv/bin/python bench/bench_vision.py [--seconds 8] [--weights yolo11n.pt] [--memory-minutes 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "vision"))
os.environ.setdefault("YOLO_OFFLINE", "1")

from stereofoley import synthetic  # noqa: E402
from stereofoley.vision import YoloDetector, analyze_video  # noqa: E402
from stereofoley.vision.detect import find_weights  # noqa: E402

import tiny_yolo  # noqa: E402


def make_clip(path: Path, seconds: float, *, noise_std: float = 3.0) -> synthetic.GroundTruth:
    scene = synthetic.passing_vehicle(width=1920, height=1080, fps=24, duration_s=seconds, noise_std=noise_std)
    return synthetic.write_video(scene, path, overwrite=True, crf=20)


def run_ours(video: Path, weights: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    analysis = analyze_video(video, detector=YoloDetector(weights), analysis_fps=10.0)
    return time.perf_counter() - t0, analysis


def run_naive(video: Path, weights: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """Every frame, full-size decode, YOLO at 640 px; returns (seconds, frame times, best box centre x or NaN)."""
    detector = YoloDetector(weights, imgsz=640)
    times, xs = [], []
    t0 = time.perf_counter()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            found = detector.detect(frame.to_ndarray(format="bgr24"))
            times.append(float(frame.pts * stream.time_base))
            if len(found):
                best = int(np.argmax(found.confidence))
                xs.append((found.xyxy_norm[best, 0] + found.xyxy_norm[best, 2]) / 2.0)
            else:
                xs.append(np.nan)
    return time.perf_counter() - t0, np.asarray(times), np.asarray(xs)


def ours_x_at(analysis, times: np.ndarray) -> np.ndarray:
    """The most salient track's x at the given media times (NaN outside it)."""
    if not analysis.tracks:
        return np.full(times.size, np.nan)
    track = max(analysis.tracks, key=lambda t: t.salience)
    t = track.times_s + analysis.start_s
    x = np.interp(times, t, track.x_norm)
    x[(times < t[0]) | (times > t[-1])] = np.nan
    return x


def bench_model(label: str, weights: Path, video: Path, truth, seconds: float, positions: bool) -> None:
    ours_s, analysis = run_ours(video, weights)
    naive_s, times, naive_x = run_naive(video, weights)
    n_ours, n_naive = analysis.frame_times_s.size, times.size
    print(f"\n[{label}] {weights.name}")
    print(f"  ours : {n_ours:4d} frames in {ours_s:6.2f} s  -> {n_ours / ours_s:6.1f} frames/s analysed, "
          f"real-time factor {seconds / ours_s:5.2f}x")
    print(f"  naive: {n_naive:4d} frames in {naive_s:6.2f} s  -> {n_naive / naive_s:6.1f} frames/s, "
          f"real-time factor {seconds / naive_s:5.2f}x")
    print(f"  speed ratio naive/ours: {naive_s / ours_s:5.2f}x")
    if not positions:
        return
    car = truth.object("car")
    true_x = np.interp(times, truth.frame_times_s, car.x_norm)
    fully = np.interp(times, truth.frame_times_s, car.fully_visible.astype(float)) > 0.5
    ours_x = ours_x_at(analysis, times)
    both = fully & np.isfinite(ours_x) & np.isfinite(naive_x)
    if both.sum() < 5:
        print("  positions: too few frames with both detections to compare")
        return
    print(f"  horizontal position, {both.sum()} frames with the car fully visible (fraction of frame width):")
    print(f"    |ours - naive| mean {np.mean(np.abs(ours_x - naive_x)[both]):.4f}  p95 {np.percentile(np.abs(ours_x - naive_x)[both], 95):.4f}")
    print(f"    |ours - truth| mean {np.mean(np.abs(ours_x - true_x)[both]):.4f}   |naive - truth| mean {np.mean(np.abs(naive_x - true_x)[both]):.4f}")


def peak_memory(minutes: float, weights: Path, folder: Path) -> None:
    video = folder / "long.mp4"
    t0 = time.perf_counter()
    make_clip(video, minutes * 60.0, noise_std=0.0)
    print(f"\n[memory] made a {minutes:g}-minute 1080p clip in {time.perf_counter() - t0:.0f} s; analysing in a child process")
    code = (
        "import resource, sys; from stereofoley.vision import analyze_video, YoloDetector;"
        f"a = analyze_video({str(video)!r}, detector=YoloDetector({str(weights)!r}));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, a.frame_times_s.size)"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    print(f"  peak RSS {int(out[0]) / 1024:.0f} MiB for {out[1]} analysed frames ({time.perf_counter() - t0:.0f} s); goal < 1536 MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length (default 8 s)")
    parser.add_argument("--weights", help="real yolo11n.pt (default: found on disk, else random weights of the same size)")
    parser.add_argument("--memory-minutes", type=float, default=0.0, help="also measure peak memory on a clip this long")
    args = parser.parse_args()
    print(f"bench_vision: {args.seconds:g} s of 1920x1080 at 24 fps; {os.cpu_count()} CPUs, torch threads: ", end="")
    import torch

    print(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "clip.mp4"
        t0 = time.perf_counter()
        truth = make_clip(video, args.seconds)
        print(f"generated the clip in {time.perf_counter() - t0:.1f} s")

        real = find_weights(args.weights) if args.weights or find_weights(None) else None
        if real is not None:
            bench_model("yolo11n", real, video, truth, args.seconds, positions=True)
        else:
            from ultralytics import YOLO

            random_n = tmp / "yolo11n-random.pt"
            YOLO("yolo11n.yaml").save(str(random_n))
            bench_model("yolo11n architecture, random weights (speed only)", random_n, video, truth, args.seconds, positions=False)
        bench_model("tiny-sprites (trained on the synthetic sprites)", tiny_yolo.COMMITTED, video, truth, args.seconds, positions=True)
        if args.memory_minutes > 0:
            peak_memory(args.memory_minutes, real or tiny_yolo.COMMITTED, tmp)
    print(f"\nthis process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
