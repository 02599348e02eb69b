"""Sparse detection (YOLO on 2.5 of 10 analysed frames per second, boxes carried by optical flow) against YOLO on
every analysed frame, on the generated scenes with ground truth (the tiny-sprites model the tests ship, 320 px).

Per scene and object: recall, mean |x_track - x_true| (fraction of the frame width), identity switches and the
number of tracks, for every-frame detection and for each sparse rate; and the detector calls. One run:

    .venv/bin/python bench/bench_sparse_accuracy.py [--rates 2.5,1.25] [--scenes passing_vehicle,crossing]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "vision"))
os.environ.setdefault("YOLO_OFFLINE", "1")

from stereofoley.demo import demo_scene  # noqa: E402
from stereofoley.evaluation import synthetic  # noqa: E402
from stereofoley.vision import YoloDetector, analyze_video  # noqa: E402

import tiny_yolo  # noqa: E402
from vision_scoring import score  # noqa: E402

SCENES = ("demo", "passing_vehicle", "approaching", "leave_reenter", "crossing", "hard_cut", "handheld_pass")


class Counting(YoloDetector):
    calls = 0

    def detect_batch(self, images):
        Counting.calls += len(images)
        return super().detect_batch(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2.5,1.25", help="sparse detection rates per second (default 2.5,1.25)")
    parser.add_argument("--scenes", default=",".join(SCENES))
    args = parser.parse_args()
    rates = [None] + [float(r) for r in args.rates.split(",")]
    totals = {r: [0, 0.0, 0, 0] for r in rates}  # objects, sum of mae, id switches, extra tracks
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenes.split(","):
            scene = demo_scene() if name == "demo" else synthetic.scene(name)
            video = Path(tmp) / f"{name}.mp4"
            truth = synthetic.write_video(scene, video)
            objects = [o.name for o in truth.objects]
            print(f"{name} ({scene.duration_s:g} s, {len(objects)} objects)")
            for rate in rates:
                Counting.calls = 0
                analysis = analyze_video(video, detector=Counting(tiny_yolo.COMMITTED, imgsz=320), detect_fps=rate)
                label = "every frame" if rate is None else f"YOLO {rate:g}/s"
                parts = []
                for obj in objects:
                    s = score(analysis, truth, obj)
                    parts.append(f"{obj}: recall {s.recall:.2f} mae {s.mae:.4f} switches {s.id_switches}")
                    totals[rate][0] += 1
                    totals[rate][1] += s.mae if s.errors.size else 0.0
                    totals[rate][2] += s.id_switches
                totals[rate][3] += max(0, len(analysis.tracks) - len(objects))
                print(f"  {label:12s} {len(analysis.tracks)} tracks, YOLO on {Counting.calls:3d} of "
                      f"{analysis.frame_times_s.size} frames; " + "; ".join(parts))
    print("all scenes:")
    for rate, (n, mae, switches, extra) in totals.items():
        label = "every frame" if rate is None else f"YOLO {rate:g}/s"
        print(f"  {label:12s} mean of the objects' mae {mae / max(1, n):.4f}, identity switches {switches}, "
              f"tracks beyond the objects {extra}")


if __name__ == "__main__":
    main()
