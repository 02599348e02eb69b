"""The built-in demo: the whole pipeline on a generated edit, with nothing external and no network.

1. A short scene is generated (`stereofoley.synthetic`): a car passing left to right and a person walking towards
   the camera, with exact ground truth.
2. An edit is written as OpenTimelineIO: one clip of that scene after a one-second gap, on a timeline that starts
   at 01:00:00:00 like an editor's.
3. `render_timeline` reads the edit, analyses the clip with the YOLO detector (the shipped `sprites_yolo.pt`, a
   tiny model trained on these sprites: the real loading and tracking code), gives each object a synth voice
   (car engine, footsteps), spatializes them, loudness-normalises the clip to -23 LUFS, and writes the BWF WAV,
   the OTIO timeline with a StereoFoley track, FCP 7 XML, a REAPER project and a JSON report.
4. The stereo result is scored against the ground truth (`stereofoley.metric`), and a report with a plot and a
   preview MP4 (picture + boxes + pan meter + the 48 kHz stereo audio) is written.

The demo folder is the demo's own: its files are replaced on each run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import opentimelineio as otio

from . import SAMPLE_RATE_HZ
from .evaluation import synthetic
from .audio import read_audio, read_mono
from .config import SpatialSettings
from .files import write_text_atomic
from .evaluation.metric import ExpectedObject, score_audio
from .evaluation.report import write_report
from .options import RenderOptions
from .usecases.timeline import render_timeline
from .spatial.trajectory import Trajectory, pan_from_x

DEMO_WEIGHTS = Path(__file__).parent / "data" / "sprites_yolo.pt"
DEMO_FPS = Fraction(25)
DEMO_DURATION_S = 6.0
GAP_S = 1
TIMELINE_START = otio.opentime.RationalTime(90000, 25)  # 01:00:00:00


@dataclass(frozen=True)
class DemoResult:
    mix_path: Path  # the rendered clip's stereo WAV
    written: tuple[Path, ...]
    summary: dict


def demo_scene(duration_s: float = DEMO_DURATION_S) -> synthetic.Scene:
    """A car crossing the frame left to right (entering and leaving it) and a person approaching from the back."""
    d = duration_s
    car = synthetic.Sprite("car", ((0.0, -0.2, 0.68, 0.3), (d, 1.2, 0.68, 0.3)), shape="car", class_name="car")
    person = synthetic.Sprite("person", ((0.0, 0.3, 0.45, 0.1), (d, 0.4, 0.5, 0.35)), shape="person",
                              class_name="person", aspect=0.45, color_bgr=(200, 120, 30), height_m=1.7)
    return synthetic.Scene(sprites=(car, person), width=320, height=180, fps=DEMO_FPS, duration_s=d,
                           background="gradient", seed=3)


def demo_edit(video: Path, duration_s: float) -> otio.schema.Timeline:
    """One clip of the scene after a gap, on a 25 fps timeline starting at 01:00:00:00."""
    rate = float(DEMO_FPS)
    frames = int(round(duration_s * rate))
    clip = otio.schema.Clip(
        name="street",
        media_reference=otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(str(video.resolve())),
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)),
        ),
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)),
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(GAP_S * rate, rate))))
    track.append(clip)
    timeline = otio.schema.Timeline(name="demo_edit", tracks=[track])
    timeline.global_start_time = TIMELINE_START
    return timeline


def truth_objects(truth: synthetic.GroundTruth, sources: dict[str, np.ndarray], settings: SpatialSettings) -> list[ExpectedObject]:
    """Ground truth as the metric's expected objects while they are on screen: pan from the true box centre, the
    true distance, and the energy of the sound the pipeline gave that class (when it found one)."""
    objects = []
    for obj in truth.objects:
        seen = obj.on_screen & np.isfinite(obj.x_norm)
        times = truth.frame_times_s[seen]
        trajectory = Trajectory(times_s=times, pan=pan_from_x(obj.x_norm[seen], settings), distance_m=obj.distance_m[seen],
                                gain_db=np.zeros(times.size))
        objects.append(ExpectedObject(trajectory, source=sources.get(obj.class_name), present_from_s=float(times[0]),
                                      present_to_s=float(times[-1])))
    return objects


def run_demo(out_dir: str | Path = "demo-out", *, settings: SpatialSettings | None = None,
             progress: Callable[[str], None] | None = None) -> DemoResult:
    out = Path(out_dir).resolve()
    settings = settings or SpatialSettings()
    say = progress or (lambda message: None)
    out.mkdir(parents=True, exist_ok=True)

    say("generating the scene")
    scene = demo_scene()
    video = out / "demo_scene.mp4"
    truth = synthetic.write_video(scene, video, overwrite=True)
    edit_path = out / "demo_edit.otio"
    write_text_atomic(edit_path, otio.adapters.write_to_string(demo_edit(video, scene.duration_s)), overwrite=True)

    say("rendering the edit (decode, detect, track, sources, spatialize)")
    options = RenderOptions(settings=settings, detector="yolo", weights=str(DEMO_WEIGHTS), sources="synth",
                            overwrite=True, loudness_lufs=-23.0)
    report = render_timeline(edit_path, out, options=options)
    (clip,) = report["clips"]

    say("scoring the result against the ground truth")
    stereo, rate = read_audio(clip["wav"])
    sources = {o["class"]: read_mono(o["source_wav"]) for o in clip["objects"] if o.get("source_wav")}
    score = score_audio(stereo, rate, truth_objects(truth, sources, settings), spatial=settings)

    say("writing the report (plot, preview video, index.html)")
    report_summary = write_report(out, out / "report", overwrite=True)

    written = [video, edit_path, Path(clip["wav"])] + [Path(p) for p in report["outputs"].values()]
    written += [Path(clip["tracks"])] if clip.get("tracks") else []
    written += [Path(o["source_wav"]) for o in clip["objects"] if o.get("source_wav")]
    written += [Path(report_summary["index"])] + [Path(c[k]) for c in report_summary["clips"] for k in ("plot", "preview")]
    summary = {
        "ok": True,
        "mix": clip["wav"],
        "files": [str(p) for p in written],
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "samples": int(stereo.shape[1]),
        "record_start_frame": clip["record_start_frame"],
        "objects": [{"name": o["name"], "class": o["class"]} for o in clip["objects"]],
        "score": {"position_correlation": score.position_correlation, "direction_agreement": score.direction_agreement,
                  "position_mae_pan": score.position_mae_pan, "is_near_mono": score.is_near_mono},
    }
    write_text_atomic(out / "demo_summary.json", json.dumps(summary, indent=2), overwrite=True)
    return DemoResult(mix_path=Path(clip["wav"]), written=tuple(written), summary=summary)
