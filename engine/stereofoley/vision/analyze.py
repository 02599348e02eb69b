"""decode → detect → track → trajectories for one clip, with an on-disk cache of the result."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import InvalidParameter
from ..files import write_text_atomic
from .decode import iter_frames, prefetched, probe, resolve_range
from .detect import Detector, make_detector
from .tracker import CutDetector, make_tracker, update_tracker
from .tracks import DEFAULT_HFOV_DEG, Analysis, read_tracks, write_tracks
from .placement import PLACEMENT_VERSION, build_track

log = logging.getLogger("stereofoley.vision")

LOST_TRACK_S = 1.0  # a track the detector misses this long ends (its gap is interpolated if it comes back)
MIN_TRACK_FRAMES = 3  # shorter tracks are noise


def analyze_video(
    path: str | os.PathLike,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    detector: str | Detector = "auto",
    weights: str | os.PathLike | None = None,
    analysis_fps: float = 10.0,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[float], None] | None = None,
    tracker: str = "bytetrack",
    hfov_deg: float = DEFAULT_HFOV_DEG,
) -> Analysis:
    """Track the objects of a video over [start_s, end_s) media seconds (None: the media's start / end).

    detector: "auto" (YOLO if weights are on disk, else motion), "yolo", "motion", or a Detector instance.
    cache_dir: where results are kept, keyed by the media's content hash, the range and the detector settings;
    None disables caching. progress: called with the fraction done (0..1) as frames are analysed.
    Track times are relative to start_s; Analysis.frame_times_s are media times.
    """
    info = probe(path)
    start, end = resolve_range(info, start_s, end_s)
    det = make_detector(detector, weights) if isinstance(detector, str) else detector
    key = {
        "engine": __version__, "start_s": round(start, 6), "end_s": round(end, 6), "analysis_fps": analysis_fps,
        "tracker": tracker, "hfov_deg": hfov_deg, "detector": det.cache_key(),
        "placement": PLACEMENT_VERSION,
    }
    cache_file = None
    if cache_dir is not None:
        key["media_blake2b"] = media_digest(info.path, Path(cache_dir))
        cache_file = Path(cache_dir) / f"{_key_digest(key)}.tracks.json"
        if cache_file.is_file():
            try:
                cached = read_tracks(cache_file)
                if cached.settings_key == key:
                    if progress:
                        progress(1.0)
                    return cached
            except InvalidParameter:
                pass  # a damaged cache entry is recomputed and replaced

    analysis = _analyze(info, start, end, det, analysis_fps=analysis_fps, tracker_kind=tracker, hfov_deg=hfov_deg, progress=progress)
    analysis = replace(analysis, settings_key=key)
    if cache_file is not None:
        write_tracks(analysis, cache_file, overwrite=True)
    return analysis


def _analyze(info, start, end, det: Detector, *, analysis_fps, tracker_kind, hfov_deg, progress) -> Analysis:
    lost_frames = max(1, int(round(LOST_TRACK_S * analysis_fps)))
    cut_detector = CutDetector()
    frame_times: list[float] = []
    shot_starts: list[int] = [0]  # frame index where each shot starts
    observations: dict[tuple[int, int], list] = defaultdict(list)  # (shot, tracker id) -> [(frame idx, box, conf, cls)]
    pending = []  # frames of a shot waiting for the detector's warm-up
    state = {"tracker": make_tracker(tracker_kind, lost_frames=lost_frames), "primed": False}

    def process(frame_index: int, image: np.ndarray) -> None:
        detections = det.detect(image)
        for hit in update_tracker(state["tracker"], detections, image):
            i = hit.detection_index
            observations[(len(shot_starts) - 1, hit.track_id)].append(
                (frame_index, detections.xyxy_norm[i], float(detections.confidence[i]), int(detections.class_id[i]))
            )

    def flush() -> None:
        if not state["primed"]:
            det.start_shot([image for _, image in pending])
            state["primed"] = True
        for index, image in pending:
            process(index, image)
        pending.clear()

    duration = end - start
    frames = iter_frames(info.path, start_s=start, end_s=end, analysis_fps=analysis_fps, max_width=det.input_width)
    with closing(prefetched(frames)) as decoded:  # decoding overlaps detection
        for frame in decoded:
            index = len(frame_times)
            if cut_detector.is_cut(frame.image) and index > 0:
                flush()
                shot_starts.append(index)
                state.update(tracker=make_tracker(tracker_kind, lost_frames=lost_frames), primed=False)
            frame_times.append(frame.time_s)
            pending.append((index, frame.image))
            if state["primed"] or len(pending) >= det.warmup_frames:
                flush()
            if progress:
                progress(min(1.0, (frame.time_s - start) / duration))
    flush()
    if not frame_times:
        raise InvalidParameter(f"no video frames in [{start:.3f}, {end:.3f}) s of {info.path}")

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
    )


# ------------------------------------------------------------------------------------------------- cache
def _key_digest(key: dict) -> str:
    return hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=16).hexdigest()


def media_digest(path: Path, cache_dir: Path) -> str:
    """Content hash of a media file (BLAKE2b of every byte), remembered per (path, size, mtime) in cache_dir.

    Hashing content (not the name) means a renamed or copied file still hits the cache and a re-rendered file
    with the same name does not; remembering it makes the second run skip even the hashing.
    """
    stat = path.stat()
    memo = cache_dir / "media-hashes.json"
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if stamp in known:
        return known[stamp]
    with path.open("rb") as f:
        known[stamp] = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=20)).hexdigest()
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(memo, json.dumps(known), overwrite=True)
    return known[stamp]


