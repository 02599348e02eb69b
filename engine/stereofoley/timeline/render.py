"""`render_timeline`: a timeline in, one frame-exact Foley WAV per selected clip and the editor's files out.

The clip renderer is a parameter: the default runs the vision pipeline (`stereofoley.pipeline.render_clip`);
tests pass their own to see exactly which media seconds each clip asks for.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
import opentimelineio as otio

from .. import SAMPLE_RATE_HZ, __version__
from ..audio import write_wav
from ..spatial.automation import GAIN_DB_MAX_ERROR, PAN_MAX_ERROR, Curve, curves_for
from ..config import SpatialSettings
from ..errors import OutputExists, StereoFoleyError, UnsupportedTimeline
from ..files import write_text_atomic
from ..spatial.trajectory import Trajectory
from .aaf import write_aaf
from .fcp_xml import write_fcp_xml
from .media import MediaSearch, file_offset_s
from .output import FoleyClip, foley_clips_in, output_timeline, write_bwf, write_otio
from .plan import PictureClip, Selection, global_start_s, nothing_selected, picture_clips, read_timeline, select, timeline_rate
from .relink import resolve_all
from .timemap import rate_fraction, rational, sample_index, sample_span

# Automation sent to hosts is simplified (Ramer-Douglas-Peucker) within these errors.


@dataclass(frozen=True)
class ClipRequest:
    """What a clip renderer is asked for. Media seconds are file seconds (0 = first frame of the file).
    The audio spans the record range plus the transition handles: n_samples = head + record + tail."""

    clip_id: str
    name: str
    media_path: Path
    media_start_s: float
    media_end_s: float
    speed: float  # media seconds per record second; 0: a freeze frame (media range is one frame)
    n_samples: int
    head_samples: int
    tail_samples: int
    settings: SpatialSettings


@dataclass(frozen=True, eq=False)
class ObjectAudio:
    name: str
    class_name: str
    source: np.ndarray  # mono (n_samples,)
    trajectory: Trajectory  # times in seconds from the start of the request's audio


@dataclass(frozen=True, eq=False)
class ClipAudio:
    stereo: np.ndarray  # (2, n_samples)
    objects: tuple[ObjectAudio, ...] = ()
    analysis: Any = None  # the vision Analysis, when its times line up with the audio (written as tracks.json)


ClipRenderer = Callable[[ClipRequest], ClipAudio]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class RenderOptions:
    settings: SpatialSettings = field(default_factory=SpatialSettings)
    media: MediaSearch = field(default_factory=MediaSearch)
    detector: str = "auto"
    weights: str | None = None
    max_objects: int = 4
    sources: str = "synth"  # a stereofoley.sources spec (fallback order), or "neutral": the pipeline's test noise
    libraries: tuple[str, ...] = ()  # folders for sources "library"
    class_map: str | None = None  # user file overriding the class -> UCS map
    seed: int = 0  # seed of the sources' random choices
    loudness_lufs: float | None = None  # None: each clip's mix as rendered; else normalised to this (BS.1770)
    true_peak_dbtp: float = -1.0  # true-peak ceiling when normalising
    stems: bool = True  # write each object's mono source (the REAPER project needs them)
    overwrite: bool = False
    write_xml: bool = True
    write_rpp: bool = True
    write_aaf: bool = True  # the Foley lanes as AAF for Pro Tools (timeline/aaf.py)
    xml_stems: bool = False  # FCP XML: one audio track per object with keyframed pan/level (timeline/fcp_xml.py)
    renderer: ClipRenderer | None = None  # None: the vision pipeline


def render_timeline(path, out_dir, *, selection: Selection = Selection(), options: RenderOptions = RenderOptions(),
                    progress: Progress | None = None) -> dict[str, Any]:
    """Render every selected clip of the timeline at `path` into `out_dir` and return the JSON report.

    Raises UnsupportedTimeline when the timeline cannot be read, nothing is selected, or no selected clip can
    be rendered. Clips that cannot be rendered (missing media, generators, analysis errors) are listed under
    "skipped" with their reason and the report's status is "partial".
    """
    t_start = time.perf_counter()
    path, out_dir = Path(path), Path(out_dir)
    timeline = read_timeline(path)
    rate = timeline_rate(timeline)
    clips = picture_clips(timeline)
    chosen = select(timeline, clips, selection)
    if not chosen:
        raise UnsupportedTimeline(nothing_selected(path, timeline, clips, _describe(selection)))
    search = dataclasses.replace(options.media, timeline_dir=path.parent.resolve())
    stem = _safe(path.name.split(".")[0]) or "timeline"
    outputs = {"otio": out_dir / f"{stem}.stereofoley.otio", "report": out_dir / f"{stem}.stereofoley.json"}
    if options.write_xml:
        outputs["xml"] = out_dir / f"{stem}.stereofoley.xml"
    if options.write_rpp:
        outputs["rpp"] = out_dir / f"{stem}.stereofoley.rpp"
    if options.write_aaf:
        outputs["aaf"] = out_dir / f"{stem}.stereofoley.aaf"

    skipped: list[dict[str, str]] = []
    planned: list[tuple[PictureClip, Path]] = []
    relinked = resolve_all(chosen, search)  # media roots indexed once; relinked references updated
    for c in chosen:
        found = relinked[c.id]
        if found.path is None:
            skipped.append({"id": c.id, "name": c.name, "reason": found.reason})
        else:
            planned.append((c, found.path))
    if not planned:
        raise UnsupportedTimeline(f"{path}: none of the {len(chosen)} selected clips can be rendered: "
                                  + "; ".join(f"{s['name']} ({s['id']}): {s['reason']}" for s in skipped))
    wav_paths = {c.id: out_dir / f"{_safe(c.name)}_{c.id.replace('.', '-')}.wav" for c, _ in planned}
    if not options.overwrite:  # fail before rendering anything, never after an hour of work
        for target in list(outputs.values()) + list(wav_paths.values()):
            if target.exists():
                raise OutputExists(f"{target} already exists; pass --overwrite to replace it")
    t_planned = time.perf_counter()

    renderer = options.renderer or vision_renderer(options)
    g0 = global_start_s(timeline)
    rendered: list[FoleyClip] = []
    report_clips: list[dict[str, Any]] = []
    for k, (c, media_path) in enumerate(planned):
        if progress:
            progress(k / len(planned), f"clip {k + 1}/{len(planned)}: {c.name}")
        request = clip_request(c, media_path, options.settings)
        try:
            audio = renderer(request)
            entry, summary = _write_clip(c, request, audio, wav_paths[c.id], g0, rate, media_path, options)
        except (StereoFoleyError, OSError, RuntimeError, ValueError) as exc:
            skipped.append({"id": c.id, "name": c.name, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        rendered.append(entry)
        report_clips.append(dict(summary, relink=relinked[c.id].to_report()))
    if not rendered:
        raise UnsupportedTimeline(f"{path}: no clip could be rendered: "
                                  + "; ".join(f"{s['name']} ({s['id']}): {s['reason']}" for s in skipped))
    t_rendered = time.perf_counter()

    # Re-rendering some clips keeps the Foley clips an earlier run wrote for the others.
    kept = []
    if outputs["otio"].exists():
        done = {e.picture_id for e in rendered}
        kept = [e for e in foley_clips_in(otio.adapters.read_from_file(str(outputs["otio"])))
                if e.picture_id not in done and e.wav.is_file()]
    result = output_timeline(timeline, kept + rendered, rate)
    write_otio(result, outputs["otio"], overwrite=options.overwrite)
    xml_kind, notes = None, []
    if "xml" in outputs:
        xml = write_fcp_xml(result, [c for c, _ in planned], outputs["xml"], overwrite=options.overwrite,
                            stems=options.xml_stems and options.stems)
        xml_kind, notes = xml.content, notes + list(xml.notes)
    if "rpp" in outputs:
        write_text_atomic(outputs["rpp"], _rpp_text(result), overwrite=options.overwrite)
    if "aaf" in outputs:
        notes += list(write_aaf(result, outputs["aaf"], overwrite=options.overwrite).notes)
    t_written = time.perf_counter()

    report = {
        "ok": True,
        "status": "partial" if skipped else "ok",
        "timeline": str(path.resolve()),
        "timeline_out": str(outputs["otio"].resolve()),
        "outputs": {k: str(v.resolve()) for k, v in outputs.items()},
        "fcp_xml_content": xml_kind,
        "notes": notes,
        "rate": rate,
        "global_start_s": float(g0),
        "clips": report_clips,
        "kept_from_earlier_run": [e.picture_id for e in kept],
        "skipped": skipped,
        "timings": {
            "read_plan_s": round(t_planned - t_start, 4),
            "render_s": round(t_rendered - t_planned, 4),
            "write_s": round(t_written - t_rendered, 4),
            "total_s": round(t_written - t_start, 4),
        },
    }
    write_text_atomic(outputs["report"], json.dumps(report, indent=2), overwrite=options.overwrite)
    if progress:
        progress(1.0, "done")
    return report


def clip_request(c: PictureClip, media_path: Path, settings: SpatialSettings) -> ClipRequest:
    """The renderer's request for a picture clip: file seconds (handles included) and exact sample counts."""
    offset = file_offset_s(c.clip)
    media_start, media_end = c.media_range_s(with_handles=True)
    head, tail = (c.head_s, c.tail_s) if c.speed > 0 else (Fraction(0), Fraction(0))
    first, n_record = sample_span(c.record_start_s, c.record_end_s)
    head_n = first - sample_index(c.record_start_s - head)
    tail_n = sample_index(c.record_end_s + tail) - (first + n_record)
    return ClipRequest(
        clip_id=c.id, name=c.name, media_path=media_path,
        media_start_s=float(media_start - offset), media_end_s=float(media_end - offset),
        speed=float(c.speed), n_samples=head_n + n_record + tail_n, head_samples=head_n, tail_samples=tail_n,
        settings=settings,
    )


def _write_clip(c: PictureClip, request: ClipRequest, audio: ClipAudio, wav: Path, g0: Fraction, rate: float,
                media_path: Path, options: RenderOptions) -> tuple[FoleyClip, dict[str, Any]]:
    n = request.n_samples - request.head_samples - request.tail_samples
    stereo = np.asarray(audio.stereo, dtype=np.float32)
    if stereo.shape != (2, request.n_samples):
        raise UnsupportedTimeline(f"clip renderer returned shape {stereo.shape}, expected (2, {request.n_samples})")
    trim = slice(request.head_samples, request.head_samples + n)
    first = sample_index(c.record_start_s)
    write_bwf(wav, stereo[:, trim], time_reference_samples=sample_index(g0 + c.record_start_s),
              description=f"StereoFoley {c.name} ({c.id})", subtype=options.settings.output_subtype,
              overwrite=options.overwrite)
    head_s = request.head_samples / SAMPLE_RATE_HZ
    objects = []
    for k, obj in enumerate(audio.objects):
        curves = curves_for(obj.trajectory, options.settings)
        entry: dict[str, Any] = {"name": obj.name, "class": obj.class_name, "curves": {}}
        for key, error in (("pan", PAN_MAX_ERROR), ("gain_db", GAIN_DB_MAX_ERROR)):
            entry["curves"][key] = record_curve(curves[key], head_s, float(c.record_duration_s)).simplified(error).to_json()
        if options.stems:
            stem_path = wav.with_name(f"{wav.stem}.obj{k + 1}.wav")
            write_wav(stem_path, np.asarray(obj.source, dtype=np.float32)[None, trim], subtype=options.settings.output_subtype,
                      overwrite=options.overwrite)
            entry["source_wav"] = str(stem_path.resolve())
        objects.append(entry)
    tracks_json = None
    if audio.analysis is not None:  # beside the WAV, where `stereofoley report` looks for boxes
        from ..vision import write_tracks

        tracks_json = write_tracks(audio.analysis, wav.with_suffix(".tracks.json"), overwrite=options.overwrite)
    offset = file_offset_s(c.clip)
    media_start, media_end = c.media_range_s()
    record_range = otio.opentime.TimeRange(rational(c.record_start_s, rate), rational(c.record_duration_s, rate))
    g0_frames = g0 * rate_fraction(rate)
    summary = {
        "id": c.id,
        "name": c.name,
        "wav": str(wav.resolve()),
        "record_start_s": float(c.record_start_s),
        "record_duration_s": float(c.record_duration_s),
        "record_start_frame": float(g0_frames + Fraction(record_range.start_time.value)),
        "record_duration_frames": record_range.duration.value,
        "rate": rate,
        "record_start_sample": first,
        "samples": n,
        "media": str(media_path),
        "media_start_s": float(media_start - offset),
        "media_end_s": float(media_end - offset),
        "speed": float(c.speed),
        "handles_s": [float(c.head_s), float(c.tail_s)],
        "objects": objects,
    }
    if tracks_json is not None:
        summary["tracks"] = str(tracks_json.resolve())
    metadata = {
        "objects": objects,
        "picture": {"name": c.name, "media": str(media_path), "media_start_s": summary["media_start_s"],
                    "media_end_s": summary["media_end_s"], "speed": float(c.speed)},
        "curve_max_error": {"pan": PAN_MAX_ERROR, "gain_db": GAIN_DB_MAX_ERROR},
        "settings": options.settings.to_dict(),
        "engine_version": __version__,
    }
    name = f"{c.name} (StereoFoley)"
    return FoleyClip(c.id, name, c.record_start_s, c.record_end_s, wav, metadata), summary


def record_curve(curve: Curve, offset_s: float, duration_s: float) -> Curve:
    """A curve over the request's audio -> the record window [0, duration_s]: shifted by the head handle,
    cut at both ends with interpolated end points."""
    t = curve.times_s - offset_s
    inside = (t > 0) & (t < duration_s)
    times = np.concatenate([[0.0], t[inside], [duration_s]])
    values = np.concatenate([[curve.value_at(offset_s)], curve.values[inside], [curve.value_at(offset_s + duration_s)]])
    return Curve(times, values)


def _rpp_text(timeline: otio.schema.Timeline) -> str:
    try:
        return otio.adapters.write_to_string(timeline, "rpp")
    except otio.exceptions.NotSupportedError:  # the plug-in is not registered (package not installed)
        from stereofoley_adapters import rpp_adapter

        return rpp_adapter.write_to_string(timeline)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem if "." in name else name).strip("._")[:60]


def _describe(selection: Selection) -> str:
    given = {k: v for k, v in dataclasses.asdict(selection).items() if v}
    return ", ".join(f"{k}={v}" for k, v in given.items()) or "default: visible video clips"


# -------------------------------------------------------------------------------------- default renderer
def vision_renderer(options: RenderOptions) -> ClipRenderer:
    """The vision pipeline as a clip renderer (see stereofoley.pipeline.render_clip)."""
    from .vision_clip import make_vision_renderer

    return make_vision_renderer(options)
