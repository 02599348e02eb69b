"""decode → detect → track → trajectories for one clip, with an on-disk cache of the result."""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .. import __version__
from ..errors import InvalidMedia, InvalidParameter
from .cache import AnalysisCache
from .decode import iter_frames, prefetched, probe, resolve_range
from .detect import Detections, Detector, DetectorPlan, plan_detector
from .options import DetectorOptions
from .placement import PLACEMENT_VERSION, build_track
from .propagate import SparseDetection
from .tracker import CutDetector, make_tracker, update_tracker
from .tracks import DEFAULT_HFOV_DEG, Analysis

log = logging.getLogger("stereofoley.vision")

# Truncated or damaged media: a range whose picture decodes over less than this fraction is refused (the sound
# would follow almost nothing); from it up to all of the range, it is analysed and reported as partial.
MIN_ANALYSED_FRACTION = 0.25
COVERAGE_VERSION = 1  # in the cache key: analyses cached before the coverage was recorded are not reused
LOST_TRACK_S = 1.0  # a track the detector misses this long ends (its gap is interpolated if it comes back)
MIN_TRACK_FRAMES = 3  # shorter tracks are noise


_UNSET: Any = object()


def analyze_video(
    path: str | os.PathLike,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    options: DetectorOptions | Mapping[str, Any] | None = None,
    detector: str | Detector = _UNSET,
    weights: str | os.PathLike | None = _UNSET,
    imgsz: int | None = _UNSET,
    conf: float = _UNSET,
    iou: float = _UNSET,
    classes: Any = _UNSET,
    analysis_fps: float = _UNSET,
    detect_fps: float | None = _UNSET,
    cache_dir: str | os.PathLike | AnalysisCache | None = None,
    progress: Callable[[float], None] | None = None,
    tracker: str = "bytetrack",
    hfov_deg: float = DEFAULT_HFOV_DEG,
) -> Analysis:
    """Track the objects of a video over [start_s, end_s) media seconds (None: the media's start / end).

    options: a DetectorOptions (or a mapping for DetectorOptions.from_mapping); the keyword arguments of the same
    names (detector, weights, imgsz, conf, iou, classes, analysis_fps, detect_fps) override its fields.
    detector: "auto" (YOLO if weights are on disk, else motion), "yolo", "motion", or a Detector instance (then
    weights / imgsz / conf / iou / classes are the instance's own). cache_dir: a folder or an AnalysisCache;
    results are kept keyed by the media's content hash, the range and the settings; None disables caching. A
    cache hit loads no model. progress: called with the fraction done (0..1) as frames are analysed.
    Track times are relative to start_s; Analysis.frame_times_s are media times.
    """
    given = dict(detector=detector, weights=weights, imgsz=imgsz, conf=conf, iou=iou, classes=classes,
                 analysis_fps=analysis_fps, detect_fps=detect_fps)
    instance = None if isinstance(detector, str) or detector is _UNSET else detector
    if instance is not None:
        del given["detector"]  # the instance is the detector
    opts = options if isinstance(options, DetectorOptions) else DetectorOptions.from_mapping(options)
    opts = replace(opts, **{k: v for k, v in given.items() if v is not _UNSET})  # validated again
    info = probe(path)
    start, end = resolve_range(info, start_s, end_s)
    if instance is not None:
        plan = DetectorPlan(instance.name, instance.cache_key(), bool(getattr(instance, "frames_independent", False)),
                            instance.input_width, lambda: instance)
    else:
        plan = plan_detector(opts, frame_width=info.width)
    detect_every = opts.detect_every if plan.frames_independent else 1
    key = analysis_key(start, end, opts.analysis_fps, tracker, hfov_deg, plan.cache_key, detect_every)
    cache = None
    if cache_dir is not None:
        cache = cache_dir if isinstance(cache_dir, AnalysisCache) else AnalysisCache(Path(cache_dir))
        key["media_blake2b"] = cache.media_digest(info.path)
        cached = cache.get(key)
        if cached is not None:
            if progress:
                progress(1.0)
            return check_coverage(cached)

    analysis = _analyze(info, start, end, plan.build(), analysis_fps=opts.analysis_fps, tracker_kind=tracker,
                        hfov_deg=hfov_deg, progress=progress, detect_every=detect_every)
    analysis = replace(analysis, settings_key=key)
    if cache is not None:
        cache.put(key, analysis)
    return check_coverage(analysis)


def check_coverage(analysis: Analysis) -> Analysis:
    """The analysis, unless its picture covers under MIN_ANALYSED_FRACTION of its range (InvalidMedia naming the
    file, the range and the fraction)."""
    fraction = analysis.analysed_fraction
    if fraction < MIN_ANALYSED_FRACTION:
        raise InvalidMedia(f"{analysis.media_path}: {coverage_text(analysis)}; under "
                           f"MIN_ANALYSED_FRACTION={MIN_ANALYSED_FRACTION} a range is refused")
    return analysis


def coverage_text(analysis: Analysis) -> str:
    """'only 48.9 % of [0.000, 4.000) s decodes (the picture ends at 1.958 s: truncated or damaged?)'"""
    end = analysis.analysed_end_s if analysis.analysed_end_s is not None else analysis.end_s
    return (f"only {analysis.analysed_fraction * 100:.1f} % of [{analysis.start_s:.3f}, {analysis.end_s:.3f}) s "
            f"decodes (the picture ends at {end:.3f} s: truncated or damaged?)")


def analysis_key(start: float, end: float, analysis_fps: float, tracker: str, hfov_deg: float, detector_key: dict,
                 detect_every: int = 1) -> dict:
    """The cache key of an analysis (without the media hash, which AnalysisCache.media_digest adds)."""
    key = {
        "engine": __version__, "start_s": round(start, 6), "end_s": round(end, 6), "analysis_fps": analysis_fps,
        "tracker": tracker, "hfov_deg": hfov_deg, "detector": detector_key, "placement": PLACEMENT_VERSION,
    }
    if detect_every > 1:
        key["detect_every"] = detect_every
    key["coverage"] = COVERAGE_VERSION
    return key


def _analyze(info, start, end, det: Detector, *, analysis_fps, tracker_kind, hfov_deg, progress, detect_every=1) -> Analysis:
    """detect_every > 1: the detector runs on the first analysed frame of each shot and then every detect_every-th
    (sooner when a box is lost); the frames between get the previous frame's boxes carried by optical flow."""
    lost_frames = max(1, int(round(LOST_TRACK_S * analysis_fps)))
    cut_detector = CutDetector()
    frame_times: list[float] = []
    shot_starts: list[int] = [0]  # frame index where each shot starts
    observations: dict[tuple[int, int], list] = defaultdict(list)  # (shot, tracker id) -> [(frame idx, box, conf, cls)]
    pending = []  # frames of a shot waiting for the detector's warm-up
    state = {"tracker": make_tracker(tracker_kind, lost_frames=lost_frames), "primed": False}
    sparse = SparseDetection(det, detect_every) if detect_every > 1 else None

    def feed(frame_index: int, image: np.ndarray, detections: Detections) -> None:
        for hit in update_tracker(state["tracker"], detections, image):
            i = hit.detection_index
            observations[(len(shot_starts) - 1, hit.track_id)].append(
                (frame_index, detections.xyxy_norm[i], float(detections.confidence[i]), int(detections.class_id[i]))
            )

    def process(frame_index: int, image: np.ndarray) -> None:
        if sparse is None:
            feed(frame_index, image, det.detect(image))
        else:
            for settled in sparse.push(frame_index, image):
                feed(*settled)

    def end_shot() -> None:
        flush()
        if sparse is not None:
            for settled in sparse.end_shot():
                feed(*settled)

    def flush() -> None:
        if not state["primed"]:
            det.start_shot([image for _, image in pending])
            state["primed"] = True
        for index, image in pending:
            process(index, image)
        pending.clear()

    duration = end - start
    last_shown_s = 0.0  # how long the latest frame is shown, by its own timestamps
    frames = iter_frames(info.path, start_s=start, end_s=end, analysis_fps=analysis_fps, max_width=det.input_width)
    with closing(prefetched(frames)) as decoded:  # decoding overlaps detection
        for frame in decoded:
            index = len(frame_times)
            if cut_detector.is_cut(frame.image) and index > 0:
                end_shot()
                shot_starts.append(index)
                state.update(tracker=make_tracker(tracker_kind, lost_frames=lost_frames), primed=False)
            frame_times.append(frame.time_s)
            last_shown_s = frame.duration_s
            pending.append((index, frame.image))
            if state["primed"] or len(pending) >= det.warmup_frames:
                flush()
            if progress:
                progress(min(1.0, (frame.time_s - start) / duration))
    end_shot()
    if sparse is not None:
        log.debug("%s: detector on %d analysed frames, boxes carried on %d", info.path, sparse.detected, sparse.carried)
    if not frame_times:
        raise InvalidParameter(f"no video frames in [{start:.3f}, {end:.3f}) s of {info.path}")

    # Decoding that stops before the range's end (truncated or damaged media) is measured, not hidden: the
    # picture ends after the last analysed frame, shown for its own duration or 1.5 grid/media steps (the
    # normal distance from the last analysed frame to end_s).
    hold_s = 1.5 * max(1.0 / analysis_fps, 1.0 / float(info.fps) if info.fps else 0.0)
    picture_end = frame_times[-1] + max(hold_s, last_shown_s)
    analysed_end_s = None if picture_end >= end else float(picture_end)

    # The first frame may start up to half a frame before the range (it is the one on screen at start_s).
    rel_times = np.maximum(np.asarray(frame_times) - start, 0.0)
    bounds = shot_starts + [len(frame_times)]
    shot_spans = [(0.0 if s == 0 else (rel_times[s - 1] + rel_times[s]) / 2.0, end - start if e == len(frame_times) else (rel_times[e - 1] + rel_times[e]) / 2.0)
                  for s, e in zip(bounds[:-1], bounds[1:])]
    aspect = info.width / info.height
    tracks = []
    for (shot, _), obs in sorted(observations.items()):
        if len(obs) < MIN_TRACK_FRAMES:
            continue
        idx = np.array([o[0] for o in obs])
        classes = Counter(det.class_names.get(o[3], str(o[3])) for o in obs)
        s, e = bounds[shot], bounds[shot + 1]
        tracks.append(build_track(
            len(tracks) + 1, classes.most_common(1)[0][0], rel_times[idx], np.array([o[1] for o in obs]),
            np.array([o[2] for o in obs]), frame_times_s=rel_times[s:e], shot_span_s=shot_spans[shot],
            aspect=aspect, hfov_deg=hfov_deg,
        ))
    if progress:
        progress(1.0)
    return Analysis(
        media_path=info.path.resolve(), width=info.width, height=info.height, fps=info.fps, start_s=start, end_s=end,
        frame_times_s=np.asarray(frame_times), tracks=tuple(tracks),
        cuts_s=tuple(float(frame_times[i]) for i in shot_starts[1:]), detector=det.name, analysis_fps=analysis_fps,
        analysed_end_s=analysed_end_s,
    )


# ------------------------------------------------------------------------------------------------- cache
def media_digest(path: Path, cache_dir: Path) -> str:
    """Content hash of a media file, remembered in cache_dir (AnalysisCache.media_digest)."""
    return AnalysisCache(Path(cache_dir)).media_digest(Path(path))


