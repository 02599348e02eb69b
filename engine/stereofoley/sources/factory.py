"""`make_source_for(spec, ...)`: one callable `source_for(track, n_samples)` over all providers, with fallbacks.

A spec names providers in fallback order, comma-separated: `synth`, `library`, `clip-audio`, `generator:NAME`
(e.g. `library,synth`: the user's files where one matches, synthesis for the rest). For each object the first
provider that can serve it wins; a provider that cannot (no matching file, a failing generator, an object the
production audio does not follow) hands over to the next. The last provider is never asked to give up:

- `library` last: an object no file matches gets the seeded choice among all files (so a library of one file
  is always honoured); an empty library, or one with only unreadable files, is an error.
- `clip-audio` last: objects other than the followed one are silent (the production audio is placed once).
- `generator:NAME` last: its failure is the error (GeneratorFailed), never a corrupt output.

Every result is checked: finite mono float32 of exactly n_samples at 48 kHz.
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..audio import check_mono
from ..errors import GeneratorFailed, InvalidAudio, InvalidParameter, SourceUnavailable
from ..vocabulary import Vocabulary, builtin_vocabulary, vocabulary_for
from . import generator, synth
from .clip_audio import audio_stream_count, extract_clip_audio
from .generator import GeneratorRequest, prompt_for, run_generator
from .library import LibrarySource, load_class_map, scan_library
from .motion import DEFAULT_HFOV_DEG, Motion, level_gain, motion_of

log = logging.getLogger(__name__)

PROVIDER_NAMES = ("synth", "library", "clip-audio", "generator:NAME")
SourceFor = Callable[[Any, int], np.ndarray]


def parse_sources(spec: str) -> tuple[str, ...]:
    """'library, synth' → ('library', 'synth'), each checked; clear error for anything else."""
    names = tuple(part.strip().lower() if not part.strip().lower().startswith("generator:") else part.strip() for part in spec.split(","))
    for name in names:
        if name in ("synth", "library", "clip-audio") or (name.lower().startswith("generator:") and len(name) > len("generator:")):
            continue
        raise InvalidParameter(f"source {name!r} in sources={spec!r} is not one of {', '.join(PROVIDER_NAMES)}")
    if len(set(names)) != len(names):
        raise InvalidParameter(f"sources={spec!r} names a provider twice")
    return names


def track_rng(seed: int, track: Any) -> np.random.Generator:
    """Randomness for one object: fixed by the seed, the track id and the class, and by nothing else."""
    return np.random.default_rng([seed, int(getattr(track, "track_id", 0)) & 0xFFFFFFFF, zlib.crc32(track.class_name.encode())])


@dataclass(eq=False)
class ProviderChain:
    """The callable returned by make_source_for. `choices` records, per track id, which provider served it;
    `vocabulary` is the class vocabulary every provider used (the pipeline places objects with it too)."""

    providers: tuple[tuple[str, Callable[[Any, int, Motion, bool], np.ndarray]], ...]
    hfov_deg: float | None = None  # None: the track's own hfov_deg (vision records it), else 60°
    choices: dict[int, str] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=builtin_vocabulary)

    def __call__(self, track: Any, n_samples: int) -> np.ndarray:
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise InvalidParameter(f"n_samples={n_samples!r} must be a non-negative integer")
        hfov_deg = self.hfov_deg if self.hfov_deg is not None else float(getattr(track, "hfov_deg", DEFAULT_HFOV_DEG))
        motion = motion_of(track, int(n_samples), hfov_deg=hfov_deg)
        for i, (name, provide) in enumerate(self.providers):
            last = i == len(self.providers) - 1
            try:
                sound = provide(track, int(n_samples), motion, last)
            except (SourceUnavailable, GeneratorFailed) as exc:
                if last:
                    raise
                log.warning("source %s for %s #%s unavailable (%s); falling back to %s", name, track.class_name,
                            getattr(track, "track_id", "?"), exc, self.providers[i + 1][0])
                continue
            sound = check_mono(sound)
            if sound.size != n_samples:
                raise InvalidAudio(f"source {name} gave {sound.size} samples for a {n_samples}-sample render")
            self.choices[int(getattr(track, "track_id", 0))] = name
            return sound
        raise SourceUnavailable("no source provider configured")  # unreachable: parse_sources never returns ()


def make_source_for(
    spec: str = "synth",
    *,
    libraries: Sequence[str | os.PathLike] = (),
    seed: int = 0,
    media_path: str | os.PathLike | None = None,
    media_start_s: float = 0.0,
    class_map: str | os.PathLike | Vocabulary | None = None,
    follow: int | str | None = None,
    tracks: Sequence[Any] | None = None,
    prompt: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    hfov_deg: float | None = None,
) -> ProviderChain:
    """A `source_for(track, n_samples) -> mono float32` for the clip use case (docs/contracts.md).

    libraries: folders for `library`; class_map: a user vocabulary file (TOML/JSON, see vocabulary.py) that
    every provider honours (voice, UCS categories, prompt), or a Vocabulary; follow: for
    `clip-audio`, the track id (int) or class name (str) the production audio follows (default: the most salient
    of `tracks` when given, else the first object asked for — render_clip asks in ranked order); prompt: for
    generators, a template where {class} is replaced (default: words from class and motion).
    """
    names = parse_sources(spec)
    vocabulary = vocabulary_for(class_map)
    providers = []
    for i, name in enumerate(names):
        last = i == len(names) - 1
        try:
            providers.append((name, _build(name, libraries=libraries, seed=seed, media_path=media_path,
                                           media_start_s=media_start_s, vocabulary=vocabulary, follow=follow,
                                           tracks=tracks, prompt=prompt, cache_dir=cache_dir)))
        except (SourceUnavailable, GeneratorFailed) as exc:
            if last:
                raise
            log.warning("source %s unavailable (%s); using %s", name, exc, ", ".join(names[i + 1 :]))
    return ProviderChain(tuple(providers), hfov_deg=hfov_deg, vocabulary=vocabulary)


def _build(name: str, **kw: Any) -> Callable[[Any, int, Motion, bool], np.ndarray]:
    seed, vocabulary = kw["seed"], kw["vocabulary"]
    if name == "synth":
        return lambda track, n, motion, last: synth.synth_source(track.class_name, motion, track_rng(seed, track), vocabulary)
    if name == "library":
        return _library_provider(**kw)
    if name == "clip-audio":
        return _clip_audio_provider(**kw)
    return _generator_provider(name.split(":", 1)[1], **kw)


def _library_provider(*, libraries, seed, vocabulary, cache_dir, **_: Any):
    if not libraries:
        raise InvalidParameter("sources='library' needs at least one folder in libraries")
    source = LibrarySource(scan_library(libraries, cache_dir=cache_dir), load_class_map(vocabulary), seed)

    def provide(track: Any, n: int, motion: Motion, last: bool) -> np.ndarray:
        key = f"{track.class_name}:{getattr(track, 'track_id', 0)}"
        sound, entry = source.sound(track.class_name, n, key=key, allow_unmatched=last)
        log.info("library: %s #%s -> %s", track.class_name, getattr(track, "track_id", "?"), entry.rel)
        return synth.nominal(sound) * level_gain(vocabulary.voice(track.class_name), motion)

    return provide


def _clip_audio_provider(*, media_path, media_start_s, follow, tracks, **_: Any):
    if media_path is None:
        raise InvalidParameter("sources='clip-audio' needs the clip's media file")
    if audio_stream_count(media_path) == 0:  # before any analysis, and a fallback can take over
        raise SourceUnavailable(f"{media_path} has no audio stream for sources='clip-audio'")
    if not math.isfinite(media_start_s) or media_start_s < 0:
        raise InvalidParameter(f"media_start_s={media_start_s} must be finite and >= 0 s")
    followed: dict[str, int] = {}
    if tracks and not isinstance(follow, int):
        pool = [t for t in tracks if follow is None or t.class_name == follow]
        if pool:
            followed["id"] = int(max(pool, key=lambda t: float(getattr(t, "salience", 0.0))).track_id)
    extracted: dict[int, np.ndarray] = {}

    def provide(track: Any, n: int, motion: Motion, last: bool) -> np.ndarray:
        track_id = int(getattr(track, "track_id", 0))
        if isinstance(follow, int):
            followed.setdefault("id", follow)
        elif "id" not in followed and (follow is None or track.class_name == follow):
            followed["id"] = track_id  # the first (highest-ranked) object asked for
        if followed.get("id") != track_id:
            if last:
                return np.zeros(n, dtype=np.float32)
            raise SourceUnavailable(f"the clip's audio follows track {followed.get('id')}, not {track_id}")
        if n not in extracted:
            extracted[n] = extract_clip_audio(media_path, media_start_s, n)
        return extracted[n]

    return provide


def _generator_provider(gen_name: str, *, seed, media_path, media_start_s, prompt, vocabulary, **_: Any):
    generate = generator.load_generator(gen_name)  # looked up at build time (plug-ins may be added at run time)

    def provide(track: Any, n: int, motion: Motion, last: bool) -> np.ndarray:
        request = GeneratorRequest(
            prompt=prompt.replace("{class}", track.class_name) if prompt else prompt_for(track.class_name, motion, vocabulary),
            class_name=track.class_name,
            n_samples=n,
            seed=int(seed),
            media_path=None if media_path is None else str(media_path),
            media_start_s=float(media_start_s),
            times_s=np.asarray(track.times_s, dtype=np.float64),
            xyxy_norm=np.asarray(getattr(track, "xyxy_norm", np.zeros((len(track.times_s), 4))), dtype=np.float64),
            distance_m=np.asarray(track.distance_m, dtype=np.float64),
            speed_m_s=motion.speed_m_s.copy(),
        )
        return run_generator(gen_name, generate, request)

    return provide
