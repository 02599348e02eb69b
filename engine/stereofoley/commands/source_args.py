"""Source and loudness flags shared by `stereofoley clip` and `stereofoley render`; they become RenderOptions
fields (commands/common.py: render_options_from_args)."""

from __future__ import annotations

import argparse

from ..options import NEUTRAL_SOURCES
from ..sources.factory import PROVIDER_NAMES, parse_sources
from ..spatial.loudness import DEFAULT_TARGET_LUFS, DEFAULT_TRUE_PEAK_DBTP


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
    group.add_argument("--class-map", metavar="FILE", help="TOML/JSON class vocabulary: per detector class its voice, real height (m, for distance), UCS "
                       "categories and prompt; adds to or overrides the built-in COCO table (docs/sources.md)")
    group.add_argument("--follow", type=_follow, metavar="ID|CLASS", help="clip-audio: the object the production audio follows (default: most salient)")
    group.add_argument("--prompt", help="generator prompt; {class} is replaced by the object's class")
    group.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    group.add_argument("--loudness-lufs", type=float, default=DEFAULT_TARGET_LUFS, help="integrated loudness target (default -23 LUFS)")
    group.add_argument("--true-peak-dbtp", type=float, default=DEFAULT_TRUE_PEAK_DBTP, help="true-peak ceiling (default -1 dBTP)")
    group.add_argument("--no-loudness", dest="loudness", action="store_false", help="keep the mix level as rendered")


def _checked_spec(value: str) -> str:
    if value.strip().lower() == NEUTRAL_SOURCES:
        return NEUTRAL_SOURCES
    try:
        parse_sources(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value
