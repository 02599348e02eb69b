"""Render results as hosts need them: per clip the stereo mix, where it sits on the timeline, and per object its
mono source with pan and gain curves.

Reads the two result shapes the engine writes: a job status file (contract 4: {"results": [{"id", "wav",
"duration_s", "record_start_frame"?, "objects": [...]}]}) and a timeline render report ({"clips": [{"id", "name",
"wav", "record_start_sample", "samples", "objects": [...]}]}). Object entries: {"name", "class", "source_wav"? (or
the older "stem_wav"), "curves": {"pan": [[t, v]...], "gain_db": [...]}}, curve times in seconds from the clip start.
Relative paths are relative to the result file's folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile

from . import SAMPLE_RATE_HZ
from .spatial.automation import Curve
from .errors import InvalidAudio, InvalidJob, InvalidParameter, MediaNotFound
from .files import read_json


@dataclass(frozen=True)
class ResultObject:
    name: str
    class_name: str
    pan: Curve  # -1 left .. +1 right, times from the clip start
    gain_db: Curve
    source_wav: Path | None = None  # the object's mono source (a "stems" render), placed by the curves


@dataclass(frozen=True)
class ResultClip:
    id: str
    name: str
    wav: Path  # the stereo mix, 48 kHz
    record_start_sample: int  # where the clip starts on the host's timeline (sample 0 = timeline start)
    samples: int  # the mix's length
    objects: tuple[ResultObject, ...]

    @property
    def record_start_s(self) -> float:
        return self.record_start_sample / SAMPLE_RATE_HZ

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE_HZ


def load_result(path: str | Path, *, record_start_s: float | None = None) -> tuple[ResultClip, ...]:
    """The clips of a result file. `record_start_s` places a job result that has no timeline position (a
    `clips` job from a host item has none); a timeline report's own positions are kept."""
    path = Path(path)
    data = read_json(path, what="result file", error=InvalidJob, missing=MediaNotFound)
    if not isinstance(data, dict):
        raise InvalidJob(f"result file {path} must hold a JSON object with \"clips\" or \"results\"")
    entries = data.get("clips") if isinstance(data.get("clips"), list) else data.get("results")
    if not isinstance(entries, list) or not entries:
        raise InvalidJob(f"result file {path} holds no clips: expected a render report (\"clips\") or a job status (\"results\")")
    clips = [_clip(entry, i, path, record_start_s) for i, entry in enumerate(entries)]
    return tuple(sorted(clips, key=lambda c: (c.record_start_sample, c.id)))


def _clip(entry: Any, index: int, path: Path, record_start_s: float | None) -> ResultClip:
    where = f"{path} clip {index}"
    if not isinstance(entry, dict) or not entry.get("wav"):
        raise InvalidJob(f"{where} has no \"wav\"")
    wav = _resolve(path.parent, entry["wav"])
    if not wav.is_file():
        raise MediaNotFound(f"{where}: mix WAV not found: {wav}")
    try:
        info = soundfile.info(str(wav))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise InvalidAudio(f"{where}: {wav} is not a readable WAV ({exc})") from None
    if info.samplerate != SAMPLE_RATE_HZ:
        raise InvalidAudio(f"{where}: {wav} is {info.samplerate} Hz; results are {SAMPLE_RATE_HZ} Hz")
    if "record_start_sample" in entry:
        start = int(entry["record_start_sample"])
    elif "record_start_s" in entry:
        start = int(round(float(entry["record_start_s"]) * SAMPLE_RATE_HZ))
    else:
        start = int(round((record_start_s or 0.0) * SAMPLE_RATE_HZ))
    if start < 0:
        raise InvalidParameter(f"{where}: record start {start} samples is before the timeline start")
    objects = []
    for k, obj in enumerate(entry.get("objects") or []):
        try:
            curves = obj["curves"]
            source = obj.get("source_wav") or obj.get("stem_wav")
            objects.append(ResultObject(
                name=str(obj.get("name") or f"object {k + 1}"), class_name=str(obj.get("class", "")),
                pan=Curve.from_json(curves["pan"]), gain_db=Curve.from_json(curves["gain_db"]),
                source_wav=_resolve(path.parent, source) if source else None,
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidJob(f"{where} object {k} is malformed: {exc}") from None
        if not all(math.isfinite(v) and -1.0 <= v <= 1.0 for v in objects[-1].pan.values):
            raise InvalidJob(f"{where} object {k}: pan values must lie in -1..1")
    return ResultClip(id=str(entry.get("id", index)), name=str(entry.get("name") or entry.get("id") or wav.stem),
                      wav=wav, record_start_sample=start, samples=int(info.frames), objects=tuple(objects))


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p
