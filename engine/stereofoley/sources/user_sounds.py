"""Sounds the user chose for objects: `--sound ID=FILE` / `--sound CLASS=FILE` (options.sounds) or a small TOML
(options.sound_map):

    [sounds]
    3 = "/sfx/door_creak.wav"     # track 3
    car = "/sfx/engine_idle.wav"  # every car without a sound of its own

A track id wins over its class. The file is read (any format soundfile reads, resampled to 48 kHz, channels
averaged), fitted to the render's length as library files are (sources/library.py: fit_length), brought to the
nominal level and shaped by the object's presence and level rule, like a library file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import InvalidParameter, MediaNotFound


def parse_sound_overrides(entries: Iterable[str] = (), sound_map: str | os.PathLike | None = None) -> dict[str, str]:
    """{track id as text, or class name in lower case: absolute file path}; entries (ID=FILE, CLASS=FILE) win over
    the TOML file's [sounds] table. Every file must exist."""
    out: dict[str, str] = {}
    if sound_map is not None:
        path = Path(sound_map)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MediaNotFound(f"sound map file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"sound map {path} is not valid TOML: {exc}") from None
        table = data.get("sounds")
        if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
            raise InvalidParameter(f"sound map {path} needs a [sounds] table of ID or CLASS = \"FILE\"")
        for key, value in table.items():
            file = Path(value) if Path(value).is_absolute() else path.parent / value
            out[_key(str(key), f"sound map {path}")] = _existing(file, f"sound map {path}")
    for entry in entries:
        key, sep, value = str(entry).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidParameter(f"sounds entry {entry!r} must look like ID=FILE or CLASS=FILE")
        out[_key(key, f"sounds entry {entry!r}")] = _existing(Path(value.strip()), f"sounds entry {entry!r}")
    return out


def override_for(overrides: Mapping[str, str], track_id: int, class_name: str) -> str | None:
    return overrides.get(str(int(track_id))) or overrides.get(class_name.strip().lower())


def _key(text: str, where: str) -> str:
    key = text.strip()
    if key.lstrip("-").isdigit():
        return str(int(key))
    return key.lower()


def _existing(path: Path, where: str) -> str:
    if not path.is_file():
        raise MediaNotFound(f"{where}: sound file not found: {path}")
    return str(path.resolve())
