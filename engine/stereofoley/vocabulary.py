"""The class vocabulary: one place that says what a detector class sounds like and how big it is.

It sits below vision and sources (it imports only errors): vision's placement reads the sizes, the providers the
sounds, and neither imports the other.

Every provider and the distance estimate ask it: the synth voice (engine, steps, animal, birds, whoosh), the UCS
CatIDs and keywords a library file is matched by, the generator prompt, and the typical real-world height behind
the pinhole distance estimate (a person is about 1.7 m). The built-in table (`vocabulary.toml`, beside this file)
covers the 80 COCO classes and the motion detector's "object", with synonyms for common names other detectors
use ("pedestrian", "vehicle", "bike", ...). A user file (`--class-map FILE`, TOML or JSON) adds or overrides
classes:

    [tractor]            # a new class that sounds and measures like a truck, with its own height
    same_as = "truck"
    height_m = 2.8
    [car]                # a COCO class with other library categories (the fields given replace the built-in ones)
    cat_ids = ["VEHTruck"]

Keys: same_as, voice, height_m, sounding, cat_ids, keywords, prompt, synonyms. A class found nowhere is
"unmapped": it gets the generic whoosh and a 1 m size, and `notice_unmapped` says so once, with how to map it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import InvalidParameter, MediaNotFound

log = logging.getLogger(__name__)

VOICES = ("engine", "steps", "animal", "birds", "whoosh")
UNMAPPED_HEIGHT_M = 1.0
USER_KEYS = ("same_as", "voice", "height_m", "sounding", "cat_ids", "keywords", "prompt", "synonyms")


@dataclass(frozen=True)
class SoundCategory:
    """What one class sounds like. `kind` is the built-in class whose synth tuning it uses (a "vehicle" is a car)."""

    name: str
    voice: str
    height_m: float
    sounding: bool
    cat_ids: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    prompt: str = ""
    kind: str = ""
    mapped: bool = True

    def prompt_text(self, pace: str) -> str:
        return (self.prompt or f"a {self.name} {{pace}}").replace("{pace}", pace).replace("{class}", self.name)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Classes by lower-case name (synonyms included). `category(name)` never fails: unmapped names get the whoosh."""

    classes: Mapping[str, SoundCategory]
    source: str = "built-in"
    _reported: set = field(default_factory=set, repr=False)

    def lookup(self, class_name: str) -> SoundCategory | None:
        return self.classes.get(_key(class_name))

    def category(self, class_name: str) -> SoundCategory:
        found = self.lookup(class_name)
        if found is not None:
            return found
        name = _key(class_name)
        return SoundCategory(name, "whoosh", UNMAPPED_HEIGHT_M, False, (), (name,), "", name, mapped=False)

    def voice(self, class_name: str) -> str:
        return self.category(class_name).voice

    def height_m(self, class_name: str) -> float:
        return self.category(class_name).height_m

    def sounding(self, class_name: str) -> bool:
        return self.category(class_name).sounding

    def unmapped(self, class_names: Iterable[str]) -> list[str]:
        return sorted({_key(n) for n in class_names if self.lookup(n) is None})

    def notice_unmapped(self, class_names: Iterable[str]) -> list[str]:
        """Log one warning listing the classes this vocabulary does not know (each name once per vocabulary)."""
        new = [n for n in self.unmapped(class_names) if n not in self._reported]
        if new:
            self._reported.update(new)
            example = new[0]
            log.warning(
                "classes not in the class vocabulary (%s): %s. They get the generic whoosh and a %.0f m size for "
                "distance. Map them with --class-map FILE.toml, e.g. [\"%s\"] same_as = \"person\" (or voice = "
                "\"engine\", height_m = 1.5); docs/sources.md lists the keys.",
                self.source, ", ".join(new), UNMAPPED_HEIGHT_M, example,
            )
        return new


def _key(name: str) -> str:
    return str(name).strip().lower()


@lru_cache(maxsize=1)
def _builtin_data() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("vocabulary.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def builtin_vocabulary() -> Vocabulary:
    """The COCO table with its synonyms, from vocabulary.toml."""
    return load_vocabulary(None)


def load_vocabulary(user_file: str | os.PathLike | None = None) -> Vocabulary:
    """The built-in vocabulary, with the classes of the user's file (TOML or JSON) added or overriding."""
    data = _builtin_data()
    classes: dict[str, SoundCategory] = {}
    synonyms: dict[str, str] = {}
    for name, entry in data["classes"].items():
        cat = _category(name, entry, "built-in vocabulary.toml")
        classes[cat.name] = cat
        for alias in entry.get("synonyms", ()):
            synonyms.setdefault(_key(alias), cat.name)
    for name, height in data["silent"].items():
        classes[_key(name)] = SoundCategory(_key(name), "whoosh", float(height), False, (), (_key(name),), "", _key(name))
    for alias, target in synonyms.items():
        classes.setdefault(alias, dataclasses.replace(classes[target], name=alias))
    if user_file is None:
        return Vocabulary(classes)
    path = Path(user_file)
    for name, entry in _read_user_file(path).items():
        if name.startswith("_"):
            continue
        _apply_user_entry(classes, _key(name), entry, str(path))
    return Vocabulary(classes, source=str(path))


def _category(name: str, entry: Mapping[str, Any], where: str, *, base: SoundCategory | None = None) -> SoundCategory:
    key = _key(name)
    if base is None:
        base = SoundCategory(key, "whoosh", UNMAPPED_HEIGHT_M, True, (), (key,), "", key)
    voice = entry.get("voice", base.voice)
    if voice not in VOICES:
        raise InvalidParameter(f"class map {where}: {name}.voice={voice!r} is not one of {', '.join(VOICES)}")
    height = entry.get("height_m", base.height_m)
    if isinstance(height, bool) or not isinstance(height, (int, float)) or not (0.01 <= height <= 1000.0):
        raise InvalidParameter(f"class map {where}: {name}.height_m={height!r} must be a number in [0.01, 1000] m")
    sounding = entry.get("sounding", base.sounding or "voice" in entry)
    if not isinstance(sounding, bool):
        raise InvalidParameter(f"class map {where}: {name}.sounding={sounding!r} must be true or false")
    prompt = entry.get("prompt", base.prompt)
    if not isinstance(prompt, str):
        raise InvalidParameter(f"class map {where}: {name}.prompt must be a string, got {prompt!r}")
    lists = {}
    for list_key in ("cat_ids", "keywords", "synonyms"):
        items = entry.get(list_key, None)
        if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
            raise InvalidParameter(f"class map {where}: {name}.{list_key} must be a list of strings, got {items!r}")
        lists[list_key] = items
    return SoundCategory(
        name=key, voice=voice, height_m=float(height), sounding=sounding,
        cat_ids=tuple(lists["cat_ids"]) if lists["cat_ids"] is not None else base.cat_ids,
        keywords=tuple(k.lower() for k in lists["keywords"]) if lists["keywords"] is not None else base.keywords,
        prompt=prompt, kind=base.kind or key,
    )


def _apply_user_entry(classes: dict[str, SoundCategory], name: str, entry: Any, where: str) -> None:
    if not isinstance(entry, Mapping) or set(entry) - set(USER_KEYS):
        extra = sorted(set(entry) - set(USER_KEYS)) if isinstance(entry, Mapping) else None
        raise InvalidParameter(
            f"class map {where}: {name!r} must be a table with keys from {', '.join(USER_KEYS)}"
            + (f"; unknown: {', '.join(extra)}" if extra else f", got {entry!r}")
        )
    base = classes.get(name)
    if "same_as" in entry:
        target = entry["same_as"]
        if not isinstance(target, str) or _key(target) not in classes:
            raise InvalidParameter(f"class map {where}: {name}.same_as={target!r} is not a known class")
        base = dataclasses.replace(classes[_key(target)], name=name)
    elif base is not None and base.name != name:  # a synonym given its own entry starts from what it stood for
        base = dataclasses.replace(base, name=name)
    cat = _category(name, entry, where, base=base)
    classes[name] = cat
    for alias in entry.get("synonyms", None) or ():
        classes[_key(alias)] = dataclasses.replace(cat, name=_key(alias))


def _read_user_file(path: Path) -> dict:
    if not path.is_file():
        raise MediaNotFound(f"class map file not found: {path}")
    toml = path.suffix.lower() == ".toml"
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if toml else json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise InvalidParameter(f"class map {path} is not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidParameter(f"class map {path} must be an object of class -> {{{', '.join(USER_KEYS)}}}")
    return dict(data)


def vocabulary_for(class_map: "str | os.PathLike | Vocabulary | None") -> Vocabulary:
    """A Vocabulary from a user file path, an existing Vocabulary, or None (the built-in one)."""
    if isinstance(class_map, Vocabulary):
        return class_map
    return builtin_vocabulary() if class_map is None else load_vocabulary(class_map)
