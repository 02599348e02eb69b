"""One options schema for every way of asking for Foley: CLI flags, job JSON and the Python API.

A field's name is its job-JSON key and, with dashes, its CLI flag (`max_objects` <-> `--max-objects`);
`from_mapping` validates job JSON into it, `commands/common.py` builds it from flags, and both end in the same
`__post_init__` checks, so a value refused in one place is refused everywhere with the same message. The JSON
form is documented in docs/contracts.md (job options, version 1).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .config import SpatialSettings, preset
from .errors import InvalidParameter
from .sources.factory import parse_sources
from .sources.user_sounds import parse_sound_overrides
from .spatial.loudness import check_targets
from .vision.options import DEFAULT_CONF, DEFAULT_DETECT_FPS, DEFAULT_IOU, DetectorOptions
from .vision.tracker import TRACKERS

LOUDNESS_SCOPES = ("edit", "clip")
NEUTRAL_SOURCES = "neutral"  # not a provider: the pipeline's steady pink-noise test source
MAX_OBJECTS = 32


@dataclass(frozen=True)
class RenderOptions:
    """How to render a clip or an edit. `settings` is the spatial renderer's (a preset plus overrides)."""

    settings: SpatialSettings = field(default_factory=SpatialSettings)
    # analysis
    detector: str = "auto"
    weights: str | None = None
    analysis_fps: float = 10.0
    imgsz: int | None = None  # YOLO input size in px; None: from the frame width (vision.options.auto_imgsz)
    conf: float = DEFAULT_CONF  # lowest detection confidence kept
    iou: float = DEFAULT_IOU  # YOLO NMS IoU threshold
    classes: tuple[str | int, ...] | None = None  # detector classes kept (names or ids); None: all
    detect_fps: float | None = DEFAULT_DETECT_FPS  # YOLO runs per second, boxes carried between; None: every frame
    tracker: str = "bytetrack"
    max_objects: int = 4
    cache: bool = True  # keep analyses in cache_dir, keyed by the media's content and the detector settings
    cache_dir: str | None = None  # None: the user cache (config.user_cache_dir("vision"))
    # sources
    sources: str = "synth"  # a stereofoley.sources spec in fallback order, or "neutral"
    libraries: tuple[str, ...] = ()  # folders for sources "library"
    class_map: str | None = None  # a class vocabulary file (TOML/JSON): voice, real height, UCS categories, prompt
    follow: int | str | None = None  # clip-audio: the track id or class the production audio follows
    prompt: str | None = None  # generators: a template where {class} is replaced
    seed: int = 0  # seed of every random choice
    # loudness (BS.1770): the target, and over what: "edit" (one gain for all the clips of a render or timeline
    # job, so levels between shots follow distance; a single clip is its own edit) or "clip" (each clip alone)
    loudness_lufs: float | None = -23.0  # None: the mix as rendered
    true_peak_dbtp: float = -1.0
    loudness_scope: str = "edit"
    # timeline media
    media_roots: tuple[str, ...] = ()  # folders searched for media by name
    remaps: tuple[str, ...] = ()  # "OLD=NEW" path-prefix rules, first match wins
    # corrections (docs/contracts.md §5): edited analyses instead of analysing, which objects may sound, and
    # the user's own sound for some
    tracks: tuple[str, ...] = ()  # tracks.json files; a clip uses the one whose media has its media's file name
    include: tuple[str, ...] = ()  # track ids or class names: only these objects may sound (they always may)
    exclude: tuple[str, ...] = ()  # track ids or class names that never sound
    sounds: tuple[str, ...] = ()  # "ID=FILE" or "CLASS=FILE": this object's sound (before any provider)
    sound_map: str | None = None  # a TOML file with a [sounds] table of the same
    # scale-out (usecases/parallel.py): an edit's clips on Dask workers; outputs are the same bytes as serial
    workers: int = 1  # local worker processes (one thread each); 1 and no scheduler: serial in this process
    scheduler: str | None = None  # "tcp://HOST:PORT" of an existing Dask cluster instead of a local one
    worker_path_map: tuple[str, ...] = ()  # "FROM=TO": on workers, media and output paths under FROM are under TO
    worker_memory_mb: int | None = None  # memory limit of each local worker (None: Dask's share of the RAM)
    # outputs
    stems: bool = True  # each object's mono source beside the mix (hosts put it under the pan/gain curves)
    overwrite: bool = False
    # timeline renders: keep the clips an earlier (interrupted) run finished with the same inputs and settings,
    # render the rest (usecases/resume.py); the files it renders again are replaced as overwrite would
    resume: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.settings, SpatialSettings):
            raise InvalidParameter(f"settings={self.settings!r} must be SpatialSettings")
        detector_options = DetectorOptions(  # validates and normalises the detector fields (one set of checks)
            detector=self.detector, weights=self.weights, imgsz=self.imgsz, conf=self.conf, iou=self.iou,
            classes=self.classes, analysis_fps=self.analysis_fps, detect_fps=self.detect_fps)
        for name in ("imgsz", "conf", "iou", "classes", "analysis_fps", "detect_fps"):
            object.__setattr__(self, name, getattr(detector_options, name))
        _choice("tracker", self.tracker, TRACKERS)
        if not (_whole(self.max_objects) and 0 <= self.max_objects <= MAX_OBJECTS):
            raise InvalidParameter(f"max_objects={self.max_objects!r} is outside 0..{MAX_OBJECTS}")
        if not _whole(self.seed):
            raise InvalidParameter(f"seed={self.seed!r} must be a whole number")
        if not isinstance(self.sources, str):
            raise InvalidParameter(f"sources={self.sources!r} must be a string such as 'library,synth'")
        if self.sources.strip().lower() == NEUTRAL_SOURCES:
            object.__setattr__(self, "sources", NEUTRAL_SOURCES)
        else:
            parse_sources(self.sources)
            if "library" in parse_sources(self.sources) and not self.libraries:
                raise InvalidParameter("sources='library' needs at least one folder in libraries")
        _choice("loudness_scope", self.loudness_scope, LOUDNESS_SCOPES)
        if self.loudness_lufs is not None:
            check_targets(self.loudness_lufs, self.true_peak_dbtp)
        _check_scale_out(self)
        for name in ("libraries", "media_roots", "remaps", "tracks", "include", "exclude", "sounds", "worker_path_map"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
                raise InvalidParameter(f"{name}={value!r} must be a list of non-empty strings")
            object.__setattr__(self, name, tuple(value))
        parse_sound_overrides(self.sounds, self.sound_map)  # every file exists, every entry is ID/CLASS=FILE
        for rule in self.remaps:
            if "=" not in rule or rule.startswith("="):
                raise InvalidParameter(f"remaps entry {rule!r} must look like OLD_PREFIX=NEW_PREFIX")

    @property
    def detector_options(self) -> DetectorOptions:
        return DetectorOptions(detector=self.detector, weights=self.weights, imgsz=self.imgsz, conf=self.conf,
                               iou=self.iou, classes=self.classes, analysis_fps=self.analysis_fps,
                               detect_fps=self.detect_fps)

    @property
    def neutral(self) -> bool:
        return self.sources == NEUTRAL_SOURCES

    @classmethod
    def from_mapping(cls, raw: Any) -> "RenderOptions":
        """Job-JSON options: every field above by name (tuples as lists), plus "preset" (a named SpatialSettings)
        and "settings" (SpatialSettings fields on top of the preset). Unknown keys and wrong types are refused."""
        if not isinstance(raw, Mapping):
            raise InvalidParameter("options must be an object")
        known = {f.name: f for f in dataclasses.fields(cls)} | {"preset": None}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise InvalidParameter(f"unknown option(s) {', '.join(repr(u)[:60] for u in unknown)}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in ("preset", "settings"):
                continue
            expected = _JSON_TYPES[key]
            if value is not None or key not in _NULLABLE:
                if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                    names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
                    raise InvalidParameter(f"option {key}={value!r} must be of type {names}")
            values[key] = tuple(value) if isinstance(value, list) else value
        base = preset(raw.get("preset", "natural")) if isinstance(raw.get("preset", "natural"), str) else None
        if base is None:
            raise InvalidParameter(f"option preset={raw.get('preset')!r} must be a preset name")
        overrides = raw.get("settings", {})
        if not isinstance(overrides, Mapping):
            raise InvalidParameter(f"option settings={overrides!r} must be an object of SpatialSettings fields")
        try:
            values["settings"] = dataclasses.replace(base, **dict(overrides)) if overrides else base
        except TypeError as exc:
            raise InvalidParameter(f"options.settings has a field SpatialSettings does not know: {exc}") from None
        return cls(**values)


_JSON_TYPES: dict[str, Any] = {
    "detector": str, "weights": str, "analysis_fps": (int, float), "imgsz": int, "conf": (int, float),
    "iou": (int, float), "classes": (list, str), "detect_fps": (int, float), "tracker": str, "max_objects": int, "cache": bool,
    "cache_dir": str, "sources": str, "libraries": list, "class_map": str, "follow": (int, str), "prompt": str,
    "seed": int, "loudness_lufs": (int, float), "true_peak_dbtp": (int, float), "loudness_scope": str, "media_roots": list, "remaps": list,
    "tracks": list, "include": list, "exclude": list, "sounds": list, "sound_map": str, "stems": bool, "overwrite": bool,
    "resume": bool, "workers": int, "scheduler": str, "worker_path_map": list, "worker_memory_mb": int,
}
_NULLABLE = {"imgsz", "classes", "detect_fps", "weights", "cache_dir", "class_map", "follow", "prompt", "loudness_lufs",
             "sound_map", "scheduler", "worker_memory_mb"}

# How the CLI spells a parameter that a library error names (errors say `overwrite=True`; cli.py translates).
CLI_FLAGS = {f"{name}=": f"--{name.replace('_', '-')} " for name in _JSON_TYPES} | {
    "overwrite=True": "--overwrite", "resume=True": "--resume", "libraries": "--library", "media_roots": "--media-root", "remaps": "--remap",
    "loudness_lufs=None": "--no-loudness", "sounds": "--sound", "tracks": "--tracks", "stems=False": "--no-stems", "cache=False": "--no-cache",
    "allow_remote=True": "--allow-remote", "token=...": "--token", "weights=PATH": "--weights PATH",
    "worker_path_map": "--worker-path-map",
}


MAX_WORKERS = 256
_SCHEDULER = re.compile(r"^(tcp|tls)://[A-Za-z0-9._\-\[\]:]+:[0-9]{1,5}$")


def _check_scale_out(o: RenderOptions) -> None:
    if not (_whole(o.workers) and 1 <= o.workers <= MAX_WORKERS):
        raise InvalidParameter(f"workers={o.workers!r} must be a whole number in 1..{MAX_WORKERS}")
    if o.scheduler is not None and not (isinstance(o.scheduler, str) and _SCHEDULER.match(o.scheduler)):
        raise InvalidParameter(f"scheduler={str(o.scheduler)[:80]!r} must look like tcp://HOST:PORT")
    if o.worker_memory_mb is not None and not (_whole(o.worker_memory_mb) and o.worker_memory_mb >= 64):
        raise InvalidParameter(f"worker_memory_mb={o.worker_memory_mb!r} must be a whole number of MiB, at least 64")
    if not isinstance(o.worker_path_map, str):
        for rule in o.worker_path_map:
            if not isinstance(rule, str) or "=" not in rule or rule.startswith("=") or rule.endswith("="):
                raise InvalidParameter(f"worker_path_map entry {str(rule)[:80]!r} must look like FROM=TO (path prefixes)")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidParameter(f"{name}={value!r} is not allowed; choose one of {', '.join(allowed)}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
