"""Tiny YOLO detectors for the tests, made here from ultralytics' own YOLO11 model definition (no downloads).

- `build_untrained(path)`: a YOLO11 at 1/8 width with random weights, saved as a normal ultralytics `.pt`
  checkpoint. It exercises the real loading code (and the class names come from it) in a second.
- `train(path)`: the same network trained briefly on frames of `stereofoley.synthetic` sprites (car, person,
  box), so that its detections are real and can be checked against ground truth. Run this file to (re)make the
  committed `engine/stereofoley/data/sprites_yolo.pt` (the demo uses it too):

      .venv/bin/python tests/vision/tiny_yolo.py [--epochs 40] [--out engine/stereofoley/data/sprites_yolo.pt]
      .venv/bin/python tests/vision/tiny_yolo.py --arch yolov8s --epochs 10 --images 300 --imgsz 256  # real-size, then
      .venv/bin/python tests/vision/tiny_yolo.py --arch yolov8s --init ~/.cache/stereofoley/models/sprites_yolov8s.pt \
          --epochs 2 --images 120 --imgsz 512 --warmup 0 --mosaic 0 --lr0 0.0003 --seed 2  # so it sees 640 px-sized cars
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from stereofoley.vision.ultralytics_env import import_ultralytics

os.environ.setdefault("YOLO_OFFLINE", "1")  # never reach the network (update checks, fonts, assets)

NAMES = {0: "car", 1: "person", 2: "box"}
SCALE = [0.25, 0.125, 256]  # depth, width, max channels: yolo11n is [0.50, 0.25, 1024]
COMMITTED = Path(__file__).resolve().parents[2] / "engine" / "stereofoley" / "data" / "sprites_yolo.pt"


# Architectures: "tiny" (the committed model) and "yolov8s" (ultralytics' own yolov8s scale: 11.1 M parameters,
# 28.6 GFLOPs at 640 px, the same compute as the public yolov8s.pt; only the head has 3 classes, not 80).
ARCHS = {"tiny": ("11", "yolo11.yaml", {"t": SCALE}, "t"), "yolov8s": ("v8", "yolov8.yaml", None, "s")}
REAL_SIZE_CACHE = Path.home() / ".cache" / "stereofoley" / "models" / "sprites_yolov8s.pt"


def model_yaml(folder: Path, arch: str = "tiny") -> Path:
    """An ultralytics architecture file (YOLO11 at a tiny scale, or yolov8s) with our classes."""
    ultralytics = import_ultralytics()
    from ultralytics.utils import YAML

    family, name, scales, scale = ARCHS[arch]
    cfg = YAML.load(Path(ultralytics.__file__).parent / "cfg" / "models" / family / name)
    cfg.update(nc=len(NAMES), scale=scale)
    if scales:
        cfg["scales"] = scales
    path = folder / f"sprites-{arch}.yaml"
    YAML.save(path, cfg)
    return path


def build_untrained(path: str | Path) -> Path:
    YOLO = import_ultralytics().YOLO

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        model = YOLO(str(model_yaml(Path(tmp))), task="detect")
    model.model.names = dict(NAMES)
    model.save(str(path))
    return path


def _dataset(folder: Path, n_train: int, n_val: int, seed: int) -> Path:
    """YOLO-format images + labels from random synthetic scenes (1-3 sprites, random backgrounds and noise)."""
    import cv2

    from stereofoley.evaluation import synthetic

    rng = np.random.default_rng(seed)
    shapes = {0: ("car", 2.2), 1: ("person", 0.45), 2: ("box", 1.0)}
    for split, count in (("train", n_train), ("val", n_val)):
        (folder / "images" / split).mkdir(parents=True)
        (folder / "labels" / split).mkdir(parents=True)
        for i in range(count):
            sprites = []
            for k in range(int(rng.integers(1, 4))):
                cls = int(rng.integers(0, 3))
                shape, aspect = shapes[cls]
                h = float(rng.uniform(0.12, 0.55))
                cx, cy = float(rng.uniform(-0.05, 1.05)), float(rng.uniform(0.25, 0.75))
                color = tuple(int(c) for c in rng.integers(20, 236, size=3))
                sprites.append(synthetic.Sprite(f"s{k}", ((0.0, cx, cy, h), (1.0, cx, cy, h)), shape=shape,
                                                class_name=NAMES[cls], aspect=aspect, color_bgr=color))
            scene = synthetic.Scene(sprites=tuple(sprites), width=320, height=180, fps=1, duration_s=1.0,
                                    background=str(rng.choice(["texture", "texture", "flat", "gradient"])),
                                    noise_std=float(rng.choice([0.0, 0.0, 8.0])), seed=int(rng.integers(1 << 30)))
            truth = synthetic.ground_truth(scene)
            cv2.imwrite(str(folder / "images" / split / f"{i:04d}.png"), synthetic.render_frame(scene, 0))
            rows = []
            for obj in truth.objects:
                b = np.clip(obj.xyxy_norm[0], 0.0, 1.0)
                if b[2] - b[0] < 0.02 or b[3] - b[1] < 0.02:
                    continue
                cls = next(c for c, name in NAMES.items() if name == obj.class_name)
                rows.append(f"{cls} {(b[0] + b[2]) / 2:.6f} {(b[1] + b[3]) / 2:.6f} {b[2] - b[0]:.6f} {b[3] - b[1]:.6f}")
            (folder / "labels" / split / f"{i:04d}.txt").write_text("\n".join(rows) + "\n")
    data = folder / "data.yaml"
    data.write_text(f"path: {folder}\ntrain: images/train\nval: images/val\nnames: {NAMES}\n")
    return data


def train(path: str | Path, *, epochs: int = 40, n_train: int = 200, n_val: int = 30, imgsz: int = 256, seed: int = 0,
          arch: str = "tiny", init: str | Path | None = None, warmup_epochs: float = 3.0, mosaic: float = 0.5,
          lr0: float | None = None) -> Path:
    """Train (init None: from random weights; else fine-tune that checkpoint of the same architecture)."""
    YOLO = import_ultralytics().YOLO

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = _dataset(tmp / "data", n_train, n_val, seed)
        model = YOLO(str(init) if init else str(model_yaml(tmp, arch)), task="detect")
        extra = {"optimizer": "AdamW", "lr0": lr0, "lrf": 0.2} if lr0 else {}
        model.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=16, workers=0, device="cpu", plots=False,
                    amp=False, project=str(tmp / "runs"), name="tiny", exist_ok=True, verbose=False, seed=seed,
                    mosaic=mosaic, fliplr=0.5, degrees=0.0, patience=epochs, warmup_epochs=warmup_epochs, **extra)
        best = tmp / "runs" / "tiny" / "weights" / "best.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best, path)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="tiny",
                        help="tiny (the committed model) or yolov8s (real-size, for bench/bench_vision.py)")
    parser.add_argument("--images", type=int, default=200, help="training images (default 200)")
    parser.add_argument("--imgsz", type=int, default=256, help="training input size (default 256)")
    parser.add_argument("--init", help="fine-tune this checkpoint (same architecture) instead of random weights")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up epochs (default 3)")
    parser.add_argument("--mosaic", type=float, default=0.5, help="mosaic augmentation probability (default 0.5)")
    parser.add_argument("--lr0", type=float, help="AdamW learning rate (default: ultralytics' automatic choice)")
    parser.add_argument("--seed", type=int, default=0, help="dataset and training seed (default 0)")
    parser.add_argument("--out", help=f"default {COMMITTED} (tiny) or {REAL_SIZE_CACHE} (yolov8s)")
    args = parser.parse_args()
    out = args.out or (COMMITTED if args.arch == "tiny" else REAL_SIZE_CACHE)
    print("wrote", train(out, epochs=args.epochs, arch=args.arch, n_train=args.images, imgsz=args.imgsz, init=args.init,
                         warmup_epochs=args.warmup, mosaic=args.mosaic, lr0=args.lr0, seed=args.seed))
