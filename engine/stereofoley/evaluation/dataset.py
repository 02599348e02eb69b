"""Training pairs with exact object–audio correspondence: generated videos, one mono source per object, the
48 kHz stereo mixture from our renderer, and the ground truth (trajectories, gains, pan per frame) as JSON.

Two modes, one item layout (`DIR/items/NNNNN/`):

- `build_dataset(n, out_dir, seed=S)`: scenes generated with `stereofoley.synthetic` (moving sprites of several
  classes on varied backgrounds; objects cross, so they occlude each other, and enter or leave the frame).
- `build_from_videos(pairs, out_dir)`: the user's own videos with a mono sound each; the sound is placed on the
  most salient tracked object (the recipe for fine-tuning data from real footage).

Item i depends only on (seed, i): its random generator is `SeedSequence([seed, i])`, so the same seed gives the
same bytes whatever N is, in whatever order, on one process or on a Dask cluster. Work is spread with Dask
(`scheduler="tcp://host:port"` for a running cluster, else a LocalCluster on loopback; `scheduler="serial"` runs
in-process). Workers write their item folder directly, so a remote cluster needs `out_dir` on a shared filesystem.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import scipy.signal

from .. import SAMPLE_RATE_HZ
from ..audio import read_mono, write_wav
from ..config import PRESETS, SpatialSettings
from ..errors import InvalidParameter, MediaNotFound, OutputExists
from ..files import write_text_atomic
from ..spatial.mix import SoundObject, render_mix
from ..audio import resample
from ..spatial.trajectory import Trajectory, pan_from_x
from .synthetic import BACKGROUNDS, Scene, Sprite
from .synthetic import write_video
from ..vision.scene import select_objects
from ..vision import analyze_video, write_tracks
from ..audio import read_audio
from .metric import ExpectedObject, MetricSettings, score_audio

DATASET_VERSION = 1
SILENT_GAIN_DB = -90.0  # an object that does not exist (yet, or any more)
SOURCE_RMS_DBFS = -20.0
WAV_SUBTYPE = "PCM_24"  # libsndfile stamps float WAVs with the write time (PEAK chunk): PCM keeps bytes reproducible


def engine_tone(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonic engine buzz (firing frequency ~55 Hz, slow wobble) with a little road noise.

    Item sources here are deliberately simple and frozen: changing them changes every dataset's bytes."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    f0 = 55.0 * (1.0 + 0.03 * np.sin(2 * np.pi * 0.4 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ
    tone = sum(np.sin(k * phase) / k for k in range(1, 24))
    noise = rng.standard_normal(n) * 0.3
    return (0.25 * (tone + noise)).astype(np.float32)


def footsteps(duration_s: float, rng: np.random.Generator, steps_per_s: float = 1.8) -> np.ndarray:
    """Short filtered noise bursts, one per step."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    out = np.zeros(n, dtype=np.float32)
    burst_n = int(0.08 * SAMPLE_RATE_HZ)
    envelope = np.exp(-np.arange(burst_n) / (0.015 * SAMPLE_RATE_HZ))
    for start_s in np.arange(0.1, duration_s - 0.1, 1.0 / steps_per_s):
        start = int(start_s * SAMPLE_RATE_HZ)
        out[start : start + burst_n] += (rng.standard_normal(burst_n) * envelope).astype(np.float32)[: n - start]
    return 0.5 * out


@dataclass(frozen=True)
class ObjectClass:
    shape: str  # a stereofoley.synthetic sprite shape
    aspect: float  # box width / height
    height_m: float  # true size, which sets the ground-truth distance from the box height
    sound: str  # "engine", "steps", "buzz" or "hiss"


CLASSES: dict[str, ObjectClass] = {
    "car": ObjectClass("car", 2.2, 1.5, "engine"),
    "person": ObjectClass("person", 0.45, 1.7, "steps"),
    "box": ObjectClass("box", 1.0, 0.6, "buzz"),
    "ball": ObjectClass("ellipse", 1.0, 0.4, "hiss"),
}


@dataclass(frozen=True)
class ItemConfig:
    duration_s: float = 3.0
    width: int = 320
    height: int = 180
    fps: Fraction = Fraction(25)
    max_objects: int = 3
    min_distance_m: float = 1.2
    max_distance_m: float = 5.0  # keep objects within the critical distance of the default diffuse field
    # Free field by default: the mixture is then exactly the ground truth's pan law and distance law. A diffuse
    # field (preset "natural") is more realistic but narrows the image the metric can read back (docs/evaluation.md).
    settings: SpatialSettings = PRESETS["dry"]

    def __post_init__(self) -> None:
        if not (0.2 <= self.duration_s <= 600):
            raise InvalidParameter(f"duration_s={self.duration_s} is outside [0.2, 600] s")
        if not (1 <= self.max_objects <= 8):
            raise InvalidParameter(f"max_objects={self.max_objects} is outside [1, 8]")
        if not (0.1 <= self.min_distance_m < self.max_distance_m):
            raise InvalidParameter(f"distance range [{self.min_distance_m}, {self.max_distance_m}] m is empty or below 0.1 m")
        # What the item arithmetic divides by; stereofoley.synthetic.Scene checks the rest of the frame size.
        if not (self.width > 0 and self.height > 0):
            raise InvalidParameter(f"frame size {self.width}x{self.height} must be positive")
        if not self.fps > 0:
            raise InvalidParameter(f"fps={self.fps} must be positive")


# ------------------------------------------------------------------------------------------------ sources
def class_source(sound: str, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """A mono 48 kHz source for a class, scaled to SOURCE_RMS_DBFS. Deterministic for a given generator state."""
    n = int(round(duration_s * SAMPLE_RATE_HZ))
    if sound == "engine":
        # engine_tone, pitch-shifted per object (its firing rate times 0.6–1.8): two engines at one pitch
        # would interfere coherently instead of adding in energy.
        factor = float(rng.uniform(0.6, 1.8))
        x = resample(engine_tone(duration_s * factor + 0.01, rng), int(round(SAMPLE_RATE_HZ * factor)))
    elif sound == "steps":
        x = footsteps(duration_s, rng, steps_per_s=float(rng.uniform(1.6, 2.6)))
    elif sound in ("buzz", "hiss"):
        low, high = (200.0, 1200.0) if sound == "buzz" else (2000.0, 9000.0)
        centre = float(rng.uniform(low, high))
        sos = scipy.signal.butter(2, [centre / 1.5, centre * 1.5], "bandpass", fs=SAMPLE_RATE_HZ, output="sos")
        t = np.arange(n) / SAMPLE_RATE_HZ
        am = 0.6 + 0.4 * np.sin(2 * np.pi * float(rng.uniform(0.5, 3.0)) * t + float(rng.uniform(0, 2 * np.pi)))
        x = scipy.signal.sosfilt(sos, rng.standard_normal(n)) * am
    else:
        raise InvalidParameter(f"sound={sound!r} is not allowed; choose engine, steps, buzz or hiss")
    x = np.pad(np.asarray(x, dtype=np.float64), (0, max(0, n - len(x))))[:n]
    rms = math.sqrt(float(np.mean(x**2))) or 1.0
    return (x * (10.0 ** (SOURCE_RMS_DBFS / 20.0) / rms)).astype(np.float32)


# ------------------------------------------------------------------------------------------------- scenes
def item_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def random_scene(seed: int, index: int, config: ItemConfig = ItemConfig()):
    """The scene of item `index`, with each object's class, sound, gain and source. Pure in (seed, index)."""
    rng = item_rng(seed, index)
    d = config.duration_s
    vfov_tan2 = 2.0 * math.tan(math.radians(config.settings.hfov_deg) / 2.0) * config.height / config.width
    n_obj = int(rng.integers(1, config.max_objects + 1))
    sprites, extras = [], []
    for k in range(n_obj):
        cls_name = str(rng.choice(sorted(CLASSES)))
        cls = CLASSES[cls_name]
        # Distance range for this class: box heights between 12 % and 75 % of the frame, within the config range.
        d_near = max(config.min_distance_m, cls.height_m / (0.75 * vfov_tan2))
        d_far = max(d_near * 1.05, min(config.max_distance_m, cls.height_m / (0.12 * vfov_tan2)))
        dist = rng.uniform(d_near, d_far, size=2)
        heights = cls.height_m / (dist * vfov_tan2)
        # Horizontal motion across at least 40 % of the frame, possibly entering or leaving it; a third keyframe
        # bends the path.
        x0 = float(rng.uniform(-0.1, 1.1))
        span = float(rng.uniform(0.4, 1.0)) * (1 if x0 < 0.5 else -1)
        x1 = x0 + span
        mid_t = float(rng.uniform(0.3, 0.7)) * d
        mid_x = float(np.interp(mid_t, [0, d], [x0, x1]) + rng.uniform(-0.15, 0.15))
        cy = float(rng.uniform(0.45, 0.7))
        keys = ((0.0, x0, cy, float(heights[0])), (mid_t, mid_x, cy, float(heights.mean())), (d, x1, cy, float(heights[1])))
        colour = tuple(int(c) for c in rng.integers(20, 236, size=3))
        name = f"{cls_name}{k + 1}"
        sprites.append(Sprite(name, keys, shape=cls.shape, class_name=cls_name, aspect=cls.aspect, color_bgr=colour, height_m=cls.height_m))
        extras.append({"name": name, "class_name": cls_name, "sound": cls.sound, "gain_db": float(rng.uniform(-6.0, 0.0))})
    scene = Scene(
        sprites=tuple(sprites), width=config.width, height=config.height, fps=config.fps, duration_s=d,
        background=str(rng.choice(BACKGROUNDS)), noise_std=float(rng.uniform(0.0, 4.0)), seed=int(rng.integers(0, 2**31 - 1)),
        hfov_deg=config.settings.hfov_deg,
    )
    sources = [class_source(e["sound"], d, rng) for e in extras]
    return scene, extras, sources


def occluded_fraction(boxes: np.ndarray, front: Sequence[np.ndarray]) -> np.ndarray:
    """Per frame, the share of a box's on-screen area covered by boxes drawn after it (summed overlaps, ≤ 1)."""
    def clip(b):
        return np.clip(b, 0.0, 1.0)

    own = clip(boxes)
    area = np.maximum(own[:, 2] - own[:, 0], 0) * np.maximum(own[:, 3] - own[:, 1], 0)
    covered = np.zeros(len(boxes))
    for other in front:
        o = clip(other)
        w = np.minimum(own[:, 2], o[:, 2]) - np.maximum(own[:, 0], o[:, 0])
        h = np.minimum(own[:, 3], o[:, 3]) - np.maximum(own[:, 1], o[:, 1])
        covered += np.nan_to_num(np.maximum(w, 0) * np.maximum(h, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, np.minimum(covered / np.where(area > 0, area, 1.0), 1.0), 0.0)


def _trajectory_from_boxes(times: np.ndarray, boxes: np.ndarray, distance: np.ndarray, gain_db: float,
                           settings: SpatialSettings) -> Trajectory:
    """Pan from the box centre through the camera model, distance as is, silent where the object does not exist."""
    exists = ~np.isnan(boxes[:, 0])
    x = np.where(exists, (boxes[:, 0] + boxes[:, 2]) / 2.0, 0.5)
    pan = pan_from_x(x, settings)
    ok = exists & np.isfinite(distance) & (distance > 0)
    fill = float(np.nanmedian(distance[ok])) if ok.any() else 1.0
    dist = np.where(ok, distance, fill)
    gain = np.where(exists, gain_db, SILENT_GAIN_DB)
    return Trajectory(times_s=times, pan=pan, distance_m=dist, gain_db=gain)


# --------------------------------------------------------------------------------------------------- items
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def _round(values: np.ndarray, digits: int = 6) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def make_item(index: int, out_dir: str, seed: int = 0, config: ItemConfig = ItemConfig(), overwrite: bool = False) -> dict:
    """Generate, render and write item `index`; return its manifest entry (paths relative to out_dir)."""
    root = Path(out_dir)
    item_id = f"{index:05d}"
    rel = Path("items") / item_id
    folder = root / rel
    settings = config.settings
    scene, extras, sources = random_scene(seed, index, config)
    truth = write_video(scene, folder / "video.mp4", overwrite=overwrite)
    n = int(round(config.duration_s * SAMPLE_RATE_HZ))
    times = np.asarray(truth.frame_times_s, dtype=np.float64)
    objects, truth_objects = [], []
    for k, (obj, extra, source) in enumerate(zip(truth.objects, extras, sources)):
        trajectory = _trajectory_from_boxes(times, obj.xyxy_norm, obj.distance_m, extra["gain_db"], settings)
        objects.append(SoundObject(extra["name"], source, trajectory))
        src_rel = rel / "sources" / f"{extra['name']}.wav"
        write_wav(root / src_rel, source[None, :], subtype=WAV_SUBTYPE, overwrite=overwrite)
        occl = occluded_fraction(obj.xyxy_norm, [o.xyxy_norm for o in truth.objects[k + 1 :]])
        truth_objects.append({
            "name": extra["name"], "class_name": extra["class_name"], "sound": extra["sound"], "gain_db": round(extra["gain_db"], 6),
            "source": src_rel.as_posix(),
            "trajectory": [{k2: round(v, 9) for k2, v in p.items()} for p in trajectory.to_points()],
            "frames": {
                "times_s": _round(times, 9), "xyxy_norm": [_round(b) for b in obj.xyxy_norm],
                "on_screen": [bool(v) for v in obj.on_screen], "occluded_fraction": _round(occl, 4),
                "pan": _round(trajectory.pan), "distance_m": _round(trajectory.distance_m), "gain_db": _round(trajectory.gain_db),
            },
        })
    mix = render_mix(objects, settings, n)
    write_wav(folder / "mix.wav", mix, subtype=WAV_SUBTYPE, overwrite=overwrite)
    truth_doc = {
        "version": DATASET_VERSION, "origin": "synthetic", "id": item_id, "seed": int(seed), "index": int(index),
        "duration_s": config.duration_s, "sample_rate_hz": SAMPLE_RATE_HZ, "samples": n,
        "video": {"width": scene.width, "height": scene.height, "fps": [scene.fps.numerator, scene.fps.denominator],
                  "background": scene.background, "hfov_deg": scene.hfov_deg},
        "settings": settings.to_dict(), "objects": truth_objects,
    }
    write_text_atomic(folder / "truth.json", _json(truth_doc), overwrite=overwrite)
    return _entry(root, rel, item_id, [o["source"] for o in truth_objects], video=(rel / "video.mp4").as_posix())


def _entry(root: Path, rel: Path, item_id: str, sources: list[str], *, video: str) -> dict:
    files = {"mix": (rel / "mix.wav").as_posix(), "truth": (rel / "truth.json").as_posix()}
    hashed = [*files.values(), *sources] + ([video] if not Path(video).is_absolute() else [])
    return {"id": item_id, "video": video, **files, "sources": sources,
            "sha256": {p: _sha256(root / p) for p in hashed}}


# ------------------------------------------------------------------------------------------ distribution
def run_tasks(fn: Callable[..., dict], args: Sequence[tuple], *, scheduler: str | None = None, workers: int = 2,
              processes: bool = True, progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """fn(*a) for each a, in order. scheduler: "serial" (in-process), a Dask address, or None (a LocalCluster on
    loopback with `workers` workers, processes or threads)."""
    if scheduler == "serial":
        out = []
        for i, a in enumerate(args):
            out.append(fn(*a))
            if progress:
                progress(i + 1, len(args))
        return out
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        if workers < 1:  # a LocalCluster without workers waits forever
            raise InvalidParameter(f"workers={workers} must be at least 1")
        # Worker processes talk over TCP on loopback only; threads (processes=False) use Dask's in-process transport.
        network = {"host": "127.0.0.1"} if processes else {}
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None, **network)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = [client.submit(fn, *a, pure=False) for a in args]
            order = {f.key: i for i, f in enumerate(futures)}
            results: list[dict | None] = [None] * len(futures)
            for done, future in enumerate(as_completed(futures), start=1):
                results[order[future.key]] = future.result()  # re-raises a worker's error here
                if progress:
                    progress(done, len(futures))
            return results  # type: ignore[return-value]
    finally:
        if cluster is not None:
            cluster.close()


def _prepare(out_dir: str | Path, overwrite: bool) -> Path:
    root = Path(out_dir)
    if (root / "manifest.json").exists() and not overwrite:
        raise OutputExists(f"{root} already holds a dataset (manifest.json); set overwrite=True to replace it")
    if root.exists() and not root.is_dir():
        raise OutputExists(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    return root


def build_dataset(n: int, out_dir: str | Path, *, seed: int = 0, config: ItemConfig = ItemConfig(),
                  scheduler: str | None = None, workers: int = 2, processes: bool = True, overwrite: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> dict:
    """N synthetic items and manifest.json in out_dir; returns the manifest."""
    if isinstance(n, bool) or not isinstance(n, int) or not (1 <= n <= 1_000_000):
        raise InvalidParameter(f"n={n!r} must be a whole number in [1, 1000000]")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidParameter(f"seed={seed!r} must be a whole number >= 0")
    root = _prepare(out_dir, overwrite)
    items = run_tasks(make_item, [(i, str(root.resolve()), seed, config, overwrite) for i in range(n)],
                      scheduler=scheduler, workers=workers, processes=processes, progress=progress)
    manifest = {"version": DATASET_VERSION, "kind": "stereofoley-synth-dataset", "mode": "synthetic", "seed": seed, "n": n,
                "sample_rate_hz": SAMPLE_RATE_HZ, "settings": config.settings.to_dict(),
                "config": {"duration_s": config.duration_s, "width": config.width, "height": config.height,
                           "fps": [config.fps.numerator, config.fps.denominator], "max_objects": config.max_objects},
                "items": items}
    write_text_atomic(root / "manifest.json", _json(manifest), overwrite=True)
    return manifest


# ------------------------------------------------------------------------------------- from user videos
def make_item_from_video(index: int, out_dir: str, video: str, audio: str, settings: SpatialSettings = SpatialSettings(),
                         detector: str = "auto", overwrite: bool = False) -> dict:
    """Track `video`, put the mono `audio` on its most salient object, render; write the item like make_item."""

    root = Path(out_dir)
    item_id = f"{index:05d}"
    rel = Path("items") / item_id
    folder = root / rel
    analysis = analyze_video(video, detector=detector, hfov_deg=settings.hfov_deg)
    chosen = select_objects(analysis.tracks, max_objects=1, cuts_s=[c - analysis.start_s for c in analysis.cuts_s])
    if not chosen:
        raise InvalidParameter(f"{video}: no object was tracked, so there is nothing to place the sound on")
    track = chosen[0]
    n = int(round(analysis.duration_s * SAMPLE_RATE_HZ))
    source = read_mono(audio)
    source = np.pad(source, (0, max(0, n - source.size)))[:n]
    trajectory = track.to_trajectory(settings)
    mix = render_mix([SoundObject("object", source, trajectory)], settings, n)
    src_rel = rel / "sources" / "object.wav"
    write_wav(root / src_rel, source[None, :], subtype=WAV_SUBTYPE, overwrite=overwrite)
    write_wav(folder / "mix.wav", mix, subtype=WAV_SUBTYPE, overwrite=overwrite)
    write_tracks(analysis, folder / "tracks.json", overwrite=overwrite)
    frame_t = np.asarray(track.times_s, dtype=np.float64)
    truth_doc = {
        "version": DATASET_VERSION, "origin": "tracking", "id": item_id, "index": int(index),
        "source_video": str(Path(video).resolve()), "source_audio": str(Path(audio).resolve()),
        "start_s": analysis.start_s, "duration_s": analysis.duration_s, "sample_rate_hz": SAMPLE_RATE_HZ, "samples": n,
        "video": {"width": analysis.width, "height": analysis.height, "fps": [analysis.fps.numerator, analysis.fps.denominator],
                  "hfov_deg": settings.hfov_deg},
        "settings": settings.to_dict(), "tracks": (rel / "tracks.json").as_posix(),
        "objects": [{
            "name": "object", "class_name": track.class_name, "track_id": track.track_id, "source": src_rel.as_posix(),
            "trajectory": [{k: round(v, 9) for k, v in p.items()} for p in trajectory.to_points()],
            "frames": {"times_s": _round(frame_t, 9), "xyxy_norm": [_round(b) for b in track.xyxy_norm],
                       "pan": _round(pan_from_x(track.x_norm, settings)), "distance_m": _round(track.distance_for(settings.hfov_deg)),
                       "gain_db": [0.0] * frame_t.size},
        }],
    }
    write_text_atomic(folder / "truth.json", _json(truth_doc), overwrite=overwrite)
    return _entry(root, rel, item_id, [src_rel.as_posix()], video=str(Path(video).resolve()))


def build_from_videos(pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]], out_dir: str | Path, *,
                      settings: SpatialSettings = SpatialSettings(), detector: str = "auto", scheduler: str | None = None,
                      workers: int = 2, processes: bool = True, overwrite: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """One item per (video, mono audio) pair, spatialized from tracking; returns the manifest."""
    if not pairs:
        raise InvalidParameter("no (video, audio) pairs given")
    for video, audio in pairs:
        for p in (video, audio):
            if not Path(p).is_file():
                raise MediaNotFound(f"file not found: {p}")
    root = _prepare(out_dir, overwrite)
    args = [(i, str(root.resolve()), str(v), str(a), settings, detector, overwrite) for i, (v, a) in enumerate(pairs)]
    items = run_tasks(make_item_from_video, args, scheduler=scheduler, workers=workers, processes=processes, progress=progress)
    manifest = {"version": DATASET_VERSION, "kind": "stereofoley-synth-dataset", "mode": "from-videos", "n": len(items),
                "sample_rate_hz": SAMPLE_RATE_HZ, "settings": settings.to_dict(), "items": items}
    write_text_atomic(root / "manifest.json", _json(manifest), overwrite=True)
    return manifest


def item_score(root: str | Path, entry: dict, **metric_overrides: Any):
    """Score an item's mixture against its own ground truth (trajectories and sources)."""

    root = Path(root)
    truth = json.loads((root / entry["truth"]).read_text(encoding="utf-8"))
    settings = SpatialSettings(**truth["settings"])
    mix, rate = read_audio(root / entry["mix"])
    objects = [
        ExpectedObject(Trajectory.from_points(o["trajectory"]), source=read_mono(root / o["source"]))
        for o in truth["objects"]
    ]
    # Free field (no diffuse send): the broadband ILD is exact for any number of independent sources; with a
    # diffuse field the primary-component estimate is the one that sees through it (docs/metric.md).
    metric_overrides.setdefault("estimator", "primary" if settings.diffuse else "ild")
    return score_audio(mix, rate, objects, spatial=settings, settings=MetricSettings.matching(settings, **metric_overrides))
