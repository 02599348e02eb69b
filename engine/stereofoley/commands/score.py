"""`stereofoley score VIDEO AUDIO [--tracks tracks.json]`: is the sound where the picture says the objects are?"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..audio import read_audio
from ..errors import InvalidParameter, MediaNotFound
from ..evaluation.metric import ESTIMATORS, MetricSettings, analyze_audio, expected_from_tracks, expected_position, score
from .common import add_spatial_arguments, emit, spatial_settings_from_args
from ..vision import read_tracks
from ..vision import analyze_video


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score how well a stereo file places the objects of a video (any tool's output)",
        description=(
            "Compare where AUDIO (any stereo file, any rate; it starts at the analysed range's start) puts its sound "
            "with where the tracked objects of VIDEO are. Formulas: docs/metric.md."
        ),
    )
    p.add_argument("video", help="the picture")
    p.add_argument("audio", help="the stereo sound to score")
    p.add_argument("--tracks", help="tracks.json from an earlier analysis (skips tracking)")
    p.add_argument("--start", dest="start_s", type=float, help="analyse from this media time (s)")
    p.add_argument("--end", dest="end_s", type=float, help="analyse up to this media time (s)")
    p.add_argument("--detector", default="auto", help="auto (default), yolo or motion")
    p.add_argument("--weights", help="YOLO weights file")
    p.add_argument("--window-s", type=float, default=MetricSettings.window_s, help="analysis window in seconds (default 0.1)")
    p.add_argument("--estimator", choices=ESTIMATORS, default="primary", help="audio position estimate (default primary)")
    p.add_argument("--gcc-phat", dest="metric_itd", action="store_true", help="also report a GCC-PHAT time difference")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    add_spatial_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = spatial_settings_from_args(args)
    for path in (args.video, args.audio):
        if not Path(path).is_file():
            raise MediaNotFound(f"file not found: {path}")
    if args.tracks:
        analysis = read_tracks(args.tracks)
    else:
        analysis = analyze_video(args.video, start_s=args.start_s, end_s=args.end_s, detector=args.detector,
                                 weights=args.weights, hfov_deg=settings.hfov_deg)
    objects = expected_from_tracks(analysis.tracks, settings)
    if not objects:
        raise InvalidParameter(f"no object was tracked in {args.video}: there is no picture position to compare with")
    metric_settings = MetricSettings.matching(settings, window_s=args.window_s, estimator=args.estimator, itd=args.metric_itd)
    audio, rate = read_audio(args.audio)
    audio_analysis = analyze_audio(audio, rate, metric_settings)
    expected = expected_position(objects, audio_analysis.times_s, metric_settings.window_s, settings)
    result = score(audio_analysis, expected, metric_settings)
    summary = {"ok": True, "video": str(Path(args.video).resolve()), "audio": str(Path(args.audio).resolve()),
               "tracks": len(analysis.tracks), "objects_scored": len(objects), **result.to_dict()}
    if audio_analysis.itd_ms is not None:
        summary["itd_ms_median"] = float(sorted(audio_analysis.itd_ms)[len(audio_analysis.itd_ms) // 2])
    d = dataclasses.asdict(result)
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    human = (
        f"position correlation {fmt(d['position_correlation'])}, MAE {fmt(d['position_mae_pan'])} pan "
        f"({fmt(d['position_mae_deg'])}°), direction agreement {fmt(d['direction_agreement'])} "
        f"(chance {fmt(d['direction_chance'])}), level–distance correlation {fmt(d['level_distance_correlation'])}"
        f"{', NEAR MONO' if d['is_near_mono'] else ''} — {d['scored_windows']} windows of {d['window_s']} s"
    )
    emit(args, summary, human)
    return 0
