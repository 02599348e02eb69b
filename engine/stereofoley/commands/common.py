"""Arguments and output shared by several subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from ..config import PAN_LAWS, SpatialSettings, preset


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


def emit(args: argparse.Namespace, summary: dict[str, Any], human: str) -> None:
    print(json.dumps(summary, indent=2) if getattr(args, "json", False) else human)
