"""Arguments and output shared by several subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from ..config import PAN_LAWS, SpatialSettings, preset
from ..options import RenderOptions
from .source_args import add_source_arguments
from .vision_args import add_analysis_arguments, add_detector_arguments

# 0 success, 1 error (one-line reason on stderr), 2 bad usage, 3 partial success (some clips skipped, or media that decodes only partly).
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def add_spatial_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spatial settings")
    group.add_argument("--preset", default="natural", help="named settings: natural (default), dry, wet, indoor, wide, cinematic, narrow")
    group.add_argument("--pan-law", choices=PAN_LAWS, help="pan law (default constant_power, -3 dB centre)")
    group.add_argument("--hfov-deg", type=float, help="camera horizontal field of view in degrees (default 60)")
    group.add_argument("--width", dest="stereo_width", type=float, help="stereo width 0..1 (default 1)")
    group.add_argument("--itd", action=argparse.BooleanOptionalAction, default=None, help="inter-channel time difference")
    group.add_argument("--doppler", action=argparse.BooleanOptionalAction, default=None, help="Doppler shift from distance changes")
    group.add_argument("--diffuse", action=argparse.BooleanOptionalAction, default=None, help="diffuse (reverberant) send")
    group.add_argument("--air", dest="air_absorption", action=argparse.BooleanOptionalAction, default=None, help="air absorption")
    group.add_argument("--float", dest="float_output", action="store_true", help="write 32-bit float WAV (default 24-bit PCM)")


def spatial_settings_from_args(args: argparse.Namespace) -> SpatialSettings:
    """The preset, then any explicit flags on top of it (dataclasses.replace validates every value)."""
    settings = preset(args.preset)
    overrides: dict[str, Any] = {
        field: getattr(args, field)
        for field in ("pan_law", "hfov_deg", "stereo_width", "itd", "doppler", "diffuse", "air_absorption")
        if getattr(args, field, None) is not None
    }
    if getattr(args, "float_output", False):
        overrides["output_subtype"] = "FLOAT"
    return dataclasses.replace(settings, **overrides) if overrides else settings


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="keep the clips an earlier (interrupted) render finished with the same media and "
                             "settings, render the rest (their files are replaced)")


def emit(args: argparse.Namespace, summary: dict[str, Any], human: str) -> None:
    print(json.dumps(summary, indent=2) if getattr(args, "json", False) else human)


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """Every RenderOptions field as a flag (`max_objects` <-> `--max-objects`): analysis, sources, loudness,
    spatial settings, stems, overwrite and --json. Used by `clip` and `render` alike."""

    add_analysis_arguments(parser)
    add_detector_arguments(parser)
    add_source_arguments(parser)
    add_spatial_arguments(parser)
    add_correction_arguments(parser)
    parser.add_argument("--no-stems", dest="stems", action="store_false", help="do not write per-object mono sources")
    add_output_arguments(parser)


def add_correction_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("corrections (docs/contracts.md §5)")
    group.add_argument("--tracks", action="append", default=[], metavar="FILE",
                       help="use this (edited) tracks.json instead of analysing the media it names (repeatable)")
    group.add_argument("--include", action="append", default=[], metavar="ID|CLASS",
                       help="only these objects may sound, by track id or class (repeatable)")
    group.add_argument("--exclude", action="append", default=[], metavar="ID|CLASS",
                       help="these objects never sound, by track id or class (repeatable)")
    group.add_argument("--sound", dest="sounds", action="append", default=[], metavar="ID=FILE",
                       help="this object's sound, by track id or class: 3=door.wav, car=engine.wav (repeatable)")
    group.add_argument("--sounds", dest="sound_map", metavar="FILE.toml",
                       help="a TOML file with a [sounds] table of ID or CLASS = \"FILE\"")


def add_scale_out_arguments(parser: argparse.ArgumentParser) -> None:
    """`render`: the edit's clips on Dask workers (usecases/parallel.py); the outputs are the same bytes."""
    group = parser.add_argument_group("scale-out (Dask; docs/timeline.md)")
    group.add_argument("--workers", type=int, default=1, metavar="N",
                       help="render clips on N local worker processes, one thread each (default 1: serial)")
    group.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="render clips on an existing Dask cluster (`dask scheduler` / `dask worker`)")
    group.add_argument("--worker-path-map", action="append", default=[], metavar="FROM=TO",
                       help="workers see media and output paths under FROM at TO (repeatable, first match wins)")
    group.add_argument("--worker-memory-mb", type=int, metavar="MIB",
                       help="memory limit of each local worker in MiB (a clip whose worker exceeds it is skipped)")


def render_options_from_args(args: argparse.Namespace, **extra: Any) -> RenderOptions:
    """The RenderOptions the flags of `add_render_arguments` describe (validated by RenderOptions itself)."""
    return RenderOptions(
        settings=spatial_settings_from_args(args), detector=args.detector, weights=args.weights,
        analysis_fps=args.analysis_fps, imgsz=args.imgsz, conf=args.conf, iou=args.iou, classes=args.classes,
        detect_fps=args.detect_fps, tracker=args.tracker, max_objects=args.max_objects,
        cache=not args.no_cache, cache_dir=args.cache_dir, sources=args.sources, libraries=tuple(args.library),
        class_map=args.class_map, follow=args.follow, prompt=args.prompt, seed=args.seed,
        loudness_lufs=args.loudness_lufs if args.loudness else None, true_peak_dbtp=args.true_peak_dbtp,
        loudness_scope=args.loudness_scope,
        tracks=tuple(args.tracks), include=tuple(args.include), exclude=tuple(args.exclude),
        sounds=tuple(args.sounds), sound_map=args.sound_map,
        stems=args.stems, overwrite=args.overwrite, resume=getattr(args, "resume", False),
        workers=getattr(args, "workers", 1), scheduler=getattr(args, "scheduler", None),
        worker_path_map=tuple(getattr(args, "worker_path_map", ())),
        worker_memory_mb=getattr(args, "worker_memory_mb", None), **extra,
    )
