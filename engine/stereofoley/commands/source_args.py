"""Source and loudness options shared by `stereofoley clip` and `stereofoley render` (commands/common.py style).

In a command: `add_source_arguments(parser)`; then per clip `source_for_from_args(args, media_path=...,
media_start_s=...)` for `render_clip(source_for=...)`, and `apply_loudness(result.stereo, args)` on the mix.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

import numpy as np

from ..sources.factory import PROVIDER_NAMES, ProviderChain, make_source_for, parse_sources
from ..sources.loudness import DEFAULT_TARGET_LUFS, DEFAULT_TRUE_PEAK_DBTP, check_targets, normalize

NEUTRAL = "neutral"  # not a provider: the pipeline's default test source (source_for=None)


def _follow(value: str) -> int | str:
    return int(value) if value.lstrip("-").isdigit() else value


def add_source_arguments(parser: argparse.ArgumentParser, *, default: str = "synth") -> None:
    group = parser.add_argument_group("sources and loudness")
    group.add_argument(
        "--sources",
        default=default,
        type=_checked_spec,
        help=f"sound providers in fallback order, comma-separated: {', '.join(PROVIDER_NAMES)} (default {default}; "
        "e.g. library,synth); 'neutral' is the pipeline's pink-noise test source",
    )
    group.add_argument("--library", action="append", default=[], metavar="DIR", help="sound library folder (repeatable)")
    group.add_argument("--class-map", metavar="FILE", help="JSON/TOML file overriding the class -> UCS category map")
    group.add_argument("--follow", type=_follow, metavar="ID|CLASS", help="clip-audio: the object the production audio follows (default: most salient)")
    group.add_argument("--prompt", help="generator prompt; {class} is replaced by the object's class")
    group.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    group.add_argument("--loudness-lufs", type=float, default=DEFAULT_TARGET_LUFS, help="integrated loudness target (default -23 LUFS)")
    group.add_argument("--true-peak-dbtp", type=float, default=DEFAULT_TRUE_PEAK_DBTP, help="true-peak ceiling (default -1 dBTP)")
    group.add_argument("--no-loudness", dest="loudness", action="store_false", help="keep the mix level as rendered")


def _checked_spec(value: str) -> str:
    if value.strip().lower() == NEUTRAL:
        return NEUTRAL
    try:
        parse_sources(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def source_for_from_args(
    args: argparse.Namespace,
    *,
    media_path: str | os.PathLike | None = None,
    media_start_s: float = 0.0,
    tracks: Sequence[Any] | None = None,
) -> ProviderChain | None:
    """The `source_for` callable the options describe, for one clip (media_path/start for clip-audio);
    None for `--sources neutral` (render_clip's own default source)."""
    if getattr(args, "loudness", True):
        check_targets(args.loudness_lufs, args.true_peak_dbtp)  # fail before the render, not after
    if args.sources == NEUTRAL:
        return None
    return make_source_for(
        args.sources,
        libraries=args.library,
        seed=args.seed,
        media_path=media_path,
        media_start_s=media_start_s,
        class_map=args.class_map,
        follow=args.follow,
        tracks=tracks,
        prompt=args.prompt,
    )


def apply_loudness(stereo: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """The rendered mix, loudness-normalised as the options say (unchanged with --no-loudness)."""
    kwargs = loudness_from_args(args)
    return stereo if kwargs is None else normalize(stereo, **kwargs)


def loudness_from_args(args: argparse.Namespace) -> dict[str, float] | None:
    """Keyword arguments for `loudness.normalize`, or None with --no-loudness."""
    if not getattr(args, "loudness", True):
        return None
    return {"target_lufs": args.loudness_lufs, "true_peak_dbtp": args.true_peak_dbtp}
