"""One clip, one path: analyse → choose objects → make sources → mix → write.

`render_clip_files` is what `stereofoley clip`, every clip of `stereofoley render` and OSC clips/timeline jobs
call; they differ only in the `ClipRequest` they build (media range, record length, BWF time reference) and the
paths they choose. The picture is analysed once and each object's sound is made once, at the length the record
needs, so a warped or frozen clip costs no more than a normal one and a generator runs once per object.

The data that leaves this module (the clip result JSON) is described in docs/contracts.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import SAMPLE_RATE_HZ, __version__
from ..audio import check_mono, read_audio, write_bwf
from ..config import user_cache_dir
from ..errors import InvalidAudio, InvalidParameter, OutputExists
from ..files import check_output_path, glob_escape, safe_name
from ..spatial.automation import GAIN_DB_MAX_ERROR, PAN_MAX_ERROR, Curve, curves_for
from ..spatial.loudness import integrated_lufs, loudness_blocks, normalize_with_gain, true_peak_level
from ..spatial.mix import SoundObject, peak_dbfs, render_parts
from ..spatial.trajectory import Trajectory
from ..timeline.request import ClipRequest
from ..options import RenderOptions
from ..vision import Analysis, ObjectTrack, analyze_video, probe, write_tracks
from ..vision.scene import allocate_voices
from ..vision.analyze import coverage_text
from ..vision.decode import resolve_range
from ..sources import make_source_for
from ..sources.user_sounds import parse_sound_overrides
from .corrections import chosen_by_user, on_range, tracks_file_for

Progress = Callable[[float], None]
SourceFor = Callable[[ObjectTrack, int], np.ndarray]

NEUTRAL_LEVEL_DBFS = -20.0
NEUTRAL_BAND_HZ = (40.0, 16000.0)
# A freeze frame shows one media frame; trackers need motion, so this much picture around it is analysed.
FREEZE_CONTEXT_S = 0.5


@dataclass(frozen=True, eq=False)
class ClipMix:
    """A clip's stereo mix and what it is made of. stereo: (2, request.n_samples) float32 at 48 kHz; objects'
    sources and trajectories are on the same clock (0 = the first sample of the request's audio, head included).
    analysis: the vision result when its times line up with that clock (normal speed), else None."""

    stereo: np.ndarray
    objects: tuple[SoundObject, ...] = ()
    analysis: Analysis | None = None
    detector: str = ""
    # What the stereo is the sum of (spatial/mix.py: MixParts), on the same clock: stems[k] is objects[k]'s source
    # as it reaches its gains; diffuse the shared diffuse field. Empty/None from mixers that do not keep them
    # (then the objects' sources are the stems and no diffuse stem is written).
    stems: tuple[np.ndarray, ...] = ()
    diffuse: np.ndarray | None = None
    # The fraction of the analysed media range that had picture (truncated media: < 1), and why, for the user.
    analysed_fraction: float = 1.0
    warning: str = ""


ClipMixer = Callable[[ClipRequest, RenderOptions, "Progress | None"], ClipMix]


@dataclass(frozen=True)
class ClipResult:
    """The files one clip request produced, and how each object sounds in them (curves on the record clock)."""

    request: ClipRequest
    wav: Path
    objects: tuple[dict, ...]
    peak_dbfs: float
    loudness_lufs: float | None
    detector: str
    tracks: Path | None = None
    gain_db: float = 0.0  # the loudness gain the mix, its stems and its diffuse stem carry (before the limiter)
    diffuse_wav: Path | None = None  # the diffuse field's stereo stem
    stems: tuple[Path, ...] = ()  # the objects' stems, in object order
    loudness_blocks: np.ndarray | None = None  # the record's BS.1770 gating blocks before any loudness gain
    true_peak_dbtp: float | None = None  # edit scope: the mix's true peak before any loudness gain (None: unknown)
    analysed_fraction: float = 1.0  # of the media range, the part whose picture decoded (ClipMix)
    warning: str = ""  # set when analysed_fraction < 1: what is missing

    def to_json(self) -> dict[str, Any]:
        r = self.request
        out = {
            "id": r.clip_id, "name": r.name, "wav": str(self.wav.resolve()), "sample_rate_hz": SAMPLE_RATE_HZ,
            "samples": r.record_samples, "duration_s": r.record_samples / SAMPLE_RATE_HZ,
            "media": str(r.media_path), "media_start_s": r.media_start_s, "media_end_s": r.media_end_s,
            "speed": r.speed, "detector": self.detector, "peak_dbfs": round(self.peak_dbfs, 2),
            "loudness_lufs": None if self.loudness_lufs is None else round(self.loudness_lufs, 2),
            "loudness_gain_db": round(self.gain_db, 4), "analysed_fraction": round(self.analysed_fraction, 4),
            "objects": list(self.objects),
        }
        if self.warning:
            out["warning"] = self.warning
        if self.diffuse_wav is not None:
            out["diffuse_wav"] = str(self.diffuse_wav.resolve())
        if self.tracks is not None:
            out["tracks"] = str(self.tracks.resolve())
        return out


# ------------------------------------------------------------------------------------------------ requests
def request_for_media(media_path: str | Path, *, start_s: float | None = None, end_s: float | None = None,
                      clip_id: str = "clip", name: str | None = None) -> ClipRequest:
    """A request for [start_s, end_s) of a media file at normal speed (None: the media's start / end)."""
    info = probe(media_path)
    start, end = resolve_range(info, start_s, end_s)
    n = int(round((end - start) * SAMPLE_RATE_HZ))
    return ClipRequest(clip_id=clip_id, name=name or Path(media_path).stem, media_path=Path(media_path),
                       media_start_s=start, media_end_s=end, speed=1.0, n_samples=n)


def render_media(media_path: str | Path, *, start_s: float | None = None, end_s: float | None = None,
                 options: RenderOptions = RenderOptions(), source_for: SourceFor | None = None,
                 progress: Progress | None = None) -> ClipMix:
    """Python API: the mix of [start_s, end_s) of a media file, in memory (nothing written)."""
    return mix_clip(request_for_media(media_path, start_s=start_s, end_s=end_s), options, progress,
                    source_for=source_for)


# ------------------------------------------------------------------------------------------------ mixing
def mix_clip(request: ClipRequest, options: RenderOptions, progress: Progress | None = None, *,
             source_for: SourceFor | None = None) -> ClipMix:
    """The vision pipeline: analyse the picture once, choose the objects, make each sound once at the request's
    length, place it, mix. Warped clips are analysed over the media they show and retimed to the record;
    a freeze holds the placement at the frozen instant. source_for(track, n_samples) replaces the options'
    sources (Python API: any callable giving mono 48 kHz float32 of exactly n_samples)."""
    start_s, end_s, frozen_at_s = request.media_start_s, request.media_end_s, None
    if request.speed == 0:
        frozen_at = request.media_start_s
        start_s = max(0.0, frozen_at - FREEZE_CONTEXT_S)
        end_s = max(min(probe(request.media_path).duration_s, frozen_at + FREEZE_CONTEXT_S), request.media_end_s)
        frozen_at_s = frozen_at - start_s
    source_for = source_for or source_for_request(request, options)  # a provider that cannot serve fails first
    cache_dir = (options.cache_dir or user_cache_dir("vision")) if options.cache else None
    edited = tracks_file_for(request.media_path, options.tracks)  # the user's tracks.json instead of analysing
    if edited is not None:
        analysis = on_range(edited, start_s, end_s, f"tracks file for {request.media_path.name}")
    else:
        analysis = analyze_video(
            request.media_path, start_s=start_s, end_s=end_s, options=options.detector_options,
            tracker=options.tracker, cache_dir=cache_dir,
            progress=(lambda f: progress(0.8 * f)) if progress else None,
        )
    cuts = [c - analysis.start_s for c in analysis.cuts_s]
    # N voices given moment by moment; distances from the providers' class vocabulary (the user's --class-map)
    vocabulary = getattr(source_for, "vocabulary", None)
    candidates = chosen_by_user(analysis.tracks, options.include, options.exclude)  # the user's corrections
    plan = allocate_voices(candidates, options.max_objects, duration_s=analysis.duration_s, cuts_s=cuts,
                           vocabulary=vocabulary)
    n = request.n_samples
    objects = []
    for voiced in plan.objects:
        track = voiced.track
        trajectory = retime(voiced.trajectory(options.settings), request.speed, frozen_at_s or 0.0)
        source = _checked_source(source_for(track, n), n, track)
        provider = getattr(source_for, "choices", {}).get(int(track.track_id), "neutral")
        provenance = getattr(source_for, "provenance", {}).get(int(track.track_id))
        if provenance is None and source_for is neutral_source:
            provenance = {"voice": "neutral pink noise", "seed": int(track.track_id)}
        objects.append(SoundObject(f"{track.class_name}-{track.track_id}", source, trajectory,
                                   class_name=track.class_name, track_id=int(track.track_id), provider=provider,
                                   provenance=dict(provenance or {})))
    if progress:
        progress(0.95)
    parts = render_parts(objects, options.settings, n)
    aligned = request.speed == 1.0 and request.head_samples == 0  # tracks.json times match the written audio
    fraction = analysis.analysed_fraction
    warning = "" if fraction >= 1.0 else f"{request.media_path}: {coverage_text(analysis)}"
    return ClipMix(parts.stereo, tuple(objects), analysis if aligned else None, analysis.detector,
                   stems=parts.stems, diffuse=parts.diffuse, analysed_fraction=fraction, warning=warning)


def source_for_request(request: ClipRequest, options: RenderOptions):
    """The `source_for(track, n_samples)` the options name, for this clip (clip-audio reads its media; it follows
    options.follow, else the first object asked for, which is the most salient: objects are asked in rank order)."""
    if options.neutral:
        return neutral_source

    return make_source_for(options.sources, libraries=options.libraries, seed=options.seed,
                           media_path=request.media_path, media_start_s=request.media_start_s,
                           class_map=options.class_map, follow=options.follow,
                           prompt=options.prompt, hfov_deg=options.settings.hfov_deg,
                           sounds=parse_sound_overrides(options.sounds, options.sound_map))


def neutral_source(track: ObjectTrack, n_samples: int) -> np.ndarray:
    """The test sound of an object: pink noise (−3 dB/octave, 40 Hz–16 kHz) at −20 dBFS RMS.

    Broadband so that panning, distance and air absorption are all audible, steady so that level changes come
    from the scene rather than the source; seeded by the track id, so a render is reproducible and two objects
    are uncorrelated.
    """
    if n_samples <= 0:
        return np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(int(track.track_id))
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / SAMPLE_RATE_HZ)
    band = (freqs >= NEUTRAL_BAND_HZ[0]) & (freqs <= NEUTRAL_BAND_HZ[1])
    spectrum *= np.where(band, 1.0 / np.sqrt(np.maximum(freqs, 1.0)), 0.0)
    noise = np.fft.irfft(spectrum, n_samples)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return (noise * (10 ** (NEUTRAL_LEVEL_DBFS / 20.0) / rms)).astype(np.float32)


def retime(trajectory: Trajectory, speed: float, frozen_at_s: float = 0.0) -> Trajectory:
    """Media-time trajectory -> record time: times / speed; speed 0 (a freeze) holds the placement at
    frozen_at_s (seconds on the trajectory's own clock)."""
    if speed < 0:
        raise InvalidParameter(f"speed={speed} must not be negative")
    if speed == 1.0:
        return trajectory
    if speed == 0:
        at = lambda values: float(np.interp(frozen_at_s, trajectory.times_s, values))
        return Trajectory.constant(pan=at(trajectory.pan), distance_m=at(trajectory.distance_m),
                                   gain_db=at(trajectory.gain_db))
    return replace(trajectory, times_s=trajectory.times_s / speed)


def _checked_source(source, n: int, track: ObjectTrack) -> np.ndarray:
    where = f"source for track {track.track_id} ({track.class_name})"
    try:
        arr = check_mono(source)
    except InvalidAudio as exc:
        raise InvalidAudio(f"{where}: {exc}; expected ({n},) mono samples at 48 kHz") from None
    if arr.size != n:
        raise InvalidAudio(f"{where} has shape {arr.shape}; expected ({n},) mono samples at 48 kHz")
    return arr


# ------------------------------------------------------------------------------------------------ files
def stem_path(wav: Path, index: int, name: str) -> Path:
    """Where object `index` (from 1) of a mix goes: beside it, `<mix>.<index:02d>.<object name>.wav`; the
    diffuse field is index 0 (`<mix>.00.diffuse.wav`)."""
    return wav.with_name(f"{wav.stem}.{index:02d}.{safe_name(name, 60)}.wav")


def write_stem(path: Path, audio: np.ndarray, request: ClipRequest, subtype: str, overwrite: bool) -> Path:
    """A stem as a BWF at the clip's time reference. Stems carry the mix's loudness gain, so one can pass full
    scale (a far object in a quiet mix); such a stem is written as 32-bit float rather than clipped."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size and float(np.max(np.abs(audio))) >= 1.0:
        subtype = "FLOAT"
    return write_bwf(path, audio, time_reference_samples=request.time_reference_samples,
                     description=f"StereoFoley {__version__} stem", subtype=subtype, overwrite=overwrite)


def check_outputs_free(wav: Path, tracks: Path | None, overwrite: bool) -> None:
    """Refuse before any work when the mix, its tracks.json or any of its stems already exist (overwrite=False),
    or when an output names a folder or a name too long to create (always)."""
    for p in (wav, tracks):
        if p is not None:
            check_output_path(p)
    if overwrite:
        return
    taken = [p for p in (wav, tracks) if p is not None and p.exists()]
    taken += sorted(wav.parent.glob(f"{glob_escape(wav.stem)}.[0-9][0-9].*.wav")) if wav.parent.is_dir() else []
    if taken:
        raise OutputExists(f"{taken[0]} already exists; set overwrite=True to replace it")


def render_clip_files(request: ClipRequest, options: RenderOptions, wav: str | Path, *,
                      tracks: str | Path | None = None, mixer: ClipMixer | None = None,
                      progress: Progress | None = None, defer_loudness: bool = False) -> ClipResult:
    """Render one clip request to its files: the mix (a BWF WAV at request.time_reference_samples, the record
    range only), each object's stem beside it (options.stems) and the diffuse field's stereo stem, tracks.json
    when asked for and the analysis lines up, and the result with every object's pan/gain curves on the record
    clock. Stem k under its curves (and the pan law), plus the diffuse stem, adds up to the mix before its limiter.

    defer_loudness: write the mix and stems without loudness gain and keep the clip's gating blocks in the
    result, for one gain over a whole edit (usecases/edit_loudness.py)."""
    wav = Path(wav)
    tracks = Path(tracks) if tracks is not None else None
    check_outputs_free(wav, tracks, options.overwrite)  # fail before rendering, never after an hour of work
    mix = (mixer or mix_clip)(request, options, progress)
    stereo = np.asarray(mix.stereo, dtype=np.float32)
    if stereo.shape != (2, request.n_samples):
        raise InvalidAudio(f"clip {request.name} ({request.clip_id}): the mix has shape {stereo.shape}, "
                           f"expected (2, {request.n_samples})")
    record = slice(request.head_samples, request.head_samples + request.record_samples)
    stereo = stereo[:, record]
    loudness, gain_db, blocks, true_peak = None, 0.0, None, None
    if defer_loudness:  # what the edit's one gain is found from (usecases/edit_loudness.py)
        blocks = loudness_blocks(stereo) if stereo.shape[1] else np.zeros(0)
    elif options.loudness_lufs is not None:
        stereo, gain_db = normalize_with_gain(stereo, options.loudness_lufs, options.true_peak_dbtp)
        loudness = integrated_lufs(stereo)
    gain = np.float32(10.0 ** (gain_db / 20.0))
    subtype = options.settings.output_subtype
    write_bwf(wav, stereo, time_reference_samples=request.time_reference_samples,
              description=f"StereoFoley {__version__}", subtype=subtype, overwrite=options.overwrite)
    if defer_loudness:  # of the file's samples (its PCM rounding included): the edit's gain trusts it as it is
        true_peak = true_peak_level(read_audio(wav)[0]) if stereo.shape[1] else -math.inf
    objects, stems = [], []
    head_s = request.head_samples / SAMPLE_RATE_HZ
    # curves end at the exact record length (the host's item length), not on the WAV's last sample
    duration_s = request.record_duration_s or request.record_samples / SAMPLE_RATE_HZ
    for k, obj in enumerate(mix.objects, start=1):
        entry = obj.to_json()
        entry["trajectory"] = [{**point, "t": point["t"] - head_s} for point in entry["trajectory"]]  # record clock
        curves = curves_for(obj.trajectory, options.settings)
        entry["curves"] = {key: record_curve(curves[key], head_s, duration_s).simplified(error).to_json()
                           for key, error in (("pan", PAN_MAX_ERROR), ("gain_db", GAIN_DB_MAX_ERROR))}
        if options.stems:
            path = stem_path(wav, k, obj.name)
            stem = mix.stems[k - 1] if len(mix.stems) == len(mix.objects) else obj.source
            write_stem(path, np.asarray(stem, dtype=np.float32)[None, record] * gain, request, subtype,
                       options.overwrite)
            entry["source_wav"] = str(path.resolve())
            stems.append(path)
        objects.append(entry)
    diffuse_wav = None
    if options.stems and mix.diffuse is not None:
        diffuse_wav = write_stem(stem_path(wav, 0, "diffuse"), np.asarray(mix.diffuse, dtype=np.float32)[:, record]
                                 * gain, request, subtype, options.overwrite)
    written_tracks = None
    if tracks is not None and mix.analysis is not None:
        written_tracks = write_tracks(mix.analysis, tracks, overwrite=options.overwrite)
    result = ClipResult(request, wav, tuple(objects), peak_dbfs(stereo), loudness, mix.detector, written_tracks,
                        gain_db=gain_db, diffuse_wav=diffuse_wav, stems=tuple(stems), loudness_blocks=blocks,
                        true_peak_dbtp=true_peak, analysed_fraction=mix.analysed_fraction, warning=mix.warning)
    finished = _ON_FINISHED.get()
    if finished is not None:  # after every file of the clip is in place: a kill after this keeps the clip
        finished(result, options, defer_loudness)
    if progress:
        progress(1.0)
    return result


OnFinished = Callable[[ClipResult, RenderOptions, bool], None]
# Who hears of each clip whose files are all written (usecases/resume.py records it for `--resume`). A context
# variable, so a worker thread run in a copy of the context (files.confined_call) reports to the same listener.
_ON_FINISHED: contextvars.ContextVar[OnFinished | None] = contextvars.ContextVar("stereofoley_on_finished",
                                                                                 default=None)


def finished_listener() -> OnFinished | None:
    """The listener `on_finished` set in this context (parallel renders call it on the client as results arrive)."""
    return _ON_FINISHED.get()


@contextlib.contextmanager
def on_finished(listener: OnFinished | None) -> Iterator[None]:
    """Within the block, `render_clip_files` calls listener(result, options, defer_loudness) for each clip it
    finishes, right after its last file is written."""
    token = _ON_FINISHED.set(listener)
    try:
        yield
    finally:
        _ON_FINISHED.reset(token)


def record_curve(curve: Curve, offset_s: float, duration_s: float) -> Curve:
    """A curve over the request's audio -> the record window [0, duration_s]: shifted by the head handle,
    cut at both ends with interpolated end points."""
    t = curve.times_s - offset_s
    inside = (t > 0) & (t < duration_s)
    times = np.concatenate([[0.0], t[inside], [duration_s]])
    values = np.concatenate([[curve.value_at(offset_s)], curve.values[inside], [curve.value_at(offset_s + duration_s)]])
    return Curve(times, values)
