"""`render_timeline`: a timeline in, one frame-exact Foley WAV per selected clip and the editor's files out.

Every clip goes through `usecases.clip.render_clip_files`, the same path as `stereofoley clip` and OSC jobs.
The clip mixer is a parameter (`mixer`): the default is the vision pipeline; tests pass their own to see exactly
which media seconds each clip asks for. The report is described in docs/contracts.md.
"""

from __future__ import annotations

import dataclasses
import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import opentimelineio as otio

from .. import __version__
from ..errors import OutputExists, UnsupportedTimeline
from ..files import write_text_atomic
from ..options import RenderOptions
from ..spatial.automation import GAIN_DB_MAX_ERROR, PAN_MAX_ERROR
from ..timeline import aaf
from ..timeline.fcp_xml import write_fcp_xml
from ..timeline.media import MediaSearch, file_offset_s, reference_path
from ..timeline.output import FoleyClip, foley_clips_in, output_timeline, write_otio
from ..timeline.plan import (PictureClip, Selection, global_start_s, media_folder, nothing_selected, picture_clips,
                             read_timeline, select, selected_empty_clips, timeline_rate, zipped_media)
from ..timeline.relink import resolve_all
from ..timeline.request import clip_request
from ..timeline.timemap import rate_fraction, rational, sample_index
from . import clip as clip_usecase
from . import parallel
from ..files import safe_name
from .clip import ClipMixer, ClipResult, check_outputs_free
from . import resume
from stereofoley_adapters import rpp_adapter

Progress = Callable[[float, str], None]


def render_timeline(path, out_dir, *, selection: Selection = Selection(), options: RenderOptions = RenderOptions(),
                    progress: Progress | None = None, mixer: ClipMixer | None = None, write_xml: bool = True,
                    write_rpp: bool = True, write_aaf: bool = True, xml_stems: bool = False) -> dict[str, Any]:
    """Render every selected clip of the timeline at `path` into `out_dir` and return the JSON report.

    Raises UnsupportedTimeline when the timeline cannot be read, nothing is selected, or no selected clip can
    be rendered. Clips that cannot be rendered (missing media, generators, analysis errors) are listed under
    "skipped" with their reason and the report's status is "partial"; so is a clip rendered from media that
    decodes only partly (listed under "warnings" with the fraction analysed). write_aaf: the Foley lanes as AAF for
    Pro Tools (timeline/aaf.py); xml_stems: the FCP XML gets one audio track per object with keyframed
    pan/level (timeline/fcp_xml.py).
    """
    t_start = time.perf_counter()
    path, out_dir = Path(path), Path(out_dir)
    timeline = read_timeline(path)
    rate = timeline_rate(timeline)
    clips = picture_clips(timeline)
    chosen = select(timeline, clips, selection)
    empty = selected_empty_clips(timeline, selection)  # zero or negative duration: reported, not dropped
    if not chosen:
        why = _reasons(empty)
        raise UnsupportedTimeline(nothing_selected(path, timeline, clips, _describe(selection)) + (f"; {why}" if why else ""))
    search = MediaSearch(timeline_dir=media_folder(path), roots=tuple(Path(r) for r in options.media_roots),
                         remaps=tuple(MediaSearch.parse_remap(r) for r in options.remaps))
    stem = safe_name(path.name.split(".")[0], 60, default="timeline")
    outputs = {"otio": out_dir / f"{stem}.stereofoley.otio", "report": out_dir / f"{stem}.stereofoley.json"}
    if write_xml:
        outputs["xml"] = out_dir / f"{stem}.stereofoley.xml"
    if write_rpp:
        outputs["rpp"] = out_dir / f"{stem}.stereofoley.rpp"
    if write_aaf:
        outputs["aaf"] = out_dir / f"{stem}.stereofoley.aaf"

    skipped: list[dict[str, str]] = list(empty)
    planned: list[tuple[PictureClip, Path]] = []
    relinked = resolve_all(chosen, search)  # media roots indexed once; relinked references updated
    zipped = zipped_media(path)
    for c in chosen:
        found = relinked[c.id]
        if found.path is None:
            raw = reference_path(c.clip.media_reference)
            reason = found.reason if raw not in zipped else (
                f"media {raw} is inside the .otioz bundle {path.name}: unzip it (an .otioz is a zipped .otiod "
                "bundle folder) and render the folder")
            skipped.append({"id": c.id, "name": c.name, "reason": reason})
        else:
            planned.append((c, found.path))
    if not planned:
        raise UnsupportedTimeline(f"{path}: none of the {len(chosen)} selected clips can be rendered: "
                                  + _reasons(skipped))
    wav_paths = {c.id: out_dir / f"{safe_name(Path(c.name).stem if '.' in c.name else c.name, 60)}_{c.id.replace('.', '-')}.wav"
                 for c, _ in planned}
    if not (options.overwrite or options.resume):  # fail before rendering anything, never after an hour of work
        try:
            for target in outputs.values():
                if target.exists():
                    raise OutputExists(f"{target} already exists; set overwrite=True to replace it")
            for wav in wav_paths.values():
                check_outputs_free(wav, wav.with_suffix(".tracks.json"), False)
        except OutputExists as exc:
            raise OutputExists(f"{exc}, or resume=True to keep the clips it finished and render the rest") from None
    t_planned = time.perf_counter()

    g0 = global_start_s(timeline)
    # one loudness gain for the edit; an edit of one clip is that clip, normalised as `stereofoley clip` does
    edit_scope = options.loudness_scope == "edit" and options.loudness_lufs is not None and len(planned) > 1
    # --resume: the clips an earlier run finished with the same inputs and settings are kept (usecases/resume.py)
    resumed = resume.finished_clips(planned, wav_paths, g0, options, edit_scope=edit_scope) if options.resume else resume.Kept()
    if options.resume:  # what it renders again replaces what the interrupted run left
        options = dataclasses.replace(options, overwrite=True)
    loudness = {"scope": "clip", "lufs": options.loudness_lufs}
    # one executor for the clips and the edit's gain: on Dask, each clip's files are gained by the workers
    with parallel.executor_for(options) as executor, clip_usecase.on_finished(resume.record_clip):
        # each finished clip is recorded at once (survives a kill)
        done, failed = _render_clips(executor, resumed.todo(planned), wav_paths, g0, options,
                                     mixer=mixer or clip_usecase.mix_clip, defer_loudness=edit_scope, progress=progress)
        new_ids = [c.id for c, _ in done]
        done = resumed.merged(planned, done)
        skipped += failed
        if edit_scope and done:  # one gain over every rendered clip (usecases/edit_loudness.py)
            results, loudness = resume.edit_loudness([r for _, r in done], options, resumed, executor.map_clips)
            done = [(c, r) for (c, _), r in zip(done, results)]
        execution = executor.describe()
    rendered: list[FoleyClip] = []
    report_clips: list[dict[str, Any]] = []
    for c, result in done:
        entry, summary = _foley_clip(c, result, g0, rate, options)
        rendered.append(entry)
        report_clips.append(dict(summary, relink=relinked[c.id].to_report()))
    # rendered from media that decodes only partly (truncated): kept, and listed so the run is "partial"
    warnings = [{"id": c.id, "name": c.name, "reason": r.warning} for c, r in done if r.warning]
    if not rendered:
        raise UnsupportedTimeline(f"{path}: no clip could be rendered: "
                                  + _reasons(skipped))
    t_rendered = time.perf_counter()

    # Re-rendering some clips keeps the Foley clips an earlier run wrote for the others.
    kept = []
    if outputs["otio"].exists():
        done = {e.picture_id for e in rendered}
        kept = [e for e in foley_clips_in(otio.adapters.read_from_file(str(outputs["otio"])))
                if e.picture_id not in done and e.wav.is_file()]
    result_timeline = output_timeline(timeline, kept + rendered, rate)
    write_otio(result_timeline, outputs["otio"], overwrite=options.overwrite)
    xml_kind, notes = None, []
    if "xml" in outputs:
        xml = write_fcp_xml(result_timeline, [c for c, _ in planned], outputs["xml"], overwrite=options.overwrite,
                            stems=xml_stems and options.stems)
        xml_kind, notes = xml.content, notes + list(xml.notes)
    if "rpp" in outputs:
        write_text_atomic(outputs["rpp"], _rpp_text(result_timeline), overwrite=options.overwrite)
    if "aaf" in outputs:
        written = aaf.write_aaf(result_timeline, outputs["aaf"], overwrite=options.overwrite)
        notes += list(written.notes)
        if written.path is None:
            del outputs["aaf"]
    t_written = time.perf_counter()

    report = {
        "ok": True,
        "status": "partial" if skipped or warnings else "ok",
        "timeline": str(path.resolve()),
        "timeline_out": str(outputs["otio"].resolve()),
        "outputs": {k: str(v.resolve()) for k, v in outputs.items()},
        "fcp_xml_content": xml_kind,
        "notes": notes,
        "rate": rate,
        "global_start_s": float(g0),
        "loudness": loudness,
        "clips": report_clips,
        "kept_from_earlier_run": [e.picture_id for e in kept],
        "resumed": resumed.ids,
        "rendered": new_ids,
        "skipped": skipped,
        "warnings": warnings,
        "execution": execution,
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


def _render_clips(executor: parallel.SerialExecutor | parallel.DaskExecutor, planned: list[tuple[PictureClip, Path]],
                  wav_paths: dict[str, Path], g0: Fraction, options: RenderOptions, *, mixer: ClipMixer,
                  defer_loudness: bool, progress: Progress | None
                  ) -> tuple[list[tuple[PictureClip, ClipResult]], list[dict[str, str]]]:
    """Render the planned clips on the executor (options.workers / options.scheduler, usecases/parallel.py):
    the rendered (clip, result) pairs and the skipped ones, both in plan order."""
    outcomes: dict[int, parallel.Outcome] = {}
    tasks: list[tuple[int, parallel.ClipTask]] = []
    for k, (c, media_path) in enumerate(planned):
        wav = wav_paths[c.id]
        try:
            request = clip_request(c, media_path, g0)
        except parallel.CLIP_ERRORS as exc:
            outcomes[k] = parallel.Outcome(reason=f"{type(exc).__name__}: {exc}")
            continue
        tasks.append((k, parallel.ClipTask(c.id, c.name, request, wav, wav.with_suffix(".tracks.json"))))
    ran = executor.run([t for _, t in tasks], options, mixer, defer_loudness, progress, n_total=len(planned))
    outcomes.update({k: o for (k, _), o in zip(tasks, ran)})
    done: list[tuple[PictureClip, ClipResult]] = []
    skipped: list[dict[str, str]] = []
    for k, (c, _) in enumerate(planned):
        outcome = outcomes[k]
        if outcome.result is None:
            skipped.append({"id": c.id, "name": c.name, "reason": outcome.reason or "not rendered"})
        else:
            done.append((c, outcome.result))
    return done, skipped


def _foley_clip(c: PictureClip, result: ClipResult, g0: Fraction, rate: float,
                options: RenderOptions) -> tuple[FoleyClip, dict[str, Any]]:
    """The Foley clip for the output timeline and the clip's entry in the report."""
    summary = result.to_json()
    offset = file_offset_s(c.clip)
    media_start, media_end = c.media_range_s()
    record_range = otio.opentime.TimeRange(rational(c.record_start_s, rate), rational(c.record_duration_s, rate))
    summary.update({
        "media_start_s": float(media_start - offset),  # the record range's media, without handles
        "media_end_s": float(media_end - offset),
        "record_start_s": float(c.record_start_s),
        "record_duration_s": float(c.record_duration_s),
        "record_start_frame": float(g0 * rate_fraction(rate) + Fraction(record_range.start_time.value)),
        "record_duration_frames": record_range.duration.value,
        "rate": rate,
        "record_start_sample": sample_index(c.record_start_s),
        "handles_s": [float(c.head_s), float(c.tail_s)],
    })
    metadata = {
        "objects": summary["objects"],
        "diffuse_wav": summary.get("diffuse_wav"),
        "loudness_gain_db": summary.get("loudness_gain_db", 0.0),
        "picture": {"name": c.name, "media": summary["media"], "media_start_s": summary["media_start_s"],
                    "media_end_s": summary["media_end_s"], "speed": float(c.speed)},
        "curve_max_error": {"pan": PAN_MAX_ERROR, "gain_db": GAIN_DB_MAX_ERROR},
        "settings": options.settings.to_dict(),
        "engine_version": __version__,
    }
    return FoleyClip(c.id, f"{c.name} (StereoFoley)", c.record_start_s, c.record_end_s, result.wav, metadata), summary


def _rpp_text(timeline: otio.schema.Timeline) -> str:
    try:
        return otio.adapters.write_to_string(timeline, "rpp")
    except otio.exceptions.NotSupportedError:  # the plug-in is not registered (package not installed)

        return rpp_adapter.write_to_string(timeline)


def _reasons(entries: list[dict[str, str]]) -> str:
    """Skipped clips as one line: "name (id): reason; ..."."""
    return "; ".join(f"{e['name']} ({e['id']}): {e['reason']}" for e in entries)


def _describe(selection: Selection) -> str:
    given = {k: v for k, v in dataclasses.asdict(selection).items() if v}
    return ", ".join(f"{k}={v}" for k, v in given.items()) or "default: visible video clips"
