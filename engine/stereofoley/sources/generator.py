"""Plug-in generators: external models (video + prompt → mono audio) found under the entry-point group
`stereofoley.generators`. The contract is in docs/generators.md; in short, an entry point names a callable

    generate(request: GeneratorRequest) -> numpy array, float, shape (request.n_samples,), 48 kHz, finite

The engine checks every result (shape, length, finiteness) and raises GeneratorFailed otherwise, so a broken
model never reaches the mix; with a fallback provider configured, the next provider is used instead.

A built-in `example` generator (offline, no model: it reads the prompt and plays a matching synth voice) proves
the plumbing; it is registered in our pyproject and is also found when the package metadata is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

import numpy as np

from .. import SAMPLE_RATE_HZ
from ..errors import GeneratorFailed, InvalidParameter
from . import synth
from .motion import ANIMAL_CLASSES, VEHICLE_CLASSES, Motion
from ..vocabulary import Vocabulary, builtin_vocabulary

ENTRY_POINT_GROUP = "stereofoley.generators"


@dataclass(frozen=True, eq=False)
class GeneratorRequest:
    """What a generator is asked for. Times are seconds from the start of the render."""

    prompt: str  # e.g. "a car passing by, moving fast"
    class_name: str
    n_samples: int
    seed: int
    media_path: str | None  # the video, when there is one
    media_start_s: float  # media time of the render's first sample
    times_s: np.ndarray  # the object's track: sample times ...
    xyxy_norm: np.ndarray  # ... its box (n, 4), 0..1 of the frame
    distance_m: np.ndarray
    speed_m_s: np.ndarray  # audio-rate speed estimate (see motion.py)
    sample_rate_hz: int = SAMPLE_RATE_HZ

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate_hz


Generator = Callable[[GeneratorRequest], Any]


def available_generators() -> dict[str, str]:
    """Generator name → where it comes from ('module:attr'), built-ins included."""
    found = {"example": f"{__name__}:example_generator"}
    found.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return found


def load_generator(name: str) -> Generator:
    """The generator registered under `name` (installed entry points take precedence over the built-in)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                loaded = ep.load()
            except Exception as exc:  # a plug-in that cannot even be imported
                raise GeneratorFailed(f"generator {name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") from exc
            if not callable(loaded):
                raise GeneratorFailed(f"generator {name!r} ({ep.value}) is not callable")
            return loaded
    if name == "example":
        return example_generator
    raise InvalidParameter(f"no generator named {name!r}; installed: {', '.join(sorted(available_generators()))}")


def run_generator(name: str, generate: Generator, request: GeneratorRequest) -> np.ndarray:
    """Call a generator and check what it returns; anything but finite mono of the right length is an error."""
    try:
        result = generate(request)
    except Exception as exc:  # the plug-in's own failure, reported with its name
        raise GeneratorFailed(f"generator {name!r} raised {type(exc).__name__}: {exc}") from exc
    try:
        audio = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeneratorFailed(f"generator {name!r} returned {type(result).__name__}, not an array of samples") from None
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.shape != (request.n_samples,):
        raise GeneratorFailed(f"generator {name!r} returned shape {audio.shape}; expected ({request.n_samples},) at 48 kHz")
    bad = np.flatnonzero(~np.isfinite(audio))
    if bad.size:
        raise GeneratorFailed(f"generator {name!r} returned {bad.size} NaN/inf samples (first at sample {bad[0]})")
    return audio.astype(np.float32)


def prompt_for(class_name: str, motion: Motion, vocabulary: Vocabulary | None = None) -> str:
    """A plain-words prompt from the class vocabulary's prompt and the motion: 'a car engine, moving fast',
    'footsteps of a person moving slowly', 'a dog barking'; an unmapped class: 'a <class> standing still'."""
    mean = float(np.mean(motion.speed_m_s)) if motion.n_samples else 0.0
    pace = "standing still" if mean < 0.3 else "moving slowly" if mean < 3.0 else "moving fast"
    return (vocabulary or builtin_vocabulary()).category(class_name).prompt_text(pace)


def example_generator(request: GeneratorRequest) -> np.ndarray:
    """The built-in offline example: the synth voice whose class word appears first in the prompt."""
    prompt = request.prompt.lower()
    known = (*VEHICLE_CLASSES, *ANIMAL_CLASSES, "bird", "person", "footsteps")
    hits = sorted((prompt.find(word), word) for word in known if word in prompt)
    word = hits[0][1] if hits else request.class_name
    class_name = "person" if word == "footsteps" else word
    motion = Motion(
        speed_m_s=np.asarray(request.speed_m_s, dtype=np.float32), presence=np.ones(request.n_samples, dtype=np.float32)
    )
    return synth.synth_source(class_name, motion, np.random.default_rng(request.seed))
